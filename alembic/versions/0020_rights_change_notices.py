"""Rights-change notices: a NOTIFY on channel tessera_rights whenever what a user may do can have
changed (grants, groups and their members, a user row), so a client may keep a user's rights
between units of work and drop them when told

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The payload names the user when one user's row changed (only that user's rights and settings),
# and is empty when grants or groups changed (anyone's rights).
_FUNCTION = """
CREATE OR REPLACE FUNCTION tessera_rights_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' AND TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('tessera_rights', COALESCE(NEW.id, OLD.id)::text);
    ELSE
        PERFORM pg_notify('tessera_rights', '');
    END IF;
    RETURN NULL;
END $$
"""
_TABLES = ("grants", "groups", "group_members")


def upgrade() -> None:
    op.execute(_FUNCTION)
    # Dropped first: a desk that ran this revision under an earlier number already has them.
    op.execute("DROP TRIGGER IF EXISTS users_rights_changed ON users")
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_rights_changed ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_rights_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION tessera_rights_changed()"
        )
    op.execute(
        "CREATE TRIGGER users_rights_changed AFTER INSERT OR UPDATE OR DELETE ON users"
        " FOR EACH ROW EXECUTE FUNCTION tessera_rights_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS users_rights_changed ON users")
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_rights_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS tessera_rights_changed()")
