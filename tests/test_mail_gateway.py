"""The mail gateway against a real database with the scrip engine on: rights for strangers,
threading (tags, Message-IDs Tessera sent or stored, foreign tags, merges), robots and loops,
the stored MIME tree and raw bytes, the `--json` contract and exit codes as an MTA sees them, and
where an admin reads the decision taken on each message."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from tessera.core import grants, links, tickets
from tessera.core.context import open_context
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.models import Attachment, InboundMail, OutboxMessage, Ticket, User
from tessera.mail.gateway import EX_DATAERR, EX_OK, Settings
from tessera.mail.records import get_inbound, list_inbound
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import go, mail, outbox_for, transactions, watchers
from tests.support.rights import AGENT_RIGHTS


@pytest.fixture
def open_desk(committed_desk: Desk) -> Desk:
    """RT's usual public desk: anyone may open tickets, requestors and Ccs may reply."""
    desk = committed_desk
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(desk.root, "ReplyToTicket", "role:Requestor", "General")
    grants.grant(desk.root, "ReplyToTicket", "role:Cc", "General")
    return desk


# -- strangers and rights -----------------------------------------------------------------------


def test_fresh_desk_refuses_strangers_and_creates_no_user(committed_desk: Desk) -> None:
    desk = committed_desk
    raw = mail()
    outcome = go(desk, raw, owner_email="owner@desk.example")
    assert outcome.action == "dropped" and outcome.classification == "refused"
    assert "CreateTicket" in outcome.reason and "role:Everyone" in outcome.reason
    assert desk.session.scalars(select(User).where(User.email == "carla@customer.example")).first() is None
    # No "Permission Denied" mail to the stranger (RT sends one; a forged From would make the desk
    # mail a victim), nor a notice to the owner: the decision is only kept, for `tessera mail list`.
    assert desk.session.scalars(select(OutboxMessage)).all() == []
    row = desk.session.get(InboundMail, outcome.inbound_id)
    assert row.raw == raw and row.action == "dropped" and row.sender == "carla@customer.example"


def test_new_ticket_requestor_cc_watchers_autoreply(open_desk) -> None:
    desk = open_desk
    raw = mail(
        to="help@desk.example, Boss <boss@customer.example>", Cc="Colleague <colleague@customer.example>"
    )
    outcome = go(desk, raw, cc_watchers=True)
    assert outcome.action == "create", outcome.reason
    ticket = desk.session.get(Ticket, outcome.ticket)
    assert ticket.subject == "Printer on fire"
    assert watchers(desk, ticket.id, "Requestor") == ["carla@customer.example"]
    assert watchers(desk, ticket.id, "Cc") == ["boss@customer.example", "colleague@customer.example"]
    carla = desk.session.scalars(select(User).where(User.email == "carla@customer.example")).one()
    assert carla.real_name == "Carla Customer" and not carla.privileged
    create = transactions(desk, ticket.id)[0]
    assert create.type == "Create" and create.actor_id == carla.id and create.data["via"] == "email"
    auto = [o for o in outbox_for(desk, ticket.id) if "carla@customer.example" in o.recipients]
    assert len(auto) == 1  # the scrips ran: the autoreply is in the outbox
    row = desk.session.get(InboundMail, outcome.inbound_id)
    assert (row.ticket_id, row.transaction_id, row.raw) == (ticket.id, create.id, raw)


def test_a_strangers_cc_gets_no_mail_from_the_desk_by_default(open_desk) -> None:
    """As RT's ParseNewMessageForTicketCcs (off): the desk does not relay a stranger's text to the
    addresses they put in To or Cc; the setting turns it on (`TESSERA_MAIL_CC_WATCHERS=1`)."""
    raw = mail(to="help@desk.example, victim1@other.example", Cc="victim2@other.example")
    outcome = go(open_desk, raw)
    assert outcome.action == "create", outcome.reason
    assert watchers(open_desk, outcome.ticket, "Cc") == []
    sent_to = {r for o in outbox_for(open_desk, outcome.ticket) for r in o.recipients}
    assert sent_to == {"carla@customer.example"}  # the autoreply, to the requestor alone
    assert Settings.from_env({}).cc_watchers is False
    assert Settings.from_env({"TESSERA_MAIL_CC_WATCHERS": "1"}).cc_watchers is True


def test_a_sender_the_gateway_took_at_a_dotless_domain_can_be_named_again(open_desk) -> None:
    """Mail from `cron@localhost` opens a ticket and makes its user; naming that user again (an
    import's requestor, as the demo seed does with the desk's requestors) failed with 'malformed
    email address ... should have a period', so `tessera demo` broke on a desk that took such mail."""
    from tessera.core.import_records import parse_lines
    from tessera.core.importing import import_records

    desk = open_desk
    outcome = go(desk, mail(sender="cron@localhost", subject="Cron backup"))
    assert outcome.action == "create"
    line = {"queue": "General", "subject": "from cron", "requestors": ["cron@localhost"]}
    (done,) = import_records(desk.root, list(parse_lines([json.dumps(line)])))
    assert watchers(desk, done.id, "Requestor") == ["cron@localhost"]
    assert len(desk.session.scalars(select(User).where(User.email == "cron@localhost")).all()) == 1
    with pytest.raises(InvalidInput, match="period"):  # an address nobody has is still checked
        import_records(desk.root, list(parse_lines([json.dumps(line | {"requestors": ["new@localhost"]})])))


def test_null_from_is_a_bounce_and_a_bare_name_is_quarantined(open_desk) -> None:
    for sender, (action, code, kind) in {
        "<>": ("dropped", EX_OK, "bounce"),
        "Mail Delivery Subsystem <MAILER-DAEMON>": ("dropped", EX_OK, "bounce"),
        "Just A Name": ("dropped", EX_DATAERR, "quarantine"),
        "": ("dropped", EX_DATAERR, "quarantine"),
    }.items():
        raw = f"From: {sender}\nSubject: something\n\nbody\n".encode()
        outcome = go(open_desk, raw)
        assert (outcome.action, outcome.exit_code, outcome.classification) == (action, code, kind), sender


# -- threading ----------------------------------------------------------------------------------


def test_subject_tag_threads_and_foreign_tags_do_not(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    tag = f"[TKT-{first.ticket:04d}]"
    tagged = go(desk, mail(subject=f"Re: {tag} Printer on fire"))
    assert (tagged.action, tagged.ticket) == ("correspond", first.ticket)
    foreign = go(desk, mail(subject=f"Re: [example #{first.ticket}] Printer on fire"))
    assert foreign.action == "create" and foreign.ticket != first.ticket


def test_reference_to_a_stored_message_threads(open_desk) -> None:
    desk = open_desk
    original_id = make_msgid(domain="customer.example")
    first = go(desk, mail(message_id=original_id))
    # a colleague in Cc answers everyone, subject edited, no tag
    reply = mail(sender="colleague@customer.example", subject="Printer", References=original_id)
    grants.grant(desk.root, "ReplyToTicket", "role:Everyone", "General")
    outcome = go(desk, reply)
    assert (outcome.action, outcome.ticket) == ("correspond", first.ticket), outcome.reason


def test_stranger_guessing_a_ticket_number_gets_a_new_ticket(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    before = len(transactions(desk, first.ticket))
    outcome = go(
        desk, mail(sender="mallory@evil.example", subject=f"[TKT-{first.ticket:04d}] give me the data")
    )
    assert outcome.action == "create" and outcome.ticket != first.ticket
    assert f"TKT-{first.ticket:04d}" in outcome.reason and "may not correspond" in outcome.reason
    assert len(transactions(desk, first.ticket)) == before
    assert watchers(desk, outcome.ticket, "Requestor") == ["mallory@evil.example"]


def test_comment_action_for_staff(open_desk) -> None:
    desk = open_desk
    desk.agent("alice", *AGENT_RIGHTS)
    grants.grant(desk.root, "CommentOnTicket", "user:alice", "General")
    first = go(desk, mail())
    outcome = go(
        desk, mail(sender="alice@staff.example", subject=f"[TKT-{first.ticket:04d}] note"), "comment"
    )
    assert (outcome.action, outcome.ticket) == ("comment", first.ticket), outcome.reason
    assert transactions(desk, first.ticket)[-1].type == "Comment"


def test_threading_by_every_reference_and_after_a_merge(open_desk) -> None:
    desk = open_desk
    stored_id = "<original.1@customer.example>"
    first = go(desk, mail(message_id=stored_id))
    sent_id = outbox_for(desk, first.ticket)[0].message_id
    for header, value in (
        ("In_Reply_To", sent_id),
        ("References", f"<unrelated@x.example> {sent_id}"),
        ("In_Reply_To", stored_id),
        ("References", stored_id),
    ):
        outcome = go(desk, mail(subject="Re: no tag here", **{header: value}))
        assert (outcome.action, outcome.ticket) == ("correspond", first.ticket), (header, outcome.reason)
        assert value != sent_id or "Tessera sent" in outcome.reason
    assert [t.type for t in transactions(desk, first.ticket)].count("Correspond") == 4  # each filed once
    survivor = go(desk, mail(subject="Another problem"))
    links.merge(desk.root, first.ticket, survivor.ticket)
    tag = f"[TKT-{first.ticket:04d}]"
    for header, value in (("In_Reply_To", sent_id), ("References", stored_id), ("Subject", f"Re: {tag} x")):
        outcome = go(desk, mail(**{"subject": "Re: after the merge", header.lower(): value}))
        assert (outcome.action, outcome.ticket) == ("correspond", survivor.ticket), (header, outcome.reason)


def test_tag_of_the_right_shape_for_no_ticket_opens_a_new_one(open_desk) -> None:
    desk = open_desk
    go(desk, mail())
    outcome = go(desk, mail(subject="Re: [TKT-4242] where is my order"))
    assert outcome.action == "create" and outcome.ticket != 4242
    assert "[TKT-4242] names no ticket" in outcome.reason
    ticket = desk.session.get(Ticket, outcome.ticket)
    assert ticket.subject == "Re: [TKT-4242] where is my order"
    other_desk = go(desk, mail(subject=f"Re: [desk.example #{outcome.ticket}] hello"))
    assert other_desk.action == "create" and other_desk.ticket not in (outcome.ticket, 4242)


# -- robots and loops ---------------------------------------------------------------------------


def test_our_own_mail_coming_back_is_dropped(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    sent = outbox_for(desk, first.ticket)[0]
    looped = go(desk, sent.message.encode())
    assert looped.action == "dropped" and looped.classification == "loop"
    from_us = go(desk, mail(sender="help@desk.example", subject="hello"))
    assert from_us.action == "dropped" and from_us.classification == "loop"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"List_Id": "<announce.example.com>"},
        {"X_Auto_Response_Suppress": "All"},
        {"Return_Path": "<>"},
    ],
)
def test_robots_never_create_tickets_nor_get_replies(open_desk, headers) -> None:
    desk = open_desk
    count = len(desk.session.scalars(select(Ticket.id)).all())
    outcome = go(desk, mail(subject="Out of the office", **headers))
    assert outcome.action == "dropped" and outcome.classification
    assert len(desk.session.scalars(select(Ticket.id)).all()) == count
    assert desk.session.get(InboundMail, outcome.inbound_id).raw is not None


def test_bounce_for_a_ticket_is_a_comment_and_is_not_answered(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    sent = outbox_for(desk, first.ticket)[0]
    outbox_before = len(outbox_for(desk, first.ticket))

    def bounce() -> bytes:
        return mail(
            sender="Mail Delivery System <MAILER-DAEMON@mx.customer.example>",
            subject="Undelivered Mail Returned to Sender",
            body="550 5.1.1 user unknown",
            In_Reply_To=sent.message_id,
        )

    outcome = go(desk, bounce())
    assert (outcome.action, outcome.ticket, outcome.classification) == ("comment", first.ticket, "bounce")
    comment_txn = transactions(desk, first.ticket)[-1]
    assert comment_txn.type == "Comment"
    root = desk.session.scalars(
        select(Attachment).where(Attachment.transaction_id == comment_txn.id, Attachment.parent_id.is_(None))
    ).one()
    assert "Auto-Submitted: auto-generated" in root.headers
    new_mail = outbox_for(desk, first.ticket)[outbox_before:]
    assert all("mailer-daemon@mx.customer.example" not in [r.lower() for r in o.recipients] for o in new_mail)
    dropped = go(desk, bounce(), robots="drop")
    assert dropped.action == "dropped" and dropped.classification == "bounce"


def test_robot_with_a_guessed_tag_is_not_recorded_on_the_ticket(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    before = len(transactions(desk, first.ticket))
    outcome = go(desk, mail(subject=f"Automatic reply: [TKT-{first.ticket:04d}]", sender="ooo@else.example"))
    assert outcome.action == "dropped" and outcome.classification == "auto-reply"
    assert len(transactions(desk, first.ticket)) == before


# -- what is stored -----------------------------------------------------------------------------


def test_mime_tree_attachments_and_html_only(open_desk) -> None:
    desk = open_desk
    msg = EmailMessage()
    msg["From"] = "carla@customer.example"
    msg["To"] = "help@desk.example"
    msg["Subject"] = "=?utf-8?q?R=C3=A9sum=C3=A9?= attached"
    msg.set_content("Plain text ünïcode")
    msg.add_alternative("<p>HTML <b>text</b></p>", subtype="html")
    msg.add_attachment(
        b"\x00\x01binary\xff", maintype="application", subtype="octet-stream", filename="data.bin"
    )
    msg.add_attachment("naïve", filename="naïve notes.txt")
    outcome = go(desk, msg.as_bytes())
    ticket = desk.session.get(Ticket, outcome.ticket)
    assert ticket.subject == "Résumé attached"
    create = transactions(desk, ticket.id)[0]
    parts = desk.session.scalars(
        select(Attachment).where(Attachment.transaction_id == create.id).order_by(Attachment.id)
    ).all()
    by_type = [(p.content_type, p.parent_id is None) for p in parts]
    assert by_type[0] == ("multipart/mixed", True)
    assert ("multipart/alternative", False) in by_type and ("text/html", False) in by_type
    files = {p.filename: p for p in parts if p.filename}
    assert files["data.bin"].binary_content == b"\x00\x01binary\xff"
    assert files["naïve notes.txt"].content.strip() == "naïve"
    assert next(p for p in parts if p.content_type == "text/plain").content.strip() == "Plain text ünïcode"

    html_only = EmailMessage()
    html_only["From"] = "carla@customer.example"
    html_only["Subject"] = "html only"
    html_only.set_content(
        "<html><body><p>Gr&uuml;&szlig;e</p><script>x()</script></body></html>", subtype="html"
    )
    outcome = go(desk, html_only.as_bytes())
    create = transactions(desk, outcome.ticket)[0]
    parts = desk.session.scalars(
        select(Attachment).where(Attachment.transaction_id == create.id).order_by(Attachment.id)
    ).all()
    assert [p.content_type for p in parts] == ["multipart/alternative", "text/plain", "text/html"]
    assert parts[1].content == "Grüße" and "<p>Gr&uuml;&szlig;e</p>" in parts[2].content


def test_long_subject_is_cut_to_the_column_limit(open_desk) -> None:
    outcome = go(open_desk, mail(subject="word " * 100))
    ticket = open_desk.session.get(Ticket, outcome.ticket)
    assert len(ticket.subject) == tickets.MAX_SUBJECT and ticket.subject.endswith("…")


def test_size_limit_and_no_originator_are_permanent_failures(open_desk) -> None:
    big = go(open_desk, mail(body="x" * 5000), max_bytes=1000)
    assert (big.action, big.exit_code, big.classification) == ("dropped", EX_DATAERR, "too-large")
    assert open_desk.session.get(InboundMail, big.inbound_id).raw is None
    nobody = go(open_desk, b"Subject: hello\n\nno sender here\n")
    assert (nobody.action, nobody.exit_code, nobody.classification) == ("dropped", EX_DATAERR, "quarantine")
    assert open_desk.session.get(InboundMail, nobody.inbound_id).raw == b"Subject: hello\n\nno sender here\n"


# -- what an MTA and an admin read back ----------------------------------------------------------


KEYS = {"action", "ticket", "reason"}


def test_outcome_json_has_exactly_the_contract_keys(open_desk) -> None:
    desk = open_desk
    grants.grant(desk.root, "CommentOnTicket", "role:Requestor", "General")
    created = go(desk, mail())
    tag = f"[TKT-{created.ticket:04d}]"
    outcomes = {
        "create": created,
        "correspond": go(desk, mail(subject=f"Re: {tag} more")),
        "comment": go(desk, mail(subject=f"{tag} note"), "comment"),
        "dropped": go(desk, mail(Auto_Submitted="auto-generated")),
        "dropped 65": go(desk, b"Subject: x\n\nno sender\n"),
    }
    for name, outcome in outcomes.items():
        assert outcome.action == name.split()[0], (name, outcome.reason)
        assert set(outcome.as_dict()) == KEYS, name
    assert outcomes["comment"].ticket == created.ticket
    assert outcomes["dropped"].as_dict()["ticket"] is None


def test_settings_refuse_a_limit_that_is_not_positive() -> None:
    for value in ("0", "-5", "lots"):
        with pytest.raises(InvalidInput):
            Settings.from_env({"TESSERA_MAIL_MAX_BYTES": value})
    assert Settings.from_env({"TESSERA_MAIL_MAX_BYTES": "2048"}).max_bytes == 2048


def test_an_admin_reads_every_decision_and_a_requestor_none(open_desk) -> None:
    desk = open_desk
    first = go(desk, mail())
    stranger = go(desk, mail(sender="mallory@evil.example", subject=f"[TKT-{first.ticket:04d}] data?"))
    robot = go(desk, mail(Precedence="bulk"))
    records = list_inbound(desk.root)
    assert [r.id for r in records] == [robot.inbound_id, stranger.inbound_id, first.inbound_id]
    decided = {r.id: r for r in records}[stranger.inbound_id]
    assert decided.ticket == stranger.ticket and "may not correspond" in decided.reason
    assert [r.id for r in list_inbound(desk.root, action="dropped")] == [robot.inbound_id]
    record, raw = get_inbound(desk.root, robot.inbound_id)
    assert record.classification == "list" and raw is not None and b"Precedence: bulk" in raw
    with pytest.raises(InvalidInput):
        list_inbound(desk.root, action="lost")
    carla = open_context(desk.session, "carla@customer.example")
    assert list_inbound(carla) == []
    with pytest.raises(PermissionDenied):
        list_inbound(carla, queue="General")
    with pytest.raises(NotFound):
        get_inbound(carla, first.inbound_id)


# -- the command an MTA runs --------------------------------------------------------------------


@pytest.fixture
def cli_desk(cli_env):
    env = {**cli_env, "TESSERA_USER": "root"}
    assert run(["db", "upgrade"], env).code == 0
    users = run(["user", "list", "--json"], env)
    root = json.loads(users.out)[0]["name"]
    env["TESSERA_USER"] = root
    made = run(["queue", "set", "General", "correspond_address=help@desk.example"], env)
    assert made.code == 0, made
    assert run(["right", "grant", "CreateTicket", "role:Everyone", "--queue", "General"], env).code == 0
    return env


def test_mailgate_cli_json_and_exit_codes(cli_desk) -> None:
    env = cli_desk
    ok = run(["mailgate", "--queue", "General", "--json"], env, stdin=mail().decode())
    assert ok.code == 0, ok
    data = json.loads(ok.out)
    assert set(data) == {"action", "ticket", "reason"}  # the contract's keys, no more
    assert data["action"] == "create" and isinstance(data["ticket"], int) and data["reason"]
    shown = run(["ticket", "show", str(data["ticket"]), "--json"], env)
    assert json.loads(shown.out)["requestors"] == ["carla@customer.example"]

    bounce = run(
        ["mailgate", "--queue", "General", "--json"], env, stdin=mail(Auto_Submitted="auto-replied").decode()
    )
    assert bounce.code == 0 and json.loads(bounce.out) == {
        "action": "dropped",
        "ticket": None,
        "reason": json.loads(bounce.out)["reason"],
    }

    big = run(
        ["mailgate", "--queue", "General"], {**env, "TESSERA_MAIL_MAX_BYTES": "100"}, stdin=mail().decode()
    )
    assert big.code == 65
    assert_one_line_error(big, "over the size limit")

    unknown = run(["mailgate", "--queue", "Nope"], env, stdin=mail().decode())
    assert unknown.code == 75
    assert_one_line_error(unknown, "temporary failure", "Nope")


def test_mailgate_cli_never_acceptable_input_is_65_one_line(cli_desk) -> None:
    env = cli_desk
    cases = {
        "": "empty message",
        "\x00\x01\x02 garbage \ufffd\n\n\x7f": "no originator",
        "Subject: x\n\nbody\n": "no originator",
        "From: Just A Name\nSubject: no address\n\nhi\n": "no originator",  # the last: shown below
    }
    for stdin, fragment in cases.items():
        result = run(["mailgate", "--queue", "General", "--json"], env, stdin=stdin)
        assert result.code == EX_DATAERR, (stdin, result)
        assert set(json.loads(result.out)) == KEYS
        assert_one_line_error(result, fragment)
    # Each refusal is kept with its reason, and an admin reads them through the real program.
    listed = run(["mail", "list", "--action", "dropped", "--json"], env)
    assert listed.code == 0, listed
    dropped = json.loads(listed.out)
    assert len(dropped) == len(cases) and all(r["action"] == "dropped" and r["reason"] for r in dropped)
    shown = run(["mail", "show", str(dropped[0]["id"]), "--raw"], env)
    assert shown.code == 0 and "no address" in shown.out, shown
    assert_one_line_error(run(["mail", "show", "999999"], env), "999999")


def test_mailgate_tempfails_when_the_database_is_down(cli_env) -> None:
    env = {
        **cli_env,
        "TESSERA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
    }
    result = run(["mailgate", "--queue", "General"], env, stdin=mail().decode())
    assert result.code == 75
    assert_one_line_error(result, "temporary failure")


def test_mailgate_json_answers_deferred_when_it_exits_75(cli_desk, cli_env) -> None:
    """An MTA's wrapper reading --json hears why the message was not taken, in the keys of every
    other outcome, as well as the exit code: the database unreachable, or a queue that is not."""
    down = {
        **cli_env,
        "TESSERA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
    }
    for env, queue, fragment in ((down, "General", "temporary failure"), (cli_desk, "Nope", "Nope")):
        result = run(["mailgate", "--queue", queue, "--json"], env, stdin=mail().decode())
        assert result.code == 75, result
        assert_one_line_error(result, "temporary failure", fragment)
        answer = json.loads(result.out)
        assert set(answer) == KEYS
        assert (answer["action"], answer["ticket"]) == ("deferred", None)
        assert "temporary failure" in answer["reason"] and fragment in answer["reason"]


def test_a_retried_delivery_does_not_open_a_second_ticket(open_desk) -> None:
    raw = mail()
    first = go(open_desk, raw)
    again = go(open_desk, raw)
    assert (again.action, again.classification, again.ticket) == ("dropped", "duplicate", first.ticket)
    assert len(open_desk.session.scalars(select(Ticket.id)).all()) == 1
    edited = go(open_desk, raw.replace(b"It is on fire.", b"It is still on fire."))
    assert edited.action == "create"  # same Message-ID, other bytes: a new message
