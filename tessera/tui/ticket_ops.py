"""What the main screen asks of core: each a function of a Context, run by `Backend` in one
session in a worker thread (`backend.ask(ticket_ops.view, 42)`), plain data out.

Imports nothing heavy: the ticket operations, their schemas and the scrip previews are named with
`Later` and imported by the first worker that calls them, after the first page is on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tessera.core import listing, saved_views
from tessera.tui.lazy import Later

if TYPE_CHECKING:
    from tessera.core.context import Context

DEMO_TICKETS = 500
ownership = Later("tessera.core.ownership")
bookmarks = Later("tessera.core.bookmarks")
core_tickets = Later("tessera.core.tickets")
lifecycle_actions = Later("tessera.core.lifecycle_actions")
MessageIn = Later("tessera.core.schemas", "MessageIn")
message_in = Later("tessera.core.schemas", "message_in")


@dataclass(frozen=True)
class Startup:
    """What the first screen needs: who you are, your preferences, your queues, and whether the
    desk is empty (and you may seed it)."""

    user: str
    preferences: dict[str, Any]
    queues: list[listing.QueueInfo]
    empty: bool
    can_seed: bool


@dataclass(frozen=True)
class Outcome:
    """What a ticket action did to each ticket: the ids it changed and one message per failure."""

    done: list[int]
    errors: list[str]
    verb: str | None = None  # what was done, when the caller's verb cannot tell (a toggle)


def startup(ctx: Context) -> Startup:
    return Startup(
        user=ctx.actor.name,
        preferences=listing.preferences(ctx),
        queues=listing.queues(ctx),
        empty=listing.desk_is_empty(ctx),
        can_seed=ctx.can("SuperUser"),
    )


def seed_demo(ctx: Context, count: int = DEMO_TICKETS) -> int:
    from tessera.core.demo import seed

    ctx.require("SuperUser", "seed demo data", "on this desk")
    return seed(ctx, count)


def tickets(ctx: Context, /, queue: int | None, **options: Any) -> listing.TicketPage:
    """A page of a queue (or, with `query`, of a search); the options are `list_tickets`'s."""
    return listing.list_tickets(ctx, queue, **options)


def view(
    ctx: Context, ticket_id: int, *, mark_seen: bool = True, history_limit: int | None = None
) -> listing.TicketView:
    """The ticket (marked seen); with `history_limit`, only that page of its newest history."""
    found = listing.ticket_view(ctx, ticket_id, history_limit=history_limit)
    if mark_seen:
        listing.mark_seen(ctx, [found.ticket["id"]])
    return found


history_page = listing.history_page


def status_preview(ctx: Context, ticket_id: int, status: str | None) -> dict[str, Any]:
    """The scrip dry-run of a status change (None: what "resolve" means for this ticket)."""
    from tessera.scrips.preview import preview

    target = status or listing.resolve_target(ctx, ticket_id)
    plan = preview(ctx, ticket_id, {"status": target})
    plan["status"] = target
    return plan


def status_set_preview(ctx: Context, ticket_ids: list[int], status: str | None) -> dict[str, Any]:
    """The dry-run of a status change (None: resolve) on each ticket of a set, grouped."""
    from tessera.scrips.preview import preview, preview_set

    def one(ticket_id: int) -> dict[str, Any]:
        return preview(ctx, ticket_id, {"status": status or listing.resolve_target(ctx, ticket_id)})

    return preview_set(ctx, ticket_ids, one)


def check_once(cc: Sequence[str], bcc: Sequence[str]) -> None:
    """Refuse a malformed one-time Cc or Bcc address in one line, before anything is asked of core."""
    if cc or bcc:
        message_in("", cc, bcc)


def message_set_preview(
    ctx: Context, ticket_ids: list[int], kind: str, body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()
) -> dict[str, Any]:
    """The dry-run of the same reply or comment on each ticket of a set, grouped."""
    from tessera.scrips.preview import preview_message, preview_set

    return preview_set(
        ctx, ticket_ids, lambda ticket_id: preview_message(ctx, ticket_id, kind, body, cc, bcc)
    )


def message_preview(
    ctx: Context, ticket_id: int, kind: str, body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()
) -> dict[str, Any]:
    """The scrip dry-run of a reply or comment: the mail it would cause; nothing recorded."""
    from tessera.scrips.preview import preview_message

    result: dict[str, Any] = preview_message(ctx, ticket_id, kind, body, cc, bcc)
    return result


def queue_picker(ctx: Context) -> tuple[list[listing.QueueInfo], dict[int, listing.QueueCounts]]:
    """The queue picker (Q): the queues read afresh (one made meanwhile shows), with their counts."""
    return listing.queues(ctx), listing.queue_counts(ctx)


# Reads core offers as they are (each already a function of a Context).
queues = listing.queues
queue_counts = listing.queue_counts
check_query = listing.check_query
complete_query = listing.complete_query
views = saved_views.saved_views
save_view = saved_views.save_view
rename_view = saved_views.rename_view
delete_view = saved_views.delete_view
status_choices = listing.status_choices
owner_choices = listing.owner_choices
set_preference = listing.set_preference
attachment = listing.attachment


# -- ticket actions: each ticket is its own operation, so one refusal does not undo the rest -------
# (tessera.core.bulk, RT's bulk update: the refused tickets are named, each with its reason)


def each(ctx: Context, ticket_ids: list[int], act: Callable[[Context, int], object]) -> Outcome:
    from tessera.core.bulk import apply_each

    return _outcome(apply_each(ctx, ticket_ids, act), len(ticket_ids))


def _outcome(result: Any, count: int) -> Outcome:
    """One ticket: core's reason as it is (the panes name the ticket); a set: each refusal named."""
    return Outcome(result.done, result.lines() if count > 1 else [r.reason for r in result.refused])


def reply(
    ctx: Context, ticket_ids: list[int], body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()
) -> Outcome:
    message = message_in(body, cc, bcc)
    return each(ctx, ticket_ids, lambda c, t: core_tickets.correspond(c, t, message))


def comment(
    ctx: Context, ticket_ids: list[int], body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()
) -> Outcome:
    message = message_in(body, cc, bcc)
    return each(ctx, ticket_ids, lambda c, t: core_tickets.comment(c, t, message))


def split_addresses(text: str) -> list[str]:
    """Addresses as people type them in one field, separated by commas or semicolons."""
    return [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]


def forward_of(to: str, body: str) -> Any:
    """The forward the TUI's form describes (the whole ticket), or a one-line refusal."""
    from pydantic import ValidationError

    from tessera.core.errors import InvalidInput
    from tessera.core.schemas import ForwardIn, pydantic_message

    addresses = split_addresses(to)
    if not addresses:
        raise InvalidInput("forward to whom? give one address or more, separated by commas")
    try:
        return ForwardIn(to=addresses, body=body)
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


def forward_preview(ctx: Context, ticket_id: int, to: str, body: str) -> dict[str, Any]:
    """The scrip dry-run of a forward: the mail it would send; nothing recorded."""
    from tessera.scrips.preview import preview_forward

    result: dict[str, Any] = preview_forward(ctx, ticket_id, forward_of(to, body))
    return result


def forward(ctx: Context, ticket_ids: list[int], to: str, body: str) -> Outcome:
    from tessera.core.forwarding import forward as forward_ticket

    data = forward_of(to, body)
    return each(ctx, ticket_ids, lambda c, t: forward_ticket(c, t, data))


def set_status(ctx: Context, ticket_ids: list[int], status: str) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: core_tickets.set_status(c, t, status))


def run_action(
    ctx: Context,
    ticket_ids: list[int],
    label: str,
    body: str = "",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
) -> Outcome:
    """A lifecycle action picked from the status menu: core's `run_action`, as `ticket action` runs
    it; with the composer's message (the action's update as a reply or comment) in the same unit."""
    message = message_in(body, cc, bcc) if body.strip() else None
    return each(ctx, ticket_ids, lambda c, t: lifecycle_actions.run_action(c, t, label, message))


reminder_ops = Later("tessera.core.reminders")


def reminders(ctx: Context, ticket_id: int) -> list[dict[str, Any]]:
    """A ticket's reminders, as its JSON lists them."""
    return list(reminder_ops.list_reminders(ctx, ticket_id))


def add_reminder(ctx: Context, ticket_ids: list[int], subject: str, due: str) -> Outcome:
    from tessera.core.schemas import parse_datetime

    def act(c: Context, t: int) -> object:
        when = parse_datetime(due, field="due") if due.strip() else None
        return reminder_ops.add_reminder(c, t, subject, due=when)

    return each(ctx, ticket_ids, act)


def change_reminder(ctx: Context, ticket_ids: list[int], reminder_id: int, resolve: bool) -> Outcome:
    change = reminder_ops.resolve_reminder if resolve else reminder_ops.open_reminder
    return each(ctx, ticket_ids, lambda c, t: change(c, t, reminder_id))


def resolve(ctx: Context, ticket_ids: list[int]) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: core_tickets.set_status(c, t, listing.resolve_target(c, t)))


def take(ctx: Context, ticket_ids: list[int]) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: ownership.take(c, t))


def bookmark(ctx: Context, ticket_ids: list[int]) -> Outcome:
    """Each ticket's bookmark toggled; the outcome says which way ("Bookmarked", "Bookmark
    removed"; a set that went both ways: the caller's "Bookmark toggled")."""
    now: dict[int, bool] = {}

    def toggle(c: Context, t: int) -> None:
        now[t] = bookmarks.toggle_bookmark(c, t)[1]

    outcome = each(ctx, ticket_ids, toggle)
    ways = {now[t] for t in outcome.done if t in now}
    verb = {frozenset({True}): "Bookmarked", frozenset({False}): "Bookmark removed"}.get(frozenset(ways))
    return replace(outcome, verb=verb)


def steal(ctx: Context, ticket_ids: list[int]) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: ownership.steal(c, t))


def take_set(ctx: Context, ticket_ids: list[int], steal: bool) -> Outcome:
    """A marked set's take: unowned tickets taken, others' stolen only when `steal`."""
    from tessera.core.bulk import take_set as take_each

    return _outcome(take_each(ctx, ticket_ids, steal=steal), len(ticket_ids))


def owners(ctx: Context, ticket_ids: list[int]) -> Any:
    """Who owns each ticket of a set now (`tessera.core.bulk.Owners`), for the take's question."""
    from tessera.core.bulk import owners as read_owners

    return read_owners(ctx, ticket_ids)


def assign(ctx: Context, ticket_ids: list[int], owner: str) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: ownership.give(c, t, owner))


def move(ctx: Context, ticket_ids: list[int], queue: str) -> Outcome:
    return each(ctx, ticket_ids, lambda c, t: core_tickets.set_fields(c, t, {"queue": queue}))


PEOPLE_FIELDS = {"requestors": "Requestor", "cc": "Cc", "admincc": "AdminCc"}


def edit(ctx: Context, ticket_id: int, changes: dict[str, str], version: int) -> Outcome:
    """The edit form's changes in one unit: fields, then the people (each list compared with the
    ticket's: who is gone is removed, who is new is added, a group as group:NAME)."""
    fields = {k: v for k, v in changes.items() if k not in PEOPLE_FIELDS and k != "squelched"}
    people = {k: v for k, v in changes.items() if k in PEOPLE_FIELDS}
    squelch = changes.get("squelched")

    from tessera.core.context import operation

    @operation
    def change(c: Context, t: int) -> object:  # one unit: all of the form is saved, or none of it
        from tessera.core import watchers
        from tessera.core.serialize import ticket_json

        expected: int | None = version
        done: list[object] = []
        if fields:
            done += core_tickets.set_fields(c, t, fields, expected_version=expected)
            expected = None  # the unit holds the ticket's lock from here
        if people:
            shown = ticket_json(c, core_tickets.get_ticket(c, t))
            for key, raw in people.items():
                role = PEOPLE_FIELDS[key]
                now = [str(v) for v in shown[key]]
                wanted = [w.strip() for w in raw.split(",") if w.strip()]
                held = {w.lower() for w in now}
                keep = {w.lower() for w in wanted}
                for who in now:
                    if who.lower() not in keep:
                        done.append(watchers.remove_watcher(c, t, role, who, expected_version=expected))
                        expected = None
                for who in wanted:
                    if who.lower() not in held:
                        done.append(watchers.add_watcher(c, t, role, who, expected_version=expected))
                        expected = None
        if squelch is not None:
            from tessera.core.squelch import set_squelch, squelched_of

            now_held = set(squelched_of(c, core_tickets.get_ticket(c, t).id))
            wanted_set = {a.strip().lower() for a in split_addresses(squelch)}
            if now_held - wanted_set:
                done += set_squelch(c, t, sorted(now_held - wanted_set), on=False, expected_version=expected)
                expected = None
            if wanted_set - now_held:
                done += set_squelch(c, t, sorted(wanted_set - now_held), on=True, expected_version=expected)
        return done

    return each(ctx, [ticket_id], change)


# -- a new ticket ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """A custom field the new-ticket form asks for."""

    name: str
    description: str
    required: bool  # RT's mandatory: its pattern refuses an empty value
    values: list[str]  # the allowed values of a select field ([] : free text)
    multiple: bool


@dataclass(frozen=True)
class NewTicket:
    """What the new-ticket form collected."""

    queue: str
    requestors: list[str]
    subject: str
    body: str
    custom_fields: dict[str, str]


def create_form(ctx: Context, queue: str) -> list[FormField]:
    """The custom fields of a new ticket in `queue` (refused at once if you may not create there)."""
    from tessera.core.customfields import fields_for_queue, is_required
    from tessera.core.queues import get_queue

    found = get_queue(ctx, queue)
    ctx.require("CreateTicket", "create tickets", f"in queue {found.name}", queue_id=found.id)
    return [
        FormField(cf.name, cf.description or "", is_required(cf), [o.value for o in cf.options], cf.multiple)
        for cf in fields_for_queue(ctx, found.id)
    ]


def _ticket_create(ctx: Context, new: NewTicket) -> Any:
    from pydantic import ValidationError

    from tessera.core.customfields import find_field, is_required
    from tessera.core.errors import InvalidInput
    from tessera.core.schemas import TicketCreate, pydantic_message

    for name, value in new.custom_fields.items():
        cf = find_field(ctx, name)
        if cf is not None and is_required(cf) and not value.strip():
            raise InvalidInput(f"custom field {cf.name} is required in this queue")
    try:
        return TicketCreate(
            queue=new.queue,
            subject=new.subject,
            requestors=new.requestors,
            custom_fields={k: v for k, v in new.custom_fields.items() if v.strip()},
            message=MessageIn(body=new.body),
        )
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


def create_preview(ctx: Context, new: NewTicket) -> dict[str, Any]:
    """The scrip dry-run of creating the ticket: the mail it would cause; nothing recorded."""
    from tessera.scrips.preview import preview_create

    result: dict[str, Any] = preview_create(ctx, _ticket_create(ctx, new))
    return result


def create(ctx: Context, new: NewTicket) -> tuple[int, str]:
    """Create the ticket: its id and display id."""
    ticket = core_tickets.create_ticket(ctx, _ticket_create(ctx, new))
    return ticket.id, ticket.display_id
