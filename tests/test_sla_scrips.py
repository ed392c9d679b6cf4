"""RT's two SLA scrips ([SLA] Set starts date, [SLA] Set due date) are what keep a ticket's Starts
and Due: they appear in the scrip trace of the change that moved them, a disabled one stops its
date being kept (as in RT), and the dry-run shows them with the dates they would set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tessera.core import grants, sla, tickets
from tessera.core.calendar_store import apply_calendars
from tessera.core.models import Scrip
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.scrips.editing import set_enabled
from tessera.scrips.engine import COMMITTED, scrip_log
from tessera.scrips.preview import preview_create, preview_message
from tests.support.desk_clock import paris
from tests.support.desks import Desk

CALENDAR = "name: office\ntimezone: Europe/Paris\nhours: {mon-fri: 09:00-17:00}\n"
LEVELS = "levels:\n  4h: {calendar: office, response: 4h}\nqueues:\n  General: 4h\n"
STARTS, DUE = "[SLA] Set starts date", "[SLA] Set due date"


@pytest.fixture
def sla_desk(desk: Desk) -> Desk:
    apply_calendars(desk.root, CALENDAR)
    sla.apply_service_levels(desk.root, LEVELS)
    for right in ("ShowTicket", "ReplyToTicket"):
        grants.grant(desk.root, right, "role:Requestor")
    return desk


def _scrip_id(desk: Desk, description: str) -> int:
    return desk.session.scalars(select(Scrip.id).where(Scrip.description == description)).one()


def _runs(desk: Desk, ticket_id: int) -> dict[str, str]:
    return {r["description"]: r["outcome"] for r in scrip_log(desk.root, ticket_id=ticket_id, limit=200)}


def test_the_sla_scrips_appear_in_the_trace_of_a_create(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 4, 19, 30))  # Friday evening
    ticket = sla_desk.ticket()
    runs = _runs(sla_desk, ticket.id)
    assert runs[STARTS] == COMMITTED and runs[DUE] == COMMITTED
    assert (ticket.starts, ticket.due) == (paris(2026, 12, 7, 9, 0), paris(2026, 12, 7, 13, 0))


def test_a_ticket_without_a_level_leaves_the_sla_scrips_unfired(desk: Desk) -> None:
    ticket = desk.ticket()
    assert _runs(desk, ticket.id)[DUE] == "condition false"
    assert ticket.due is None and ticket.starts is None


def test_disabling_the_due_scrip_stops_due_being_recomputed(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))  # Monday
    ticket = sla_desk.ticket()
    assert ticket.due == paris(2026, 12, 7, 13, 0)
    set_enabled(sla_desk.root, _scrip_id(sla_desk, DUE), False)
    at(paris(2026, 12, 7, 10, 0))
    tickets.correspond(sla_desk.root, ticket.id, MessageIn(body="on it"))  # meets the response clock
    assert ticket.due == paris(2026, 12, 7, 13, 0)  # not kept any more
    later = sla_desk.ticket()
    assert later.sla == "4h" and later.starts == paris(2026, 12, 7, 10, 0) and later.due is None
    set_enabled(sla_desk.root, _scrip_id(sla_desk, DUE), True)
    tickets.correspond(sla_desk.as_("customer@example.com"), later.id, MessageIn(body="and?"))
    assert later.due == paris(2026, 12, 7, 14, 0)


def test_disabling_the_starts_scrip_leaves_starts_alone(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 5, 12, 0))  # Saturday
    set_enabled(sla_desk.root, _scrip_id(sla_desk, STARTS), False)
    ticket = sla_desk.ticket()
    assert ticket.starts is None and ticket.due == paris(2026, 12, 7, 13, 0)


def test_the_dry_run_of_a_create_shows_the_sla_scrips_and_the_dates_they_would_set(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 4, 19, 30))
    data = TicketCreate(queue="General", subject="Hi", requestors=["customer@example.com"])
    plan = preview_create(sla_desk.root, data)
    fired = {s["description"]: s for s in plan["scrips"] if s["fires"]}
    starts = paris(2026, 12, 7, 9, 0).astimezone(UTC).isoformat()
    due = paris(2026, 12, 7, 13, 0).astimezone(UTC).isoformat()
    assert [(c["field"], c["new"]) for c in fired[STARTS]["sets"]] == [("starts", starts)]
    assert [(c["field"], c["new"]) for c in fired[DUE]["sets"]] == [("due", due)]
    assert {(c["field"], c["new"]) for c in plan["changes"]} >= {("starts", starts), ("due", due)}


def test_the_dry_run_of_a_reply_shows_the_due_it_would_set_and_keeps_nothing(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    ticket = sla_desk.ticket()
    tickets.correspond(sla_desk.root, ticket.id, MessageIn(body="on it"))
    assert ticket.due is None  # answered
    at(paris(2026, 12, 7, 11, 0))
    plan = preview_message(sla_desk.as_("customer@example.com"), ticket.id, "reply", "and?")
    due = paris(2026, 12, 7, 15, 0).astimezone(UTC).isoformat()
    assert ("due", due) in {(c["field"], c["new"]) for c in plan["changes"]}
    sla_desk.session.refresh(ticket)
    assert ticket.due is None
