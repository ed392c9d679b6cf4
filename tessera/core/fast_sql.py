"""Every statement Tessera writes by hand, in one place: the hot paths' SQL.

Why by hand: SQLAlchemy's statement machinery and the ORM's flush cost a tenth of a millisecond
and more per statement, and a status change is ~1.5 ms in all. What is here:

* queue pages (`page_sql`) and the TUI's quick first read (`QUICK_*`), which the start-up helper
  runs on a bare psycopg connection before SQLAlchemy is imported: this module imports nothing
  heavy at its top (what needs the models imports them when first used);
* the locked read of one ticket with its queue and owner (`lock_ticket_sql`) and the objects
  built from its row (`persistent`);
* a new ticket in one statement (`insert_ticket`), the one-change write (`write_one_change`),
  and the scrip engine's prefetch (`SCRIP_PREFETCH`) and write (`write_trace_and_outbox`).
* the piped mailgate's hand-off to a warm filer (`record_pending` and what waits on it), run on a
  bare psycopg connection before SQLAlchemy is imported.

Column lists: every INSERT and UPDATE names the columns of the models (those the objects being
written hold, as the ORM's flush would), never a copy, and the locked read reads what the ORM's load
would. The other reads name the few columns they want: tests/test_fast_sql.py has PostgreSQL plan
every statement against the migrated schema, which the models match (tests/test_migrations.py).

SQLAlchemy's private API is used in one function, `settle`; the test above fails loudly if an
upgrade changes what it relies on (and pyproject bounds SQLAlchemy to the minor it is tested with).

The plain ORM path: inside `plain_orm()` every fast write takes the ORM's way instead. The tests run
the same operations both ways and compare every row written.

Longer than the ~600 lines a module is kept to, on purpose: this module is the fence around the
hand-written SQL, and what it fences in is one concept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection, Table
    from sqlalchemy.orm import Session

    from tessera.core.models import Attachment, CustomFieldValue, Ticket, Transaction, Watcher

T = TypeVar("T")

# -- the switch to the plain ORM path (the reference the tests compare with) ----------------------

_fast = True


def fast() -> bool:
    """Whether the hand-written writes are used (always, outside `plain_orm`)."""
    return _fast


@contextmanager
def plain_orm() -> Iterator[None]:
    """Write with the ORM alone while inside (tests compare both ways, row for row)."""
    global _fast
    was, _fast = _fast, False
    try:
        yield
    finally:
        _fast = was


R = TypeVar("R")


def _per_model(fn: Callable[[type[Any]], R]) -> Callable[[type[Any]], R]:
    """`fn` of a model class, worked out once per class (functools.cache wants hashable keys
    as the type checker sees them; classes are, but are typed `type[Any]`)."""
    done: dict[type[Any], R] = {}

    @wraps(fn)
    def cached(cls: type[Any]) -> R:
        if cls not in done:
            done[cls] = fn(cls)
        return done[cls]

    return cached


# -- running a statement on the driver's cursor --------------------------------------------------


def driver_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under SQLAlchemy's `connection` (a session's: in its transaction)."""
    from tessera.core.errors import DatabaseUnavailable

    driver: psycopg.Connection[Any] | None = connection.connection.driver_connection
    if driver is None:  # only once the pool has let the connection go
        raise DatabaseUnavailable("the database connection was closed")
    return driver


# What a page read at random costs the planner against one read in order, for searches. The
# server's default (4) prices a disk's seek; the desk's tables sit in memory or on SSD, where
# PostgreSQL's documentation suggests about 1.1. With 4 a phrase's page at 100k and 1M tickets was
# read through a hash join over the whole tickets table (44 and 59 ms of hand SQL) where index
# lookups per candidate take 19 and 28 ms; no search in bench/search.py got slower.
SEARCH_RANDOM_PAGE_COST = "1.1"
# A page of a search stops after its rows: starting parallel workers (~20-40 ms before the first
# row) costs more than they save. A phrase's TUI page at 1M tickets: 104 ms of hand SQL with two
# workers, 57 ms without. A count reads every match and keeps them.
PAGE_PARALLEL_WORKERS = "0"


@contextmanager
def planned_each_time(session: Session, *, page: bool = False) -> Iterator[None]:
    """Statements run inside are planned for their own values, never prepared: psycopg prepares
    a statement run five times, and PostgreSQL may then keep one generic plan for every value.
    A search's best plan depends on its words (full text: GIN for a rare word, a walk in the
    page's order for a common one), so a generic plan can be a thousand times slower. They are
    planned with `SEARCH_RANDOM_PAGE_COST`, and a `page` (a LIMIT) without parallel workers, for
    this transaction, put back after."""
    driver = driver_connection(session.connection())
    before = driver.prepare_threshold
    driver.prepare_threshold = None
    workers = PAGE_PARALLEL_WORKERS if page else None
    try:
        previous = driver_execute(
            session,
            "SELECT current_setting('random_page_cost'), current_setting('max_parallel_workers_per_gather'),"
            " set_config('random_page_cost', %(cost)s, true),"
            " set_config('max_parallel_workers_per_gather',"
            " coalesce(%(workers)s, current_setting('max_parallel_workers_per_gather')), true)",
            {"cost": SEARCH_RANDOM_PAGE_COST, "workers": workers},
        ).fetchone()
        yield
    except BaseException:
        driver.prepare_threshold = before  # (a failed transaction puts the settings back itself)
        raise
    driver.prepare_threshold = before
    driver_execute(
        session,
        "SELECT set_config('random_page_cost', %(cost)s, true),"
        " set_config('max_parallel_workers_per_gather', %(workers)s, true)",
        {"cost": previous[0], "workers": previous[1]},
    )


def driver_execute(
    session: Session,
    sql: str,
    params: dict[str, Any],
    *,
    binary: bool = False,
    setup: tuple[str, dict[str, Any]] | None = None,
) -> Any:
    """Run `sql` (psycopg's `%(name)s` placeholders) on the session's connection, in its
    transaction, without SQLAlchemy's statement machinery (a tenth of a millisecond a statement,
    which counts on the hot paths); returns the psycopg cursor. Errors come out as SQLAlchemy's,
    so `operation` translates them as it does any other. `binary` asks for rows in PostgreSQL's
    binary format: a page of timestamps and numbers decodes ~20% faster than from text. `setup`
    (a statement setting something for the transaction, its answer unread) runs first when
    `sql` begins the transaction, sent with the BEGIN and `sql` in one round trip."""
    connection = session.connection()
    driver = driver_connection(connection)
    cursor = driver.cursor(binary=binary)
    try:
        begin_with = getattr(driver, "begin_with", None)  # a BoundedConnection's: BEGIN with it
        if begin_with is None or not begin_with(cursor, sql, params, setup):
            if setup is not None and driver.pgconn.transaction_status == TransactionStatus.IDLE:
                driver.cursor().execute(*setup)
            cursor.execute(sql, params)
    except psycopg.Error as exc:
        raise _as_sqlalchemy(connection, driver, sql, params, exc) from exc
    return cursor


def driver_execute_then(
    session: Session, sql: str, params: dict[str, Any], then: str, then_params: dict[str, Any]
) -> tuple[Any, Any]:
    """`driver_execute` of `sql`, then of `then` (which sees what `sql` wrote), both in one round
    trip (psycopg's pipeline mode), inside the session's transaction; their two cursors. An
    error of either comes out as `driver_execute`'s would, and the transaction is then aborted."""
    connection = session.connection()
    driver = driver_connection(connection)
    first, second = driver.cursor(), driver.cursor()
    try:
        with driver.pipeline():
            first.execute(sql, params)
            second.execute(then, then_params)
    except psycopg.Error as exc:
        raise _as_sqlalchemy(connection, driver, sql, params, exc) from exc
    return first, second


def _as_sqlalchemy(
    connection: Connection, driver: psycopg.Connection[Any], sql: str, params: Any, exc: psycopg.Error
) -> Exception:
    """`exc` as SQLAlchemy's execute raises it, so `operation` translates it as any other."""
    from sqlalchemy.exc import DBAPIError

    error = DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=connection.dialect)
    if driver.closed or driver.broken:  # as SQLAlchemy's own execute does
        error.connection_invalidated = True
        connection.invalidate(exc)
    return error


# -- ORM objects for rows written or read here ---------------------------------------------------


def settle(session: Session, obj: object) -> None:
    """Leave `obj` as a flush leaves an object it wrote (or `populate_existing` one it read): its
    present values are what the database holds, nothing pending, not in `session.dirty`.

    The one use of SQLAlchemy's private API in Tessera: `InstanceState._commit_all`, which flush
    and loading call themselves; there is no public way to say "this row is written". Checked by
    tests/test_fast_sql.py::test_settle_leaves_an_object_as_a_flush_does on every upgrade."""
    from sqlalchemy.orm.attributes import instance_state

    state = instance_state(obj)
    state._commit_all(state.dict, session.identity_map)


def adopt(session: Session, obj: Any) -> None:
    """Make `obj`, whose row a statement of our own just inserted (its key and server-made values
    set), persistent in `session` as if the ORM had inserted it: no SQL, no pending change."""
    from tessera.core.db_faults import note_inserted

    _attach(session, obj)
    note_inserted(session, obj)  # the row that proves, after a lost COMMIT, whether it committed


def _attach(session: Session, obj: Any) -> None:
    """`obj` (transient, holding a row's values) persistent in `session` as loaded: history reset,
    what it does not hold unloaded; no SQL."""
    from sqlalchemy.orm import make_transient_to_detached

    make_transient_to_detached(obj)
    session.add(obj)


@_per_model
def loaded_columns(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of what a plain ORM load of `cls` reads: every column not deferred."""
    from sqlalchemy import inspect

    return tuple(
        (prop.key, prop.columns[0].name)
        for prop in inspect(cls).column_attrs
        if not prop.deferred and len(prop.columns) == 1
    )


@_per_model
def _primary_key(cls: type[Any]) -> tuple[str, ...]:
    from sqlalchemy import inspect

    mapper = inspect(cls)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def select_list(cls: type[Any], alias: str) -> str:
    """`alias.col, ...` for `loaded_columns(cls)`, in that order."""
    return ", ".join(f"{alias}.{column}" for _, column in loaded_columns(cls))


def persistent(session: Session, cls: type[T], row: tuple[Any, ...] | list[Any]) -> T:
    """The `cls` instance for `row` (values in `loaded_columns(cls)` order), persistent in
    `session` and holding exactly the row's values: the instance already in the session is
    refreshed (as `populate_existing` does), otherwise a new one is made, as the ORM's load would."""
    keys, pk_at, identity_key = _row_shape(cls)
    values = dict(zip(keys, row, strict=True))
    obj = session.identity_map.get(identity_key(tuple(row[n] for n in pk_at)))
    if obj is None:
        obj = cls()
        vars(obj).update(values)  # transient: no history to keep (vars: the instance dict)
        _attach(session, obj)  # as loaded (read, not inserted: no witness of this transaction)
        return obj
    vars(obj).update(values)
    settle(session, obj)  # the row's values committed, pending changes dropped
    return obj  # type: ignore[no-any-return]


@_per_model
def _row_shape(cls: type[Any]) -> tuple[tuple[str, ...], tuple[int, ...], Callable[[tuple[Any, ...]], Any]]:
    """For `persistent`: the attribute of each value of a row, where its primary key is, and how
    the identity map's key is made of it."""
    from sqlalchemy import inspect

    keys = tuple(key for key, _ in loaded_columns(cls))
    pk_at = tuple(keys.index(name) for name in _primary_key(cls))
    return keys, pk_at, inspect(cls).identity_key_from_primary_key


# -- statements built from the models -------------------------------------------------------------


def _table(cls: type[Any]) -> Table:
    return cls.__table__  # type: ignore[no-any-return]


def _written_by_database(column: Column[Any]) -> bool:
    """An identity or a computed column: the database fills it, an INSERT never names it."""
    return column.identity is not None or column.computed is not None


@_per_model
def _sql_types(cls: type[Any]) -> dict[str, str]:
    """Each column's type as PostgreSQL spells it (for casts)."""
    from sqlalchemy.dialects.postgresql.base import PGDialect

    dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped
    return {c.name: str(c.type.compile(dialect=dialect)) for c in _table(cls).columns}


def _sql_type(cls: type[Any], column: str) -> str:
    return _sql_types(cls)[column]


@_per_model
def _mapped(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    """(column, attribute) for every column of `cls`'s table an INSERT may name (not an identity,
    not computed), in the table's order."""
    from sqlalchemy import inspect

    keys = {prop.columns[0].name: prop.key for prop in inspect(cls).column_attrs}
    return tuple((c.name, keys[c.name]) for c in _table(cls).columns if not _written_by_database(c))


@_per_model
def _json_columns(cls: type[Any]) -> frozenset[str]:
    return frozenset(c for c, _ in _mapped(cls) if _sql_type(cls, c) in ("JSONB", "JSON"))


def _columns_held(cls: type[Any], obj: object) -> tuple[str, ...]:
    """The columns of `cls` an INSERT of `obj` names, in the table's order: those `obj` holds a
    value for (None included), as the ORM's flush does; the rest take the database's defaults."""
    held = vars(obj)  # (what sqlalchemy.orm.attributes.instance_dict returns)
    return tuple(column for column, key in _mapped(cls) if key in held)


@_per_model
def _attr_of_column(cls: type[Any]) -> dict[str, str]:
    return dict(_mapped(cls))


def _params(cls: type[Any], obj: object, columns: tuple[str, ...], prefix: str) -> dict[str, Any]:
    """`obj`'s values for `columns`, bound as psycopg needs them (JSON columns as Jsonb)."""
    values = vars(obj)
    keys = _attr_of_column(cls)
    json_columns = _json_columns(cls)
    return {f"{prefix}{c}": Jsonb(values[keys[c]]) if c in json_columns else values[keys[c]] for c in columns}


# -- queue pages: the SQL of a plain page (no text filter, no TicketSQL) ------------------------
#
# Plain pages are what the queue pane asks for all day; `listing.list_tickets` runs this text and
# builds filtered pages with SQLAlchemy (tests/test_tui_listing.py checks both give the same rows
# for every sort, direction and option). Parameters: `me` (the viewer, for the unread marker),
# `queue`, `limit`, and with `after` the cursor `after_value`, `after_id`.

# Tickets with no Due sort as if due at this moment (after every real one): a key that is never NULL
# keeps the keyset comparison simple. (Within Python's datetime range, unlike 'infinity'.)
NO_DUE = "9999-12-31T00:00:00+00:00"

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
    "due": f"coalesce(t.due, '{NO_DUE}'::timestamptz)",
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
    "due": "timestamptz",
}

# The row every page returns, in this order (listing.list_tickets turns it into a TicketRow).
# The unread marker: updated by someone else since the viewer last looked (or never looked).
PAGE_COLUMNS = (
    "t.id, {key} AS sort_key, t.subject, t.status, o.name AS owner, t.priority, t.requestor,"
    " t.created, t.updated,"
    " (t.updated_by_id IS DISTINCT FROM %(me)s AND (s.seen_at IS NULL OR s.seen_at < t.updated)) AS unread,"
    " t.due, t.sla"
)
PAGE_FROM = (
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
    hide_status: str | None,
    include_merged: bool = False,
) -> str:
    """One page's SELECT for this shape (psycopg `%(name)s` parameters). Tickets in `hide_status`
    are left out (callers pass the lifecycles' DELETED; None shows them all)."""
    key = SORT_KEY[sort]
    where = []
    if in_queue:
        where.append("t.queue_id = %(queue)s")
    if hide_status is not None:
        where.append(f"t.status <> '{hide_status}'")
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
    sql = f"SELECT {PAGE_COLUMNS.format(key=key)} FROM {PAGE_FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {order} LIMIT %(limit)s"


# -- the TUI's quick first read (core.quick_read), on a bare psycopg connection ------------------

QUICK_SCHEMA = "SELECT version_num FROM alembic_version"
QUICK_USER = (
    "SELECT id, name, privileged, disabled, preferences FROM users"
    " WHERE lower(name) = %(key)s OR lower(email) = %(key)s LIMIT 1"
)
QUICK_QUEUES = "SELECT id, name, description FROM queues WHERE NOT disabled ORDER BY lower(name)"
QUICK_EMPTY = "SELECT NOT EXISTS (SELECT 1 FROM tickets)"
# The service levels and every calendar, in one round trip (a list page's Due column: the ORM path
# is `sla.load_config` and `calendar_store.calendar_by_name`; tests/test_tui_due.py checks both
# give the same calendar for every level).
LEVEL_CALENDARS = (
    "SELECT (SELECT definition -> 'levels' FROM service_levels WHERE id = 1),"
    " (SELECT coalesce(json_agg(json_build_array(name, updated, definition)), '[]') FROM calendars)"
)
# A page's Due column in one round trip: LEVEL_CALENDARS and, of the tickets %(ids)s (the page's
# rows with a Due), those whose status is inactive in their queue's lifecycle (they have no time
# left). The ORM path is `lifecycle_of(queue).is_inactive(status)`: a status in any case; a queue
# whose lifecycle is not stored follows the shipped one, whose inactive statuses are these (RT's
# default and approvals alike). tests/test_tui_due.py checks both paths agree.
DUE_PAGE = (
    LEVEL_CALENDARS + ", (SELECT coalesce(array_agg(t.id), '{}') FROM tickets t"
    " JOIN queues q ON q.id = t.queue_id LEFT JOIN lifecycles lc ON lc.name = q.lifecycle"
    " WHERE t.id = ANY(%(ids)s::integer[]) AND lower(t.status) IN (SELECT lower(s) FROM"
    " jsonb_array_elements_text(coalesce(lc.definition -> 'inactive',"
    ' \'["resolved", "rejected", "deleted"]\')) s))'
)


# The number the next ticket will most likely get, read without taking it (a dry-run of a create
# then shows it and uses up none); no row when it is already taken (ids written by hand).
LIKELY_NEXT_TICKET_ID = (
    "SELECT n FROM (SELECT coalesce(pg_sequence_last_value("
    "pg_get_serial_sequence('tickets', 'id')::regclass) + 1, 1) AS n) s"
    " WHERE NOT EXISTS (SELECT 1 FROM tickets WHERE id = s.n)"
)


def likely_next_ticket_id(session: Session) -> int | None:
    """`LIKELY_NEXT_TICKET_ID`'s number, or None when it is taken already."""
    from sqlalchemy import text

    found = session.execute(text(LIKELY_NEXT_TICKET_ID)).scalar()
    return int(found) if found is not None else None


# -- the locked read of one ticket ---------------------------------------------------------------


@cache
def lock_ticket_sql() -> str:
    """The ticket, its queue and owner (what the ORM's joined load reads), the queue's stored
    lifecycle (what a status change checks next: read here, it costs no round trip of its own)
    and whether it depends on other tickets, with the ticket's row locked.

    Not waiting (`SKIP LOCKED`) is the fast path: no one holds the row, one statement. A row that
    is locked must not be waited for here: PostgreSQL would hand back the row as the holder left
    it, but joined to the queue and owner as they were *before* the wait (a moved ticket drops
    out of the join, a new owner's columns come back empty) and with the dependency read from
    the old snapshot. `ticket_read` waits with `WAIT_FOR_TICKET_LOCK` and then reads afresh."""
    from tessera.core.models import LifecycleRecord, Queue, Ticket, User

    return (
        f"SELECT {select_list(Ticket, 't')}, {select_list(Queue, 'q')}, {select_list(User, 'u')},"
        f" {select_list(LifecycleRecord, 'lc')},"
        " EXISTS (SELECT 1 FROM links l WHERE l.base_id = t.id AND l.type = 'DependsOn')"
        " FROM tickets t JOIN queues q ON q.id = t.queue_id LEFT JOIN users u ON u.id = t.owner_id"
        " LEFT JOIN lifecycles lc ON lc.name = q.lifecycle"
        " WHERE t.id = %(ticket_id)s FOR UPDATE OF t SKIP LOCKED"
    )


WAIT_FOR_TICKET_LOCK = "SELECT 1 FROM tickets WHERE id = %(ticket_id)s FOR UPDATE"


# -- a create's first read: its queue, people, the desk's addresses, service levels, patterns -----


@cache
def queue_and_people_sql() -> str:
    """What `tickets._queue_and_people` reads with the ORM (`_QUEUE_AND_PEOPLE`), for the driver's
    cursor: the queue (by lower-cased name), each user whose lower-cased name or email is one of
    `keys` (one row each; NULL columns when none is), every queue's addresses lower-cased, the
    service-level row and the queue's patterned custom fields. The ORM's load of the same rows is
    most of a create's Python (tests/test_fast_sql.py compares the two)."""
    from tessera.core.models import Queue, ServiceLevelsRecord, User

    return (
        f"SELECT {select_list(Queue, 'q')}, {select_list(User, 'u')},"
        " (SELECT array_cat(array_agg(lower(a.correspond_address)), array_agg(lower(a.comment_address)))"
        "  FROM queues a),"
        f" {select_list(ServiceLevelsRecord, 's')},"
        " (SELECT json_agg(json_build_array(f.name, f.pattern)) FROM custom_fields f"
        "  WHERE f.pattern IS NOT NULL AND f.disabled IS false"
        "  AND (f.queue_id IS NULL OR f.queue_id = q.id))"
        " FROM queues q"
        " LEFT JOIN users u"
        " ON lower(u.name) = ANY(%(keys)s::text[]) OR lower(u.email) = ANY(%(keys)s::text[])"
        " LEFT JOIN service_levels s ON s.id = 1"
        " WHERE lower(q.name) = %(queue)s::text"
    )


def queue_and_people(session: Session, queue: str, keys: list[str]) -> list[tuple[Any, ...]]:
    """`queue_and_people_sql` run, its rows as the ORM's statement returns them: (Queue, User or
    None, the addresses, ServiceLevelsRecord or None, the patterns), the objects persistent in
    `session` (the same queue object in every row). `queue` lower-cased."""
    from tessera.core.models import Queue, ServiceLevelsRecord, User

    if session.autoflush and (session.dirty or session.new or session.deleted):
        session.flush()  # as the ORM's own read would
    rows = driver_execute(session, queue_and_people_sql(), {"queue": queue, "keys": keys}).fetchall()
    if not rows:
        return []
    n_queue, n_user, n_levels = (len(loaded_columns(c)) for c in (Queue, User, ServiceLevelsRecord))
    first = rows[0]
    queue_obj = persistent(session, Queue, first[:n_queue])
    at = n_queue + n_user + 1
    level_row = first[at : at + n_levels]
    levels = persistent(session, ServiceLevelsRecord, level_row) if level_row[0] is not None else None
    out = []
    for row in rows:
        user_row = row[n_queue : n_queue + n_user]
        user = persistent(session, User, user_row) if user_row[0] is not None else None
        out.append((queue_obj, user, row[n_queue + n_user], levels, row[-1]))
    return out


# -- a ticket's people, links, custom fields and merged ids in one read (serialize.ticket_json) ---

# Five reads of the ORM path in one round trip, in the same orders (the tie-breakers included):
# the ticket JSON is what every `GET /tickets/{id}` and `ticket show --json` answers.
TICKET_EXTRAS_SQL = (
    "SELECT"
    " (SELECT coalesce(json_agg(json_build_array(p.role, p.who) ORDER BY p.role, p.kind, p.key), '[]')"
    "  FROM (SELECT w.role, 0 AS kind, w.user_id AS key, coalesce(u.email, u.name) AS who"
    "   FROM watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = %(id)s"
    "   UNION ALL SELECT gw.role, 1, gw.group_id, 'group:' || g.name"
    "   FROM group_watchers gw JOIN groups g ON g.id = gw.group_id WHERE gw.ticket_id = %(id)s) p),"
    " (SELECT coalesce(json_agg(json_build_array(l.base_id, l.type, l.target_id)"
    "   ORDER BY l.created, l.base_id, l.type, l.target_id), '[]')"
    "  FROM links l WHERE l.base_id = %(id)s OR l.target_id = %(id)s),"
    " (SELECT coalesce(json_agg(json_build_array(f.id, f.name, f.multiple) ORDER BY f.id), '[]')"
    "  FROM custom_fields f WHERE NOT f.disabled AND (f.queue_id IS NULL OR f.queue_id = %(queue)s)),"
    " (SELECT coalesce(json_agg(json_build_array(v.custom_field_id, f.name, f.multiple, v.value)"
    "   ORDER BY v.id), '[]')"
    "  FROM custom_field_values v JOIN custom_fields f ON f.id = v.custom_field_id"
    "  WHERE v.ticket_id = %(id)s),"
    " (SELECT coalesce(json_agg(t.id ORDER BY t.id), '[]') FROM tickets t WHERE t.merged_into_id = %(id)s),"
    " (SELECT coalesce(json_agg(json_build_array(r.id, r.subject, u.name, r.due, r.status, r.created,"
    "   r.resolved) ORDER BY r.id), '[]')"
    "  FROM reminders r LEFT JOIN users u ON u.id = r.owner_id WHERE r.ticket_id = %(id)s),"
    " (SELECT coalesce(json_agg(q.address ORDER BY q.address), '[]')"
    "  FROM ticket_squelches q WHERE q.ticket_id = %(id)s)"
)


def ticket_extras(session: Session, ticket_id: int, queue_id: int) -> tuple[list[Any], ...]:
    """(people, links, fields, values, merged, reminders, squelched) of TICKET_EXTRAS_SQL, as JSON
    arrays."""
    row = driver_execute(session, TICKET_EXTRAS_SQL, {"id": ticket_id, "queue": queue_id}).fetchone()
    return tuple(row)


# -- a new ticket in one statement ---------------------------------------------------------------


@cache
def _create_sql(
    ticket_cols: tuple[str, ...],
    returned: tuple[str, ...],
    txn_cols: tuple[str, ...],
    part_cols: tuple[str, ...],
    ride: str | None = None,
) -> str:
    """INSERT of the ticket, its watchers and custom field values, its Create transaction and (a
    plain message) the message's one part, each naming the columns given; the watchers and values
    come as one array per column (`w_<column>`, `v_<column>`), kept in their order. With `ride`
    (the scrip prefetch, `SCRIP_PREFETCH`), its rows come too, as one JSON array of [kind, row]
    in the last column, read as they are once the rows are written (`_ride_of_create`)."""
    from tessera.core.models import CustomFieldValue, Transaction, Watcher

    def rows_of(cls: type[Any], prefix: str, alias: str, returning: str = "") -> str:
        cols = [c for c, _ in _mapped(cls) if c != "ticket_id"]
        arrays = ", ".join(f"CAST(%({prefix}_{c})s AS {_sql_type(cls, c)}[])" for c in cols)
        return (
            f"INSERT INTO {_table(cls).name} (ticket_id, {', '.join(cols)})"
            f" SELECT t.id, {', '.join(f'{alias}.{c}' for c in cols)}"
            f" FROM t, unnest({arrays}) WITH ORDINALITY AS {alias}({', '.join(cols)}, n) ORDER BY {alias}.n"
            f"{returning}"
        )

    txn_values = ", ".join("t.id" if c == "ticket_id" else f"%(x_{c})s" for c in txn_cols)
    sql = (
        f"WITH t AS (INSERT INTO tickets ({', '.join(ticket_cols)})"
        f" VALUES ({', '.join(f'%(t_{c})s' for c in ticket_cols)}) RETURNING {', '.join(returned)}),"
        f" w AS ({rows_of(Watcher, 'w', 'w', ' RETURNING ticket_id, role, user_id' if ride else '')}),"
        f" v AS ({rows_of(CustomFieldValue, 'v', 'v')}),"
        f" x AS (INSERT INTO {_table(Transaction).name} ({', '.join(txn_cols)}) SELECT {txn_values} FROM t"
        " RETURNING id)"
    )
    riding = f", ({_ride_of_create(ride, bool(part_cols))})" if ride else ""
    if part_cols:
        part_values = ", ".join("x.id" if c == "transaction_id" else f"%(a_{c})s" for c in part_cols)
        sql += (
            f", a AS (INSERT INTO attachments ({', '.join(part_cols)}) SELECT {part_values} FROM x"
            f" RETURNING {_PART_READ if ride else 'id'})"
            f" SELECT {', '.join(f't.{c}' for c in returned)}, x.id, (SELECT id FROM a){riding} FROM t, x"
        )
    else:
        sql += f" SELECT {', '.join(f't.{c}' for c in returned)}, x.id, NULL{riding} FROM t, x"
    return sql


# The prefetch's reads of the rows a create writes, and what they read in its INSERT statement
# instead: the rows the statement inserts (its CTEs `w` and `a`), which the tables do not show
# to the same statement, and the new ticket's and transaction's ids. The rest (the catalog, the
# queue's watchers, group watchers and squelches, which a new ticket cannot have yet) reads the
# tables as the prefetch does. tests/test_fast_sql.py compares the rows both ways.
_PART_READ = "transaction_id, id, message_id, subject, headers, content_type, content, filename"
_RIDE_SWAPS = (
    ("FROM watchers w JOIN", "FROM w JOIN"),
    ("%(tickets)s", "ARRAY[(SELECT id FROM t)]"),
    ("%(messages)s", "ARRAY[(SELECT id FROM x)]"),
)


@cache
def _ride_of_create(ride: str, part: bool) -> str:
    """`ride` (the prefetch) as a subquery of the create's INSERT: one JSON array of [kind, row]."""
    swaps = (*_RIDE_SWAPS, ("FROM attachments a WHERE", "FROM a WHERE")) if part else _RIDE_SWAPS
    for old, new in swaps:
        if old not in ride:
            raise ValueError(f"the prefetch has no {old!r}: the create cannot read it")
        ride = ride.replace(old, new)
    return f"SELECT coalesce(json_agg(json_build_array(r.kind, r.row)), '[]') FROM ({ride}) AS r(kind, row)"


def rides_with_create(ride: Ride) -> bool:
    """Whether `insert_ticket` can read `ride` in its statement (it reads the scrip prefetch)."""
    return all(old in ride.sql for old, _ in _RIDE_SWAPS) and "FROM attachments a WHERE" in ride.sql


def insert_ticket(
    session: Session,
    ticket: Ticket,
    watchers: list[Watcher],
    values: list[CustomFieldValue],
    txn: Transaction,
    part: Attachment | None,
    ride: Ride | None = None,
) -> None:
    """Write a new ticket, its watchers and custom field values (their `ticket_id` unset), its
    Create transaction (`ticket_id` unset) and the message's one part (`transaction_id` unset;
    None: no plain message), with the rows the ORM's flush would write, in one statement.
    Afterwards `ticket` and `txn` are persistent in `session` with their ids and the values the
    database made, as after a flush. (Pending users the ticket refers to are flushed first.)

    A ticket given its number (a create's dry-run: `preview_create`) is written by the ORM's
    flush, which names the id; this statement leaves the identity column to its sequence.

    `ride` (the scrip prefetch, `rides_with_create`): read in the same statement, as it reads once
    the rows are written; its `tickets` and `messages` become the new ids, its rows are filled in
    and `mark`ed (the plain ORM path leaves its rows None: the runner then reads by itself)."""
    from tessera.core.models import Attachment as Part
    from tessera.core.models import CustomFieldValue, Ticket, Transaction, Watcher

    if not _fast or vars(ticket).get("id") is not None:  # (a number given: the ORM writes it)
        session.add(ticket)
        session.flush()
        for watcher in watchers:
            watcher.ticket_id = ticket.id
        for value in values:
            value.ticket_id = ticket.id
        txn.ticket_id = ticket.id
        session.add_all([*watchers, *values, txn])
        session.flush()
        if part is not None:
            part.transaction_id = txn.id
            session.add(part)
            session.flush()
        return
    session.flush()  # as a statement through the session would (users just made are flushed)
    ticket_cols = _columns_held(Ticket, ticket)
    held = set(ticket_cols)
    returned = tuple(c for _, c in loaded_columns(Ticket) if c not in held)
    txn.ticket_id = 0  # named, so the transaction's column list has it (filled from t.id)
    txn_cols = _columns_held(Transaction, txn)
    if part is not None:
        part.transaction_id = 0  # the same: filled from x.id
    part_cols = _columns_held(Part, part) if part is not None else ()
    params = _params(Ticket, ticket, ticket_cols, "t_")
    for cls, prefix, rows in ((Watcher, "w", watchers), (CustomFieldValue, "v", values)):
        for column, key in _mapped(cls):
            if column != "ticket_id":
                params[f"{prefix}_{column}"] = [getattr(row, key) for row in rows]
    params.update(_params(Transaction, txn, txn_cols, "x_"))
    if part is not None:
        params.update(_params(Part, part, part_cols, "a_"))
    if ride is not None and (ride.params.keys() - {"tickets", "messages"}) & params.keys():
        ride = None  # clashing names: the runner reads by itself
    if ride is not None:
        params.update({k: v for k, v in ride.params.items() if k not in ("tickets", "messages")})
    sql = _create_sql(ticket_cols, returned, txn_cols, part_cols, ride.sql if ride is not None else None)
    cursor = driver_execute(session, sql, params)
    row = cursor.fetchone()
    for (key, _), value in zip((kc for kc in loaded_columns(Ticket) if kc[1] in returned), row, strict=False):
        setattr(ticket, key, value)
    txn_id = row[len(returned)]
    adopt(session, ticket)
    txn.id, txn.ticket_id = txn_id, ticket.id
    adopt(session, txn)
    if ride is not None:
        ride.params["tickets"], ride.params["messages"] = [ticket.id], [txn_id]
        ride.rows = [(kind, value) for kind, value in row[-1]]
        conn = cursor.connection
        waits = getattr(conn, "waits", None)  # (a connection that does not count: never current)
        ride.mark = (conn, waits if waits is not None else -1)


# -- the one-change write ------------------------------------------------------------------------


@dataclass
class Ride:
    """A read the scrip runner wants done in the same statement as the unit's one-change write (one
    round trip fewer on the commonest units). `sql` selects `(kind text, row json)` rows; its
    parameter names must not clash with the write's; `rows` is filled in when it has run."""

    sql: str
    params: dict[str, Any]
    rows: list[tuple[str, Any]] | None = None
    # (connection, its wait count) when the rows were read by a create's INSERT (`insert_ticket`):
    # they hold while nothing more was sent on the connection. None: no such condition.
    mark: tuple[Any, int] | None = None

    def current(self) -> bool:
        """Whether `rows` are what the same read would return now (nothing sent since)."""
        return self.mark is None or getattr(self.mark[0], "waits", None) == self.mark[1]


_ONE_CHANGE_CACHE: dict[tuple[tuple[str, ...], tuple[str, ...], str | None], str] = {}


def _one_change_sql(columns: tuple[str, ...], txn_cols: tuple[str, ...], ride: str | None) -> str:
    """UPDATE of these ticket columns and INSERT of one transaction, in one statement; its first
    row (`rider` -1) carries the UPDATE's row count and the transaction's id, the ride's rows follow."""
    key = (columns, txn_cols, ride)
    sql = _ONE_CHANGE_CACHE.get(key)
    if sql is None:
        from tessera.core.models import Ticket, Transaction

        sets = ", ".join(f"{name} = %(u_{name})s" for name in columns)
        sql = (
            f"WITH u AS (UPDATE {_table(Ticket).name} SET {sets} WHERE id = %(u_id)s RETURNING 1),"
            f" x AS (INSERT INTO {_table(Transaction).name} ({', '.join(txn_cols)})"
            f" VALUES ({', '.join(f'%(x_{c})s' for c in txn_cols)}) RETURNING id)"
            " SELECT -1 AS rider, NULL::text AS kind,"
            " json_build_array((SELECT count(*) FROM u), (SELECT id FROM x))"
        )
        if ride is not None:
            sql += f" UNION ALL SELECT 0, r.kind, r.row FROM ({ride}) AS r(kind, row)"
        _ONE_CHANGE_CACHE[key] = sql
    return sql


def changed_columns(ticket: Ticket) -> dict[str, Any] | None:
    """The columns a flush of `ticket` would UPDATE, with their new values; None when the one-change
    write cannot take it (a relationship changed, a column the database recomputes from, a value
    psycopg would not bind as it is)."""
    from sqlalchemy import inspect
    from sqlalchemy.orm.attributes import get_history

    state = inspect(ticket)
    columns = _column_of_attr(type(ticket))
    changes: dict[str, Any] = {}
    for key in _attr_keys(type(ticket)) - state.unmodified:
        column = columns.get(key)
        if column is None or key in ("subject", "search_vector", "id"):
            return None  # relationships, and what makes the database recompute a column
        history = get_history(ticket, key)
        if not history.added and not history.deleted:
            continue  # set to what it was: no change, as the flush would see it
        value = state.dict.get(key)
        if not isinstance(value, (str, int, float, datetime, date, type(None))):
            return None  # bound as psycopg adapts it by itself: plain values only
        changes[column] = value
    return changes


@_per_model
def _attr_keys(cls: type[Any]) -> frozenset[str]:
    """Every mapped attribute of `cls` (columns and relationships)."""
    from sqlalchemy import inspect

    return frozenset(inspect(cls).attrs.keys())


@_per_model
def _column_of_attr(cls: type[Any]) -> dict[str, str]:
    """attribute -> column, for the column attributes of `cls`."""
    from sqlalchemy import inspect

    return {prop.key: prop.columns[0].name for prop in inspect(cls).column_attrs}


def write_one_change(
    session: Session, ticket: Ticket, changes: dict[str, Any], txn: Transaction, ride: Ride | None
) -> None:
    """UPDATE `changes` of `ticket` and INSERT `txn` in one statement, reading `ride` along with
    them; the objects end up as the flush leaves them."""
    from sqlalchemy.orm.exc import StaleDataError

    from tessera.core.models import Transaction

    columns = tuple(sorted(changes))
    txn_cols = _columns_held(Transaction, txn)
    params: dict[str, Any] = {f"u_{name}": changes[name] for name in columns}  # plain values only
    params["u_id"] = ticket.id
    params.update(_params(Transaction, txn, txn_cols, "x_"))
    if ride is not None and ride.params.keys() & params.keys():
        ride = None  # clashing names: the runner reads by itself
    if ride is not None:
        params.update(ride.params)
        ride.rows = []
    rows = driver_execute(
        session, _one_change_sql(columns, txn_cols, ride.sql if ride is not None else None), params
    ).fetchall()
    updated: int | None = None
    txn_id = 0
    for rider, kind, row in rows:
        if rider < 0:
            updated, txn_id = row
        elif ride is not None and ride.rows is not None:
            ride.rows.append((kind, row))
    if updated != 1:
        raise StaleDataError(f"UPDATE of {ticket!r} matched {updated} rows; expected 1")
    settle(session, ticket)
    session.expunge(txn)
    txn.id = txn_id
    adopt(session, txn)


def one_change_pending(session: Session, txn: Transaction) -> tuple[Ticket, dict[str, Any]] | None:
    """The ticket and its changed columns when they and `txn` (pending, its ticket's) are all a
    flush would write now: the shape one statement writes (`write_one_change`, `write_message`).
    None: something else is pending, or the fast writes are off."""
    from sqlalchemy import inspect

    from tessera.core.models import Ticket

    if not _fast or session.deleted:
        return None
    new = session.new
    # (`id` is typed int, as loaded; a pending object has None until its INSERT: read it raw)
    if len(new) != 1 or txn not in new or inspect(txn).dict.get("id") is not None:
        return None
    dirty = session.dirty
    if len(dirty) != 1:
        return None
    ticket = next(iter(dirty))
    if type(ticket) is not Ticket or ticket.id != txn.ticket_id:
        return None
    changes = changed_columns(ticket)
    return (ticket, changes) if changes else None


def write_message(
    session: Session, txn: Transaction, parts: list[Attachment], parents: list[int | None]
) -> bool:
    """A message recorded on a ticket, when its transaction `txn` (pending) and the ticket's changes
    are all a flush would write: the ticket's UPDATE, `txn`'s INSERT and the message's `parts`
    (transient, `transaction_id` and `parent_id` unset; `parents[i]`: the index of part i's parent
    among them, before it, or None for the root) in one statement instead of a flush's round trips
    (three for one part; five or more for a message with files). The parts take their ids in their
    order, as the flushes would give them. Afterwards all are persistent as a flush leaves them.
    False: nothing done (the caller flushes and adds the parts as before)."""
    from sqlalchemy.orm.exc import StaleDataError

    from tessera.core.models import Transaction

    if any(part in session for part in parts):
        return False
    found = one_change_pending(session, txn)
    values = _part_arrays(parts)
    if found is None or values is None:
        return False
    ticket, changes = found
    columns = tuple(sorted(changes))
    txn_cols = _columns_held(Transaction, txn)
    part_cols = tuple(values)
    params: dict[str, Any] = {f"u_{name}": changes[name] for name in columns}
    params["u_id"] = ticket.id
    params.update(_params(Transaction, txn, txn_cols, "x_"))
    params.update({f"a_{column}": value for column, value in values.items()})
    params["a_parent"] = [n + 1 if n is not None else None for n in parents]
    sql = _message_sql(columns, txn_cols, part_cols)
    updated, txn_id, part_ids = driver_execute(session, sql, params).fetchone()
    if updated != 1:
        raise StaleDataError(f"UPDATE of {ticket!r} matched {updated} rows; expected 1")
    if len(part_ids) != len(parts):  # (cannot be: every part is one row)
        raise RuntimeError(f"{len(parts)} parts written as {len(part_ids)} rows")
    settle(session, ticket)
    session.expunge(txn)
    txn.id = txn_id
    adopt(session, txn)
    for part, part_id, parent in zip(parts, part_ids, parents, strict=True):
        part.id, part.transaction_id = part_id, txn_id
        part.parent_id = part_ids[parent] if parent is not None else None
        adopt(session, part)
    return True


# What a part's row holds when its INSERT does not name the column (the database's default).
_PART_DEFAULTS: dict[str, Any] = {"headers": "", "content_type": "text/plain", "size": 0}


def _part_arrays(parts: list[Attachment]) -> dict[str, list[Any]] | None:
    """One list per column the parts name (but their transaction and parent): a column one part
    leaves out takes the value the database would give it; None when that is not known."""
    from tessera.core.models import Attachment

    keys = _attr_of_column(Attachment)
    named = {c for part in parts for c in _columns_held(Attachment, part)} - {"transaction_id", "parent_id"}
    columns = [c for c, _ in _mapped(Attachment) if c in named]
    out: dict[str, list[Any]] = {}
    for column in columns:
        row: list[Any] = []
        for part in parts:
            held = vars(part)
            if keys[column] in held:
                row.append(held[keys[column]])
            elif column in _PART_DEFAULTS or _table(Attachment).columns[column].server_default is None:
                row.append(_PART_DEFAULTS.get(column))
            else:
                return None
        out[column] = row
    return out


@cache
def _message_sql(columns: tuple[str, ...], txn_cols: tuple[str, ...], part_cols: tuple[str, ...]) -> str:
    from tessera.core.models import Attachment, Ticket, Transaction

    table = _table(Attachment).name
    sets = ", ".join(f"{name} = %(u_{name})s" for name in columns)
    arrays = ", ".join(f"CAST(%(a_{c})s AS {_sql_type(Attachment, c)}[])" for c in part_cols)
    return (
        f"WITH u AS (UPDATE {_table(Ticket).name} SET {sets} WHERE id = %(u_id)s RETURNING 1),"
        f" x AS (INSERT INTO {_table(Transaction).name} ({', '.join(txn_cols)})"
        f" VALUES ({', '.join(f'%(x_{c})s' for c in txn_cols)}) RETURNING id),"
        # The parts' ids first, in their order (a parent's is known before its children's rows).
        f" n AS MATERIALIZED (SELECT k, nextval(pg_get_serial_sequence('{table}', 'id')) AS id"
        " FROM generate_series(1, cardinality(CAST(%(a_parent)s AS int[]))) AS k ORDER BY k),"
        f" a AS (INSERT INTO {table} (id, transaction_id, parent_id, {', '.join(part_cols)})"
        f" SELECT n.id, x.id, up.id, {', '.join(f'p.{c}' for c in part_cols)}"
        f" FROM unnest({arrays}, CAST(%(a_parent)s AS int[])) WITH ORDINALITY"
        f" AS p({', '.join(part_cols)}, parent, k)"
        " JOIN n ON n.k = p.k LEFT JOIN n AS up ON up.k = p.parent CROSS JOIN x ORDER BY p.k RETURNING id)"
        " SELECT (SELECT count(*) FROM u), (SELECT id FROM x), (SELECT array_agg(id ORDER BY id) FROM a)"
    )


# -- the scrip engine's prefetch and write -------------------------------------------------------

# Everything the scrips of a unit of work read, in one round trip, always current: the catalog
# (the scrips, the templates, the desk's own addresses), the watchers of the unit's tickets and of
# their queues, and the messages of the unit's transactions. The catalog comes with its token
# (new on every change to scrips, templates or queues: migration 0010), and its rows only when the
# token is not the one the process already holds (`%(known)s`): what is unchanged is not sent,
# parsed and sorted again on every unit of work. Each kind's row is a JSON array the engine reads
# by position (scrips.engine: ScripRow, Person, Part).
SCRIP_PREFETCH = """
    WITH catalog AS (
      SELECT 's' AS kind, id, json_build_array(id, description, queue_id, stage, sort_order, condition,
             condition_argument, condition_expression, action, action_argument, template) AS row
        FROM scrips WHERE enabled
      UNION ALL
      SELECT 't', id, json_build_array(lower(name), queue_id, content, type) FROM scrip_templates
      UNION ALL
      SELECT 'q', id, json_build_array(correspond_address, comment_address) FROM queues
    )
    SELECT 'd' AS kind, to_json(token::text) AS row FROM scrip_catalog_token
    UNION ALL
    SELECT kind, row FROM catalog
     WHERE (SELECT token::text FROM scrip_catalog_token) IS DISTINCT FROM %(known)s
    UNION ALL
    SELECT 'w', json_build_array(w.ticket_id, w.role, u.id, u.name, u.email, u.real_name, u.disabled)
      FROM watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = ANY(%(tickets)s)
    UNION ALL
    SELECT 'w', json_build_array(gw.ticket_id, gw.role, u.id, u.name, u.email, u.real_name, u.disabled)
      FROM group_watchers gw JOIN group_members gm ON gm.group_id = gw.group_id
      JOIN users u ON u.id = gm.user_id WHERE gw.ticket_id = ANY(%(tickets)s)
    UNION ALL
    SELECT 'v', json_build_array(qw.queue_id, qw.role, u.id, u.name, u.email, u.real_name, u.disabled)
      FROM queue_watchers qw JOIN users u ON u.id = qw.user_id WHERE qw.queue_id = ANY(%(queues)s)
    UNION ALL
    SELECT 'v', json_build_array(qg.queue_id, qg.role, u.id, u.name, u.email, u.real_name, u.disabled)
      FROM queue_group_watchers qg JOIN group_members gm ON gm.group_id = qg.group_id
      JOIN users u ON u.id = gm.user_id WHERE qg.queue_id = ANY(%(queues)s)
    UNION ALL
    SELECT 'x', json_build_array(sq.ticket_id, sq.address)
      FROM ticket_squelches sq WHERE sq.ticket_id = ANY(%(tickets)s)
    UNION ALL
    SELECT 'a', json_build_array(a.transaction_id, a.id, a.message_id, a.subject, a.headers,
           a.content_type, a.content, a.filename)
      FROM attachments a WHERE a.transaction_id = ANY(%(messages)s)
    """


@cache
@cache
def _write_sql(runs: tuple[str, ...], mail: tuple[str, ...]) -> str:
    """The trace and the outbox of a unit in one statement (one round trip, however many rows),
    with the unit's live-update notice; the rows come as a JSON array of arrays (each row's values
    in its columns' order: half the encoding of objects), cast to the models' types as
    `jsonb_to_recordset` would (a JSON null is NULL; a too long text is refused by the column)."""
    from tessera.core.models import OutboxMessage, ScripRun

    def rows_of(cls: type[Any], cols: tuple[str, ...], param: str) -> str:
        name = _table(cls).name
        values = ", ".join(_from_json_array(cls, column, n) for n, column in enumerate(cols))
        return (
            f"INSERT INTO {name} ({', '.join(cols)}) SELECT {values}"
            f" FROM json_array_elements(CAST(%({param})s AS json)) AS r(v) RETURNING 1"
        )

    return (
        f"WITH runs AS ({rows_of(ScripRun, runs, 'runs')}), mail AS ({rows_of(OutboxMessage, mail, 'mail')})"
        " SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM mail),"
        " (SELECT pg_notify(%(channel)s, %(body)s) WHERE %(body)s <> '')"
    )


def _from_json_array(cls: type[Any], column: str, n: int) -> str:
    """The `n`th value of a row `r.v` (a JSON array) as `column` of `cls` takes it."""
    sql_type = _sql_type(cls, column)
    if sql_type in ("JSON", "JSONB"):
        value = f"NULLIF(CAST(r.v->{n} AS jsonb), 'null'::jsonb)"
        return f"CAST({value} AS json)" if sql_type == "JSON" else value
    return f"CAST(r.v->>{n} AS {sql_type.split('(')[0]})"  # (no length: the column checks it)


def _iso(value: Any) -> str:
    """A time in the rows' JSON (json.dumps asks only for what it cannot write itself)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not written as JSON")


def _rows_json(rows: list[dict[str, Any]]) -> str:
    """`rows` (dicts with the same keys, in the same order) as a JSON array of value arrays."""
    return json.dumps([list(row.values()) for row in rows], default=_iso)


def write_trace_and_outbox(
    session: Session, runs: list[dict[str, Any]], mail: list[dict[str, Any]], channel: str, notice: str
) -> bool:
    """Insert the unit's `scrip_runs` and `outbox` rows (dicts of their columns' values, every row
    of a kind with the same keys in the same order) and send `notice` on `channel` with them; True
    when the notice went with them (the plain ORM path leaves it to the operation's commit)."""
    from tessera.core.models import OutboxMessage, ScripRun

    session.flush()
    if not _fast:
        session.add_all([ScripRun(**row) for row in runs])
        session.add_all([OutboxMessage(**row) for row in mail])
        session.flush()
        return False
    run_cols = tuple(runs[0]) if runs else ("ticket_id",)
    mail_cols = tuple(mail[0]) if mail else ("ticket_id",)
    params = {
        "runs": _rows_json(runs),
        "mail": _rows_json(mail),
        "channel": channel,
        "body": notice,
    }
    sql = _write_sql(run_cols, mail_cols)
    connection = session.connection()
    # The unit's last statement: sent with its COMMIT, when the session's commit is the
    # connection's (not a savepoint's, as in a session joined to an outer transaction).
    if session.info.get(LAST_WRITE) and not connection.in_nested_transaction():
        send = getattr(driver_connection(connection), "send_with_commit", None)
        if send is not None and send(sql, params):
            return True
    driver_execute(session, sql, params)
    return True


# Set in `session.info` by the unit of work while its scrips run: the trace and outbox write is
# the unit's last statement (nothing after it reads what it writes), so it may go with the COMMIT.
LAST_WRITE = "tessera.last_write"


# -- `tessera mailgate`'s hand-off to a warm filer (tessera.cli.mailgate_pipe, tessera.mail.filer) --
#
# The piped mailgate runs these on a bare psycopg connection, before SQLAlchemy is imported (one
# process per message: imports are most of its time). A filer (`tessera worker`) holds a shared
# advisory lock on its LISTEN connection while it is alive; a message is recorded as `pending` only
# when one is, and the filer's answer is a NOTIFY of the row's id once the row holds the decision.

FILER_LOCK = (0x7E55, 0x0F11)  # pg_advisory_lock_shared(int4, int4): a filer is listening
INBOUND_CHANNEL = "tessera_inbound"  # payload: a pending row's id (to the filers)
FILED_CHANNEL = "tessera_filed"  # payload: "ID" (decided) or "ID retry" (file it yourself)
PENDING = "pending"  # inbound_mail.action of a message recorded and not yet filed

_FILER_ALIVE = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid = %(lock_a)s AND objid = %(lock_b)s AND objsubid = 2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)
FILER_ALIVE = _FILER_ALIVE.replace("%(lock_a)s", str(FILER_LOCK[0])).replace("%(lock_b)s", str(FILER_LOCK[1]))
FILER_HOLD = f"SELECT pg_try_advisory_lock_shared({FILER_LOCK[0]}, {FILER_LOCK[1]})"
LISTEN_INBOUND = f"LISTEN {INBOUND_CHANNEL}"
LISTEN_FILED = f"LISTEN {FILED_CHANNEL}"
# The raw message, recorded only if a filer is alive, and the filers told: one statement (its
# commit delivers the NOTIFY). The columns are the ORM's own for a pending row (see
# `pending_values`); what the gateway learns by parsing is written when the row is filed.
RECORD_PENDING = (
    f"WITH filer AS ({FILER_ALIVE} AS alive),"
    " ins AS (INSERT INTO inbound_mail (requested_action, action, size, raw, data)"
    " SELECT %(requested_action)s, %(action)s, %(size)s, %(raw)s, %(data)s FROM filer WHERE alive"
    " RETURNING id)"
    f" SELECT id, pg_notify('{INBOUND_CHANNEL}', id::text) FROM ins"
)
FILED_ROW = "SELECT action, ticket_id, reason, classification FROM inbound_mail WHERE id = %(id)s"
NOTIFY_FILED = "SELECT pg_notify(%(channel)s, %(payload)s)"
FORGET_PENDING = "DELETE FROM inbound_mail WHERE id = %(id)s AND action = 'pending'"


def pending_values(raw: bytes, requested: str, meta: dict[str, Any]) -> dict[str, Any]:
    """A pending row's columns, as `RECORD_PENDING` writes them and as the ORM would
    (`InboundMail(**pending_values(...))`, the reference tests/test_fast_sql.py compares with)."""
    return {"requested_action": requested, "action": PENDING, "size": len(raw), "raw": raw, "data": meta}


def record_pending(
    conn: psycopg.Connection[Any], raw: bytes, requested: str, meta: dict[str, Any]
) -> int | None:
    """Record `raw` as pending and tell the filers, in one statement on an autocommit connection
    that is LISTENing on FILED_CHANNEL already; None (nothing written) when no filer is alive."""
    values = pending_values(raw, requested, meta)
    values["data"] = Jsonb(values["data"])
    row = conn.execute(RECORD_PENDING, values).fetchone()
    return None if row is None else int(row[0])


def filer_alive(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(FILER_ALIVE).fetchone()
    return bool(row and row[0])


def filed_row(
    conn: psycopg.Connection[Any], inbound_id: int
) -> tuple[str, int | None, str, str | None] | None:
    """(action, ticket id, reason, classification) of a received message's row."""
    row = conn.execute(FILED_ROW, {"id": inbound_id}).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def forget_pending(conn: psycopg.Connection[Any], inbound_id: int) -> None:
    """A pending row whose message was refused for now (the MTA keeps it and retries)."""
    conn.execute(FORGET_PENDING, {"id": inbound_id})


def notify_filed(conn: psycopg.Connection[Any], inbound_id: int, retry: bool = False) -> None:
    conn.execute(
        "SELECT pg_notify(%(channel)s, %(payload)s)",
        {"channel": FILED_CHANNEL, "payload": f"{inbound_id}{' retry' if retry else ''}"},
    )


# -- what the mail gateway reads about a message, in one round trip (tessera.mail.threads) --------
#
# Everything the gateway reads before it writes, once a message is parsed: the gateway's queue (by
# name, as `queues.find_queue`), the same bytes filed already through it, the desk's addresses and
# every queue's tag, which of the Message-IDs the message names Tessera sent or stored (and on what
# ticket), the sender's user (as `context.find_user`) and the grants that can apply to them (as
# `RightsCache.load`; the role grants alone when the sender is unknown), and the tickets the
# message may be about, each with its queue and owner (the ORM's joined load) and the roles the
# sender holds on it (as `RightsCache.roles_on`). Candidate tickets: the ids the caller parsed from
# the subject and the References, the tickets of the Message-IDs found, and what each of those was
# merged into (one step; `threads.Lookups.ticket` reads on for longer chains). One row per
# candidate ticket (one row with NULL ticket columns when there is none), the single values
# repeated. tests/test_mail_gateway_sql.py compares each part with the ORM's reads.


@cache
def gateway_lookups_sql() -> str:
    from tessera.core.models import Queue, Ticket, User

    return (
        "WITH sender AS ("
        f" SELECT {select_list(User, 'u')} FROM users u"
        " WHERE %(sender)s::text IS NOT NULL"
        " AND (lower(u.name) = %(sender)s::text OR lower(u.email) = %(sender)s::text) LIMIT 1),"
        f" gq AS (SELECT {select_list(Queue, 'q')} FROM queues q WHERE CASE WHEN %(queue_id)s::int IS NULL"
        " THEN lower(q.name) = %(queue)s::text ELSE q.id = %(queue_id)s::int END LIMIT 1),"
        " sent AS (SELECT o.message_id, o.ticket_id FROM outbox o"
        "  WHERE o.message_id = ANY(%(ids)s::varchar[]) AND o.ticket_id IS NOT NULL),"
        " stored AS (SELECT a.message_id, x.ticket_id FROM attachments a"
        "  JOIN transactions x ON x.id = a.transaction_id WHERE a.message_id = ANY(%(refs)s::varchar[])),"
        " named AS (SELECT unnest(%(tickets)s::bigint[]) AS id"
        "  UNION SELECT ticket_id FROM sent UNION SELECT ticket_id FROM stored),"
        " wanted AS (SELECT id FROM named"
        "  UNION SELECT t.merged_into_id FROM tickets t JOIN named n ON n.id = t.id"
        "  WHERE t.merged_into_id IS NOT NULL)"
        f" SELECT {select_list(Queue, 'gq')}, {select_list(User, 'sender')},"
        " (SELECT json_build_array(i.id, i.action, i.ticket_id) FROM inbound_mail i"
        "  WHERE %(message_id)s::varchar IS NOT NULL AND i.message_id = %(message_id)s::varchar"
        "  AND i.queue_id = gq.id AND i.action IN ('create', 'correspond', 'comment')"
        "  AND i.size = %(size)s AND i.raw = %(raw)s LIMIT 1),"
        " (SELECT array_cat(array_agg(lower(a.correspond_address)), array_agg(lower(a.comment_address)))"
        "  FROM queues a),"
        " (SELECT json_agg(s.subject_tag ORDER BY s.id) FROM queues s WHERE s.subject_tag IS NOT NULL),"
        " (SELECT json_agg(json_build_array(message_id, ticket_id)) FROM sent),"
        " (SELECT json_agg(json_build_array(message_id, ticket_id)) FROM stored),"
        " (SELECT coalesce(json_agg(json_build_array(g.right_name, g.principal_kind, g.role, g.queue_id)),"
        "  '[]') FROM grants g WHERE g.principal_kind = 'role' OR g.user_id = sender.id"
        "  OR g.group_id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = sender.id)),"
        f" {select_list(Ticket, 't')}, {select_list(Queue, 'tq')}, {select_list(User, 'tu')},"
        " ARRAY(SELECT w.role FROM watchers w WHERE w.ticket_id = t.id AND w.user_id = sender.id"
        "  UNION SELECT gw.role FROM group_watchers gw JOIN group_members gm ON gm.group_id = gw.group_id"
        "  WHERE gw.ticket_id = t.id AND gm.user_id = sender.id)"
        " FROM (SELECT 1) one LEFT JOIN gq ON true LEFT JOIN sender ON true"
        " LEFT JOIN tickets t ON t.id IN (SELECT id FROM wanted)"
        " LEFT JOIN queues tq ON tq.id = t.queue_id LEFT JOIN users tu ON tu.id = t.owner_id"
        f" WHERE {_RESTORE_PLAN_MODE} ORDER BY t.id"
    )


# PostgreSQL plans a prepared statement anew for each message's values when it estimates the
# generic plan dearer, as it does the lookups' (it guesses ten candidate tickets where a message
# names one or two); planning them costs more than running them (1.7 ms against 0.7 at load 10 on
# bench/mailgate.py's desk), and the generic plan runs as fast. So the gateway's transaction
# begins by asking for generic plans (`GENERIC_PLANS`, sent with the BEGIN), and the lookups, once
# their plan is chosen, put the setting back as they start to run (`_RESTORE_PLAN_MODE`, a one-time
# filter): nothing else the transaction runs is planned otherwise than before.
GENERIC_PLANS = (
    "SELECT set_config('tessera.plan_cache_mode', current_setting('plan_cache_mode'), true),"
    " set_config('plan_cache_mode', %(mode)s, true)"
)
_RESTORE_PLAN_MODE = (
    "(SELECT set_config('plan_cache_mode', coalesce("
    "nullif(current_setting('tessera.plan_cache_mode', true), ''), current_setting('plan_cache_mode')"
    "), true)) IS NOT NULL"
)


@dataclass
class GatewayRead:
    """`gateway_lookups` as rows: the queue's and the sender's columns (None when not found), the
    single values, and per candidate ticket its, its queue's and its owner's columns and the
    sender's roles."""

    queue: tuple[Any, ...] | None
    sender: tuple[Any, ...] | None
    earlier: list[Any] | None
    addresses: list[str | None]
    tags: list[str | None]
    sent: list[list[Any]]
    stored: list[list[Any]]
    grants: list[list[Any]]
    tickets: list[tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...] | None, list[str]]]


def gateway_lookups(
    session: Session,
    *,
    queue: str,
    sender: str | None,
    message_id: str | None,
    raw: bytes,
    ids: list[str],
    refs: list[str],
    tickets: list[int],
) -> GatewayRead:
    """One statement: see `gateway_lookups_sql`. `queue` is the queue's name or number (as
    `queues.find_queue` takes it), `sender` the sender's lower-cased address."""
    from tessera.core.models import Queue, Ticket, User

    n_queue, n_user, n_ticket = (len(loaded_columns(c)) for c in (Queue, User, Ticket))
    from tessera.core.schemas import as_int32

    key = queue.strip()
    params = {
        "queue": key.lower(),
        "queue_id": as_int32(key) if key.isdigit() else None,
        "sender": sender,
        "message_id": message_id,
        "size": len(raw),
        "raw": raw if message_id is not None else b"",
        "ids": ids,
        "refs": refs,
        "tickets": tickets,
    }
    # When the transaction begins here, the lookups' plan is the generic one (sent with the BEGIN).
    setup = (GENERIC_PLANS, {"mode": "force_generic_plan"})
    rows = driver_execute(session, gateway_lookups_sql(), params, setup=setup).fetchall()
    first = rows[0]
    at = n_queue + n_user
    found: list[tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...] | None, list[str]]] = []
    for row in rows:
        ticket = row[at + 6 : at + 6 + n_ticket]
        if ticket[0] is None:
            continue
        rest = at + 6 + n_ticket
        owner = row[rest + n_queue : rest + n_queue + n_user]
        found.append((ticket, row[rest : rest + n_queue], owner if owner[0] is not None else None, row[-1]))
    return GatewayRead(
        queue=first[:n_queue] if first[0] is not None else None,
        sender=first[n_queue:at] if first[n_queue] is not None else None,
        earlier=first[at],
        addresses=first[at + 1] or [],
        tags=first[at + 2] or [],
        sent=first[at + 3] or [],
        stored=first[at + 4] or [],
        grants=first[at + 5],
        tickets=found,
    )


# -- the gateway's record of a filed message, in one statement (tessera.mail.gateway) -------------


@cache
def _inbound_sql(
    row_cols: tuple[str, ...],
    returned: tuple[str, ...],
    watcher_cols: tuple[str, ...],
    part_cols: tuple[str, ...],
) -> str:
    """The transaction's data (`via`, `mail`), the new ticket's requestor (when `watcher_cols`),
    the message's parts not written yet (when `part_cols`: one array per column, `p_<column>`,
    inserted in their order) and the message's `inbound_mail` row, in one statement; its row holds
    what the database made of the `inbound_mail` row, then the parts' ids in their order."""
    from tessera.core.models import Attachment, InboundMail, Watcher

    sql = "WITH d AS (UPDATE transactions SET data = %(x_data)s WHERE id = %(x_id)s)"
    if watcher_cols:
        sql += (
            f", w AS (INSERT INTO {_table(Watcher).name} ({', '.join(watcher_cols)})"
            f" VALUES ({', '.join(f'%(w_{c})s' for c in watcher_cols)}))"
        )
    parts = "NULL::bigint[]"
    if part_cols:
        arrays = ", ".join(f"CAST(%(p_{c})s AS {_sql_type(Attachment, c)}[])" for c in part_cols)
        listed = ", ".join(part_cols)
        sql += (
            f", p AS (INSERT INTO {_table(Attachment).name} ({listed})"
            f" SELECT {', '.join(f'p.{c}' for c in part_cols)}"
            f" FROM unnest({arrays}) WITH ORDINALITY AS p({listed}, n) ORDER BY p.n RETURNING id)"
        )
        parts = "(SELECT array_agg(id ORDER BY id) FROM p)"
    return (
        f"{sql}, i AS (INSERT INTO {_table(InboundMail).name} ({', '.join(row_cols)})"
        f" VALUES ({', '.join(f'%(i_{c})s' for c in row_cols)}) RETURNING {', '.join(returned)})"
        f" SELECT {', '.join(f'i.{c}' for c in returned)}, {parts} FROM i"
    )


def _pending_parts(session: Session, txn: Transaction) -> list[Any] | None:
    """The message parts a flush would write now, in the order it would (each with its
    transaction and parent already written, all holding the same columns), when they are all the
    flush would write besides `txn`'s data; None otherwise (the caller flushes as the ORM does)."""
    from sqlalchemy import inspect

    from tessera.core.models import Attachment

    if session.deleted or any(o is not txn and session.is_modified(o) for o in session.dirty):
        return None
    parts = list(session.new)
    if not all(type(o) is Attachment for o in parts):
        return None
    parts.sort(key=lambda o: inspect(o).insert_order)
    if parts and len({_columns_held(Attachment, o) for o in parts}) != 1:
        return None
    return parts


def write_inbound(
    session: Session, row: Any, txn: Transaction, watcher: Watcher | None, ride: Ride | None = None
) -> None:
    """Write the gateway's record of a message filed on a ticket: `row` (a new InboundMail), the
    data of `txn` (persistent: its `data` the one change not written yet), `watcher` (the new
    ticket's requestor, or None) and the message's parts still pending in the session (its leaves:
    a part with children is written before them), with the rows the ORM's flush writes, in one
    statement instead of a flush's four. Afterwards `row` and the parts are persistent with their
    ids and what the database made, `txn` holds no pending change and the watcher's row is written
    (the object is not in the session). `ride` (the scrips' prefetch) is read right after it, in
    the same round trip, and marked as `insert_ticket` marks its own; left unread on the ORM's path."""
    from sqlalchemy import inspect

    from tessera.core.models import Attachment, InboundMail, Watcher

    state = inspect(txn)
    changed = [a.key for a in state.attrs if a.history.has_changes()]
    parts = _pending_parts(session, txn) if _fast else None
    if parts is None or not state.persistent or changed not in (["data"], []):
        if watcher is not None:
            session.add(watcher)
        session.add(row)
        session.flush()
        return
    row_cols = _columns_held(InboundMail, row)
    held = set(row_cols)
    returned = tuple(c for _, c in loaded_columns(InboundMail) if c not in held)
    watcher_cols = _columns_held(Watcher, watcher) if watcher is not None else ()
    part_cols = _columns_held(Attachment, parts[0]) if parts else ()
    params = _params(InboundMail, row, row_cols, "i_")
    params["x_data"], params["x_id"] = Jsonb(txn.data), txn.id
    if watcher is not None:
        params.update(_params(Watcher, watcher, watcher_cols, "w_"))
    keys = _attr_of_column(Attachment)
    for column in part_cols:
        params[f"p_{column}"] = [getattr(part, keys[column]) for part in parts]
    sql = _inbound_sql(row_cols, returned, watcher_cols, part_cols)
    if ride is None:
        found = driver_execute(session, sql, params).fetchone()
    else:
        cursor, read = driver_execute_then(session, sql, params, ride.sql, ride.params)
        found = cursor.fetchone()
        ride.rows = [(kind, value) for kind, value in read.fetchall()]
        conn = cursor.connection
        waits = getattr(conn, "waits", None)  # (a connection that does not count: never current)
        ride.mark = (conn, waits if waits is not None else -1)
    attrs = {column: key for key, column in loaded_columns(InboundMail)}
    for column, value in zip(returned, found, strict=False):
        setattr(row, attrs[column], value)
    adopt(session, row)
    settle(session, txn)
    part_ids = found[len(returned)] or []
    if len(part_ids) != len(parts):  # (cannot be: every part is one row)
        raise RuntimeError(f"{len(parts)} parts written as {len(part_ids)} rows")
    for part, part_id in zip(parts, part_ids, strict=True):
        session.expunge(part)  # pending -> transient, then persistent as written
        part.id = part_id
        adopt(session, part)
