"""RT's RecordComment / RecordCorrespondence scrip actions (with RT's loop guard) and RT's Simple
templates (`{$Name}` placeholders only) beside the Jinja ones."""

from __future__ import annotations

import json

import yaml
from sqlalchemy import select

from tessera.core import tickets
from tessera.core.models import ScripRun, Transaction
from tessera.core.schemas import MessageIn
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk


def _types(desk: Desk, ticket_id: int) -> list[str]:
    return list(
        desk.session.scalars(
            select(Transaction.type).where(Transaction.ticket_id == ticket_id).order_by(Transaction.id)
        )
    )


def test_record_comment_records_the_template_as_a_comment(desk: Desk) -> None:
    desk.disable_defaults()
    desk.add_template("Status note", "Subject: status note\n\nStatus is now {{ ticket.status }}.")
    desk.add_scrip("note status", condition="OnStatusChange", action="RecordComment", template="Status note")
    ticket = desk.ticket()
    tickets.set_status(desk.root, ticket.id, "open")
    assert _types(desk, ticket.id) == ["Create", "Status", "Comment"]
    recorded = tickets.get_ticket(desk.root, ticket.id)
    from tessera.core.serialize import history

    last = history(desk.root, recorded)[-1]
    assert last["message"]["content"].strip() == "Status is now open."


def test_the_loop_guard_skips_comments_and_replies(desk: Desk) -> None:
    desk.disable_defaults()
    desk.add_template("Echo", "Subject: echo\n\necho of {{ transaction.type }}")
    desk.add_scrip("echo everything", condition="OnTransaction", action="RecordComment", template="Echo")
    ticket = desk.ticket()  # Create -> one recorded comment, which the guard then stops
    assert _types(desk, ticket.id) == ["Create", "Comment"]
    tickets.comment(desk.root, ticket.id, MessageIn(body="by hand"))
    tickets.correspond(desk.root, ticket.id, MessageIn(body="to the customer"))
    assert _types(desk, ticket.id) == ["Create", "Comment", "Comment", "Correspond"]
    reasons = [
        r.reason for r in desk.session.scalars(select(ScripRun).where(ScripRun.ticket_id == ticket.id))
    ]
    assert sum("loop guard" in reason for reason in reasons) == 3
    assert not any("depth" in reason for reason in reasons)


def test_record_correspondence_is_a_reply_that_the_reply_scrips_mail(desk: Desk) -> None:
    desk.add_template("Opened note", "Subject: Opened\n\nWe are on it.")
    desk.add_scrip("tell on open", condition="OnStatusChange", argument="new -> open",
                   action="RecordCorrespondence", template="Opened note")  # fmt: skip
    ticket = desk.ticket(requestors=["ann@example.com"])
    before = len(desk.outbox())
    tickets.set_status(desk.root, ticket.id, "open")
    assert _types(desk, ticket.id)[-2:] == ["Status", "Correspond"]
    bodies = [m.summary["body"] for m in desk.outbox()[before:] if "ann@example.com" in m.recipients]
    assert any("We are on it." in body for body in bodies)


def test_a_simple_template_fills_rt_placeholders_and_leaves_the_rest_as_written(desk: Desk) -> None:
    desk.disable_defaults()
    template = desk.add_template(
        "Plain",
        "Subject: [{$TicketQueueName}] {$TicketSubject}\n\n"
        "Ticket {$TicketId} is {$TicketStatus}, owned by {$TicketOwnerName}.\n"
        "Requestors: {$TicketRequestorAddresses}. {$Requestor} wrote: {$TransactionContent}\n"
        "Unknown stays: {$NoSuchThing} {{ ticket.subject }} {% if x %}",
    )
    template.type = "simple"
    desk.session.commit()
    desk.add_scrip(
        "plain", condition="OnCreate", action="Notify", action_argument="Requestor", template="Plain"
    )
    ticket = desk.ticket("Printer on fire", requestors=["ann@example.com"], body="Smoke everywhere")
    mail = desk.outbox()[-1]
    assert mail.summary["subject"].endswith("[General] Printer on fire")
    body = mail.summary["body"]
    assert f"Ticket {ticket.id} is new, owned by Nobody." in body
    assert "Requestors: ann@example.com." in body and "wrote: Smoke everywhere" in body
    assert "Unknown stays: {$NoSuchThing} {{ ticket.subject }} {% if x %}" in body


def test_simple_templates_through_scrip_apply_and_export(cli_env, tmp_path) -> None:
    env = dict(cli_env)
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    document = {
        "templates": [
            {
                "name": "Plain note",
                "type": "Simple",
                "content": "Subject: {$TicketSubject}\n\n{% no logic here",
            }
        ]
    }
    path = tmp_path / "simple.yaml"
    path.write_text(yaml.safe_dump(document))
    applied = run(["scrip", "apply", str(path), "--json"], env)
    assert applied.code == 0, applied.err
    exported = yaml.safe_load(run(["scrip", "export"], env).out)
    mine = next(t for t in exported["templates"] if t["name"] == "Plain note")
    assert mine["type"] == "simple" and mine["content"].endswith("{% no logic here")
    assert all("type" not in t for t in exported["templates"] if t["name"] != "Plain note")  # Jinja as before
    again = run(["scrip", "apply", str(path), "--json"], env)
    assert json.loads(again.out)["templates"]["unchanged"] == 1
    document["templates"][0]["type"] = "jinja"  # the same text as Jinja does not compile
    path.write_text(yaml.safe_dump(document))
    assert_one_line_error(run(["scrip", "apply", str(path)], env), "templates[0].content")
