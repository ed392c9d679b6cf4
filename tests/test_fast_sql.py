"""The hand-written SQL (core/fast_sql): it writes exactly the rows the ORM writes, it names only
columns the schema has, and the one reliance on SQLAlchemy's private API still holds."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sqlalchemy
from psycopg.types.json import Jsonb
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm.state import InstanceState

from tessera.core import customfields, fast_sql, grants, ownership, queues, tickets, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import Database, open_database
from tessera.core.models import Ticket
from tessera.core.schemas import AttachmentIn, MessageIn, TicketCreate
from tests.support import pg
from tests.support.wait import wait_until

# SQLAlchemy as tested: `fast_sql.settle` calls InstanceState._commit_all (private). pyproject
# bounds SQLAlchemy to this minor; moving on means running this file and reading settle's note.
TESTED_SQLALCHEMY = "2.1."

# Every table a ticket operation or the scrips write, compared row for row.
TABLES = (
    "users",
    "tickets",
    "watchers",
    "custom_field_values",
    "transactions",
    "attachments",
    "scrip_runs",
    "outbox",
)


# -- SQLAlchemy's private API -------------------------------------------------------------------


def test_settle_leaves_an_object_as_a_flush_does(session) -> None:
    assert sqlalchemy.__version__.startswith(TESTED_SQLALCHEMY), (
        f"SQLAlchemy {sqlalchemy.__version__} is not the tested {TESTED_SQLALCHEMY}x: check that "
        "InstanceState._commit_all still does what fast_sql.settle says, then update TESTED_SQLALCHEMY "
        "and the bound in pyproject"
    )
    assert callable(getattr(InstanceState, "_commit_all", None)), "InstanceState._commit_all is gone"
    bootstrap(session, "root")
    ctx = open_context(session, "root")
    queues.create_queue(ctx, "General")
    ticket = tickets.create_ticket(ctx, TicketCreate(queue="General", subject="settle me"))
    session.execute(text("UPDATE tickets SET priority = 7 WHERE id = :id"), {"id": ticket.id})
    ticket.priority = 7  # what the statement wrote, as the object now holds it
    assert ticket in session.dirty and inspect(ticket).attrs.priority.history.added == [7]
    fast_sql.settle(session, ticket)
    state = inspect(ticket)
    assert ticket not in session.dirty and not state.modified
    assert not state.attrs.priority.history.has_changes() and ticket.priority == 7
    statements: list[str] = []
    event.listen(session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    session.flush()
    assert statements == []  # nothing left for a flush to write
    session.expire(ticket, ["priority"])
    assert ticket.priority == 7  # and what it holds is the row


# -- every hand-written statement against the schema ----------------------------------------------


def _explain(session, sql: str, params: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    fast_sql.driver_execute(session, f"EXPLAIN {sql}", params).fetchall()


def test_every_hand_written_statement_names_only_what_the_schema_has(session) -> None:
    """Each statement is planned by PostgreSQL against the migrated schema (which the models match:
    test_migrations), so a column renamed or dropped in the models fails here, not on a desk."""
    from tessera.core.models import Transaction

    page = {"me": 1, "queue": 1, "limit": 1, "after_value": None, "after_id": 1}
    for sort in fast_sql.SORT_KEY:
        for descending, in_queue, after, deleted, merged in itertools.product((True, False), repeat=5):
            sql = fast_sql.page_sql(
                sort,
                descending,
                in_queue=in_queue,
                after=after,
                hide_status=None if deleted else "deleted",
                include_merged=merged,
            )
            _explain(session, sql, page)
    for sql in (fast_sql.QUICK_SCHEMA, fast_sql.QUICK_QUEUES, fast_sql.QUICK_EMPTY):
        _explain(session, sql, {})
    _explain(session, fast_sql.QUICK_USER, {"key": "root"})
    pending = fast_sql.pending_values(b"x", "correspond", {})
    _explain(session, fast_sql.RECORD_PENDING, {**pending, "data": Jsonb(pending["data"])})
    _explain(session, fast_sql.FILER_ALIVE, {})
    _explain(session, fast_sql.FILED_ROW, {"id": 1})
    _explain(session, fast_sql.FORGET_PENDING, {"id": 1})
    _explain(session, fast_sql.NOTIFY_FILED, {"channel": fast_sql.FILED_CHANNEL, "payload": "1"})
    _explain(session, fast_sql.lock_ticket_sql(), {"ticket_id": 1})
    _explain(session, fast_sql.queue_and_people_sql(), {"queue": "general", "keys": ["root"]})
    _explain(session, fast_sql.TICKET_EXTRAS_SQL, {"id": 1, "queue": 1})
    _explain(session, fast_sql.WAIT_FOR_TICKET_LOCK, {"ticket_id": 1})
    prefetch = {"known": None, "tickets": [1], "queues": [1], "messages": [1]}
    _explain(session, fast_sql.SCRIP_PREFETCH, prefetch)
    txn = Transaction(ticket_id=1, type="Set", field="Priority", old_value="0", new_value="1", actor_id=1,
                      created=datetime.now(UTC), data={})  # fmt: skip
    txn_cols = fast_sql._columns_held(Transaction, txn)
    one_change = fast_sql._one_change_sql(("priority", "updated"), txn_cols, fast_sql.SCRIP_PREFETCH)
    params = {"u_priority": 1, "u_updated": datetime.now(UTC), "u_id": 1, **prefetch}
    _explain(session, one_change, {**params, **fast_sql._params(Transaction, txn, txn_cols, "x_")})
    runs = (
        "scrip_id",
        "ticket_id",
        "transaction_id",
        "stage",
        "depth",
        "fired",
        "outcome",
        "reason",
        "created",
    )
    mail = ("ticket_id", "transaction_id", "scrip_id", "message_id", "mail_from", "recipients", "summary",
            "message", "next_attempt", "created")  # fmt: skip
    _explain(
        session, fast_sql._write_sql(runs, mail), {"runs": "[]", "mail": "[]", "channel": "c", "body": ""}
    )


# -- the fast writes against the ORM's, row for row ---------------------------------------------


def _scenario(db: Database) -> None:
    """Everything the fast writes do: tickets made with and without a plain message, with people and
    custom field values; one-change writes (status, owner, fields) with the scrips' prefetch riding
    along; replies and comments (one with files); a reply a scrip reopens its ticket on (its change
    written in a savepoint); the scrips' trace and outbox throughout (default scrips on)."""
    with db.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(
            root, "General", correspond_address="help@desk.example", comment_address="note@desk.example"
        )
        users.add_user(root, "alice", email="alice@desk.example", privileged=True)
        grants.grant(root, "OwnTicket", "user:alice", None)
        customfields.create_field(root, "Tags", multiple=True)
        customfields.create_field(root, "Site")
        a = tickets.create_ticket(
            root,
            TicketCreate(
                queue="General",
                subject="Printer on fire",
                requestors=["ann@customer.example", "alice@desk.example"],
                cc=["carl@customer.example"],
                admincc=["alice@desk.example"],
                custom_fields={"Tags": "paper, fire", "Site": "Oslo"},
                priority=30,
                due=datetime(2031, 1, 2, 3, 4, tzinfo=UTC),
                message=MessageIn(body="It is on fire.\nPlease help.", headers="X-Test: 1"),
            ),
        ).id
        b = tickets.create_ticket(
            root,
            TicketCreate(
                queue="General",
                subject="With a file",
                requestors=["bob@customer.example"],
                message=MessageIn(
                    body="See attached.",
                    attachments=[AttachmentIn(filename="log.txt", content_type="text/plain", data=b"x\n")],
                ),
            ),
        ).id
        c = tickets.create_ticket(
            root, TicketCreate(queue="General", subject="No message", owner="alice", status="open")
        ).id
        tickets.set_status(root, a, "open")
        tickets.set_fields(root, a, {"priority": "40"})
        ownership.give(root, a, "alice")
        tickets.set_fields(root, a, {"cf.Site": "Bergen"})
        tickets.correspond(root, a, MessageIn(body="Have you tried water?", time_taken=5))
        tickets.comment(root, a, MessageIn(body="It is really on fire."))
        tickets.correspond(  # a message with files: its tree in the reply's one statement
            root,
            b,
            MessageIn(
                body="Two logs.",
                attachments=[
                    AttachmentIn(filename="a.log", content_type="text/plain", data=b"boot\n"),
                    AttachmentIn(filename="b.bin", content_type="application/octet-stream", data=b"\x00\xff"),
                ],
            ),
        )
        tickets.set_status(root, a, "resolved")
        tickets.correspond(root, a, MessageIn(body="It is on fire again."))  # a scrip reopens it
        assert s.scalar(select(Ticket.status).where(Ticket.id == a)) == "open"
        tickets.set_fields(root, b, {"priority": "5", "subject": "With a file (renamed)", "status": "open"})
        tickets.set_fields(root, c, {"due": "2031-02-03", "time_left": "30"})
        tickets.set_status(root, b, "resolved")
        tickets.set_status(root, c, "stalled")


_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_DATE_LINE = re.compile(r"^Date: .*$", re.M)


def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of TABLES, by primary key, with what differs between two runs by nature (the
    clock, random Message-IDs) replaced by its order of appearance."""
    out: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for table in TABLES:
            keys = [c for c in sqlalchemy.inspect(conn).get_pk_constraint(table)["constrained_columns"]]
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {', '.join(keys)}")).mappings().all()
            out[table] = [{k: v for k, v in row.items() if k != "search_vector"} for row in rows]
    times = sorted(
        {v for rows in out.values() for row in rows for v in row.values() if isinstance(v, datetime)}
    )
    rank = {t: f"time#{n}" for n, t in enumerate(times)}
    ids: dict[str, str] = {}

    def clean(value: Any) -> Any:
        if isinstance(value, datetime):
            return rank[value]
        if isinstance(value, str):
            value = _DATE_LINE.sub("Date: (the clock)", value)
            return _MESSAGE_ID.sub(lambda m: ids.setdefault(m.group(0), f"<id#{len(ids)}>"), value)
        if isinstance(value, dict):  # (a mail's summary: its Date header is the clock's too)
            return {k: "(the clock)" if k == "Date" else clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {table: [{k: clean(v) for k, v in row.items()} for row in rows] for table, rows in out.items()}


@pytest.fixture
def two_databases(pg_server: URL, template_db: str) -> Iterator[tuple[Database, Database]]:
    urls = [pg.clone(pg_server, template_db, prefix="tessera_fq") for _ in range(2)]
    dbs = [open_database(url) for url in urls]
    try:
        yield dbs[0], dbs[1]
    finally:
        for db, url in zip(dbs, urls, strict=True):
            db.dispose()
            pg.drop(url)


def test_the_fast_writes_write_every_row_the_orm_writes(two_databases, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fast_db, orm_db = two_databases
    dumps = []
    for db, plain in ((fast_db, False), (orm_db, True)):
        counter = itertools.count()
        monkeypatch.setattr(uuid, "uuid4", lambda c=counter: uuid.UUID(int=next(c)))  # the same ids both runs
        if plain:
            with fast_sql.plain_orm():
                _scenario(db)
        else:
            _scenario(db)
        dumps.append(_dump(db))
    fast, orm = dumps
    assert [len(fast[t]) for t in TABLES] == [len(orm[t]) for t in TABLES], "row counts differ"
    for table in TABLES:
        for n, (mine, theirs) in enumerate(zip(fast[table], orm[table], strict=True)):
            assert mine == theirs, f"{table} row {n}: fast {mine} != ORM {theirs}"
    # The scenario did go through each fast write (and the scrips wrote their trace and mail).
    assert len(fast["tickets"]) == 3 and len(fast["watchers"]) >= 5 and fast["custom_field_values"]
    assert fast["scrip_runs"] and fast["outbox"]


def test_the_plain_orm_switch_takes_every_fast_write_off(session, monkeypatch) -> None:
    """(So the comparison above compares two different paths.)"""
    used: list[str] = []
    real = fast_sql.driver_execute

    def spy(session, sql, params, **kw):  # type: ignore[no-untyped-def]
        used.append(sql.split()[0] + " " + sql.split()[1])
        return real(session, sql, params, **kw)

    monkeypatch.setattr(fast_sql, "driver_execute", spy)
    bootstrap(session, "root")
    ctx = open_context(session, "root")
    queues.create_queue(ctx, "General", correspond_address="help@desk.example")
    data = TicketCreate(
        queue="General", subject="x", requestors=["c@example.com"], message=MessageIn(body="b")
    )
    with fast_sql.plain_orm():
        t = tickets.create_ticket(ctx, data)
        tickets.set_status(ctx, t.id, "open")
    writes = [u for u in used if u.startswith(("WITH t", "WITH u", "WITH runs"))]
    assert writes == []
    tickets.set_status(ctx, tickets.create_ticket(ctx, data).id, "open")
    writes = [u for u in used if u.startswith(("WITH t", "WITH u", "WITH runs"))]
    assert writes == ["WITH t", "WITH runs", "WITH u", "WITH runs"]
    assert session.get(Ticket, t.id).status == "open"


def test_the_one_read_ticket_json_matches_the_orms_five_reads(session) -> None:
    """`ticket_json` (every GET /tickets/{id}, `ticket show --json`) reads people, links, custom
    fields and merged ids in one statement; the ORM path's answer is the reference, key for key and
    in the same order, for tickets with every kind of each (ties in link times included)."""
    from tessera.core import customfield_admin, links, watchers
    from tessera.core.serialize import ticket_json

    bootstrap(session, "root")
    root = open_context(session, "root")
    queues.create_queue(root, "General", correspond_address="help@desk.example")
    queues.create_queue(root, "Lab")
    users.add_user(root, "zed")  # a watcher with no address: shown by name
    customfields.create_field(root, "Tags", multiple=True)
    customfields.create_field(root, "Site")
    customfields.create_field(root, "Gone")
    customfields.create_field(root, "Rack", queue="Lab")
    made = [
        tickets.create_ticket(
            root,
            TicketCreate(
                queue=queue,
                subject=f"t{n}",
                requestors=["zoe@customer.example", "ann@customer.example"] if n == 0 else [],
                cc=["carl@customer.example"] if n == 0 else [],
                custom_fields=fields,
            ),
        ).id
        for n, (queue, fields) in enumerate(
            [
                ("Lab", {"Tags": "paper, fire", "Site": "Oslo", "Gone": "x", "Rack": "R1"}),
                ("General", {}),
                ("General", {"Site": "Bergen"}),
                ("General", {}),
                ("General", {}),
            ]
        )
    ]
    a, b, c, d, e = made
    watchers.add_watcher(root, a, "AdminCc", "zed")
    watchers.add_watcher(root, a, "Requestor", "zed")
    users.add_group(root, "Ops")
    users.add_group(root, "Admins")  # made second: groups come by id, after the people
    watchers.add_watcher(root, a, "AdminCc", "group:Admins")
    watchers.add_watcher(root, a, "AdminCc", "group:Ops")
    watchers.add_watcher(root, a, "Cc", "group:Ops")
    from tessera.core.squelch import set_squelch

    set_squelch(root, a, ["zoe@customer.example", "Carl@customer.example"])
    links.add_link(root, a, "DependsOn", b)
    links.add_link(root, a, "DependsOn", c)  # the same transaction time as the one before
    links.add_link(root, c, "RefersTo", a)
    links.add_link(root, a, "MemberOf", d)
    links.merge(root, e, a)
    tickets.set_fields(root, a, {"queue": "General"})  # Rack's value is kept from the queue it left
    customfield_admin.update_field(root, "Gone", disabled=True)  # and Gone's from a disabled field
    from datetime import UTC, datetime

    from tessera.core import reminders

    reminders.add_reminder(root, a, "Check it", owner="zed", due=datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
    done = reminders.add_reminder(root, a, "Nobody's", owner="Nobody")
    reminders.resolve_reminder(root, a, done.id)
    session.flush()

    shown = {}
    statements: list[str] = []

    def listen(*args: Any) -> None:
        statements.append(args[2])

    for ticket_id in (a, b, c, d):
        ticket = tickets.get_ticket(root, ticket_id)
        statements.clear()
        event.listen(session.get_bind(), "before_cursor_execute", listen)
        try:
            fast_json = ticket_json(root, ticket)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", listen)
        with fast_sql.plain_orm():
            orm_json = ticket_json(root, ticket)
        assert list(fast_json.items()) == list(orm_json.items())
        assert all(list(fast_json["links"][k]) == orm_json["links"][k] for k in orm_json["links"])
        assert len(statements) <= 1, statements  # the ticket was read already; its extras in one
        shown[ticket_id] = fast_json
    rich = shown[a]
    assert sorted(rich["requestors"]) == ["ann@customer.example", "zed", "zoe@customer.example"]
    assert rich["cc"] == ["carl@customer.example", "group:Ops"]
    assert rich["admincc"] == ["zed", "group:Ops", "group:Admins"]
    assert rich["squelched"] == ["carl@customer.example", "zoe@customer.example"]
    assert rich["links"]["depends_on"] and rich["links"]["referred_to_by"] and rich["links"]["member_of"]
    assert rich["merged_from"] and rich["custom_fields"]["Tags"] == ["paper", "fire"]
    assert rich["custom_fields"]["Rack"] == "R1" and rich["custom_fields"]["Gone"] == "x"
    assert shown[b]["links"]["depended_on_by"] and shown[d]["links"]["has_member"]


def test_a_creates_first_read_returns_what_the_orms_statement_returns(session) -> None:
    """`tickets._queue_and_people` (every create's first read) on the driver's cursor returns the
    ORM statement's rows: the same queue, the same users for each address (by name, by email, in
    any case, none), the desk's addresses, the service-level row or none, and the required fields."""
    from sqlalchemy.orm.attributes import instance_state

    from tessera.core.models import ServiceLevelsRecord

    bootstrap(session, "root")
    root = open_context(session, "root")
    queues.create_queue(
        root, "General", correspond_address="Help@Desk.example", comment_address="n@d.example"
    )
    queues.create_queue(root, "Lab")
    users.add_user(root, "alice", email="Alice@Desk.example", privileged=True)
    users.add_user(root, "bob", email="bob@customer.example")
    customfields.create_field(root, "Site", pattern="^.+$")
    customfields.create_field(root, "Rack", queue="Lab", pattern="^R")
    customfields.create_field(root, "Note")
    session.flush()

    def loaded(obj: Any) -> Any:
        if obj is None:
            return None
        state = instance_state(obj)
        return (type(obj).__name__, state.key, {k: v for k, v in state.dict.items() if not k.startswith("_")})

    cases = [
        ("General", ["alice", "BOB@customer.example", "nobody@else.example"]),
        ("lab", ["alice@desk.example"]),
        ("General", ["stranger@else.example"]),
        ("Nowhere", ["alice"]),
    ]
    for levels in (False, True):
        if levels:
            session.add(ServiceLevelsRecord(id=1, definition={"levels": {}}, updated=datetime.now(UTC)))
            session.flush()
        for queue, addresses in cases:
            data = TicketCreate(queue=queue, subject="x", requestors=addresses)
            answers = []
            for plain in (False, True):
                session.expire_all()
                if plain:
                    with fast_sql.plain_orm():
                        got = tickets._queue_and_people(root, data) if queue != "Nowhere" else None
                else:
                    got = tickets._queue_and_people(root, data) if queue != "Nowhere" else None
                if got is None:  # an unknown queue: the fast read finds no row, as the ORM's
                    keys = sorted(users.address_keys(addresses))
                    with fast_sql.plain_orm():
                        orm_rows = session.execute(
                            tickets._QUEUE_AND_PEOPLE, {"queue": "nowhere", "keys": keys}
                        ).all()
                    assert orm_rows == [] and fast_sql.queue_and_people(session, "nowhere", keys) == []
                    break
                q, people, own, level, required = got
                answers.append(
                    (loaded(q), {k: loaded(u) for k, u in people.items()}, own, loaded(level), required)
                )
            if answers:
                assert answers[0] == answers[1], (queue, addresses, levels)
                assert answers[0][4] == (["Site", "Rack"] if queue == "lab" else ["Site"])
                assert (answers[0][3] is not None) == levels


def test_the_piped_mailgates_pending_row_is_the_row_the_orm_writes(database: Database) -> None:
    """`record_pending` (the piped mailgate's one statement, tessera.cli.mailgate_pipe) writes the
    row the ORM writes from `pending_values`, column for column; with no filer alive, nothing."""
    from tessera.core.models import InboundMail

    raw = b"From: carla@customer.example\r\nSubject: hi\r\n\r\nbody \xe9\r\n"
    meta = {"pending": {"queue": "General", "action": "take-correspond", "extension": None, "env": {}}}
    dsn = database.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert fast_sql.record_pending(conn, raw, "take-correspond", meta) is None  # no filer alive
        with psycopg.connect(dsn, autocommit=True) as filer:
            filer.execute(fast_sql.FILER_HOLD)
            assert fast_sql.filer_alive(conn)
            by_hand = fast_sql.record_pending(conn, raw, "take-correspond", meta)
        # (the server lets the closed filer's lock go a moment after the connection closes)
        wait_until(lambda: not fast_sql.filer_alive(conn), what="the closed filer's lock released")
    with database.session() as session:
        orm = InboundMail(**fast_sql.pending_values(raw, "take-correspond", meta))
        session.add(orm)
        session.commit()
        rows = {row.id: row for row in session.scalars(sqlalchemy.select(InboundMail))}
        columns = [c.key for c in InboundMail.__table__.columns if c.key not in ("id", "received")]
        assert by_hand is not None and set(rows) == {by_hand, orm.id}
        written = {c: getattr(rows[by_hand], c) for c in columns}
        assert written == {c: getattr(rows[orm.id], c) for c in columns}
        assert written["action"] == fast_sql.PENDING and written["raw"] == raw


def test_a_search_is_planned_at_the_search_costs_and_puts_the_servers_back(session) -> None:
    """Searches are costed as for tables in memory or on SSD (a phrase's page took a hash join over
    every ticket at the server's default), and a page starts no parallel workers (their start-up
    was half of a phrase's page at 1M), for their own statements only: the transaction's other
    statements keep the server's settings, and a failed search leaves nothing set either."""
    from tessera.core.search import service

    def cost() -> tuple[str, str]:
        return tuple(  # type: ignore[return-value]
            session.execute(
                text(
                    "SELECT current_setting('random_page_cost'),"
                    " current_setting('max_parallel_workers_per_gather')"
                )
            ).one()
        )

    bootstrap(session, "root")
    server = cost()
    assert server[0] != fast_sql.SEARCH_RANDOM_PAGE_COST and server[1] != fast_sql.PAGE_PARALLEL_WORKERS
    with fast_sql.planned_each_time(session):  # (a count: its workers as the server has them)
        assert cost() == (fast_sql.SEARCH_RANDOM_PAGE_COST, server[1])
    with fast_sql.planned_each_time(session, page=True):
        assert cost() == (fast_sql.SEARCH_RANDOM_PAGE_COST, fast_sql.PAGE_PARALLEL_WORKERS)
    assert cost() == server
    ctx = open_context(session, "root")
    service.search(ctx, "Content LIKE 'printer'")
    assert cost() == server
    with pytest.raises(ZeroDivisionError), fast_sql.planned_each_time(session):
        1 / 0  # noqa: B018
    session.rollback()
    assert cost() == server
