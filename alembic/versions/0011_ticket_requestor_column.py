"""ticket requestor column: the first requestor, kept on the ticket by triggers, for queue pages

A queue page showed each ticket's first requestor through a subquery per row (watchers joined to
users): about 1.1 ms of a 2 ms page of 100 at a million tickets. The column holds the same value
(the least of the requestors' addresses, or names for those without one), kept current by
PostgreSQL in the same transaction whatever writes the watchers or the users: core, the mail
gateway, a COPY, a merge. Statement triggers with transition tables: a COPY of a million watchers
refreshes its tickets in one UPDATE, not a million.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRST = """
    SELECT min(coalesce(u.email, u.name)) FROM watchers w JOIN users u ON u.id = w.user_id
     WHERE w.ticket_id = {ticket} AND w.role = 'Requestor'
"""

# (trigger, event, transition table): one function, reading the changed rows as `changed`.
_WATCHER_TRIGGERS = (
    ("watchers_requestor_insert", "INSERT", "NEW"),
    ("watchers_requestor_delete", "DELETE", "OLD"),
    ("watchers_requestor_update_old", "UPDATE", "OLD"),
    ("watchers_requestor_update_new", "UPDATE", "NEW"),
)


def upgrade() -> None:
    op.add_column("tickets", sa.Column("requestor", sa.String(length=320), nullable=True))
    op.execute(
        """
        UPDATE tickets t SET requestor = r.value
          FROM (SELECT w.ticket_id, min(coalesce(u.email, u.name)) AS value
                  FROM watchers w JOIN users u ON u.id = w.user_id
                 WHERE w.role = 'Requestor' GROUP BY w.ticket_id) r
         WHERE t.id = r.ticket_id
        """
    )
    # Each function locks the tickets first (in id order), then reads the requestors in a later
    # statement: under READ COMMITTED that statement's snapshot sees whatever a transaction that
    # held one of those locks committed (a requestor added, an address changed), so the value
    # written is never one computed from before it. (An UPDATE that waited on the row would
    # re-check only its WHERE, not recompute the value.)
    first = _FIRST.format(ticket="ids.ticket_id")
    op.execute(
        f"""
        CREATE FUNCTION tessera_refresh_ticket_requestor() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          ids integer[];
        BEGIN
          SELECT array_agg(DISTINCT ticket_id) INTO ids FROM changed WHERE role = 'Requestor';
          IF ids IS NULL THEN
            RETURN NULL;
          END IF;
          PERFORM 1 FROM tickets WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
          UPDATE tickets t SET requestor = r.value
            FROM (SELECT ids.ticket_id, ({first}) AS value
                    FROM unnest(ids) AS ids(ticket_id)) r
           WHERE t.id = r.ticket_id AND t.requestor IS DISTINCT FROM r.value;
          RETURN NULL;
        END $$
        """
    )
    for name, event, table in _WATCHER_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON watchers REFERENCING {table} TABLE AS changed"
            " FOR EACH STATEMENT EXECUTE FUNCTION tessera_refresh_ticket_requestor()"
        )
    first = _FIRST.format(ticket="t.id")
    op.execute(
        f"""
        CREATE FUNCTION tessera_refresh_user_requestor() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          ids integer[];
        BEGIN
          SELECT array_agg(ticket_id ORDER BY ticket_id) INTO ids
            FROM watchers WHERE user_id = NEW.id AND role = 'Requestor';
          IF ids IS NULL THEN
            RETURN NULL;
          END IF;
          PERFORM 1 FROM tickets WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
          UPDATE tickets t SET requestor = ({first})
           WHERE t.id = ANY(ids) AND t.requestor IS DISTINCT FROM ({first});
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION tessera_clear_ticket_requestors() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE tickets SET requestor = NULL WHERE requestor IS NOT NULL;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER watchers_requestor_truncate AFTER TRUNCATE ON watchers"
        " FOR EACH STATEMENT EXECUTE FUNCTION tessera_clear_ticket_requestors()"
    )
    op.execute(
        "CREATE TRIGGER users_requestor_update AFTER UPDATE OF email, name ON users FOR EACH ROW"
        " WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name)"
        " EXECUTE FUNCTION tessera_refresh_user_requestor()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER users_requestor_update ON users")
    op.execute("DROP TRIGGER watchers_requestor_truncate ON watchers")
    op.execute("DROP FUNCTION tessera_clear_ticket_requestors()")
    op.execute("DROP FUNCTION tessera_refresh_user_requestor()")
    for name, _event, _table in _WATCHER_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON watchers")
    op.execute("DROP FUNCTION tessera_refresh_ticket_requestor()")
    op.drop_column("tickets", "requestor")
