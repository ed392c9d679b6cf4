"""RT's mail actions and subject tags (issue 20, point 5), through the in-process gateway and the
real `tessera mailgate` program on real PostgreSQL: chained actions (take-correspond,
correspond-resolve, take-comment) with RT's rights, `--extension queue|action|ticket` from the
MTA's $EXTENSION, RT's subject-tag variants and each queue's own tag, read and written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tessera.core import grants, ownership, queues, tickets
from tessera.core.errors import InvalidInput
from tessera.core.models import InboundMail, OutboxMessage, Ticket
from tessera.mail.gateway import EX_TEMPFAIL, Settings, deliver, from_extension, parse_action
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import go, mail, transactions
from tests.support.rights import AGENT_RIGHTS

CARLA = "Carla Customer <carla@customer.example>"


@pytest.fixture
def desk(committed_desk: Desk) -> Desk:
    """A public desk (anyone may open tickets, requestors reply) with agents alice and bob."""
    d = committed_desk
    grants.grant(d.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(d.root, "ReplyToTicket", "role:Requestor", "General")
    grants.grant(d.root, "CommentOnTicket", "role:Requestor", "General")
    d.agent("alice", *AGENT_RIGHTS)
    d.agent("bob", *AGENT_RIGHTS)
    return d


def _ticket(desk: Desk) -> Ticket:
    return desk.ticket(requestors=["carla@customer.example"])


def _state(desk: Desk, ticket_id: int) -> tuple[str | None, str]:
    desk.session.expire_all()
    row = desk.session.get(Ticket, ticket_id)
    assert row is not None
    return (row.owner.name if row.owner else None), row.status


def _kinds(desk: Desk, ticket_id: int) -> list[str]:
    return [t.type for t in transactions(desk, ticket_id)]


# -- chained actions ------------------------------------------------------------------------------


def test_take_correspond_takes_the_ticket_then_records_the_reply(desk: Desk) -> None:
    ticket = _ticket(desk)
    outcome = go(
        desk, mail(f"Re: [TKT-{ticket.id:04d}] fire", "alice@staff.example", "On it."), "take-correspond"
    )
    assert (outcome.action, outcome.ticket) == ("correspond", ticket.id), outcome.reason
    assert "then taken by alice" in outcome.reason
    assert _state(desk, ticket.id) == ("alice", "open")
    kinds = _kinds(desk, ticket.id)
    assert kinds.index("Take") < kinds.index("Correspond")  # in the chain's order
    row = desk.session.get(InboundMail, outcome.inbound_id)
    assert row.requested_action == "take-correspond"


def test_correspond_resolve_and_take_comment(desk: Desk) -> None:
    ticket = _ticket(desk)
    done = go(desk, mail(f"[TKT-{ticket.id:04d}]", "alice@staff.example", "Fixed."), "correspond-resolve")
    assert done.action == "correspond" and "then resolved" in done.reason, done.reason
    assert _state(desk, ticket.id)[1] == "resolved"
    kinds = _kinds(desk, ticket.id)
    assert kinds.index("Correspond") < max(i for i, k in enumerate(kinds) if k == "Status")
    other = _ticket(desk)
    noted = go(desk, mail(f"[TKT-{other.id:04d}]", "bob@staff.example", "mine"), "TAKE-comment")
    assert noted.action == "comment" and _state(desk, other.id)[0] == "bob"


def test_take_needs_own_ticket_and_nothing_is_recorded_without_it(desk: Desk) -> None:
    ticket = _ticket(desk)
    before = _kinds(desk, ticket.id)
    refused = go(desk, mail(f"[TKT-{ticket.id:04d}]", CARLA, "I take it"), "take-correspond")
    assert refused.action == "dropped" and refused.classification == "refused"
    assert "OwnTicket" in refused.reason and "take-correspond" in refused.reason
    assert _kinds(desk, ticket.id) == before and _state(desk, ticket.id) == (None, "new")
    # Plain correspondence from the requestor still goes in.
    assert go(desk, mail(f"[TKT-{ticket.id:04d}]", CARLA, "more")).action == "correspond"


def test_take_needs_take_ticket_or_modify_ticket_besides_own_ticket(desk: Desk) -> None:
    desk.agent("tina", "SeeQueue", "ShowTicket", "ReplyToTicket", "OwnTicket", "TakeTicket")
    desk.agent("olga", "SeeQueue", "ShowTicket", "ReplyToTicket", "OwnTicket")
    desk.session.commit()
    ticket = _ticket(desk)
    refused = go(desk, mail(f"[TKT-{ticket.id:04d}]", "olga@staff.example", "mine"), "take-correspond")
    assert refused.classification == "refused" and "TakeTicket" in refused.reason, refused.reason
    taken = go(desk, mail(f"[TKT-{ticket.id:04d}]", "tina@staff.example", "mine"), "take-correspond")
    assert taken.action == "correspond" and _state(desk, ticket.id)[0] == "tina", taken.reason


def test_resolve_needs_modify_ticket_and_a_refusal_undoes_the_reply(desk: Desk) -> None:
    ticket = _ticket(desk)
    before = _kinds(desk, ticket.id)
    refused = go(desk, mail(f"[TKT-{ticket.id:04d}]", CARLA, "thanks, close it"), "correspond-resolve")
    assert refused.classification == "refused" and "ModifyTicket" in refused.reason
    assert _kinds(desk, ticket.id) == before and _state(desk, ticket.id)[1] == "new"


def test_take_of_someone_elses_ticket_records_nothing(desk: Desk) -> None:
    ticket = _ticket(desk)
    ownership.give(desk.root, ticket.id, "bob")
    desk.session.commit()
    refused = go(desk, mail(f"[TKT-{ticket.id:04d}]", "alice@staff.example", "mine now"), "take-correspond")
    assert refused.classification == "refused" and "take refused" in refused.reason
    assert _state(desk, ticket.id)[0] == "bob" and "Correspond" not in _kinds(desk, ticket.id)
    # Taking what is already yours is nothing to do, not a refusal.
    again = go(desk, mail(f"[TKT-{ticket.id:04d}]", "bob@staff.example", "yes"), "take-correspond")
    assert again.action == "correspond" and "then" not in again.reason


def test_a_new_ticket_is_created_then_taken_or_resolved(desk: Desk) -> None:
    made = go(desk, mail("New: server room hot", "alice@staff.example"), "take-correspond")
    assert made.action == "create" and _state(desk, made.ticket) == ("alice", "new"), made.reason
    closed = go(desk, mail("FYI: fixed already", "alice@staff.example"), "comment-resolve")
    assert closed.action == "create" and _state(desk, closed.ticket)[1] == "resolved"
    # A stranger may open a ticket, not take one: the whole message is refused, no ticket made.
    count = desk.session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    refused = go(desk, mail("Take this", CARLA), "take-correspond")
    assert refused.classification == "refused" and "OwnTicket" in refused.reason
    assert desk.session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) == count


def test_robots_never_take_or_resolve(desk: Desk) -> None:
    ticket = _ticket(desk)
    bounce = mail(f"Auto: [TKT-{ticket.id:04d}]", "alice@staff.example", Auto_Submitted="auto-replied")
    outcome = go(desk, bounce, "take-correspond-resolve")
    assert outcome.action in ("comment", "dropped")
    assert _state(desk, ticket.id) == (None, "new")


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("correspond-frobnicate", "unknown action 'frobnicate'"),
        ("correspond-comment", "names an action twice, or both correspond and comment"),
        ("take-take", "names an action twice"),
        ("take--correspond", "bad action"),
        ("", "bad action"),
        ("x" * 300, "bad action"),
    ],
)
def test_bad_actions_are_one_line_errors(desk: Desk, action: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        go(desk, mail(), action)
    assert words in caught.value.message and "\n" not in caught.value.message
    assert parse_action("resolve") == ("correspond", ("resolve",))  # no recording action: correspond


# -- the address extension (plus-addressing) ------------------------------------------------------


def test_extension_picks_queue_action_or_ticket_and_falls_back_to_the_options() -> None:
    assert from_extension("action", "take-correspond", "General", "comment") == (
        "General",
        "take-correspond",
        None,
    )
    assert from_extension("queue", "Network", "General", "correspond") == ("Network", "correspond", None)
    assert from_extension("TICKET", " 42 ", "General", "correspond") == ("General", "correspond", "42")
    assert from_extension("ticket", "", "General", "comment") == ("General", "comment", None)
    assert from_extension(None, "take", "General", "comment") == ("General", "comment", None)
    with pytest.raises(InvalidInput, match="use queue, action or ticket"):
        from_extension("owner", "x", "General", "comment")


def test_a_ticket_named_by_the_extension_wins_over_the_subject(desk: Desk) -> None:
    ticket, other = _ticket(desk), _ticket(desk)
    raw = mail(f"Re: [TKT-{other.id:04d}] elsewhere", CARLA, "for the first")
    outcome = deliver(desk.session, raw, "General", "correspond", Settings(), ticket=str(ticket.id))
    assert (outcome.action, outcome.ticket) == ("correspond", ticket.id), outcome.reason
    assert "address extension" in outcome.reason
    missing = deliver(desk.session, mail("x", CARLA), "General", "correspond", Settings(), ticket="99999")
    assert missing.action == "dropped" and missing.classification == "no-ticket" and missing.exit_code == 0
    assert "could not find a ticket with id '99999'" in missing.reason
    junk = deliver(desk.session, mail("x", CARLA), "General", "correspond", Settings(), ticket="abc\udcff")
    assert junk.classification == "no-ticket"


@pytest.fixture
def cli_desk(cli_env):
    env = {**cli_env, "TESSERA_USER": "root"}
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    for args in (
        ["queue", "set", "General", "correspond_address=help@desk.example"],  # shipped with the desk
        ["queue", "create", "Network", "--subject-tag", "NetOps"],
        ["right", "grant", "CreateTicket", "role:Everyone"],
        ["right", "grant", "ReplyToTicket", "role:Requestor"],
        ["user", "add", "alice", "--email", "alice@staff.example"],
        *(["right", "grant", right, "user:alice"] for right in AGENT_RIGHTS),
    ):
        made = run(args, env)
        assert made.code == 0, made
    return env


def _gate(env: dict[str, str], raw: bytes, *args: str, extension: str | None = None):  # type: ignore[no-untyped-def]
    environ = {k: v for k, v in env.items() if k != "EXTENSION"}
    if extension is not None:
        environ["EXTENSION"] = extension
    return run(["mailgate", "--json", *args], environ, stdin=raw.decode())


def test_mailgate_program_takes_chains_and_extensions(cli_desk) -> None:
    env = cli_desk
    first = _gate(env, mail("VPN down", CARLA), "--queue", "General")
    assert first.code == 0, first
    ticket = json.loads(first.out)["ticket"]
    # support+take-correspond@: the action from $EXTENSION.
    taken = _gate(
        env,
        mail(f"Re: [TKT-{ticket:04d}] VPN down", "alice@staff.example", "Looking"),
        "--queue",
        "General",
        "--extension",
        "action",
        extension="take-correspond",
    )
    assert taken.code == 0 and json.loads(taken.out)["action"] == "correspond", taken
    shown = json.loads(run(["ticket", "show", str(ticket), "--json"], env).out)
    assert shown["owner"] == "alice" and shown["status"] == "open"
    # support+42@: the ticket from $EXTENSION, whatever the subject says.
    by_number = _gate(
        env,
        mail(
            "no tag at all",
            "alice@staff.example",
            "done",
        ),
        "--queue",
        "General",
        "--action",
        "correspond-resolve",
        "--extension",
        "ticket",
        extension=str(ticket),
    )
    assert by_number.code == 0 and json.loads(by_number.out)["ticket"] == ticket, by_number
    assert json.loads(run(["ticket", "show", str(ticket), "--json"], env).out)["status"] == "resolved"
    # network+...: the queue from $EXTENSION; no $EXTENSION: the --queue given.
    routed = _gate(
        env, mail("Switch dead", CARLA), "--queue", "General", "--extension", "queue", extension="Network"
    )
    assert (
        json.loads(run(["ticket", "show", str(json.loads(routed.out)["ticket"]), "--json"], env).out)["queue"]
        == "Network"
    )
    plain = _gate(env, mail("Another", CARLA), "--queue", "General", "--extension", "queue")
    assert (
        json.loads(run(["ticket", "show", str(json.loads(plain.out)["ticket"]), "--json"], env).out)["queue"]
        == "General"
    )
    # A stranger's chain: refused, taken by the MTA (exit 0), the reason on stdout.
    refused = _gate(
        env, mail(f"[TKT-{ticket:04d}]", CARLA), "--queue", "General", "--action", "take-correspond"
    )
    assert refused.code == 0 and json.loads(refused.out)["action"] == "dropped"
    assert "OwnTicket" in json.loads(refused.out)["reason"]
    # A bad action or extension kind: a temporary failure in one line (RT's TMPFail).
    bad = _gate(env, mail(), "--queue", "General", "--action", "take-frobnicate")
    assert bad.code == EX_TEMPFAIL
    assert_one_line_error(bad, "unknown action 'frobnicate'")
    odd = _gate(env, mail(), "--queue", "General", "--extension", "owner", extension="x")
    assert odd.code == EX_TEMPFAIL
    assert_one_line_error(odd, "use queue, action or ticket")


# -- subject tags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "[Tessera #{id}]",
        "[tessera #{id}]",
        "[Tessera#{id}]",
        "[ Tessera  #{id} ]",
        "[http://Tessera #{id}]",
        "[https://tessera #{id}]",
        "Re: Fwd: [TKT-{id:04d}]",
    ],
)
def test_rt_subject_tag_variants_thread_to_the_ticket(desk: Desk, tag: str) -> None:
    ticket = _ticket(desk)
    outcome = go(desk, mail("Re: " + tag.format(id=ticket.id) + " printer", CARLA))
    assert (outcome.action, outcome.ticket) == ("correspond", ticket.id), outcome.reason


def test_the_desk_name_is_the_tag_and_a_url_may_precede_it(desk: Desk, monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_DESK_NAME", "example.com")
    ticket = _ticket(desk)
    for subject in (
        f"[example.com #{ticket.id}]",
        f"[https://example.com #{ticket.id}]",
        f"[example.com#{ticket.id}]",
    ):
        outcome = go(desk, mail(subject, CARLA))
        assert outcome.ticket == ticket.id and outcome.action == "correspond", (subject, outcome.reason)
    foreign = go(desk, mail(f"[other.example #{ticket.id}] theirs", CARLA))
    assert foreign.action == "create" and foreign.ticket != ticket.id


def test_each_queue_has_its_own_tag_read_by_the_gateway_and_written_by_its_mail(desk: Desk) -> None:
    queues.update_queue(desk.root, "General", {"subject_tag": "Acme Help"})
    desk.session.commit()
    ticket = _ticket(desk)
    outgoing = desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)
    ).all()
    assert outgoing and all(
        m.summary["subject"].startswith(f"[Acme Help #{ticket.id}] ") for m in outgoing
    ), [m.summary["subject"] for m in outgoing]
    tickets.correspond(desk.root, ticket.id, tickets.MessageIn(body="We are on it"))
    desk.session.commit()
    reply = desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id.desc())
    ).first()
    assert reply is not None and f"Subject: [Acme Help #{ticket.id}]" in reply.message
    answered = go(desk, mail(f"Re: [Acme Help #{ticket.id}] Printer on fire", CARLA, "still burning"))
    assert answered.ticket == ticket.id and answered.action == "correspond", answered.reason
    # Our own queue's tag is not copied into the subject as a foreign one (Extract Subject Tag).
    desk.session.expire_all()
    assert "Acme Help" not in desk.session.get(Ticket, ticket.id).subject
    # The tag is one line without brackets or '#'; empty removes it.
    for bad in ("Acme [x]", "Acme #1", "a\x07b", "x" * 121):
        with pytest.raises(InvalidInput, match="subject tag"):
            queues.update_queue(desk.root, "General", {"subject_tag": bad})
        desk.session.rollback()
    queues.update_queue(desk.root, "General", {"subject_tag": ""})
    assert queues.get_queue(desk.root, "General").subject_tag is None


def test_templates_write_the_queues_tag(desk: Desk) -> None:
    """A template may write the tag itself (RT's `$Ticket->SubjectTag`): it is not added twice."""
    queues.update_queue(desk.root, "General", {"subject_tag": "Acme Help"})
    desk.add_template(
        "Tagged", "Subject: {{ ticket.subject_tag }} done ({{ ticket.queue.subject_tag }})\n\nDone."
    )
    desk.add_scrip(
        "Tell the requestor",
        condition="OnComment",
        action="Notify",
        action_argument="Requestor",
        template="Tagged",
    )
    ticket = _ticket(desk)
    tickets.comment(desk.root, ticket.id, tickets.MessageIn(body="internal"))
    desk.session.commit()
    sent = desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id.desc())
    ).first()
    assert sent is not None
    assert sent.summary["subject"] == f"[Acme Help #{ticket.id}] done (Acme Help)", sent.summary["subject"]


def test_queue_subject_tag_through_the_cli(cli_desk) -> None:
    env = cli_desk
    shown = json.loads(run(["queue", "list", "--json"], env).out)
    assert {q["name"]: q["subject_tag"] for q in shown} == {"General": None, "Network": "NetOps"}
    changed = run(["queue", "set", "General", "subject_tag=Help Desk"], env)
    assert changed.code == 0, changed
    made = _gate(env, mail("Printer", CARLA), "--queue", "General")
    ticket = json.loads(made.out)["ticket"]
    answered = _gate(env, mail(f"Re: [help desk #{ticket}] Printer", CARLA), "--queue", "Network")
    assert json.loads(answered.out)["ticket"] == ticket, answered
    assert_one_line_error(run(["queue", "set", "General", "subject_tag=a#b"], env), "subject tag")


def test_queue_subject_tag_through_the_api(api) -> None:  # type: ignore[no-untyped-def]
    with api.client(api.root) as root:
        made = root.post("/queues", json={"name": "Billing", "subject_tag": "Bills Desk"})
        assert made.status_code == 201, made.text
        assert made.json()["subject_tag"] == "Bills Desk"
        bad = root.post("/queues", json={"name": "Other", "subject_tag": "a#b"})
        assert bad.status_code in (400, 422) and "subject tag" in bad.json()["detail"]
        listed = {q["name"]: q["subject_tag"] for q in root.get("/queues").json()}
        assert listed["Billing"] == "Bills Desk" and listed["General"] is None
