"""`tessera calendar apply|export|list` end to end: the real program, a fresh database per test.

Business calendars are config-as-code exactly like lifecycles: a file (one YAML document per
calendar) is validated whole and applied in one transaction; export gives it back canonically, so
applying an export changes nothing; every refusal is one line naming the place and the problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Result, assert_one_line_error, run

OFFICE = """\
# Paris office: weekdays with a lunch break, French public holidays, the desk's own closures.
name: office
timezone: Europe/Paris
hours:
  mon-thu: [09:00-12:30, 13:30-18:00]
  fri: 09:00-17:00
holidays: {country: FR}
closed: [2026-12-24, 2026-12-31]
---
name: night shift
timezone: America/New_York
hours: {mon-fri: [00:00-06:00, 22:00-24:00]}
holidays: {country: US, subdivision: NY}
"""


def ok(args: list[str], env: dict[str, str], stdin: str | None = None) -> Result:
    result = run(args, env, stdin=stdin)
    assert result.code == 0, f"{args}: {result.err}"
    return result


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    ok(["db", "upgrade"], cli_env)
    return cli_env


def test_calendar_file_applies_lists_and_exports_back_unchanged(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(OFFICE)
    assert ok(["calendar", "apply", str(path)], env).out.splitlines() == [
        "created calendar office",
        "created calendar night shift",
    ]
    listed = {c["name"]: c for c in json.loads(ok(["calendar", "list", "--json"], env).out)}
    assert listed["office"]["hours"] == {"mon-thu": ["09:00-12:30", "13:30-18:00"], "fri": "09:00-17:00"}
    assert listed["office"]["closed"] == ["2026-12-24", "2026-12-31"]
    assert listed["night shift"]["holidays"] == {"country": "US", "subdivision": "NY"}
    table = ok(["calendar", "list"], env).out
    assert "Europe/Paris" in table and "FR +2 own" in table and "US-NY" in table
    exported = ok(["calendar", "export"], env).out
    assert exported.count("---") == 1
    again = ok(["calendar", "apply", "-"], env, stdin=exported).out.splitlines()
    assert again == ["unchanged calendar night shift", "unchanged calendar office"]
    one = json.loads(ok(["calendar", "export", "office", "--json"], env).out)
    assert one["timezone"] == "Europe/Paris"
    one["hours"]["fri"] = "09:00-16:00"
    assert ok(["calendar", "apply", "-"], env, stdin=json.dumps(one)).out == "replaced calendar office\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\ntimezone: Mars/Olympus\nhours: {mon: 09:00-17:00}\n",
            "calendar 'x': timezone: 'Mars/Olympus' is not a time zone",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {mon: [09:00-12:00, 11:30-17:00]}\n",
            "calendar 'x': hours.mon: '09:00-12:00' and '11:30-17:00' overlap",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {tue: 17:00-09:00}\n",
            "calendar 'x': hours.tue: '17:00-09:00' ends before it starts",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {mon-fri: 09:00-17:00, fri: 09:00-12:00}\n",
            "calendar 'x': hours.fri: fri is already given (in 'mon-fri')",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {mon: 09:00-17:00}\nholidays: {country: XX}\n",
            "calendar 'x': holidays.country: 'XX' is not a country the holidays library knows",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {mon: 09:00-17:00}\nclosed: [2026-12-24, 2026-13-01]\n",
            "calendar 'x': closed[1]: '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "name: x\ntimezone: UTC\nhours: {mon: 9-5}\n",
            "calendar 'x': hours.mon: '9-5' is not opening hours as HH:MM-HH:MM",
        ),
    ],
)
def test_bad_calendar_is_refused_with_one_line_naming_the_problem_and_nothing_applied(
    env: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(OFFICE + "---\n" + text)
    assert_one_line_error(run(["calendar", "apply", str(path)], env), f"{path}: {message}")
    assert json.loads(ok(["calendar", "list", "--json"], env).out) == []


def test_applying_calendars_needs_admin_service_levels(env: dict[str, str]) -> None:
    ok(["user", "add", "ann", "--email", "ann@example.com"], env)
    refused = run(["calendar", "apply", "-", "--user", "ann"], env, stdin=OFFICE)
    assert_one_line_error(refused, "ann may not apply business calendars", "AdminServiceLevels")
    ok(["right", "grant", "AdminServiceLevels", "user:ann"], env)
    ok(["calendar", "apply", "-", "--user", "ann"], env, stdin=OFFICE)


def test_exporting_an_unknown_calendar_names_those_there_are(env: dict[str, str]) -> None:
    ok(["calendar", "apply", "-"], env, stdin=OFFICE)
    assert_one_line_error(run(["calendar", "export", "ofice"], env), "no calendar named 'ofice'", "office")
