"""`tessera ticket preview`: what the scrips would do for a change, without doing it."""

from __future__ import annotations

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json


def preview(
    ticket: str = typer.Argument(..., help="Ticket id."),
    assignments: list[str] = typer.Argument(
        ..., help="FIELD=VALUE as for `tessera ticket set`: status, owner, queue, priority, cf.NAME, ..."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Dry-run a change: which scrips fire and why, the mail they would send, the fields they change."""
    from tessera.core.tickets import parse_assignments
    from tessera.scrips.preview import preview as run_preview

    changes = parse_assignments(assignments)
    with acting(user) as ctx:
        plan = run_preview(ctx, ticket, changes)
    if as_json:
        print_json(plan)
        return
    echo(f"{plan['ticket']}: dry run, nothing written or sent")
    for change in plan["changes"]:
        who = f" (scrip {change['by_scrip']})" if change["by_scrip"] else ""
        echo(f"  change {change['field']}: {change['old'] or ''} -> {change['new'] or ''}{who}")
    for scrip in plan["scrips"]:
        mark = "fires" if scrip["fires"] else "no"
        echo(f"  scrip {scrip['id']} [{mark}] {scrip['description']}: {scrip['reason']}")
    for message in plan["messages"]:
        echo(f"  mail from scrip {message['scrip']}: {message['subject']}")
        for key in ("to", "cc", "bcc"):
            if message[key]:
                echo(f"    {key}: {', '.join(message[key])}")
