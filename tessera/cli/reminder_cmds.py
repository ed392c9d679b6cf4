"""`tessera ticket reminder`: reminders on a ticket (RT's reminders): add, list, resolve, open."""

from __future__ import annotations

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json

app = typer.Typer(help="Reminders on a ticket: a subject, an owner and a due date.")


def _line(reminder: dict[str, object]) -> str:
    due = str(reminder["due"] or "")[:16].replace("T", " ")
    owner = reminder["owner"] or "Nobody"
    return f"  #{reminder['id']}  [{reminder['status']}]  {reminder['subject']}  owner: {owner}" + (
        f"  due: {due}" if due else ""
    )


@app.command("add")
def add(
    ticket: str = typer.Argument(..., help="Ticket id."),
    subject: str = typer.Option(..., "--subject", "-s", help="What to be reminded of."),
    owner: str | None = typer.Option(
        None, "--owner", help="Whose reminder (default: the ticket's owner, else you; Nobody for none)."
    ),
    due: str | None = typer.Option(None, "--due", help="Due date: 2026-12-01, tomorrow, in 3 days."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a reminder to a ticket."""
    from tessera.core.reminders import add_reminder, list_reminders
    from tessera.core.schemas import parse_datetime

    when = parse_datetime(due, field="due") if due is not None else None
    with acting(user) as ctx:
        reminder = add_reminder(ctx, ticket, subject, owner=owner, due=when)
        if as_json:
            print_json(next(r for r in list_reminders(ctx, ticket) if r["id"] == reminder.id))
            return
        echo(f"reminder #{reminder.id} added: {reminder.subject}")


@app.command("list")
def list_(
    ticket: str = typer.Argument(..., help="Ticket id."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List a ticket's reminders, open and resolved."""
    from tessera.core.reminders import list_reminders

    with acting(user) as ctx:
        found = list_reminders(ctx, ticket)
    if as_json:
        print_json(found)
        return
    if not found:
        echo("no reminders")
    for reminder in found:
        echo(_line(reminder).strip())


def _change(ticket: str, reminder: str, resolve: bool, user: str | None, as_json: bool) -> None:
    from tessera.core.reminders import list_reminders, open_reminder, resolve_reminder

    with acting(user) as ctx:
        txn = (resolve_reminder if resolve else open_reminder)(ctx, ticket, reminder)
        shown = next(r for r in list_reminders(ctx, ticket) if str(r["id"]) == reminder.lstrip("#"))
        if as_json:
            print_json(shown)
            return
        state = f"now {shown['status']}" if txn is not None else f"already {shown['status']}"
        echo(f"reminder #{shown['id']} {state}: {shown['subject']}")


@app.command("resolve")
def resolve(
    ticket: str = typer.Argument(..., help="Ticket id."),
    reminder: str = typer.Argument(..., help="The reminder's number (from `reminder list`)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Resolve a reminder (to the lifecycle's reminder_on_resolve status)."""
    _change(ticket, reminder, True, user, as_json)


@app.command("open")
def open_(
    ticket: str = typer.Argument(..., help="Ticket id."),
    reminder: str = typer.Argument(..., help="The reminder's number."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reopen a reminder (to the lifecycle's reminder_on_open status)."""
    _change(ticket, reminder, False, user, as_json)
