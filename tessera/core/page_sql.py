"""The SQL of a plain queue page (no text filter, no TicketSQL), written out.

Plain pages are what the queue pane asks for all day, and what the TUI's start-up helper reads
before anything heavy is imported: this module imports nothing (no SQLAlchemy), so the helper can
run it on a bare psycopg connection, and `listing.list_tickets` runs the same text. Filtered
pages are built with SQLAlchemy (`listing._page_statement`); tests/test_tui_listing.py checks
that both give the same rows for every sort, direction and option.

Parameters: `me` (the viewer, for the unread marker), `queue`, `limit`, and with `after` the
cursor `after_value`, `after_id`.
"""

from __future__ import annotations

from functools import cache

# Sort key expressions (an index serves queue + updated, created and priority) and the type the
# cursor's value is bound as.
SORT_KEY = {
    "id": "t.id",
    "subject": "lower(t.subject)",
    "status": "t.status",
    "owner": "coalesce(lower(o.name), '')",
    "priority": "t.priority",
    "requestor": "coalesce(lower(t.requestor), '')",
    "created": "t.created",
    "updated": "t.updated",
}
_KEY_TYPE = {
    "id": "integer",
    "subject": "text",
    "status": "varchar",
    "owner": "text",
    "priority": "integer",
    "requestor": "text",
    "created": "timestamptz",
    "updated": "timestamptz",
}
DELETED = "deleted"

# The row every page returns, in this order (listing.list_tickets turns it into a TicketRow).
# The unread marker: updated by someone else since the viewer last looked (or never looked).
COLUMNS = (
    "t.id, {key} AS sort_key, t.subject, t.status, o.name AS owner, t.priority, t.requestor,"
    " t.created, t.updated,"
    " (t.updated_by_id IS DISTINCT FROM %(me)s AND (s.seen_at IS NULL OR s.seen_at < t.updated)) AS unread"
)
FROM = (
    "tickets t LEFT JOIN users o ON o.id = t.owner_id"
    " LEFT JOIN ticket_seen s ON s.ticket_id = t.id AND s.user_id = %(me)s"
)


@cache
def page_sql(
    sort: str,
    descending: bool,
    *,
    in_queue: bool,
    after: bool,
    include_deleted: bool = False,
    include_merged: bool = False,
) -> str:
    """One page's SELECT for this shape (psycopg `%(name)s` parameters)."""
    key = SORT_KEY[sort]
    where = []
    if in_queue:
        where.append("t.queue_id = %(queue)s")
    if not include_deleted:
        where.append(f"t.status <> '{DELETED}'")
    if not include_merged:
        where.append("t.merged_into_id IS NULL")
    if after:
        op = "<" if descending else ">"
        if sort == "id":
            where.append(f"t.id {op} %(after_id)s::integer")
        else:
            cast = _KEY_TYPE[sort]
            where.append(f"({key}, t.id) {op} (%(after_value)s::{cast}, %(after_id)s::integer)")
    direction = "DESC" if descending else "ASC"
    order = f"t.id {direction}" if sort == "id" else f"{key} {direction}, t.id {direction}"
    sql = f"SELECT {COLUMNS.format(key=key)} FROM {FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {order} LIMIT %(limit)s"
