"""scrip catalog token: a random token replaced by every change to scrips, templates or queues

The scrip engine keeps the parsed catalog per process and asked the database, on every unit of
work, for a digest of the whole catalog to know whether it still held; hashing it cost about
0.2 ms of server time per status change. The token says the same for the price of reading one
row. It is random, not a counter: a process that talks to several databases (clones of one
template, say) must never take one database's catalog for another's.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("scrips", "scrip_templates", "queues")


def upgrade() -> None:
    op.create_table(
        "scrip_catalog_token",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("token", postgresql.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_scrip_catalog_token_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO scrip_catalog_token DEFAULT VALUES")
    op.execute(
        """
        CREATE FUNCTION tessera_new_scrip_catalog_token() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE scrip_catalog_token SET token = gen_random_uuid();
          RETURN NULL;
        END $$
        """
    )
    # BEFORE the statement: a transaction takes the token row's lock before any catalog row's, so
    # two writers of the catalog queue up on the token instead of deadlocking over a scrip and a
    # queue taken in opposite orders.
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_new_catalog_token BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION tessera_new_scrip_catalog_token()"
        )


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TRIGGER {table}_new_catalog_token ON {table}")
    op.execute("DROP FUNCTION tessera_new_scrip_catalog_token()")
    op.drop_table("scrip_catalog_token")
