"""`tessera calendar list|export|apply`: business calendars as config-as-code (like lifecycles)."""

from __future__ import annotations

import sys

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, read_config_source, table
from tessera.core.business_hours import CalendarInvalid

app = typer.Typer(help="Business calendars: time zone, opening hours, holidays (list, export, apply).")


@app.command("list")
def calendar_list(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List calendars: time zone, opening hours, holidays."""
    from tessera.core import calendar_store

    with acting(user) as ctx:
        found = calendar_store.list_calendars(ctx)
    if as_json:
        print_json([s.calendar.to_dict() for s in found])
        return
    rows = []
    for summary in found:
        data = summary.calendar.to_dict()
        hours = "; ".join(
            f"{k} {v if isinstance(v, str) else ', '.join(v)}" for k, v in data["hours"].items()
        )
        holidays = data.get("holidays", {})
        public = "-".join(filter(None, (holidays.get("country"), holidays.get("subdivision")))) or "-"
        own = len(data.get("closed", []))
        rows.append([data["name"], data["timezone"], hours, public + (f" +{own} own" if own else "")])
    table(rows, ["NAME", "TIME ZONE", "HOURS", "HOLIDAYS"])


@app.command("export")
def calendar_export(
    name: str | None = typer.Argument(None, help="Calendar name; none: every calendar."),
    user: str | None = USER_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Write JSON instead of YAML."),
) -> None:
    """Write calendars' canonical definitions (YAML documents) to standard output; apply takes them back."""
    from tessera.core import calendar_store

    with acting(user) as ctx:
        calendars = calendar_store.export_calendars(ctx, name)
    if as_json:
        data = [c.to_dict() for c in calendars]
        print_json(data[0] if name is not None else data)
    else:
        sys.stdout.write(calendar_store.to_yaml(calendars))


@app.command("apply")
def calendar_apply(
    source: str = typer.Argument(
        ..., metavar="FILE", help="YAML (one document per calendar) or JSON; - reads stdin."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or replace calendars from a file: all checked first, applied atomically (AdminServiceLevels)."""
    text, label = read_config_source(source)
    from tessera.core import calendar_store

    with acting(user) as ctx:
        try:
            done = calendar_store.apply_calendars(ctx, text)
        except CalendarInvalid as exc:
            raise CalendarInvalid(f"{label}: {exc}") from None
    if as_json:
        print_json([{"name": c.name, "result": result} for c, result in done])
    else:
        for calendar, result in done:
            echo(f"{result} calendar {calendar.name}")
