"""Service levels on tickets, through core (every caller's path), with the clock set explicitly:
Starts and Due at creation, a requestor's reply restarting the response clock, an agent's reply
meeting it, stalled pausing it (the paused time added back), resolving stopping it, a level change
recomputing both; searchable in TicketSQL and shown in the TUI's ticket pane."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tessera.core import grants, sla, tickets
from tessera.core.calendar_store import apply_calendars
from tessera.core.errors import InvalidInput
from tessera.core.listing import ticket_view
from tessera.core.schemas import MessageIn
from tessera.core.search.service import search
from tessera.core.serialize import history, ticket_json
from tessera.core.service_levels import SlaInvalid
from tessera.tui.ticket_pane import render_detail
from tests.support.desk_clock import paris
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS

CALENDAR = """\
name: office
timezone: Europe/Paris
hours: {mon-fri: 09:00-17:00}
holidays: {country: FR}
closed: [2026-12-24]
"""
LEVELS = """\
levels:
  4h:
    calendar: office
    response: 4h
    resolve: 40h
    pause_on: [stalled]
  fast:
    calendar: office
    starts: created
    response: 1h
    keep_in_loop: 8h
  24h-real:
    response: {real: 24h}
queues:
  General: 4h
"""


@pytest.fixture
def sla_desk(desk: Desk) -> Desk:
    apply_calendars(desk.root, CALENDAR)
    sla.apply_service_levels(desk.root, LEVELS)
    desk.agent("alice", *AGENT_RIGHTS)
    for right in ("ShowTicket", "ReplyToTicket"):
        grants.grant(desk.root, right, "role:Requestor")
    return desk


def reply_as_customer(desk: Desk, ticket_id: int, body: str = "any news?") -> None:
    tickets.correspond(desk.as_("customer@example.com"), ticket_id, MessageIn(body=body))


def test_a_ticket_created_friday_evening_under_four_business_hours_is_due_monday(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 4, 19, 30))
    ticket = sla_desk.ticket()
    assert ticket.sla == "4h"
    assert ticket.starts == paris(2026, 12, 7, 9, 0)
    assert ticket.due == paris(2026, 12, 7, 13, 0)
    assert ticket_json(sla_desk.root, ticket)["sla_time_left"] == 240


def test_a_holiday_and_the_desks_own_closed_date_push_the_deadline_out(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 23, 16, 0))  # 1 h left on Wednesday; Thursday closed, Friday Christmas
    assert sla_desk.ticket().due == paris(2026, 12, 28, 12, 0)


def test_the_deadline_keeps_business_hours_across_the_dst_change(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 10, 23, 16, 0))
    due = sla_desk.ticket().due
    assert due == paris(2026, 10, 26, 12, 0)
    assert due is not None and due.astimezone(UTC).hour == 11  # UTC+1 after the change


def test_an_agent_reply_meets_the_response_deadline_and_a_requestor_reply_restarts_it(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))  # Monday
    ticket = sla_desk.ticket()
    assert ticket.due == paris(2026, 12, 7, 13, 0)
    at(paris(2026, 12, 7, 10, 0))
    tickets.correspond(sla_desk.as_("alice"), ticket.id, MessageIn(body="Looking"))
    resolve_by = paris(2026, 12, 11, 17, 0)  # 40 business hours from Monday 09:00
    assert ticket.due == resolve_by
    at(paris(2026, 12, 8, 16, 0))
    reply_as_customer(sla_desk, ticket.id)
    assert ticket.due == paris(2026, 12, 9, 12, 0)  # 1 h Tuesday, 3 h Wednesday
    at(paris(2026, 12, 9, 9, 30))
    reply_as_customer(sla_desk, ticket.id, "hello?")  # still unanswered: counted from the first
    assert ticket.due == paris(2026, 12, 9, 12, 0)
    at(paris(2026, 12, 9, 11, 0))
    tickets.correspond(sla_desk.as_("alice"), ticket.id, MessageIn(body="Fixed"))
    assert ticket.due == resolve_by
    moved = [e for e in history(sla_desk.root, ticket) if e["type"] == "Correspond"]
    assert len(moved) == 4


def test_the_owner_replying_is_never_the_outside_actor(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    ticket = sla_desk.ticket(requestors=["alice@staff.example"], owner="alice")
    at(paris(2026, 12, 7, 10, 0))
    tickets.correspond(sla_desk.as_("alice"), ticket.id, MessageIn(body="noted"))
    assert ticket.due == paris(2026, 12, 11, 17, 0)


def test_stalled_pauses_the_clock_and_the_paused_time_is_added_back(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    ticket = sla_desk.ticket()
    tickets.set_status(sla_desk.root, ticket.id, "open")
    at(paris(2026, 12, 7, 10, 0))
    tickets.set_status(sla_desk.root, ticket.id, "stalled")
    assert ticket.due is None
    at(paris(2026, 12, 8, 10, 0))  # a business day later (8 business hours paused)
    tickets.set_status(sla_desk.root, ticket.id, "open")
    assert ticket.due == paris(2026, 12, 8, 13, 0)


def test_resolving_stops_every_clock_and_reopening_starts_them_again(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    ticket = sla_desk.ticket()
    tickets.set_status(sla_desk.root, ticket.id, "resolved")
    assert ticket.due is None
    at(paris(2026, 12, 7, 11, 0))
    tickets.set_status(sla_desk.root, ticket.id, "open")
    assert ticket.due == paris(2026, 12, 7, 13, 0)


def test_changing_the_level_recomputes_starts_and_due(sla_desk: Desk, at: Callable[[datetime], None]) -> None:
    at(paris(2026, 12, 5, 12, 0))  # Saturday
    ticket = sla_desk.ticket()
    assert ticket.starts == paris(2026, 12, 7, 9, 0)
    at(paris(2026, 12, 5, 13, 0))
    changed = tickets.set_fields(sla_desk.root, ticket.id, {"sla": "fast"})
    assert [(t.field, t.old_value, t.new_value) for t in changed] == [("SLA", "4h", "fast")]
    assert ticket.starts == paris(2026, 12, 5, 12, 0)  # starts: created
    assert ticket.due == paris(2026, 12, 7, 10, 0)
    assert changed[0].data["sla_due"] == paris(2026, 12, 7, 10, 0).astimezone(UTC).isoformat()
    at(paris(2026, 12, 7, 9, 30))
    tickets.correspond(sla_desk.as_("alice"), ticket.id, MessageIn(body="hi"))
    assert ticket.due == paris(2026, 12, 8, 9, 30)  # keep in loop: 8 business hours from the reply
    tickets.set_fields(sla_desk.root, ticket.id, {"sla": "24h-real"})
    assert ticket.due is None  # only a response deadline, and it was met


def test_a_real_time_level_counts_nights_and_weekends(sla_desk: Desk, at: Callable[[datetime], None]) -> None:
    at(paris(2026, 12, 4, 19, 30))
    ticket = sla_desk.ticket(sla="24h-real")
    assert ticket.starts == paris(2026, 12, 4, 19, 30)
    assert ticket.due == paris(2026, 12, 5, 19, 30)


def test_a_queue_without_a_default_level_gives_no_sla_and_an_unknown_level_is_refused(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    ticket = sla_desk.ticket(queue="Network")
    assert ticket.sla is None and ticket.due is None
    with pytest.raises(
        InvalidInput, match=r"SLA: no service level named 'gold' \(levels: 4h, fast, 24h-real\)"
    ):
        tickets.set_fields(sla_desk.root, ticket.id, {"sla": "gold"})
    tickets.set_fields(sla_desk.root, ticket.id, {"sla": "4h"})
    assert ticket.due == paris(2026, 12, 7, 13, 0)


def test_ticketsql_finds_tickets_by_level_and_by_due_relative_to_now(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 7, 9, 0))
    soon = sla_desk.ticket("soon")
    later = sla_desk.ticket("later", sla="fast")
    at(paris(2026, 12, 7, 10, 0))
    sla_desk.ticket("none", queue="Network")
    at(paris(2026, 12, 7, 10, 30))

    def found(query: str) -> set[str]:
        return {t.subject for t in search(sla_desk.root, query)}

    assert found("SLA = '4h'") == {"soon"}
    assert found("SLA = 'FAST'") == {"later"}
    assert found("Due < 'now'") == {"later"}  # due 10:00, soon 13:00
    assert found("Due < '3 hours from now'") == {"later", "soon"}
    assert found("SLA IS NULL") == {"none"}
    with pytest.raises(InvalidInput, match=r"unknown service level '4 h' \(levels: 4h, fast, 24h-real\)"):
        found("SLA = '4 h'")
    assert soon.due and later.due


def test_the_ticket_pane_shows_the_level_and_the_business_time_left(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    at(paris(2026, 12, 4, 19, 30))
    ticket = sla_desk.ticket()
    pane = render_detail(ticket_view(sla_desk.root, ticket.id)).plain
    assert "SLA        4h: 4h 00m left" in pane
    at(paris(2026, 12, 7, 14, 15))
    assert "SLA        4h: overdue by 1h 15m" in render_detail(ticket_view(sla_desk.root, ticket.id)).plain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "levels: {x: {calendar: ofice, response: 4h}}",
            "levels.x.calendar: no calendar named 'ofice' (calendars: office)",
        ),
        ("levels: {x: {response: 4 hours}}", "levels.x.response: '4 hours' is not a duration"),
        ("levels: {x: {response: {busy: 4h}}}", "levels.x.response.busy: unknown key"),
        (
            "levels: {x: {response: 1h, pause_on: [stalld]}}",
            "levels.x.pause_on: 'stalld' is not a status of any lifecycle - did you mean stalled?",
        ),
        ("", "(top level): the file is empty; expected a service-level file (levels and queues)"),
        (
            "levels: {x: {response: 2d}}",
            "levels.x.response: '2d': business time is counted in hours and minutes (16h), not days",
        ),
        ("levels: {x: {starts: later, response: 1h}}", "levels.x.starts: 'later' is not a start rule"),
        ("levels: {x: {calendar: office}}", "levels.x: give at least one deadline"),
        ("levels: {x: {response: 1h}}\nqueues: {Genral: x}", "queues.Genral: no queue named 'Genral'"),
        (
            "levels: {x: {response: 1h}}\nqueues: {General: y}",
            "queues.General: 'y' is not a level (levels: x)",
        ),
    ],
)
def test_a_bad_service_level_file_is_refused_naming_the_place(desk: Desk, text: str, message: str) -> None:
    apply_calendars(desk.root, CALENDAR)
    with pytest.raises(SlaInvalid) as refused:
        sla.apply_service_levels(desk.root, text)
    assert str(refused.value).startswith(message)
    assert sla.load_config(desk.root).levels == {}


def test_real_time_deadlines_may_be_written_in_days(desk: Desk) -> None:
    sla.apply_service_levels(desk.root, "levels: {weekly: {resolve: {real: 7d}, response: {real: 1d12h}}}")
    exported = sla.export_text(desk.root)
    assert "resolve:\n      real: 168h" in exported and "real: 36h" in exported


def test_a_duration_over_the_limit_is_refused_as_too_large_naming_the_limit() -> None:
    """`99999999h` is a duration, only too long (was "not a duration", and a timer's argument of
    many digits was a traceback): SLA files and timer conditions name the limit, 99999h."""
    from tessera.core.service_levels import parse_duration
    from tessera.scrips.conditions import parse_time_argument

    assert parse_duration("99999h", "levels.x.resolve", business=False).days == 4166
    for raw in ("99999999h", "100000h", "9999d", "99999999999999999999999m", 6_000_001):
        with pytest.raises(SlaInvalid, match=r"^levels\.x\.resolve: .* is too large \(at most 99999h\)$"):
            parse_duration(raw, "levels.x.resolve", business=False)
    for argument in ("99999999h", "99999999999999999999d", "resolved for 99999999999999d"):
        name = "InStatus" if argument.startswith("resolved") else "Untouched"
        with pytest.raises(InvalidInput, match=rf"^{name}: '\d+[dh]' is too large \(at most 99999h\)$"):
            parse_time_argument(name, argument)


def test_a_level_tickets_still_have_cannot_be_dropped(sla_desk: Desk, at: Callable[[datetime], None]) -> None:
    at(paris(2026, 12, 7, 9, 0))
    sla_desk.ticket()
    with pytest.raises(SlaInvalid, match="levels: '4h' is dropped but 1 ticket still have it"):
        sla.apply_service_levels(sla_desk.root, "levels: {other: {response: 1h}}")


def test_a_requestors_group_or_a_custom_field_value_chooses_the_level_at_creation(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    from tessera.core import customfields, users

    users.add_group(sla_desk.root, "VIP")
    users.add_user(sla_desk.root, "boss", email="boss@example.com", privileged=False)
    users.set_membership(sla_desk.root, "VIP", "boss", member=True)
    customfields.create_field(sla_desk.root, "Tier", type_="select", values=["Gold", "Bronze"])
    sla.apply_service_levels(
        sla_desk.root,
        LEVELS.replace(
            "  General: 4h\n",
            "  General:\n    default: 24h-real\n    requestor_groups: {VIP: 4h}\n"
            "    custom_field: {name: Tier, values: {Gold: fast}}\n",
        ),
    )
    at(paris(2026, 12, 7, 9, 0))
    assert sla_desk.ticket().sla == "24h-real"
    assert sla_desk.ticket(requestors=["customer@example.com", "boss@example.com"]).sla == "4h"
    assert sla_desk.ticket(requestors=["boss@example.com"], custom_fields={"Tier": "Gold"}).sla == "fast"
    assert sla_desk.ticket(custom_fields={"Tier": "Bronze"}).sla == "24h-real"
    assert sla_desk.ticket(sla="4h", custom_fields={"Tier": "Gold"}).sla == "4h"  # asked for wins
    exported = sla.load_config(sla_desk.root).to_data()["queues"]["General"]
    assert exported == {
        "default": "24h-real",
        "requestor_groups": {"VIP": "4h"},
        "custom_field": {"name": "Tier", "values": {"Gold": "fast"}},
    }
    with pytest.raises(SlaInvalid, match=r"queues\.General\.requestor_groups\.VIPs: no group named 'VIPs'"):
        sla.apply_service_levels(
            sla_desk.root, "levels: {x: {response: 1h}}\nqueues: {General: {requestor_groups: {VIPs: x}}}"
        )


def test_ticket_show_labels_a_levels_time_left_with_the_clock_it_counts(
    sla_desk: Desk, at: Callable[[datetime], None]
) -> None:
    """A level without a calendar (24x7) counts real time, and `ticket show` says so; a level on a
    business calendar says business time (the JSON's sla_clock tells which)."""
    from tessera.cli.ticket_cmds import _sla_state

    at(paris(2026, 12, 4, 19, 30))
    real = ticket_json(sla_desk.root, sla_desk.ticket(sla="24h-real"))
    business = ticket_json(sla_desk.root, sla_desk.ticket())
    assert (real["sla_clock"], business["sla_clock"]) == ("real", "business")
    assert _sla_state(real) == "   24h 00m left (real time)"
    assert _sla_state(business) == "   4h 00m left (business time)"
