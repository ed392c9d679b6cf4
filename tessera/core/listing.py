"""Read models for list views (the TUI's queue pane): ticket pages, unread markers, preferences.

Every list is paged by keyset (sort value, id), so a queue of millions opens with one index-backed
page and never loads the whole set. Deleted and merged tickets are hidden unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from tessera.core.context import Context
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.models import Attachment, Queue, Ticket, TicketSeen, Transaction, User, Watcher
from tessera.core.queues import get_queue, list_queues
from tessera.core.rights import RightsCache
from tessera.core.serialize import history, ticket_json
from tessera.core.statuses import lifecycle_of
from tessera.core.tickets import get_ticket, parse_ref

SORT_KEYS = ("id", "subject", "status", "owner", "priority", "requestor", "created", "updated")
MAX_PAGE = 500
DELETED = "deleted"

Cursor = tuple[Any, int]


@dataclass(frozen=True)
class QueueInfo:
    id: int
    name: str
    description: str


@dataclass(frozen=True)
class TicketRow:
    id: int
    display_id: str
    subject: str
    status: str
    owner: str | None
    priority: int
    requestor: str | None
    created: datetime
    updated: datetime
    unread: bool


@dataclass(frozen=True)
class TicketPage:
    rows: list[TicketRow]
    # Pass as `after` for the next page; None when this was the last one.
    next_cursor: Cursor | None


@dataclass(frozen=True)
class StatusChoice:
    status: str
    label: str
    category: str | None


@dataclass(frozen=True)
class TicketView:
    """Everything a detail pane shows about one ticket, and what this user may do to its status."""

    ticket: dict[str, Any]
    history: list[dict[str, Any]]
    lifecycle: str
    category: str | None
    choices: list[StatusChoice] = field(default_factory=list)


def queues(ctx: Context) -> list[QueueInfo]:
    return [QueueInfo(q.id, q.name, q.description) for q in list_queues(ctx)]


def _visible_queue(ctx: Context, queue: str | int) -> Queue:
    q = get_queue(ctx, str(queue))
    if not ctx.can("ShowTicket", q.id):
        raise PermissionDenied(f"{ctx.actor.name} may not see tickets in queue {q.name} (needs ShowTicket)")
    return q


def _requestor_key() -> Any:
    return (
        select(func.min(func.lower(func.coalesce(User.email, User.name))))
        .join(Watcher, Watcher.user_id == User.id)
        .where(Watcher.ticket_id == Ticket.id, Watcher.role == "Requestor")
        .correlate(Ticket)
        .scalar_subquery()
    )


def list_tickets(
    ctx: Context,
    queue: str | int | None,
    *,
    query: str = "",
    sort: str = "updated",
    descending: bool = True,
    text: str = "",
    limit: int = 100,
    after: Cursor | None = None,
    include_deleted: bool = False,
    include_merged: bool = False,
) -> TicketPage:
    """One page of a queue's tickets, sorted by `sort` (then id), filtered by `text`.

    `text` matches a ticket number, a status or owner name exactly, or a piece of the subject.
    `query` is TicketSQL (a saved view or the search bar); with it, `queue` may be None: every queue
    the user may see. TicketSQL brings its own visibility, deleted and merged filters.
    """
    if sort not in SORT_KEYS:
        raise InvalidInput(f"cannot sort by {sort!r} (sort keys: {', '.join(SORT_KEYS)})")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"page size must be 1 to {MAX_PAGE}")
    if queue is None and not query.strip():
        raise InvalidInput("name a queue or give a query")
    q = _visible_queue(ctx, queue) if queue is not None else None
    owner = aliased(User)
    keys: dict[str, Any] = {
        "id": Ticket.id,
        "subject": func.lower(Ticket.subject),
        "status": Ticket.status,
        "owner": func.coalesce(func.lower(owner.name), literal("")),
        "priority": Ticket.priority,
        "requestor": func.coalesce(_requestor_key(), literal("")),
        "created": Ticket.created,
        "updated": Ticket.updated,
    }
    key = keys[sort]
    statement = (
        select(Ticket.id, key.label("sort_key"), owner.name, TicketSeen.seen_at, Ticket)
        .outerjoin(owner, owner.id == Ticket.owner_id)
        .outerjoin(TicketSeen, and_(TicketSeen.ticket_id == Ticket.id, TicketSeen.user_id == ctx.actor.id))
    )
    if q is not None:
        statement = statement.where(Ticket.queue_id == q.id)
    if query.strip():
        from tessera.core.search.service import where_clause

        statement = statement.where(where_clause(ctx, query))
    else:
        if not include_deleted:
            statement = statement.where(Ticket.status != DELETED)
        if not include_merged:
            statement = statement.where(Ticket.merged_into_id.is_(None))
    words = text.strip()
    if words:
        statement = statement.where(_matches(words, owner))
    if after is not None:
        value, last_id = after
        if sort == "id":
            statement = statement.where(Ticket.id < last_id if descending else Ticket.id > last_id)
        else:
            pair = tuple_(key, Ticket.id)
            statement = statement.where(
                pair < tuple_(value, last_id) if descending else pair > tuple_(value, last_id)
            )
    order = (key.desc(), Ticket.id.desc()) if descending else (key.asc(), Ticket.id.asc())
    if sort == "id":
        order = order[1:]
    found = ctx.session.execute(statement.order_by(*order).limit(limit + 1)).all()
    more = len(found) > limit
    found = found[:limit]
    requestors = _first_requestors(ctx, [r[0] for r in found])
    rows = []
    for ticket_id, _key, owner_name, seen_at, ticket in found:
        unread = ticket.updated_by_id != ctx.actor.id and (seen_at is None or seen_at < ticket.updated)
        rows.append(
            TicketRow(
                id=ticket_id,
                display_id=ticket.display_id,
                subject=ticket.subject,
                status=ticket.status,
                owner=owner_name,
                priority=ticket.priority,
                requestor=requestors.get(ticket_id),
                created=ticket.created,
                updated=ticket.updated,
                unread=unread,
            )
        )
    cursor = (found[-1][1], found[-1][0]) if more and found else None
    return TicketPage(rows=rows, next_cursor=cursor)


def _matches(words: str, owner: Any) -> ColumnElement[bool]:
    try:
        number = parse_ref(words)
    except InvalidInput:
        number = None
    conditions: list[ColumnElement[bool]] = [
        Ticket.subject.icontains(words, autoescape=True),
        func.lower(Ticket.status) == words.lower(),
        func.lower(owner.name) == words.lower(),
    ]
    if number is not None and number < 2**31:
        conditions.append(Ticket.id == number)
    return or_(false(), *conditions)


def _first_requestors(ctx: Context, ticket_ids: list[int]) -> dict[int, str]:
    if not ticket_ids:
        return {}
    found = ctx.session.execute(
        select(Watcher.ticket_id, func.min(func.coalesce(User.email, User.name)))
        .join(User, User.id == Watcher.user_id)
        .where(Watcher.ticket_id.in_(ticket_ids), Watcher.role == "Requestor")
        .group_by(Watcher.ticket_id)
    ).all()
    return {ticket_id: who for ticket_id, who in found}


def desk_is_empty(ctx: Context) -> bool:
    return ctx.session.scalar(select(Ticket.id).limit(1)) is None


def ticket_view(ctx: Context, ref: str | int) -> TicketView:
    ticket = get_ticket(ctx, ref)
    lifecycle = lifecycle_of(ctx.session, ticket.queue)
    data = ticket_json(ctx, ticket)
    events = history(ctx, ticket)
    return TicketView(
        ticket=data,
        history=events,
        lifecycle=lifecycle.name,
        category=lifecycle.category(ticket.status),
        choices=status_choices(ctx, ticket.id),
    )


def status_choices(ctx: Context, ref: str | int) -> list[StatusChoice]:
    """The lifecycle's named actions, then plain statuses, that this user may apply to the ticket now."""
    ticket = get_ticket(ctx, ref)
    lifecycle = lifecycle_of(ctx.session, ticket.queue)

    def can(right: str) -> bool:
        return ctx.can(right, ticket.queue_id, ticket)

    out: list[StatusChoice] = []
    seen: set[str] = set()
    for action in lifecycle.actions_for(ticket.status, can=can):
        if action.to not in seen:
            seen.add(action.to)
            out.append(StatusChoice(action.to, action.label, lifecycle.category(action.to)))
    for status in lifecycle.next_statuses(ticket.status, can=can):
        if status not in seen and status != ticket.status:
            seen.add(status)
            out.append(StatusChoice(status, lifecycle.display(status), lifecycle.category(status)))
    return out


def resolve_target(ctx: Context, ref: str | int) -> str:
    """The status "resolve" means for this ticket: `resolved` if allowed, else the first inactive one."""
    ticket = get_ticket(ctx, ref)
    if lifecycle_of(ctx.session, ticket.queue).category(ticket.status) == "inactive":
        raise InvalidInput(f"{ticket.display_id} is already {ticket.status}")
    choices = status_choices(ctx, ticket.id)
    inactive = [c.status for c in choices if c.category == "inactive" and c.status != DELETED]
    if "resolved" in inactive:
        return "resolved"
    if inactive:
        return inactive[0]
    raise InvalidInput(
        f"{ticket.display_id} cannot be resolved from {ticket.status!r} by {ctx.actor.name} "
        "(its lifecycle allows no such change, or you lack the right)"
    )


def mark_seen(ctx: Context, ticket_ids: list[int]) -> None:
    """Record that the actor has seen these tickets as they are now (clears their unread markers).

    The marker keeps the ticket's own `updated` time, not the clock's, so clock skew between
    clients and the server can never hide a change.
    """
    if not ticket_ids:
        return
    rows = select(literal(ctx.actor.id), Ticket.id, Ticket.updated).where(Ticket.id.in_(set(ticket_ids)))
    stmt = insert(TicketSeen).from_select(["user_id", "ticket_id", "seen_at"], rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[TicketSeen.user_id, TicketSeen.ticket_id], set_={"seen_at": stmt.excluded.seen_at}
    )
    ctx.session.execute(stmt)
    ctx.session.commit()


def preferences(ctx: Context) -> dict[str, Any]:
    return dict(ctx.actor.preferences or {})


def set_preference(ctx: Context, key: str, value: str | int | bool | dict[str, Any] | None) -> None:
    """Remember one of the actor's settings (theme, last view) in `users.preferences`."""
    if not key or len(key) > 64:
        raise InvalidInput("a preference name is 1 to 64 characters")
    user = ctx.session.get(User, ctx.actor.id)
    if user is None:
        raise NotFound(f"no user {ctx.actor.name}")
    prefs = dict(user.preferences or {})
    if value is None:
        prefs.pop(key, None)
    else:
        prefs[key] = value
    user.preferences = prefs
    ctx.session.commit()
    ctx.actor.preferences = prefs


def owner_choices(ctx: Context, queue: str | int) -> list[str]:
    """Names of the enabled agents who may own tickets in the queue (for an assign picker)."""
    q = _visible_queue(ctx, queue)
    agents = ctx.session.scalars(
        select(User)
        .where(User.privileged.is_(True), User.disabled.is_(False))
        .order_by(func.lower(User.name))
    ).all()
    return [u.name for u in agents if RightsCache.load(ctx.session, u).has("OwnTicket", q.id)]


@dataclass(frozen=True)
class AttachmentData:
    filename: str
    content_type: str
    data: bytes


def attachment(ctx: Context, attachment_id: int) -> AttachmentData:
    """An attachment's bytes, if the actor may see the ticket (and comments, for a comment's)."""
    found = ctx.session.execute(
        select(Attachment, Transaction.ticket_id, Transaction.type)
        .join(Transaction, Transaction.id == Attachment.transaction_id)
        .where(Attachment.id == attachment_id)
    ).first()
    if found is None:
        raise NotFound(f"no attachment {attachment_id}")
    part, ticket_id, kind = found
    ticket = get_ticket(ctx, ticket_id)
    if kind == "Comment" and not ctx.can("ShowTicketComments", ticket.queue_id, ticket):
        raise NotFound(f"no attachment {attachment_id}")
    data = part.binary_content if part.binary_content is not None else (part.content or "").encode()
    return AttachmentData(part.filename or f"attachment-{part.id}", part.content_type, data)


def check_query(ctx: Context, query: str) -> str | None:
    """Why a TicketSQL query cannot run (pointing at a column), or None when it can."""
    from tessera.core.search.service import where_clause

    try:
        where_clause(ctx, query)
    except InvalidInput as exc:
        return exc.message
    return None


def complete_query(ctx: Context, text: str) -> list[str]:
    """Candidates for the word being typed at the end of a TicketSQL query."""
    from tessera.core.search.service import complete

    return complete(ctx, text)


@dataclass(frozen=True)
class View:
    name: str
    query: str
    shared: bool


def saved_views(ctx: Context) -> list[View]:
    """The user's saved searches, then the shared ones: the TUI's views (keys 1-9)."""
    from tessera.core.search.service import list_saved

    return [View(s.name, s.query, s.shared) for s in list_saved(ctx)]
