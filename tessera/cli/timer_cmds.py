"""`tessera timers`: the timers (scrips on the clock) and what they would do at a moment."""

from __future__ import annotations

from typing import Any

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json

SKIPS_NAMED = 3  # a skipped scrip's tickets are named up to this many, else counted

app = typer.Typer(help="Timers: scrips with a time condition (overdue, due within, untouched, ...).")


def _plan_lines(plan: dict[str, Any]) -> list[str]:
    lines = []
    for deadline in plan.get("deadlines", []):
        lines.append(f"    {plan['ticket']}: {deadline['reason']}")
    for change in plan["changes"]:
        if change["type"] == "Timer":
            continue
        lines.append(f"      would change {change['field']}: {change['old'] or ''} -> {change['new'] or ''}")
    names = {s["id"]: s["description"] for s in plan["scrips"]}
    for message in plan["messages"]:
        to = ", ".join([*message["to"], *message["cc"], *message["bcc"]]) or "nobody"
        lines.append(
            f"      would mail ({names.get(message['scrip'], 'a scrip')}): {message['subject']} -> {to}"
        )
    return lines


def _skips(plan: dict[str, Any]) -> set[tuple[int, str, str]]:
    """The scrips a ticket's plan did not run, and why: (id, description, reason), each once."""
    return {
        (scrip["id"], scrip["description"], scrip["reason"])
        for scrip in plan["scrips"]
        if not scrip["fires"] and scrip["outcome"] not in ("condition false",)
    }


def preview_lines(result: dict[str, Any]) -> list[str]:
    """The preview as text: each timer's tickets and what it would do on each; the scrips it would
    not run, each distinct reason once under its timer, with the tickets it concerns (or how many)."""
    lines = [f"timers at {result['at']}: dry run, nothing written or sent"]
    if not result["timers"] and not result["errors"]:
        lines.append(
            "  no enabled timers (scrips with a time condition; the shipped ones are disabled:"
            " `tessera scrip list`, then `tessera scrip enable ID`)"
        )
    for timer in result["timers"]:
        count = len(timer["tickets"])
        more = "+" if timer["more"] else ""
        lines.append(
            f"  scrip {timer['timer']} {timer['description']} ({timer['condition']}): {count}{more} ticket(s)"
        )
        skipped: dict[tuple[int, str, str], list[str]] = {}
        for plan in timer["tickets"]:
            lines.extend(_plan_lines(plan))
            for skip in sorted(_skips(plan)):
                skipped.setdefault(skip, []).append(plan["ticket"])
        for (scrip_id, description, reason), on in skipped.items():
            which = ", ".join(on) if len(on) <= SKIPS_NAMED else f"{len(on)} tickets"
            lines.append(f"    scrip {scrip_id} {description}: {reason} ({which})")
    for error in result["errors"]:
        lines.append(f"  scrip {error['timer']} {error['description']}: skipped: {error['error']}")
    return lines


@app.command("preview")
def preview(
    at: str | None = typer.Option(
        None, "--at", help="The moment: 2026-12-24 09:00 (UTC), 2026-12-24T09:00+01:00, '2 hours from now'."
    ),
    scrip: int | None = typer.Option(None, "--scrip", help="Only this scrip (enabled or not)."),
    limit: int = typer.Option(50, "--limit", min=1, help="Tickets shown per timer (the rest are counted)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Dry-run the timers: which tickets each would fire on at that moment and what it would do
    (the scrip dry-run's plan); nothing is written or sent."""
    from tessera.scrips.timers import parse_moment
    from tessera.scrips.timers import preview as run_preview

    with acting(user) as ctx:
        moment = parse_moment(at) if at is not None else None
        result = run_preview(ctx, moment, scrip_id=scrip, limit=limit)
    if as_json:
        print_json(result)
        return
    for line in preview_lines(result):
        echo(line)
