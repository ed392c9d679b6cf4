"""`tessera ticket`: create, show and change tickets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, read_attachments, read_body
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.hostile_text import clean_line

if TYPE_CHECKING:
    from tessera.core.context import Context
    from tessera.core.schemas import MessageIn

# Core is imported inside each command: `tessera --help` and friends start without loading it.

app = typer.Typer(
    help="Tickets: create, show, reply, comment, change fields, owners, watchers, links, merge."
)


def _show(ctx: Context, ref: str | int, as_json: bool, with_history: bool = False) -> None:
    from tessera.core import tickets
    from tessera.core.serialize import history, ticket_json

    ticket = tickets.get_ticket(ctx, ref)
    data = ticket_json(ctx, ticket)
    if with_history:
        data["history"] = history(ctx, ticket)
    if as_json:
        print_json(data)
        return
    _print_ticket(data)


def _when(iso: str) -> str:
    """ISO time to the minute, for people (--json keeps the full value)."""
    return iso[:16].replace("T", " ") + (" UTC" if iso.endswith(("Z", "+00:00")) else "")


def _shown_value(value: str | None, field: str | None) -> str:
    """A change's old or new value for people: a time field's (Due, Starts..., kept as ISO text) as
    `_when` shows every other time, anything else as it is."""
    from tessera.core.json_time import TIME_FIELDS, json_times

    if not value:
        return ""
    return _when(json_times(value)) if field in TIME_FIELDS and value[:4].isdigit() else value


def business_minutes(minutes: int) -> str:
    """`2h 05m`, `45m`; overdue is the caller's word."""
    hours, rest = divmod(abs(minutes), 60)
    return f"{hours}h {rest:02d}m" if hours else f"{rest}m"


def _sla_state(data: dict[str, Any]) -> str:
    left = data.get("sla_time_left")
    if data.get("due") is None or left is None:
        return "   (no deadline running)"
    counted = "real time" if data.get("sla_clock") == "real" else "business time"
    if left < 0:
        return f"   overdue by {business_minutes(left)} ({counted})"
    return f"   {business_minutes(left)} left ({counted})"


def _print_ticket(data: dict[str, Any]) -> None:
    echo(f"{data['display_id']}  {data['subject']}")
    echo(
        f"  queue: {data['queue']}   status: {data['status']}   owner: {data['owner'] or 'Nobody'}   "
        f"priority: {data['priority']}"
    )
    for label, key in (("requestors", "requestors"), ("cc", "cc"), ("admincc", "admincc")):
        if data[key]:
            echo(f"  {label}: {', '.join(data[key])}")
    for label in ("created", "updated", "started", "resolved", "due"):
        if data[label]:
            echo(f"  {label}: {_when(data[label])}")
    if data.get("sla"):
        echo(f"  sla: {data['sla']}{_sla_state(data)}")
    for name, value in data["custom_fields"].items():
        shown = ", ".join(value) if isinstance(value, list) else (value or "")
        echo(clean_line(f"  cf.{name}: {shown}"))  # one line: a value's line break forged the next
    for kind, ids in data["links"].items():
        if ids:
            echo(f"  {kind.replace('_', ' ')}: {', '.join(ids)}")
    if data["merged_from"]:
        echo(f"  merged from: {', '.join(data['merged_from'])}")
    for reminder in data.get("reminders") or []:
        due = f"  due {_when(reminder['due'])}" if reminder["due"] else ""
        echo(
            f"  reminder #{reminder['id']} [{reminder['status']}] {reminder['subject']}"
            f" (owner {reminder['owner'] or 'Nobody'}{due})"
        )
    for txn in data.get("history", []):
        line = f"  [{_when(txn['created'])}] {txn['actor'] or 'system'}: {txn['type']}"
        if txn["field"] and txn["field"] != txn["type"]:
            line += f" {txn['field']}"
        if txn["old"] is not None or txn["new"] is not None:
            line += f" {_shown_value(txn['old'], txn['field'])} -> {_shown_value(txn['new'], txn['field'])}"
        echo(clean_line(line))
        message = txn.get("message")
        if message and message.get("content"):
            for body_line in message["content"].splitlines():
                echo(f"      {body_line}")
        if message and message.get("attachments"):
            for part in message["attachments"]:
                echo(f"      [attachment] {part['filename']} ({part['content_type']}, {part['size']} bytes)")
        if txn["type"] in ("Forward Transaction", "Forward Ticket"):
            sent = txn.get("data") or {}
            people = [*sent.get("to", []), *sent.get("cc", []), *sent.get("bcc", [])]
            echo(f"      forwarded to {', '.join(people)}")
        if txn["type"] == "DeliveryFailed":
            for refused in (txn.get("data") or {}).get("refused") or []:
                echo(f"      !! not delivered to {refused['address']}: {refused.get('reply') or 'refused'}")
        for mail in txn.get("outgoing") or []:
            echo(f"      mail #{mail['id']} {mail['state']}: {mail['subject'] or '(no subject)'}")
            for rcpt in mail["recipients"]:
                echo(f"        {rcpt['address']}  {_recipient_state(rcpt)}")


def _recipient_state(rcpt: dict[str, Any]) -> str:
    """accepted; refused: 550 ...; deferred (attempt 2, next 12:34 UTC): 451 ...; queued."""
    state = str(rcpt["state"])
    if state == "deferred" and rcpt.get("next_attempt"):
        state += f" (attempt {rcpt['attempts']}, next {_when(rcpt['next_attempt'])})"
    if state != "accepted" and rcpt.get("reply"):
        state += f": {rcpt['reply']}"
    return state


def _custom_fields(pairs: list[str] | None) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--cf expects NAME=VALUE, got {pair!r}")
        name = name.strip()
        if name in out:  # repeated --cf for a multiple-value field
            previous = out[name]
            out[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            out[name] = value
    return out


@app.command("create")
def create(
    queue: str = typer.Option(..., "--queue", "-q", help="Queue name."),
    subject: str = typer.Option(..., "--subject", "-s", help="Subject line."),
    requestor: list[str] | None = typer.Option(
        None, "--requestor", "-r", help="Requestor: email or user name (repeatable)."
    ),
    cc: list[str] | None = typer.Option(None, "--cc", help="Cc: email or user name (repeatable)."),
    admincc: list[str] | None = typer.Option(
        None, "--admincc", help="AdminCc: email or user name (repeatable)."
    ),
    body: str | None = typer.Option(None, "--body", "-b", help="First message; '-' reads standard input."),
    # Read as text so a bad number is a one-line error like every other field's.
    priority: str | None = typer.Option(None, "--priority", help="Priority (a whole number)."),
    owner: str | None = typer.Option(None, "--owner", help="Owner's user name."),
    status: str | None = typer.Option(
        None, "--status", help="Initial status (default: the lifecycle's on_create)."
    ),
    due: str | None = typer.Option(None, "--due", help="Due date: 2026-12-01, tomorrow, in 3 days."),
    sla: str | None = typer.Option(None, "--sla", help="Service level (default: the queue's)."),
    cf: list[str] | None = typer.Option(None, "--cf", help="Custom field NAME=VALUE (repeatable)."),
    attach: list[Path] | None = typer.Option(None, "--attach", help="Attach a file (repeatable)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a ticket."""
    from pydantic import ValidationError

    from tessera.core import tickets
    from tessera.core.schemas import MessageIn, TicketCreate, parse_datetime, parse_int, pydantic_message
    from tessera.core.serialize import ticket_json

    try:
        data = TicketCreate(
            queue=queue,
            subject=subject,
            requestors=requestor or [],
            cc=cc or [],
            admincc=admincc or [],
            owner=owner,
            status=status,
            priority=parse_int(priority, field="priority") if priority is not None else None,
            due=parse_datetime(due, field="due") if due else None,
            sla=sla,
            custom_fields=_custom_fields(cf),
            message=MessageIn(body=read_body(body), attachments=read_attachments(attach)),
        )
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None
    with acting(user) as ctx:
        ticket = tickets.create_ticket(ctx, data)
        if as_json:
            print_json(ticket_json(ctx, ticket))
        else:
            echo(f"created {ticket.display_id} in {ticket.queue.name} ({ticket.status})")


@app.command("show")
def show(
    ticket: str = typer.Argument(..., help="Ticket id: 42 or TKT-0042."),
    with_history: bool = typer.Option(False, "--history", help="Include the full history."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a ticket (with --history, every transaction and message)."""
    with acting(user) as ctx:
        _show(ctx, ticket, as_json, with_history)


def _message(
    body: str | None,
    attach: list[Path] | None,
    time_taken: int,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    squelch: list[str] | None = None,
) -> MessageIn:
    from pydantic import ValidationError

    from tessera.core.schemas import MessageIn, pydantic_message

    if body is None and not attach:
        raise InvalidInput("no message: give it with --body TEXT, or --body - to read standard input")
    try:
        return MessageIn(
            body=read_body(body),
            attachments=read_attachments(attach),
            time_taken=time_taken,
            cc=cc or [],
            bcc=bcc or [],
            squelch=squelch or [],
        )
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


BODY_OPTION = typer.Option(None, "--body", "-b", help="Message text; '-' reads standard input.")
ATTACH_OPTION = typer.Option(None, "--attach", help="Attach a file (repeatable).")
TIME_OPTION = typer.Option(0, "--time-taken", help="Minutes worked, added to time worked.")
VERSION_OPTION = typer.Option(None, "--if-version", help="Refuse if the ticket changed since this version.")
ONCE_CC_OPTION = typer.Option(None, "--cc", help="Also send this message to ADDRESS, once (repeatable).")
ONCE_BCC_OPTION = typer.Option(
    None, "--bcc", help="Also send this message to ADDRESS in Bcc, once (repeatable)."
)
SQUELCH_OPTION = typer.Option(
    None, "--squelch", help="Send this message's notifications not to ADDRESS (repeatable)."
)
FORCE_OPTION = typer.Option(
    False, "--force", help="Resolve past unresolved dependencies (needs the ForceStatus right)."
)


def _post(
    kind: str,
    ticket: str,
    body: str | None,
    attach: list[Path] | None,
    time_taken: int,
    version: int | None,
    user: str | None,
    as_json: bool,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    squelch: list[str] | None = None,
) -> None:
    """A reply or a comment: the same input, a different core operation."""
    from tessera.core import tickets

    operation, verb = (tickets.correspond, "replied") if kind == "reply" else (tickets.comment, "commented")
    message = _message(body, attach, time_taken, cc, bcc, squelch)
    with acting(user) as ctx:
        txn = operation(ctx, ticket, message, expected_version=version)
        _done(ctx, txn.ticket_id, as_json, f"{verb} on {_id(txn.ticket_id)} (transaction {txn.id})")


@app.command("reply")
def reply(
    ticket: str = typer.Argument(..., help="Ticket id."),
    body: str | None = BODY_OPTION,
    attach: list[Path] | None = ATTACH_OPTION,
    time_taken: int = TIME_OPTION,
    version: int | None = VERSION_OPTION,
    cc: list[str] | None = ONCE_CC_OPTION,
    bcc: list[str] | None = ONCE_BCC_OPTION,
    squelch: list[str] | None = SQUELCH_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reply to the requestors (correspondence)."""
    _post("reply", ticket, body, attach, time_taken, version, user, as_json, cc, bcc, squelch)


@app.command("comment")
def comment(
    ticket: str = typer.Argument(..., help="Ticket id."),
    body: str | None = BODY_OPTION,
    attach: list[Path] | None = ATTACH_OPTION,
    time_taken: int = TIME_OPTION,
    version: int | None = VERSION_OPTION,
    cc: list[str] | None = ONCE_CC_OPTION,
    bcc: list[str] | None = ONCE_BCC_OPTION,
    squelch: list[str] | None = SQUELCH_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a private comment (staff only)."""
    _post("comment", ticket, body, attach, time_taken, version, user, as_json, cc, bcc, squelch)


@app.command("forward")
def forward(
    ticket: str = typer.Argument(..., help="Ticket id."),
    to: list[str] = typer.Option(..., "--to", help="Forward to ADDRESS (repeatable)."),
    transaction: int | None = typer.Option(
        None, "--transaction", help="The message to forward (a transaction id); without it, the whole ticket."
    ),
    body: str | None = typer.Option(
        None, "--body", "-b", help="A note above what is forwarded; '-' reads standard input."
    ),
    cc: list[str] | None = typer.Option(None, "--cc", help="Copy the forward to ADDRESS (repeatable)."),
    bcc: list[str] | None = typer.Option(None, "--bcc", help="Bcc the forward to ADDRESS (repeatable)."),
    version: int | None = VERSION_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Forward a message of the ticket, or the whole ticket, to people outside it (RT's Forward)."""
    from pydantic import ValidationError

    from tessera.core.forwarding import forward as forward_ticket
    from tessera.core.schemas import ForwardIn, pydantic_message

    try:
        data = ForwardIn(to=to, cc=cc or [], bcc=bcc or [], body=read_body(body), transaction=transaction)
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None
    with acting(user) as ctx:
        txn = forward_ticket(ctx, ticket, data, expected_version=version)
        shown = _id(txn.ticket_id)
        what = f"message #{transaction} of {shown}" if transaction is not None else shown
        _done(ctx, txn.ticket_id, as_json, f"forwarded {what} to {', '.join(data.to)} (transaction {txn.id})")


def _id(ref: str | int) -> str:
    """A ticket as every other line names it (`TKT-0042`), however it was typed (`42`, `#42`)."""
    from tessera.core.ids import display_id
    from tessera.core.ticket_read import parse_ref

    return display_id(parse_ref(ref))


def _done(ctx: Context, ref: str | int, as_json: bool, text: str) -> None:
    """The answer to a change that committed: the ticket's JSON, or `text`. When the change (or a
    scrip it ran) took the ticket out of the actor's sight, it still says the change was made
    (exit 0): `--json` prints `{id, display_id, visible: false, note}`, the text that note."""
    from tessera.core.serialize import changed_ticket_json
    from tessera.core.ticket_read import parse_ref

    if as_json:
        print_json(changed_ticket_json(ctx, parse_ref(ref))[0])
        return
    echo(text)
    _say_if_out_of_sight(ctx, parse_ref(ref))


def _say_if_out_of_sight(ctx: Context, ticket_id: int) -> None:
    from tessera.core import tickets
    from tessera.core.serialize import out_of_sight_note

    try:
        tickets.get_ticket(ctx, ticket_id)
    except NotFound:
        echo(out_of_sight_note(ticket_id))


@app.command("set")
def set_(
    ticket: str = typer.Argument(..., help="Ticket id."),
    assignments: list[str] = typer.Argument(
        ...,
        help="FIELD=VALUE: status, owner, queue, subject, priority, due, starts, time_worked, cf.NAME;"
        " numbers also FIELD+=N and FIELD-=N (added under the ticket's lock: safe to run at once).",
    ),
    version: int | None = VERSION_OPTION,
    force: bool = FORCE_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change fields, all at once or none (status obeys the queue's lifecycle)."""
    from tessera.core import tickets

    changes = tickets.parse_assignments(assignments)
    with acting(user) as ctx:
        txns = tickets.set_fields(ctx, ticket, changes, expected_version=version, force=force)
        if as_json:
            _done(ctx, txns[0].ticket_id if txns else ticket, True, "")
            return
        if not txns:
            echo(f"{tickets.get_ticket(ctx, ticket).display_id}: nothing to change")
            return
        shown = _id(txns[0].ticket_id)  # read again, a ticket moved out of sight is "no ticket"
        for txn in txns:
            old, new = _shown_value(txn.old_value, txn.field), _shown_value(txn.new_value, txn.field)
            echo(clean_line(f"{shown}: {txn.field or txn.type} {old} -> {new}").rstrip())
        _say_if_out_of_sight(ctx, txns[0].ticket_id)


@app.command("action")
def action(
    ticket: str = typer.Argument(..., help="Ticket id."),
    name: str = typer.Argument(..., help="The lifecycle action's label (Resolve, Stall, Re-open...)."),
    body: str | None = BODY_OPTION,
    attach: list[Path] | None = ATTACH_OPTION,
    time_taken: int = TIME_OPTION,
    as_reply: bool = typer.Option(False, "--reply", help="Send the message as a reply."),
    as_comment: bool = typer.Option(False, "--comment", help="Record the message as a comment."),
    force: bool = FORCE_OPTION,
    version: int | None = VERSION_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a lifecycle action: its message (the action's update: a reply or a comment) and its
    status change, in one transaction, as RT's action menu does."""
    from tessera.core.lifecycle_actions import run_action

    if as_reply and as_comment:
        raise InvalidInput("give --reply or --comment, not both")
    update: Literal["reply", "comment"] | None = "reply" if as_reply else "comment" if as_comment else None
    message = _message(body, attach, time_taken) if body is not None or attach else None
    with acting(user) as ctx:
        done = run_action(ctx, ticket, name, message, update=update, force=force, expected_version=version)
        shown = done.ticket.display_id
        lines = []
        if done.message is not None:
            lines.append(f"{shown}: {done.message.type.lower()} recorded (transaction {done.message.id})")
        if done.status is not None:
            lines.append(
                f"{shown}: {done.action.label}: status {done.status.old_value} -> {done.status.new_value}"
            )
        else:
            lines.append(f"{shown}: {done.action.label}: already {done.action.to}")
        _done(ctx, done.ticket.id, as_json, "\n".join(lines))


def _owner_command(fn_name: str, verb: str) -> Callable[..., None]:
    def command(
        ticket: str = typer.Argument(..., help="Ticket id."),
        user: str | None = USER_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        from tessera.core import ownership
        from tessera.core.errors import InvalidInput

        with acting(user) as ctx:
            try:
                txn = getattr(ownership, fn_name)(ctx, ticket)
            except ownership.OwnedBySomeoneElse as exc:  # e.g. the loser of a race to take it
                raise InvalidInput(f"{exc.message}: tessera ticket steal {exc.display_id}") from None
            _done(ctx, txn.ticket_id, as_json, f"{verb} {_id(txn.ticket_id)}")

    command.__doc__ = {
        "take": "Take an unowned ticket.",
        "steal": "Take a ticket someone else owns (needs StealTicket).",
        "untake": "Give up a ticket you own (back to Nobody).",
    }[fn_name]
    return command


app.command("take")(_owner_command("take", "took"))
app.command("steal")(_owner_command("steal", "stole"))
app.command("untake")(_owner_command("untake", "released"))


@app.command("give")
def give(
    ticket: str = typer.Argument(..., help="Ticket id."),
    to: str = typer.Argument(..., help="User name, or Nobody."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Give a ticket to someone (RT's rules decide whether you may)."""
    from tessera.core import ownership, tickets

    with acting(user) as ctx:
        txn = ownership.give(ctx, ticket, to)
        ticket_id = txn.ticket_id if txn is not None else tickets.get_ticket(ctx, ticket).id
        _done(ctx, ticket_id, as_json, f"gave {_id(ticket_id)} to {to}")


watcher_app = typer.Typer(help="Watchers: Requestor, Cc and AdminCc of a ticket (a group: group:NAME).")
app.add_typer(watcher_app, name="watcher")
app.add_typer(watcher_app, name="watchers", hidden=True)  # the plural works too


@watcher_app.command("add")
def watcher_add(
    ticket: str = typer.Argument(..., help="Ticket id."),
    role: str = typer.Argument(..., help="Requestor, Cc or AdminCc."),
    who: str = typer.Argument(..., help="User name, email address, or group:NAME (Cc or AdminCc)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a watcher (an unknown address becomes a new requestor-type user)."""
    from tessera.core import watchers

    with acting(user) as ctx:
        txn = watchers.add_watcher(ctx, ticket, role, who)
        role = watchers.canonical_watcher_role(role)
        _done(
            ctx,
            txn.ticket_id if txn is not None else ticket,
            as_json,
            f"added {who} as {role}" if txn else f"{who} already is {watchers.a_role(role)}",
        )


@watcher_app.command("remove")
def watcher_remove(
    ticket: str = typer.Argument(..., help="Ticket id."),
    role: str = typer.Argument(..., help="Requestor, Cc or AdminCc."),
    who: str = typer.Argument(..., help="User name, email address, or group:NAME (Cc or AdminCc)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a watcher."""
    from tessera.core import watchers

    with acting(user) as ctx:
        txn = watchers.remove_watcher(ctx, ticket, role, who)
        _done(
            ctx,
            txn.ticket_id if txn is not None else ticket,
            as_json,
            f"removed {who} as {watchers.canonical_watcher_role(role)}",
        )


@app.command("link")
def link(
    ticket: str = typer.Argument(..., help="Ticket id."),
    kind: str = typer.Argument(
        ..., help="DependsOn, DependedOnBy, RefersTo, ReferredToBy, MemberOf, HasMember."
    ),
    other: str = typer.Argument(..., help="The other ticket's id."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Link two tickets (recorded on both)."""
    from tessera.core import links

    with acting(user) as ctx:
        txn = links.add_link(ctx, ticket, kind, other)
        said = f"linked {_id(ticket)} {kind} {_id(other)}"
        _done(ctx, ticket, as_json, said if txn else "that link already exists")


@app.command("unlink")
def unlink(
    ticket: str = typer.Argument(..., help="Ticket id."),
    kind: str = typer.Argument(..., help="The link type."),
    other: str = typer.Argument(..., help="The other ticket's id."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a link between two tickets."""
    from tessera.core import links

    with acting(user) as ctx:
        links.remove_link(ctx, ticket, kind, other)
        _done(ctx, ticket, as_json, f"unlinked {_id(ticket)} {kind} {_id(other)}")


@app.command("merge")
def merge(
    ticket: str = typer.Argument(..., help="The ticket to merge away."),
    into: str = typer.Argument(..., help="The ticket that survives."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Merge a ticket into another: history and watchers move; the old id resolves to the survivor."""
    from tessera.core import links

    with acting(user) as ctx:
        links.merge(ctx, ticket, into)
        _done(ctx, into, as_json, f"merged {_id(ticket)} into {_id(into)}")


@app.command("bookmark")
def bookmark(
    ticket: str = typer.Argument(..., help="Ticket id."),
    remove: bool = typer.Option(False, "--remove", help="Remove your bookmark instead."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Bookmark a ticket for yourself (RT's bookmarks; find them with id = '__Bookmarked__')."""
    from tessera.core.bookmarks import set_bookmark
    from tessera.core.ids import display_id

    with acting(user) as ctx:
        ticket_id, marked = set_bookmark(ctx, ticket, not remove)
    if as_json:
        print_json({"id": ticket_id, "display_id": display_id(ticket_id), "bookmarked": marked})
    else:
        echo(f"{'bookmarked' if marked else 'removed the bookmark of'} {display_id(ticket_id)}")


@app.command("squelch")
def squelch(
    ticket: str = typer.Argument(..., help="Ticket id."),
    addresses: list[str] = typer.Argument(..., help="Addresses no scrip may mail about this ticket."),
    unsquelch: bool = typer.Option(False, "--unsquelch", help="Let mail reach them again."),
    version: int | None = VERSION_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Squelch addresses for the whole ticket (RT's SquelchMailTo), or --unsquelch them."""
    from tessera.core.squelch import set_squelch

    with acting(user) as ctx:
        changed = set_squelch(ctx, ticket, addresses, on=not unsquelch, expected_version=version)
        verb = "unsquelched" if unsquelch else "squelched"
        text = f"{verb} {', '.join(addresses)} on {ticket}" if changed else f"nothing to do: already {verb}"
        _done(ctx, changed[0].ticket_id if changed else ticket, as_json, text)
