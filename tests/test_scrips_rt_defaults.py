"""RT's default scrips (issue 20, point 3): the set a new desk gets, in RT's order; Notify Other
Recipients on create, reply and comment; Extract Subject Tag through the real gateway; the
autoreply's From name as RT writes it; and migrations 0016, 0017 and 0025 bringing the later ones
to an older desk."""

from __future__ import annotations

from email.utils import getaddresses

import pytest
from sqlalchemy import select

from tessera.core import grants, migrate, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.db import open_database
from tessera.core.models import Scrip, Ticket
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.mail.delivery import SmtpSettings, deliver_due
from tests.support import pg
from tests.support.desks import Desk
from tests.support.mail import go, mail, outbox_for
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.smtp import SmtpServer, smtp_env

# rt-semantics §3.6, in RT's SortOrder: all 17 (the SLA scrips: tests/test_sla_scrips.py).
RT_SCRIPS = [
    "On Comment Notify AdminCcs as Comment",
    "On Comment Notify Other Recipients as Comment",
    "On Correspond Notify Owner and AdminCcs",
    "On Correspond Notify Other Recipients",
    "On Correspond Notify Requestors and Ccs",
    "On Correspond Open Inactive Tickets",
    "On Create Autoreply To Requestors",
    "On Create Notify Owner and AdminCcs",
    "On Create Notify Ccs",
    "On Create Notify Other Recipients",
    "On Owner Change Notify Owner",
    "On Resolve Notify Requestors",
    "On Transaction Extract Subject Tag",
    "On Forward Transaction Send Forward",
    "On Forward Ticket Send Forward",
    "[SLA] Set starts date",
    "[SLA] Set due date",
]
LATER = RT_SCRIPS[1], RT_SCRIPS[3], RT_SCRIPS[9], RT_SCRIPS[12]
FORWARDS = RT_SCRIPS[13], RT_SCRIPS[14]
SLAS = RT_SCRIPS[15], RT_SCRIPS[16]


def _global_scrips(session) -> list[Scrip]:
    return list(
        session.scalars(select(Scrip).where(Scrip.queue_id.is_(None)).order_by(Scrip.sort_order, Scrip.id))
    )


def test_a_new_desk_has_rts_default_scrips_in_rts_order(desk: Desk) -> None:
    found = [s.description for s in _global_scrips(desk.session) if s.enabled]
    assert found == RT_SCRIPS


def test_notify_other_recipients_on_create_reply_and_comment(desk: Desk) -> None:
    agent = desk.agent("alice", *AGENT_RIGHTS)
    ticket = tickets.create_ticket(
        agent,
        TicketCreate(
            queue="General",
            subject="Quote",
            requestors=["customer@example.com"],
            message=MessageIn(body="Here is the quote.", cc=["sales@partner.example"]),
        ),
    )
    tickets.correspond(agent, ticket.id, MessageIn(body="Update.", bcc=["boss@partner.example"]))
    tickets.comment(agent, ticket.id, MessageIn(body="Internal.", cc=["auditor@partner.example"]))
    by_txn: dict[int, list[tuple[list[str], list[str], list[str], str]]] = {}
    for row in outbox_for(desk, ticket.id):
        summary = row.summary
        by_txn.setdefault(row.transaction_id, []).append(
            (summary["to"], summary["cc"], summary["bcc"], row.mail_from)
        )
    create, reply, note = sorted(by_txn)
    assert ([], ["sales@partner.example"], [], "help@desk.example") in by_txn[create]
    assert ([], [], ["boss@partner.example"], "help@desk.example") in by_txn[reply]
    # the comment variant: from the comment address, to the one-time Cc only (not the requestor)
    assert ([], ["auditor@partner.example"], [], "help-comment@desk.example") in by_txn[note]
    assert all("customer@example.com" not in to + cc + bcc for to, cc, bcc, _ in by_txn[note])


@pytest.fixture
def open_desk(committed_desk: Desk) -> Desk:
    grants.grant(committed_desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(committed_desk.root, "ReplyToTicket", "role:Requestor", "General")
    return committed_desk


def test_extract_subject_tag_copies_other_systems_tags_through_the_gateway(open_desk: Desk) -> None:
    desk = open_desk
    first = go(desk, mail(subject="Disk failure"))
    tag = f"[TKT-{first.ticket:04d}]"
    go(desk, mail(subject=f"Re: {tag} Disk failure [Vendor Support #4711] [Tessera #9]"))
    go(desk, mail(subject=f"Re: {tag} Disk failure [vendor support #4711] [Other #2]"))
    desk.session.expire_all()
    subject = desk.session.get(Ticket, first.ticket).subject
    # copied once each, in order; this desk's own tags (either form) never
    assert subject == "Disk failure [Vendor Support #4711] [Other #2]"


def test_extract_subject_tag_leaves_a_new_tickets_subject_alone(open_desk: Desk) -> None:
    outcome = go(open_desk, mail(subject="[Vendor #1] broken"))
    open_desk.session.expire_all()
    assert open_desk.session.get(Ticket, outcome.ticket).subject == "[Vendor #1] broken"


def test_autoreply_from_name_is_the_queue_via_the_desk(
    committed_desk: Desk, database, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SmtpServer(free_port()).start()
    try:
        committed_desk.ticket(subject="VPN", requestors=["customer@example.com"])
        settings = SmtpSettings.from_env(smtp_env(server.port))
        deliver_due(database, settings)
        monkeypatch.setenv("TESSERA_FROM_NAME", "{name}")
        committed_desk.ticket(subject="VPN again", requestors=["customer@example.com"])
        deliver_due(database, settings)
        got = server.wait_for(2)
    finally:
        server.stop()
    autos = [r for r in got if r.message["Auto-Submitted"] == "auto-replied"]
    assert [getaddresses([r.message["From"]])[0] for r in autos] == [
        ("General help via Tessera", "help@desk.example"),  # RT: "<queue description> via RT"
        ("General help", "help@desk.example"),  # TESSERA_FROM_NAME={name}: no suffix
    ]


def test_migrations_0016_0017_0025_and_0026_bring_the_later_scrips_to_an_older_desk(pg_server) -> None:
    url = pg.create_empty(pg_server)
    db = open_database(url)
    try:
        migrate.upgrade(db)
        with db.session() as session:
            bootstrap(session, "root")
            session.commit()
        migrate.downgrade(db, "0015")  # as a desk seeded before 0016: without the later eight
        with db.session() as session:
            assert not {s.description for s in _global_scrips(session)} & {*LATER, *FORWARDS, *SLAS}
            # an admin deleted one of the older ones: it stays deleted
            session.delete(session.scalars(select(Scrip).where(Scrip.description == RT_SCRIPS[8])).one())
            session.commit()
        migrate.upgrade(db)
        with db.session() as session:
            found = [s.description for s in _global_scrips(session)]
            timers = [s.description for s in _global_scrips(session) if s.description.startswith("[Timer]")]
        assert len(timers) == 5 and found[-5:] == timers  # 0026: the shipped timers, disabled
        found = found[:-5]
        assert found[-8:] == [*LATER, *FORWARDS, *SLAS] and RT_SCRIPS[8] not in found
        assert len(RT_SCRIPS) == 17
        assert len(found) == len(set(found))
    finally:
        db.dispose()
        pg.drop(url)
