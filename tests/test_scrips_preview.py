"""The dry-run of a reply or comment (the TUI's review step): who would be mailed, nothing recorded."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.core import watchers
from tessera.core.models import Attachment, Transaction
from tessera.scrips.preview import preview_message
from tests.support.desks import Desk


def counts(desk: Desk) -> tuple[int, int, int, int]:
    count = desk.session.scalar
    return (
        count(select(func.count()).select_from(Transaction)) or 0,
        count(select(func.count()).select_from(Attachment)) or 0,
        len(desk.outbox()),
        len(desk.runs()),
    )


def test_reply_preview_lists_the_mail_and_records_nothing(desk: Desk) -> None:
    ticket = desk.ticket()
    watchers.add_watcher(desk.root, ticket.id, "Cc", "boss@customer.example")
    before = counts(desk)
    plan = preview_message(desk.root, ticket.id, "reply", "Try turning it off and on.")
    mail = [m for m in plan["messages"] if "Try turning it off" in m["body"]]
    assert mail, plan["messages"]
    recipients = {a for m in mail for a in m["to"] + m["cc"] + m["bcc"]}
    assert {"customer@example.com", "boss@customer.example"} <= recipients
    assert [c["type"] for c in plan["changes"]][:1] == ["Correspond"]
    assert counts(desk) == before
    desk.session.refresh(ticket)
    assert ticket.status == "new"  # the reply would open it; the dry-run left it alone


def test_comment_preview_never_mails_the_requestor(desk: Desk) -> None:
    ticket = desk.ticket()
    before = counts(desk)
    plan = preview_message(desk.root, ticket.id, "comment", "Internal: it is the toner.")
    recipients = {a for m in plan["messages"] for a in m["to"] + m["cc"] + m["bcc"]}
    assert "customer@example.com" not in recipients
    assert [c["type"] for c in plan["changes"]] == ["Comment"]
    assert counts(desk) == before


def test_a_create_preview_shows_the_number_the_ticket_will_get_and_uses_none_up(desk: Desk) -> None:
    from tessera.core.models import display_id
    from tessera.core.schemas import TicketCreate
    from tessera.scrips.preview import preview_create

    first = desk.ticket()
    before = counts(desk)
    data = TicketCreate(queue="General", subject="Badge reader", requestors=["ann@customer.example"])
    for _ in range(2):  # a second look at the review shows the same number
        plan = preview_create(desk.root, data)
        autoreply = next(m for m in plan["messages"] if "AutoReply" in m["subject"])
        assert f"[{display_id(first.id + 1)}]" in autoreply["subject"], autoreply["subject"]
    assert counts(desk) == before
    assert desk.ticket().id == first.id + 1  # no number was used up by the reviews
