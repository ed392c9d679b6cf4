"""Service levels end to end: the real `tessera` program and the real HTTP API, each run at a
chosen moment (`TESSERA_CLOCK`) — a ticket opened on a Friday evening under a 4-business-hour level
is due on Monday morning in `ticket show`, `--json`, the API's ticket JSON; also across the DST
change and a holiday, through the mail gateway, and in TicketSQL searches relative to now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.api import server_output, start_server
from tests.support.cli import Result, assert_one_line_error, run
from tests.support.mail import mail

CALENDAR = """\
name: office
timezone: Europe/Paris
hours: {mon-fri: 09:00-17:00}
holidays: {country: FR}
closed: [2026-12-24]
"""
LEVELS = """\
levels:
  4h: {calendar: office, response: 4h, resolve: 40h, pause_on: [stalled]}
  fast: {calendar: office, starts: created, response: 1h}
queues: {General: 4h}
"""
FRIDAY_EVENING = "2026-12-04T19:30:00+01:00"


def ok(args: list[str], env: dict[str, str], stdin: str | None = None) -> Result:
    result = run(args, env, stdin=stdin)
    assert result.code == 0, f"{args}: {result.err}"
    return result


def at(env: dict[str, str], moment: str) -> dict[str, str]:
    return {**env, "TESSERA_CLOCK": moment}


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    ok(["db", "upgrade"], cli_env)
    ok(["queue", "set", "General", "correspond_address=help@desk.example"], cli_env)
    ok(["calendar", "apply", "-"], cli_env, stdin=CALENDAR)
    ok(["sla", "apply", "-"], cli_env, stdin=LEVELS)
    return cli_env


def create(env: dict[str, str], *extra: str) -> dict:
    args = [
        "ticket",
        "create",
        "--queue",
        "General",
        "--subject",
        "Printer",
        "--requestor",
        "bob@example.com",
    ]
    return json.loads(ok([*args, "--body", "It is on fire", *extra, "--json"], env).out)


def test_friday_evening_ticket_under_four_business_hours_is_due_monday_in_the_cli_and_the_api(
    env: dict[str, str],
) -> None:
    friday = at(env, FRIDAY_EVENING)
    made = create(friday)
    assert (made["sla"], made["starts"], made["due"]) == (
        "4h",
        "2026-12-07T08:00:00Z",
        "2026-12-07T12:00:00Z",
    )
    shown = ok(["ticket", "show", str(made["id"])], friday).out
    assert "due: 2026-12-07 12:00 UTC" in shown
    assert "sla: 4h   4h 00m left (business time)" in shown
    monday = at(env, "2026-12-07T14:15:00+01:00")
    assert (
        "sla: 4h   overdue by 1h 15m (business time)" in ok(["ticket", "show", str(made["id"])], monday).out
    )

    token = json.loads(ok(["user", "token", "add", "root", "--json"], env).out)["token"]
    process, base = start_server(friday)
    try:
        import httpx

        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
            got = api.get(f"/tickets/{made['id']}").json()
            assert (got["sla"], got["due"], got["sla_time_left"]) == ("4h", "2026-12-07T12:00:00Z", 240)
            posted = api.post("/tickets", json={"queue": "General", "subject": "VPN", "body": "down"}).json()
            assert posted["due"] == "2026-12-07T12:00:00Z"
            patched = api.patch(f"/tickets/{posted['id']}", json={"SLA": "fast"})
            assert patched.status_code == 200, patched.text
            assert (patched.json()["sla"], patched.json()["due"]) == ("fast", "2026-12-07T09:00:00Z")
            refused = api.patch(f"/tickets/{posted['id']}", json={"SLA": "gold"})
            assert refused.status_code == 422 and "no service level named 'gold'" in refused.json()["detail"]
            found = api.get("/tickets", params={"query": "SLA = 'fast'"}).json()
            assert [t["id"] for t in found["tickets"]] == [posted["id"]]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in server_output(process)


@pytest.mark.parametrize(
    ("created", "due"),
    [
        ("2026-10-23T16:00:00+02:00", "2026-10-26T11:00:00Z"),  # Paris goes back to UTC+1 on Sunday
        ("2026-12-23T16:00:00+01:00", "2026-12-28T11:00:00Z"),  # 24th: the desk's own; 25th: Christmas
    ],
    ids=["dst-change", "holidays"],
)
def test_the_due_date_skips_holidays_and_keeps_business_hours_across_dst(
    env: dict[str, str], created: str, due: str
) -> None:
    assert create(at(env, created))["due"] == due


def test_a_mailed_reply_from_the_requestor_restarts_the_response_clock(env: dict[str, str]) -> None:
    ok(["right", "grant", "CreateTicket", "role:Everyone"], env)
    ok(["right", "grant", "ReplyToTicket", "role:Requestor"], env)
    made = json.loads(
        ok(["mailgate", "--queue", "General", "--json"], at(env, FRIDAY_EVENING), stdin=mail().decode()).out
    )
    ticket = str(made["ticket"])
    assert json.loads(ok(["ticket", "show", ticket, "--json"], env).out)["due"] == "2026-12-07T12:00:00Z"
    ok(["ticket", "reply", ticket, "--body", "Looking"], at(env, "2026-12-07T10:00:00+01:00"))
    answered = json.loads(ok(["ticket", "show", ticket, "--json"], env).out)
    assert answered["due"] == "2026-12-11T16:00:00Z"  # the resolve deadline: 40 business hours
    again = mail(f"Re: [TKT-{int(ticket):04d}] Printer on fire", body="Still burning")
    ok(["mailgate", "--queue", "General"], at(env, "2026-12-07T11:00:00+01:00"), stdin=again.decode())
    assert json.loads(ok(["ticket", "show", ticket, "--json"], env).out)["due"] == "2026-12-07T14:00:00Z"


def test_ticketsql_finds_overdue_and_soon_due_tickets_relative_to_the_clock(env: dict[str, str]) -> None:
    made = create(at(env, FRIDAY_EVENING))  # due Monday 13:00 Paris (12:00 UTC)

    def found(query: str, moment: str) -> list[int]:
        return [t["id"] for t in json.loads(ok(["search", query, "--json"], at(env, moment)).out)]

    monday_ten = "2026-12-07T10:00:00+01:00"
    assert found("SLA = '4h'", monday_ten) == [made["id"]]
    assert found("Due < 'now'", monday_ten) == []
    assert found("Due < '2 hours from now'", monday_ten) == []
    assert found("Due < '4 hours from now'", monday_ten) == [made["id"]]
    assert found("Due < 'now'", "2026-12-07T13:01:00+01:00") == [made["id"]]


def test_bad_service_levels_and_unknown_levels_are_one_line_errors(env: dict[str, str]) -> None:
    bad = run(["sla", "apply", "-"], env, stdin="levels: {x: {calendar: ofice, response: 4h}}\n")
    assert_one_line_error(bad, "stdin: levels.x.calendar: no calendar named 'ofice' (calendars: office)")
    made = create(at(env, FRIDAY_EVENING))
    assert_one_line_error(
        run(["ticket", "set", str(made["id"]), "SLA=gold"], env), "SLA: no service level named 'gold'"
    )
    listed = ok(["sla", "list"], env).out
    assert "4h     office    business  4h business  40h business  stalled    General" in listed
    exported = ok(["sla", "export"], env).out
    assert ok(["sla", "apply", "-"], env, stdin=exported).out == "unchanged service levels: 4h, fast\n"
