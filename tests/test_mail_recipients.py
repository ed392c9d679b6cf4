"""Every recipient accounted for: a real SMTP server on loopback (aiosmtpd) that accepts some
recipients, refuses (550) or defers (451) others; per-recipient state in the outbox, retried for the
deferred alone across worker restarts, refusals marked on the ticket and shown in its history, the
"On delivery failure" scrip, and `tessera mail outbox|retry`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from tessera.core import tickets
from tessera.core.models import OutboxMessage, Scrip, Transaction
from tessera.core.schemas import MessageIn
from tessera.core.serialize import history
from tessera.mail.delivery import SmtpSettings, deliver_due
from tests.support.cli import assert_one_line_error, run
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.smtp import SmtpServer, smtp_env

NO_SUCH_USER = "550 5.1.1 <bad@example.com>: no such user"
BUSY = "451 4.2.0 mailbox busy, try later"


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def settings_for(port: int) -> SmtpSettings:
    return SmtpSettings.from_env(smtp_env(port))


def _reply_row(session, ticket_id: int) -> OutboxMessage:
    """The correspondence's message to the requestors (the one with several recipients)."""
    session.expire_all()
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id).order_by(OutboxMessage.id)
    ).all()
    return next(r for r in rows if len(r.recipients) > 1)


def _reply_to_three(desk):
    """A ticket whose requestors are good@, bad@ and slow@example.com; the autoreply to them is
    sent as one message; the result: (ticket, the agent's context)."""
    agent = desk.agent("alice", *AGENT_RIGHTS)
    ticket = desk.ticket(
        subject="Printer on fire",
        requestors=["good@example.com", "bad@example.com", "slow@example.com"],
    )
    return ticket, agent


def test_partial_refusal_is_recorded_per_recipient_and_marked_on_the_ticket(
    database, committed_desk, smtp
) -> None:
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    ticket, _ = _reply_to_three(committed_desk)
    result = deliver_due(database, settings_for(smtp.port))
    assert result.failed == 1 and result.retried == 0
    row = _reply_row(committed_desk.session, ticket.id)
    assert row.status == "failed"  # done: two accepted, one refused for good
    states = {a: (d["state"], d["code"], d["reply"]) for a, d in row.delivery.items()}
    assert states == {
        "good@example.com": ("accepted", 250, None),
        "slow@example.com": ("accepted", 250, None),
        "bad@example.com": ("refused", 550, NO_SUCH_USER),
    }
    assert smtp.delivered_to("good@example.com") == 1 and smtp.delivered_to("bad@example.com") == 0

    # The ticket carries the refusal, and its history shows each recipient under the message.
    marks = committed_desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "DeliveryFailed")
    ).all()
    assert len(marks) == 1 and marks[0].new_value == "bad@example.com"
    assert marks[0].data["refused"] == [{"address": "bad@example.com", "code": 550, "reply": NO_SUCH_USER}]
    assert marks[0].data["outbox"] == row.id
    events = history(committed_desk.root, tickets.get_ticket(committed_desk.root, ticket.id))
    create = next(e for e in events if e["type"] == "Create")
    sent = next(m for m in create["outgoing"] if m["id"] == row.id)
    assert sent["state"] == "failed"
    assert [(r["address"], r["state"]) for r in sent["recipients"]] == [
        ("good@example.com", "accepted"),
        ("bad@example.com", "refused"),
        ("slow@example.com", "accepted"),
    ]
    assert events[-1]["type"] == "DeliveryFailed"


def test_whole_transaction_refused_marks_every_recipient(database, committed_desk, smtp) -> None:
    """Every RCPT TO refused (smtplib raises SMTPRecipientsRefused): each recipient with its own
    reply, one refused for good and one deferred, so the message is not done."""
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    smtp.answers["slow@example.com"] = BUSY
    committed_desk.ticket(subject="Two", requestors=["bad@example.com", "slow@example.com"])
    result = deliver_due(database, settings_for(smtp.port))
    assert result.retried == 1 and smtp.received == []
    committed_desk.session.expire_all()
    row = committed_desk.outbox()[0]
    assert row.status == "pending"
    assert row.delivery["bad@example.com"]["state"] == "refused"
    assert row.delivery["slow@example.com"]["state"] == "deferred"
    assert row.delivery["slow@example.com"]["reply"] == BUSY


def _make_due(database, outbox_id: int) -> None:
    """What the passing of the backoff does: the message and its deferred recipients are due."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                """
                UPDATE outbox SET next_attempt = now(), delivery = (
                    SELECT jsonb_object_agg(k, CASE WHEN v->>'state' = 'deferred'
                                                    THEN jsonb_set(v, '{next_attempt}', to_jsonb(now()))
                                                    ELSE v END)
                      FROM jsonb_each(delivery) AS e(k, v))
                 WHERE id = :id
                """
            ),
            {"id": outbox_id},
        )


def test_deferred_recipient_is_retried_alone_across_worker_restarts(
    database, committed_desk, cli_env, smtp
) -> None:
    """The real `tessera worker --once`, three processes: nothing lost, nobody mailed twice."""
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    smtp.answers["slow@example.com"] = BUSY
    ticket, _ = _reply_to_three(committed_desk)
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_SMTP_RETRY_BASE": "3600", "TESSERA_USER": "root"}

    first = run(["worker", "--once", "--json"], env)
    assert first.code == 0, first.err
    row = _reply_row(committed_desk.session, ticket.id)
    assert row.status == "pending"  # slow@ is still owed the message
    assert {a: d["state"] for a, d in row.delivery.items()} == {
        "good@example.com": "accepted",
        "bad@example.com": "refused",
        "slow@example.com": "deferred",
    }
    assert row.delivery["slow@example.com"]["next_attempt"] is not None
    # Not due yet (its own backoff, an hour): a new worker leaves it alone.
    assert run(["worker", "--once"], env).code == 0
    assert smtp.rcpt_log.count("slow@example.com") == 1

    _make_due(database, row.id)
    again = run(["worker", "--once"], env)  # still busy: deferred once more
    assert again.code == 0, again.err
    row = _reply_row(committed_desk.session, ticket.id)
    assert row.delivery["slow@example.com"]["state"] == "deferred"
    assert row.delivery["slow@example.com"]["attempts"] == 2

    del smtp.answers["slow@example.com"]
    _make_due(database, row.id)
    last = run(["worker", "--once"], env)
    assert last.code == 0, last.err
    row = _reply_row(committed_desk.session, ticket.id)
    assert row.status == "failed" and row.delivery["slow@example.com"]["state"] == "accepted"
    # Each address asked at RCPT TO only while it was owed the message; each got it once.
    assert smtp.rcpt_log.count("good@example.com") == 1
    assert smtp.rcpt_log.count("bad@example.com") == 1
    assert smtp.rcpt_log.count("slow@example.com") == 3
    assert smtp.delivered_to("good@example.com") == 1
    assert smtp.delivered_to("slow@example.com") == 1
    assert smtp.delivered_to("bad@example.com") == 0
    # The refusal was marked once, when it happened, not again with each retry of slow@.
    marks = committed_desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "DeliveryFailed")
    ).all()
    assert len(marks) == 1


def test_a_recipient_deferred_in_a_run_waits_for_the_next_run(database, committed_desk, smtp) -> None:
    """With no backoff at all, a deferred recipient is still tried once a run, not in a loop."""
    smtp.answers["slow@example.com"] = BUSY
    committed_desk.ticket(subject="Once", requestors=["slow@example.com"])
    result = deliver_due(database, settings_for(smtp.port))  # TESSERA_SMTP_RETRY_BASE=0
    assert result.retried == 1
    assert smtp.rcpt_log == ["slow@example.com"]
    committed_desk.session.expire_all()
    row = committed_desk.outbox()[0]
    assert (row.status, row.delivery["slow@example.com"]["attempts"]) == ("pending", 1)


def test_deferred_past_max_attempts_is_refused(database, committed_desk, smtp) -> None:
    smtp.answers["slow@example.com"] = BUSY
    committed_desk.ticket(subject="Never", requestors=["slow@example.com"])
    settings = SmtpSettings.from_env({**smtp_env(smtp.port), "TESSERA_SMTP_MAX_ATTEMPTS": "2"})
    deliver_due(database, settings)
    deliver_due(database, settings)
    committed_desk.session.expire_all()
    row = committed_desk.outbox()[0]
    got = row.delivery["slow@example.com"]
    assert row.status == "failed" and got["state"] == "refused"
    assert got["reply"] == f"given up after 2 attempts: {BUSY}"


def test_on_delivery_failure_notifies_the_owner_once(database, committed_desk, smtp) -> None:
    scrip = committed_desk.scrip("On Delivery Failure Notify Owner")
    assert scrip.enabled is False  # shipped disabled
    scrip.enabled = True
    committed_desk.session.commit()
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    ticket, _ = _reply_to_three(committed_desk)
    tickets.set_fields(committed_desk.root, ticket.id, {"owner": "alice"})
    deliver_due(database, settings_for(smtp.port))
    deliver_due(database, settings_for(smtp.port))  # the notice, if queued after this run's claims
    notices = [r for r in smtp.wait_for(1) if "Undelivered mail" in r.message["Subject"]]
    assert len(notices) == 1 and notices[0].rcpt_tos == ["alice@staff.example"]
    body = notices[0].message.get_content()
    assert f"bad@example.com: {NO_SUCH_USER}" in body and "tessera mail retry" in body

    # The owner's own address refused: marked on the ticket, but not notified about again (a loop).
    smtp.answers["alice@staff.example"] = "550 5.1.1 gone"
    smtp.received.clear()
    tickets.correspond(committed_desk.root, ticket.id, MessageIn(body="Still on fire?"))
    deliver_due(database, settings_for(smtp.port))
    deliver_due(database, settings_for(smtp.port))
    committed_desk.session.expire_all()
    marked = (Transaction.ticket_id == ticket.id) & (Transaction.type == "DeliveryFailed")
    fired = committed_desk.session.scalars(select(Transaction.data).where(marked)).all()
    owner_refused = [d for d in fired if d["refused"][0]["address"] == "alice@staff.example"]
    assert owner_refused
    undelivered = committed_desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
    ).all()
    notices_queued = [m for m in undelivered if "Undelivered mail" in (m.summary.get("subject") or "")]
    # one per refusal of a requestor's mail, none for the refusal of a notice itself
    about = [d.get("about_type") for d in fired]
    assert len(notices_queued) == sum(1 for t in about if t != "DeliveryFailed")


def test_migration_ships_the_scrip_disabled_with_its_template(committed_desk) -> None:
    scrip = committed_desk.session.scalars(select(Scrip).where(Scrip.condition == "OnDeliveryFailure")).one()
    assert (scrip.enabled, scrip.action, scrip.action_argument, scrip.template) == (
        False,
        "Notify",
        "Owner",
        "Delivery Failure",
    )


# -- the CLI: ticket show --history, mail outbox, mail retry ------------------------------------------


def _cli_desk(cli_env, smtp) -> tuple[dict[str, str], int]:
    env = {**cli_env, **smtp_env(smtp.port)}
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    made = run(["queue", "create", "Support", "--correspond-address", "support@desk.example"], env)
    assert made.code == 0, made.err
    created = run(["ticket", "create", "--queue", "Support", "--subject", "Mail is slow",
                   "--requestor", "good@example.com", "--requestor", "bad@example.com",
                   "--body", "Very slow.", "--json"], env)  # fmt: skip
    assert created.code == 0, created.err
    return env, json.loads(created.out)["id"]


def test_cli_outbox_history_and_retry_after_the_address_is_fixed(cli_env, smtp) -> None:
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    env, tid = _cli_desk(cli_env, smtp)

    queued = run(["mail", "outbox", "--json"], env)
    assert queued.code == 0, queued.err
    [message] = json.loads(queued.out)
    assert message["state"] == "queued" and message["ticket"] == tid
    assert [r["state"] for r in message["recipients"]] == ["queued", "queued"]

    assert run(["worker", "--once"], env).code == 0
    listed = run(["mail", "outbox", "--failed", "--ticket", str(tid), "--json"], env)
    assert listed.code == 0, listed.err
    failed = json.loads(listed.out)
    assert [m["id"] for m in failed] == [message["id"]] and failed[0]["state"] == "failed"
    assert {r["address"]: (r["state"], r["reply"]) for r in failed[0]["recipients"]} == {
        "good@example.com": ("accepted", None),
        "bad@example.com": ("refused", NO_SUCH_USER),
    }
    listed = run(["mail", "outbox", "--failed"], env)
    assert listed.code == 0 and "bad@example.com" in listed.out and "refused" in listed.out
    assert NO_SUCH_USER in listed.out

    shown = run(["ticket", "show", str(tid), "--history"], env)
    assert shown.code == 0, shown.err
    assert f"mail #{message['id']} failed" in shown.out
    assert "good@example.com  accepted" in shown.out
    assert f"bad@example.com  refused: {NO_SUCH_USER}" in shown.out
    assert f"!! not delivered to bad@example.com: {NO_SUCH_USER}" in shown.out
    history_json = json.loads(run(["ticket", "show", str(tid), "--history", "--json"], env).out)["history"]
    assert any(e["type"] == "DeliveryFailed" for e in history_json)

    # Errors: one line, the documented exit codes.
    assert_one_line_error(run(["mail", "retry", "999999"], env), "no outgoing message #999999")
    assert run(["mail", "retry", "999999"], env).code == 4
    wrong = run(["mail", "retry", str(message["id"]), "--recipient", "nobody@example.com"], env)
    assert wrong.code == 5 and "nobody@example.com is not a recipient" in wrong.err
    good = run(["mail", "retry", str(message["id"]), "--recipient", "good@example.com"], env)
    assert good.code == 5 and "not refused" in good.err

    # The address is fixed: retried, only bad@ is sent it, good@ is not sent it again.
    del smtp.answers["bad@example.com"]
    retried = run(["mail", "retry", str(message["id"]), "--json"], env)
    assert retried.code == 0, retried.err
    assert json.loads(retried.out) == {"id": message["id"], "requeued": ["bad@example.com"]}
    assert run(["worker", "--once"], env).code == 0
    assert smtp.delivered_to("bad@example.com") == 1 and smtp.delivered_to("good@example.com") == 1
    assert json.loads(run(["mail", "outbox", "--json"], env).out) == []
    nothing = run(["mail", "retry", str(message["id"])], env)
    assert nothing.code == 5 and "no refused recipient" in nothing.err


def test_cli_outbox_needs_admin_queue(cli_env, smtp) -> None:
    smtp.answers["bad@example.com"] = NO_SUCH_USER
    env, tid = _cli_desk(cli_env, smtp)
    assert run(["user", "add", "agent", "--email", "agent@staff.example"], env).code == 0
    for right in ("SeeQueue", "ShowTicket"):  # sees the ticket, not AdminQueue
        assert run(["right", "grant", right, "user:agent"], env).code == 0
    assert run(["worker", "--once"], env).code == 0
    mine = json.loads(run(["mail", "outbox", "--json"], env).out)
    agent_env = {**env, "TESSERA_USER": "agent"}
    seen = run(["mail", "outbox", "--json"], agent_env)
    assert seen.code == 0 and json.loads(seen.out) == []
    denied = run(["mail", "retry", str(mine[0]["id"])], agent_env)
    assert denied.code == 4 and f"no outgoing message #{mine[0]['id']}" in denied.err
    # The agent still sees who got the reply on the ticket itself.
    shown = json.loads(run(["ticket", "show", str(tid), "--history", "--json"], agent_env).out)
    outgoing = [m for e in shown["history"] for m in e["outgoing"]]
    assert any(r["state"] == "refused" for m in outgoing for r in m["recipients"])


def test_a_desk_seeded_before_the_migration_gets_the_scrip_disabled_once(pg_server) -> None:
    from tessera.core import migrate
    from tessera.core.db import open_database
    from tests.support import pg

    url = pg.create_empty(pg_server)
    db = open_database(url)

    def found() -> list[tuple[bool, str]]:
        with db.engine.connect() as conn:
            query = "SELECT enabled, template FROM scrips WHERE condition = 'OnDeliveryFailure'"
            return [tuple(r) for r in conn.execute(text(query))]

    def templates() -> int:
        with db.engine.connect() as conn:
            query = "SELECT count(*) FROM scrip_templates WHERE queue_id IS NULL AND name = :n"
            return int(conn.execute(text(query), {"n": "Delivery Failure"}).scalar() or 0)

    try:
        migrate.upgrade(db, "0014")
        with db.engine.begin() as conn:  # what the seed of that time wrote (in part)
            conn.execute(text("INSERT INTO scrip_templates (name, content) VALUES ('Blank', '')"))
        migrate.upgrade(db)
        assert found() == [(False, "Delivery Failure")] and templates() == 1
        migrate.downgrade(db, "0014")
        assert found() == []
        migrate.upgrade(db)
        assert found() == [(False, "Delivery Failure")] and templates() == 1
    finally:
        db.dispose()
        pg.drop(url)


def test_a_hostile_server_reply_is_stored_as_one_clean_line(database, committed_desk, smtp) -> None:
    smtp.answers["bad@example.com"] = "550 5.1.1 \x1b[31mred\x1b]52;c;aGk=\x07 no\tsuch user"
    committed_desk.ticket(subject="Hostile", requestors=["bad@example.com"])
    deliver_due(database, settings_for(smtp.port))
    committed_desk.session.expire_all()
    reply = committed_desk.outbox()[0].delivery["bad@example.com"]["reply"]
    assert reply.startswith("550 5.1.1 ") and "red" in reply and "no such user" in reply
    assert all(ch.isprintable() for ch in reply), reply


def test_a_gone_workers_claim_is_sent_again_to_the_deferred_recipient_only(
    database, committed_desk, smtp
) -> None:
    """A worker claims a message owed to one deferred recipient and dies before its SMTP
    transaction: the next worker sends it to that recipient, not again to the one who accepted."""
    from tessera.core.db import open_database
    from tessera.mail.delivery import INTERRUPTED, claim
    from tests.support.wait import wait_until

    settings = settings_for(smtp.port)
    smtp.answers["slow@example.com"] = BUSY
    committed_desk.ticket(subject="Killed", requestors=["good@example.com", "slow@example.com"])
    assert deliver_due(database, settings).retried == 1  # good@ accepted, slow@ deferred (due at once)
    del smtp.answers["slow@example.com"]
    gone = open_database(database.url)
    with gone.engine.connect() as link:
        pid = link.execute(text("SELECT pg_backend_pid()")).scalar()
        assert claim(link, settings) is not None
    gone.dispose()

    def backend_gone() -> bool:
        with database.session() as session:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
            return not session.scalar(query, {"p": pid})

    wait_until(backend_gone, what="the gone worker's backend to end")
    assert deliver_due(database, settings).sent == 1
    assert smtp.rcpt_log == ["good@example.com", "slow@example.com", "slow@example.com"]
    assert smtp.delivered_to("good@example.com") == 1 and smtp.delivered_to("slow@example.com") == 1
    committed_desk.session.expire_all()
    row = committed_desk.outbox()[0]
    assert (row.status, row.last_error) == ("sent", INTERRUPTED)
