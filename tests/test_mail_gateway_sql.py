"""The mail gateway's one read before it writes (`fast_sql.gateway_lookups`, through
`threads.lookups`): each part is what the ORM's own reads answer (the queue, the sender, their
grants, the tickets with their queue and owner, the sender's roles on them, the duplicate, the
Message-IDs sent and stored), and a reply reads nothing else before core takes the ticket's lock;
its record of a filed message (`fast_sql.write_inbound`) writes the rows the ORM's flush writes."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any

import psycopg
from sqlalchemy import select, text

from tessera.core import fast_sql, grants, links, queues, tickets, users, watchers
from tessera.core.context import find_user, open_context
from tessera.core.db import Database, open_database
from tessera.core.fast_sql import loaded_columns
from tessera.core.models import InboundMail, OutboxMessage, Queue, Ticket, User
from tessera.core.queues import find_queue
from tessera.core.rights import RightsCache
from tessera.core.schemas import TicketCreate
from tessera.core.tickets import get_ticket
from tessera.mail.inbound import parse
from tessera.mail.threads import lookups
from tests.support import pg
from tests.support.desks import make_desk
from tests.support.mail import go, mail
from tests.support.wire import wire


def _row(obj: object, cls: type) -> tuple[object, ...]:
    return tuple(getattr(obj, key) for key, _ in loaded_columns(cls))


def _rights(cache: RightsCache) -> tuple[object, ...]:
    return (
        cache.superuser,
        {q: set(r) for q, r in cache.direct.items() if r},
        {q: {role: set(r) for role, r in roles.items() if r} for q, roles in cache.by_role.items() if roles},
    )


def test_the_gateways_one_read_answers_what_the_orms_reads_answer(desk) -> None:
    session, root = desk.session, desk.root
    queues.create_queue(root, "Lab", subject_tag="Lab Help")
    users.add_user(root, "dana", email="Dana@Customer.example", privileged=False)
    users.add_group(root, "Customers")
    users.set_membership(root, "Customers", "dana", member=True)
    grants.grant(root, "CreateTicket", "role:Everyone", "General")
    grants.grant(root, "ReplyToTicket", "role:Requestor")
    grants.grant(root, "CommentOnTicket", "group:Customers", "General")
    grants.grant(root, "ShowTicket", "user:dana")
    made = [
        tickets.create_ticket(root, TicketCreate(queue="General", subject=f"t{n}", requestors=requestors))
        for n, requestors in enumerate([["dana@customer.example"], [], []])
    ]
    a, b, d = (t.id for t in made)
    c = go(desk, mail("Stored", sender="Eve <eve@customer.example>", message_id="<stored@x>")).ticket
    assert c is not None
    watchers.add_watcher(root, b, "AdminCc", "group:Customers")
    tickets.set_fields(root, c, {"owner": "root"})
    links.merge(root, d, a)  # d's mail goes to a
    sent, stored = "<sent@desk.example>", "<stored@x>"
    session.add(
        OutboxMessage(ticket_id=b, message_id=sent, mail_from="help@desk.example", recipients=["x@y.example"],
                      summary={}, message="", next_attempt=root.now, created=root.now)
    )  # fmt: skip
    session.flush()
    raw = mail(
        f"Re: [TKT-{d:04d}] again",
        sender="Dana <dana@customer.example>",
        message_id="<same@x>",
        in_reply_to=sent,
        references=f"<tessera-ticket-{c}@desk.example> {stored} <unknown@nowhere>",
    )
    assert go(desk, raw).action != "dropped"  # filed once: the same bytes again are a duplicate
    parsed = parse(raw)
    ctx = open_context(session, "root")
    dana = find_user(session, "dana@customer.example")
    assert dana is not None

    known = lookups(session, parsed, raw, " general ", "dana@customer.example")
    assert known.queue is not None and _row(known.queue, Queue) == _row(find_queue(ctx, "general"), Queue)
    assert known.sender is not None and _row(known.sender, User) == _row(dana, User)
    assert known.grants is not None
    assert _rights(RightsCache.from_grants(dana, known.grants)) == _rights(RightsCache.load(session, dana))
    earlier = session.scalars(select(InboundMail).where(InboundMail.message_id == "<same@x>")).one()
    assert known.earlier == (earlier.id, earlier.action, earlier.ticket_id)
    assert known.sent == {sent: b}
    assert known.stored == {stored: c}
    assert known.tickets is not None and known.roles is not None
    assert set(known.tickets) == {a, b, c, d}  # the tag's, the two Message-IDs', the reference's, d's merge
    for ticket_id, ticket in known.tickets.items():
        orm = session.scalars(select(Ticket).where(Ticket.id == ticket_id)).one()
        assert _row(ticket, Ticket) == _row(orm, Ticket)
        assert _row(ticket.queue, Queue) == _row(orm.queue, Queue)
        assert (ticket.owner and ticket.owner.id) == (orm.owner and orm.owner.id)
        assert known.roles[ticket_id] == RightsCache.load(session, dana).roles_on(session, orm)
    assert known.roles[a] == {"Requestor"} and known.roles[b] == {"AdminCc"}
    followed = known.ticket(ctx, d)
    assert followed is not None and followed.id == get_ticket(ctx, d, check=False).id == a
    assert known.ticket(ctx, 999_999) is None
    assert known.tags == ["Lab Help"]

    lab = find_queue(ctx, "Lab")
    assert lab is not None
    stranger = lookups(session, parse(mail("New")), b"", str(lab.id), "nobody@else.example")
    assert stranger.queue is not None and stranger.queue.id == lab.id  # a numbered queue, as find_queue
    assert stranger.sender is None and stranger.earlier is None and stranger.tickets == {}
    nobody = User(id=0, name="n", privileged=False, disabled=False)
    assert stranger.grants is not None
    role_grants = RightsCache.from_grants(nobody, [g for g in known.grants if g[1] == "role"])
    assert _rights(RightsCache.from_grants(nobody, stranger.grants)) == _rights(role_grants)
    assert lookups(session, parse(mail("x")), b"", "no such queue", None).queue is None


def test_a_reply_reads_nothing_but_the_one_read_before_the_tickets_lock(desk) -> None:
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(desk.root, "ReplyToTicket", "role:Requestor")
    ticket = go(desk, mail("Printer on fire")).ticket
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    try:
        outcome = go(desk, mail(f"Re: [TKT-{ticket:04d}] Printer on fire"))
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    assert (outcome.action, outcome.ticket) == ("correspond", ticket)
    reads = [q for q in sent if not q.startswith(("SAVEPOINT", "RELEASE"))]
    lock = next(n for n, q in enumerate(reads) if "FOR UPDATE" in q)
    assert lock == 1 and reads[0].startswith("WITH sender AS"), reads[: lock + 1]


def test_a_new_ticket_by_mail_is_not_read_back_for_its_scrips(desk) -> None:
    # The gateway keeps only its inbound record; the unit holds the new ticket (`Context.made`),
    # or the session's weak identity map lets it go and the scrips read it twice.
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    go(desk, mail("warm-up", sender="first@example.com"))  # the sender known, the scrips loaded
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(" ".join(str(query).split()))
        return execute(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    try:
        outcome = go(desk, mail("Printer on fire", sender="first@example.com"))
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    assert outcome.action == "create"
    assert not [q for q in sent if q.startswith("SELECT tickets.")], sent
    assert desk.session.scalar(select(OutboxMessage.id).where(OutboxMessage.ticket_id == outcome.ticket)), (
        "the autoreply was written"
    )


def test_a_reply_by_mail_reads_the_scrips_prefetch_in_its_records_round_trip(committed_desk) -> None:
    desk = committed_desk
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(desk.root, "ReplyToTicket", "role:Requestor")
    ticket = go(desk, mail("Printer on fire")).ticket
    go(desk, mail(f"Re: [TKT-{ticket:04d}] Printer on fire"))  # opened: the next reply changes nothing else
    conn = desk.session.connection().connection.driver_connection
    desk.session.commit()
    done: list[Any] = []
    trips = wire(conn, lambda: done.append(go(desk, mail(f"Re: [TKT-{ticket:04d}] Still on fire"))))
    outcome = done[0]
    assert (outcome.action, outcome.ticket) == ("correspond", ticket)
    # BEGIN with the lookups; the ticket's lock; the ticket's update, the transaction and the
    # message's one part (`fast_sql.write_message`); the record with the scrips' prefetch; their
    # trace and outbox with the COMMIT. Without the prefetch along: 6; before one statement
    # wrote the message: 7.
    assert trips[1] == 5, trips
    runs = desk.session.scalar(
        text(
            "SELECT count(*) FROM scrip_runs r JOIN inbound_mail i ON i.transaction_id = r.transaction_id"
            " WHERE i.id = :i"
        ),
        {"i": outcome.inbound_id},
    )
    assert runs, "the scrips ran on the reply"


def test_the_gateways_read_keeps_one_generic_plan_and_leaves_the_planning_mode_as_it_was(
    committed_desk,
) -> None:  # type: ignore[no-untyped-def]
    desk = committed_desk
    session = desk.session
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    ticket = go(desk, mail("Printer on fire")).ticket
    reply = mail(f"Re: [TKT-{ticket:04d}] Printer on fire")
    parsed = parse(reply)
    for _ in range(7):  # psycopg prepares a statement on its fifth run
        session.commit()  # idle: the lookups begin the transaction
        read = lookups(session, parsed, reply, "General", "carla@customer.example")
        assert [t.id for t in read.tickets.values()] == [ticket]
        mode = session.execute(text("SELECT current_setting('plan_cache_mode')")).scalar()
        assert mode == "auto"  # put back by the lookups: what runs next is planned as before
    plans = session.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH sender AS%'"
        )
    ).all()
    assert len(plans) == 1 and plans[0].generic_plans >= 2 and plans[0].custom_plans == 0, plans
    session.rollback()


# -- the record of a filed message: one statement, the rows of the ORM's flush -------------------

TABLES = ("inbound_mail", "watchers", "transactions", "attachments", "users")


def _photo() -> bytes:
    photo = EmailMessage()
    photo["From"], photo["To"] = "Carla Customer <carla@customer.example>", "help@desk.example"
    photo["Subject"], photo["Message-ID"] = "Re: [TKT-0001] photo", "<m5@x>"
    photo.set_content("The photo.")
    photo.add_attachment(bytes(range(256)) * 4, maintype="image", subtype="png", filename="p.png")
    return photo.as_bytes()


_PHOTO = _photo()  # the same bytes (its MIME boundary) in both runs


def _file_a_day_of_mail(db: Database) -> None:
    with db.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        grants.grant(desk.root, "ReplyToTicket", "role:Requestor")
        grants.grant(desk.root, "OwnTicket", "role:Everyone", "General")
        made = go(
            desk,
            mail("Printer on fire", message_id="<m1@customer.example>", cc="ann@customer.example"),
            cc_watchers=True,  # the Cc watcher's row written with the record too
        )
        again = mail(f"Re: [TKT-{made.ticket:04d}]", message_id="<m2@customer.example>")
        go(desk, again)
        go(desk, again)  # a duplicate: dropped
        go(desk, _PHOTO)  # a MIME tree: its leaves written with the record
        go(desk, mail("Take it", sender="bo@customer.example", message_id="<m3@x>"), "take-correspond")
        go(desk, mail(f"[TKT-{made.ticket:04d}] note", message_id="<m4@x>"), "comment")  # refused


def _rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.engine.connect() as conn:
        out = {}
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2, 3")).mappings().all()
            out[table] = [
                {
                    k: ("(a time)" if isinstance(v, datetime) else v)
                    for k, v in r.items()
                    if k != "search_vector"
                }
                for r in rows
            ]
    return out


def test_the_gateways_record_writes_the_rows_the_orms_flush_writes(pg_server, template_db) -> None:  # type: ignore[no-untyped-def]
    dumps = []
    for plain in (False, True):
        url = pg.clone(pg_server, template_db, prefix="tessera_gw")
        db = open_database(url)
        try:
            if plain:
                with fast_sql.plain_orm():
                    _file_a_day_of_mail(db)
            else:
                _file_a_day_of_mail(db)
            dumps.append(_rows(db))
        finally:
            db.dispose()
            pg.drop(url)
    fast, orm = dumps
    for table in TABLES:
        assert len(fast[table]) == len(orm[table]), table
        for n, (mine, theirs) in enumerate(zip(fast[table], orm[table], strict=True)):
            assert mine == theirs, f"{table} row {n}: fast {mine} != ORM {theirs}"
    actions = [r["action"] for r in fast["inbound_mail"]]
    assert actions == ["create", "correspond", "dropped", "correspond", "dropped", "create"]  # take: refused
    assert any(r["filename"] == "p.png" for r in fast["attachments"])
    assert {(r["role"], r["ticket_id"]) for r in fast["watchers"]} >= {("Requestor", 1), ("Cc", 1)}
    filed = [r for r in fast["transactions"] if r["type"] in ("Create", "Correspond")]
    assert len(filed) == 4 and all(r["data"].get("via") == "email" for r in filed)
