"""Timers, scrips on the clock: a time condition on an ordinary scrip fires once per ticket per
deadline (recorded in the database, so a second sweep, a restarted worker or two workers at once
never fire it twice), every firing is a `Timer` transaction with its scrip trace, and what it
changes and mails goes through core and the outbox to a real SMTP server. Time is driven by the
injected desk clock, across a weekend, a public holiday and a daylight-saving change."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core import grants, sla, tickets
from tessera.core.calendar_store import apply_calendars
from tessera.core.context import Context
from tessera.core.db import Database
from tessera.core.errors import InvalidInput
from tessera.core.ids import display_id
from tessera.core.models import Scrip, ScripRun, Ticket, TimerFiring, Transaction
from tessera.core.reminders import add_reminder
from tessera.core.schemas import MessageIn
from tessera.core.ticket_read import get_ticket
from tessera.mail.delivery import deliver_due
from tessera.scrips.checks import check_draft
from tessera.scrips.editing import set_enabled
from tessera.scrips.timers import parse_moment, preview, sweep, sweep_session
from tests.support.desk_clock import paris
from tests.support.desks import Desk
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env

CALENDAR = "name: office\ntimezone: Europe/Paris\nhours: {mon-fri: 09:00-17:00}\nholidays: {country: FR}\n"
LEVELS = "levels:\n  4h: {calendar: office, response: 4h}\nqueues:\n  General: 4h\n"
ESCALATE = "[Timer] On Overdue Escalate Priority"
NOTIFY = "[Timer] On Overdue Notify Owner and AdminCcs"
DUE_SOON = "[Timer] Due Within 1h Notify Owner and AdminCcs"
REMINDER = "[Timer] On Reminder Due Notify Owner"


def _levels(desk: Desk) -> None:
    apply_calendars(desk.root, CALENDAR)
    sla.apply_service_levels(desk.root, LEVELS)


def set_owner(ctx: Context, ticket_id: int, name: str) -> None:
    tickets.set_fields(ctx, ticket_id, {"owner": name})


def change_status(ctx: Context, ticket_id: int, status: str) -> None:
    tickets.set_fields(ctx, ticket_id, {"status": status})


def _enable(desk: Desk, *descriptions: str) -> None:
    for description in descriptions:
        set_enabled(desk.root, desk.scrip(description).id, True)


def _timer_txns(desk: Desk, ticket_id: int) -> list[Transaction]:
    return list(
        desk.session.scalars(
            select(Transaction)
            .where(Transaction.ticket_id == ticket_id, Transaction.type == "Timer")
            .order_by(Transaction.id)
        )
    )


def _firings(session: Session, ticket_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(TimerFiring).where(TimerFiring.ticket_id == ticket_id)
    )


# -- the done-when: Friday evening, 4 business hours, two workers, real SMTP ----------------------


def test_a_friday_evening_ticket_is_escalated_once_at_its_due_moment_by_two_workers_and_its_owner_mailed(
    committed_desk: Desk, database: Database, at: Callable[[datetime], None]
) -> None:
    desk = committed_desk
    _levels(desk)
    desk.agent("alice", "OwnTicket", "ShowTicket")
    _enable(desk, ESCALATE, NOTIFY)
    at(paris(2027, 1, 8, 19, 30))  # a Friday evening, ahead of the real clock: mail goes at once
    ticket = desk.ticket()
    set_owner(desk.root, ticket.id, "alice")
    assert ticket.due == paris(2027, 1, 11, 13, 0)  # Monday, 4 business hours later
    desk.session.commit()

    at(paris(2027, 1, 11, 12, 59))
    assert sweep(database).fired == []
    at(paris(2027, 1, 11, 13, 0))
    results: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        results.append(len(sweep(database).fired))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) in ([0, 2], [1, 1])  # the two timers, each fired by one worker only
    at(paris(2027, 1, 11, 15, 0))
    assert sweep(database).fired == []  # a restarted worker: recorded, never again

    with database.session() as session:
        fresh = session.get(Ticket, ticket.id)
        assert fresh is not None and fresh.priority == 10
        assert _firings(session, ticket.id) == 2
        escalations = session.scalars(
            select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.field == "Priority")
        ).all()
        assert [(t.old_value, t.new_value) for t in escalations] == [("0", "10")]

    server = SmtpServer(free_port()).start()
    try:
        env = smtp_env(server.port)
        from tessera.mail.delivery import SmtpSettings

        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            deliver_due(database, SmtpSettings.from_env())
        overdue = [r for r in server.received if "Overdue: Printer on fire" in str(r.message["Subject"])]
        assert len(overdue) == 1 and overdue[0].rcpt_tos == ["alice@staff.example"]
        assert "overdue: Due 2027-01-11 12:00 UTC passed" in overdue[0].message.get_content()
    finally:
        server.stop()


def test_a_firing_is_a_timer_transaction_with_its_scrip_trace_and_the_change_it_caused(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    _levels(desk)
    _enable(desk, ESCALATE)
    at(paris(2026, 11, 27, 19, 30))
    ticket = desk.ticket()
    at(paris(2026, 11, 30, 13, 5))
    fired = sweep_session(desk.session).fired
    assert [f["description"] for f in fired] == [ESCALATE]
    (timer,) = _timer_txns(desk, ticket.id)
    assert timer.data["scrip"] == ESCALATE and timer.data["condition"] == "OnOverdue"
    assert timer.new_value == "overdue: Due 2026-11-30 12:00 UTC passed"
    assert timer.actor is not None and timer.actor.name == "timers"
    escalate = desk.scrip(ESCALATE)
    trace = desk.session.scalars(
        select(ScripRun).where(ScripRun.transaction_id == timer.id, ScripRun.scrip_id == escalate.id)
    ).one()
    assert trace.outcome == "committed"
    change = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.field == "Priority")
    ).one()
    assert change.data["scrip_id"] == escalate.id and change.data["cause"] == timer.id


# -- the deadlines: once per Due, and again for a new one ------------------------------------------


def test_due_within_fires_once_before_each_due_and_again_when_due_moves(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    _levels(desk)
    desk.agent("alice", "OwnTicket", "ShowTicket")
    _enable(desk, DUE_SOON)
    at(paris(2026, 11, 30, 9, 0))  # Monday
    ticket = desk.ticket()
    set_owner(desk.root, ticket.id, "alice")
    assert ticket.due == paris(2026, 11, 30, 13, 0)
    at(paris(2026, 11, 30, 11, 59))
    assert sweep_session(desk.session).fired == []  # more than an hour left
    at(paris(2026, 11, 30, 12, 10))
    assert len(sweep_session(desk.session).fired) == 1
    assert sweep_session(desk.session).fired == []
    tickets.correspond(desk.root, ticket.id, MessageIn(body="on it"))  # answered: Due unset
    for right in ("ShowTicket", "ReplyToTicket"):
        grants.grant(desk.root, right, "role:Requestor")
    tickets.correspond(desk.as_("customer@example.com"), ticket.id, MessageIn(body="and?"))
    assert ticket.due == paris(2026, 11, 30, 16, 10)  # a new response deadline
    at(paris(2026, 11, 30, 15, 30))
    assert len(sweep_session(desk.session).fired) == 1
    mails = [m for m in desk.outbox() if "Due soon:" in m.summary["subject"]]
    assert len(mails) == 2 and all(m.recipients == ["alice@staff.example"] for m in mails)


def test_an_inactive_ticket_is_not_overdue(desk: Desk, at: Callable[[datetime], None]) -> None:
    _levels(desk)
    _enable(desk, ESCALATE)
    at(paris(2026, 11, 30, 9, 0))
    ticket = desk.ticket()
    tickets.set_fields(desk.root, ticket.id, {"due": "2026-11-30 10:00"})
    change_status(desk.root, ticket.id, "resolved")
    at(paris(2026, 12, 1, 9, 0))
    assert sweep_session(desk.session).fired == []


# -- untouched across a weekend, a holiday and a daylight-saving change ----------------------------


def test_untouched_counts_business_hours_across_a_weekend_a_holiday_and_the_clocks_going_forward(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    _levels(desk)
    desk.add_scrip(
        "Nudge untouched", condition="Untouched", argument="8h business", action="SetPriority",
        action_argument="+5", template="Blank",
    )  # fmt: skip
    at(paris(2027, 3, 26, 16, 0))  # Friday; Sunday the clocks go forward; Monday is Easter Monday
    ticket = desk.ticket()
    # 1 business hour on Friday, none on the weekend or the holiday, 7 on Tuesday (now UTC+2).
    at(paris(2027, 3, 30, 15, 59))
    assert sweep_session(desk.session).fired == []
    at(paris(2027, 3, 30, 16, 0))
    assert len(sweep_session(desk.session).fired) == 1
    assert ticket.priority == 5
    (timer,) = _timer_txns(desk, ticket.id)
    assert timer.data["deadline"] == paris(2027, 3, 26, 16, 0).astimezone(UTC).isoformat()
    at(paris(2027, 3, 31, 16, 0))
    assert sweep_session(desk.session).fired == []  # once per quiet spell
    tickets.comment(desk.root, ticket.id, MessageIn(body="looking"))  # an agent touches it
    at(paris(2027, 4, 1, 16, 0))
    assert len(sweep_session(desk.session).fired) == 1  # a new spell, 8 business hours on


def test_in_status_fires_once_per_stay(desk: Desk, at: Callable[[datetime], None]) -> None:
    desk.add_scrip(
        "Reopen stalled", condition="InStatus", argument="stalled for 2d", action="SetStatus",
        action_argument="open", template="Blank",
    )  # fmt: skip
    at(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    ticket = desk.ticket()
    change_status(desk.root, ticket.id, "stalled")
    at(datetime(2026, 11, 4, 8, 59, tzinfo=UTC))
    assert sweep_session(desk.session).fired == []
    at(datetime(2026, 11, 4, 9, 0, tzinfo=UTC))
    assert len(sweep_session(desk.session).fired) == 1
    assert get_ticket(desk.root, ticket.id).status == "open"


def test_a_due_reminder_mails_the_owner_once(desk: Desk, at: Callable[[datetime], None]) -> None:
    desk.agent("alice", "OwnTicket", "ShowTicket", "ModifyTicket")
    _enable(desk, REMINDER)
    at(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    ticket = desk.ticket()
    set_owner(desk.root, ticket.id, "alice")
    add_reminder(desk.root, ticket.id, "call the customer back", due=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    at(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    assert len(sweep_session(desk.session).fired) == 1
    assert sweep_session(desk.session).fired == []
    (mail,) = [m for m in desk.outbox() if "Reminder:" in m.summary["subject"]]
    assert mail.summary["subject"].endswith("Reminder: call the customer back")
    assert mail.recipients == ["alice@staff.example"]


# -- two workers, deterministically: one mid-firing, the other skips and then finds it fired -------


def test_a_worker_skips_a_ticket_another_worker_is_firing_and_never_fires_it_again(
    committed_desk: Desk, database: Database, at: Callable[[datetime], None]
) -> None:
    desk = committed_desk
    _levels(desk)
    _enable(desk, ESCALATE)
    at(paris(2026, 11, 27, 19, 30))
    ticket = desk.ticket()
    desk.session.commit()
    at(paris(2026, 11, 30, 14, 0))
    escalate = desk.scrip(ESCALATE).id
    with database.session() as first:  # the first worker, mid-firing: the ticket locked, recorded
        first.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
        first.add(TimerFiring(scrip_id=escalate, ticket_id=ticket.id, deadline=ticket.due))
        first.flush()
        assert sweep(database).fired == []  # the second skips the locked ticket (no wait)
        first.commit()
    assert sweep(database).fired == []  # and after: already fired for that Due
    with database.session() as session:
        assert session.get(Ticket, ticket.id).priority == 0  # type: ignore[union-attr]


# -- the dry-run ------------------------------------------------------------------------------------


def test_the_preview_shows_what_each_timer_would_do_at_a_moment_and_changes_nothing(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    _levels(desk)
    desk.agent("alice", "OwnTicket", "ShowTicket")
    _enable(desk, ESCALATE, NOTIFY)
    at(paris(2026, 11, 27, 19, 30))
    ticket = desk.ticket()
    set_owner(desk.root, ticket.id, "alice")
    before = desk.session.scalar(select(func.count()).select_from(Transaction))
    at(paris(2026, 11, 27, 20, 0))  # now: nothing due yet; the preview looks at Monday
    result = preview(desk.root, paris(2026, 11, 30, 13, 0))
    by_name = {t["description"]: t for t in result["timers"]}
    (plan,) = by_name[ESCALATE]["tickets"]
    assert plan["ticket"] == ticket.display_id
    assert {(c["field"], c["old"], c["new"]) for c in plan["changes"]} >= {("priority", "0", "10")}
    (notify,) = by_name[NOTIFY]["tickets"]
    assert [(m["subject"], m["to"]) for m in notify["messages"]] == [
        (f"[{ticket.display_id}] Overdue: Printer on fire", ["alice@staff.example"])
    ]
    assert preview(desk.root, paris(2026, 11, 30, 12, 0))["timers"][0]["tickets"] == []
    assert desk.session.scalar(select(func.count()).select_from(Transaction)) == before
    assert _firings(desk.session, ticket.id) == 0 and get_ticket(desk.root, ticket.id).priority == 0


def test_the_scrip_editors_dry_run_tries_a_draft_timer_at_a_moment_and_keeps_nothing(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    from tessera.tui.admin.scrip_ops import dry_run

    _levels(desk)
    at(paris(2026, 11, 27, 19, 30))
    ticket = desk.ticket()
    draft = {
        "description": "Escalate late ones",
        "stage": "TransactionCreate",
        "order": 0,
        "enabled": True,
        "condition": {"name": "OnOverdue", "argument": ""},
        "action": {"name": "SetPriority", "argument": "+20"},
        "template": "",
    }
    before = desk.session.scalar(select(func.count()).select_from(Transaction))
    late = dry_run(desk.root, draft, None, str(ticket.id), {"at": "2026-11-30 12:30"}, None)
    assert late["fires"] and late["trigger"] == "the clock at 2026-11-30 12:30 UTC"
    assert [r["transaction_type"] for r in late["runs"] if r["fires"]] == ["Timer"]
    assert [(c["field"], c["old"], c["new"]) for c in late["runs"][0]["changes"]] == [("priority", "0", "20")]
    early = dry_run(desk.root, draft, None, str(ticket.id), {"at": "2026-11-30 11:30"}, None)
    assert not early["fires"]
    assert "OnOverdue is not due on TKT-" in " ".join(early["notes"])
    with pytest.raises(InvalidInput) as caught:
        dry_run(
            desk.root, {**draft, "condition": {"name": "OnCreate"}}, None, str(ticket.id), {"at": "now"}, None
        )
    assert caught.value.message.startswith("at: a moment is for a timer")
    assert desk.session.scalar(select(func.count()).select_from(Transaction)) == before


def test_a_moment_that_does_not_read_is_one_line_naming_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_moment("christmas eve")
    assert caught.value.message.startswith("--at: cannot read 'christmas eve' as a moment")
    assert parse_moment("2026-12-24 09:00") == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    assert parse_moment("2026-12-24T09:00+01:00") == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)


def test_a_time_condition_argument_that_does_not_read_is_refused_with_the_reason() -> None:
    def problems(condition: str, argument: str) -> list[str]:
        spec = {
            "description": "t",
            "condition": {"name": condition, "argument": argument},
            "action": {"name": "SetPriority", "argument": "+1"},
        }
        return [p.message for p in check_draft(spec) if p.field == "condition"]

    assert problems("Untouched", "8h business") == []
    assert problems("InStatus", "resolved for 7d") == []
    assert problems("Untouched", "soon") == [
        "Untouched: cannot read 'soon' as a duration (e.g. 8h business, 2d)"
    ]
    assert problems("DueWithin", "") == ["DueWithin needs how long before Due (e.g. 1h, 30m)"]
    assert problems("OnOverdue", "1h") == ["OnOverdue takes no argument (got '1h')"]
    assert problems("Untouched", "2d business") == [
        "Untouched: business time is counted in hours and minutes (16h business), not days"
    ]


def test_the_shipped_timers_are_there_and_disabled(desk: Desk) -> None:
    shipped = desk.session.scalars(select(Scrip).where(Scrip.description.like("[Timer]%"))).all()
    assert {s.description for s in shipped} >= {ESCALATE, NOTIFY, DUE_SOON, REMINDER}
    assert not any(s.enabled for s in shipped)


def test_the_previews_text_names_each_skipped_scrip_and_reason_once_per_timer(
    desk: Desk, at: Callable[[datetime], None]
) -> None:
    """`tessera timers preview`: a scrip the timer's change would not run (the same reason on every
    ticket) is one line under the timer naming its tickets, not a line per ticket and transaction."""
    from tessera.cli.timer_cmds import preview_lines

    _levels(desk)
    _enable(desk, ESCALATE)
    at(paris(2026, 11, 27, 19, 30))
    made = [desk.ticket(subject=f"Printer {n}") for n in range(4)]
    lines = preview_lines(preview(desk.root, paris(2026, 11, 30, 13, 0)))
    assert sum(line.startswith("    TKT-") for line in lines) == len(made)
    skipped = [line for line in lines if line.startswith("    scrip ")]
    assert skipped and len(skipped) == len(set(skipped))  # each distinct reason once
    assert all(line.endswith("(4 tickets)") for line in skipped), skipped


# -- the real program: one run of each command's contract -------------------------------------------


@pytest.fixture
def overdue_desk(committed_desk: Desk, at: Callable[[datetime], None]) -> int:
    """A committed desk with the escalation timer on and a ticket overdue since Monday 13:00."""
    _levels(committed_desk)
    _enable(committed_desk, ESCALATE)
    at(paris(2026, 11, 27, 19, 30))
    ticket = committed_desk.ticket()
    committed_desk.session.commit()
    return ticket.id


def test_worker_timers_once_fires_what_is_due_at_the_desk_clock_and_reports_it(
    overdue_desk: int, cli_env: dict[str, str], database: Database
) -> None:
    from tests.support.cli import run

    env = {**cli_env, "TESSERA_CLOCK": "2026-11-30T13:00:00+01:00"}
    result = run(["worker", "--timers-once", "--json"], env)
    assert result.code == 0, result.err
    fired = json.loads(result.out)["timers"]["fired"]
    assert [(f["ticket"], f["description"]) for f in fired] == [(display_id(overdue_desk), ESCALATE)]
    with database.session() as session:  # recorded: a second sweep (tested in-process) fires nothing
        assert _firings(session, overdue_desk) == 1


def test_the_workers_timer_loop_sweeps_until_told_to_stop(
    overdue_desk: int, database: Database, at: Callable[[datetime], None]
) -> None:
    from tessera.scrips.timers import SweepResult, run_timers

    at(paris(2026, 11, 30, 13, 0))
    stop = threading.Event()
    reports: list[SweepResult] = []
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the loop's pause, counted instead of slept
        waits.append(seconds)
        if len(waits) == 2:
            stop.set()

    run_timers(database, every=30.0, should_stop=stop.is_set, wait=wait, report=reports.append)
    assert waits == [30.0, 30.0] and [len(r.fired) for r in reports] == [1]  # fired once, then idle


def test_timers_preview_lists_what_would_fire_at_a_moment_and_a_bad_moment_is_one_line(
    overdue_desk: int, cli_env: dict[str, str]
) -> None:
    from tests.support.cli import assert_one_line_error, run

    shown = run(["--user", "root", "timers", "preview", "--at", "2026-11-30 13:00", "--json"], cli_env)
    assert shown.code == 0, shown.err
    (timer,) = json.loads(shown.out)["timers"]
    assert [p["ticket"] for p in timer["tickets"]] == [display_id(overdue_desk)]
    assert ("priority", "0", "10") in {
        (c["field"], c["old"], c["new"]) for c in timer["tickets"][0]["changes"]
    }
    bad = run(["--user", "root", "timers", "preview", "--at", "next tuesday-ish"], cli_env)
    assert_one_line_error(bad, "--at: cannot read 'next tuesday-ish' as a moment")
