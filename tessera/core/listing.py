"""Read models for list views (the TUI's queue pane): ticket pages, unread markers, preferences.

Every list is paged by keyset (sort value, id), so a queue of millions opens with one index-backed
page and never loads the whole set. Deleted and merged tickets are hidden unless asked for.

A page is one round trip of plain columns (no ORM objects). The read models (the dataclasses) import
nothing heavy: the TUI draws them, unpickles them from its start-up helper, and reaches its first
screen before SQLAlchemy is imported; so SQLAlchemy, the models and the heavier modules (ticket
operations, serialisation, lifecycles, pydantic schemas) are imported by the functions using them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.ids import display_id

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from tessera.core.context import Context
    from tessera.core.models import Queue

SORT_KEYS = ("id", "subject", "status", "owner", "priority", "requestor", "created", "updated")
MAX_PAGE = 500
DELETED = "deleted"

Cursor = tuple[Any, int]


@dataclass(frozen=True)
class QueueInfo:
    id: int
    name: str
    description: str


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~3 µs a row, a page is 100 rows
class TicketRow:
    """One row of a page; made straight from the page's SQL row (page_sql.COLUMNS, less the key)."""

    id: int
    subject: str
    status: str
    owner: str | None
    priority: int
    requestor: str | None
    created: datetime
    updated: datetime
    unread: bool  # updated by someone else since the viewer last looked (or never looked)

    @property
    def display_id(self) -> str:
        return display_id(self.id)


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
    """The enabled queues the actor may see (as `queues.list_queues`), by name."""
    from sqlalchemy import func, select

    from tessera.core.models import Queue

    found = ctx.session.execute(
        select(Queue.id, Queue.name, Queue.description)
        .where(Queue.disabled.is_(False))
        .order_by(func.lower(Queue.name))
    ).all()
    return [QueueInfo(*row) for row in found if ctx.can_any(("SeeQueue", "ShowTicket"), row[0])]


def _visible_queue(ctx: Context, queue: str | int) -> Queue:
    from tessera.core.queues import get_queue

    q = get_queue(ctx, str(queue))
    if not ctx.can("ShowTicket", q.id):
        raise PermissionDenied(f"{ctx.actor.name} may not see tickets in queue {q.name} (needs ShowTicket)")
    return q


def _visible_queue_id(ctx: Context, queue: str | int) -> int:
    """The queue's id, if the actor may see its tickets. A number costs no query here: whether
    such a queue exists is asked only when its page comes back empty (see `list_tickets`)."""
    key = str(queue).strip()
    if not key.isdigit() or int(key) >= 2**31:
        return _visible_queue(ctx, key).id
    if not ctx.can("ShowTicket", int(key)):
        _visible_queue(ctx, key)  # NotFound, or PermissionDenied with the queue's name
    return int(key)


def _page_statement(
    ctx: Context,
    sort: str,
    descending: bool,
    *,
    in_queue: bool,
    after: bool,
    include_deleted: bool,
    include_merged: bool,
    query: str = "",
    words: str = "",
) -> Any:
    """A page's SELECT, its values as bind parameters: me, queue, after_value, after_id, limit."""
    from sqlalchemy import and_, bindparam, func, literal, or_, select, tuple_
    from sqlalchemy.orm import aliased

    from tessera.core.models import Ticket, TicketSeen, User

    owner = aliased(User)
    key: Any
    if sort == "subject":
        key = func.lower(Ticket.subject)
    elif sort == "owner":
        key = func.coalesce(func.lower(owner.name), literal(""))
    elif sort == "requestor":
        key = func.coalesce(func.lower(Ticket.requestor), literal(""))
    else:
        key = getattr(Ticket, sort)
    # Plain columns (the first requestor is kept on the ticket): one round trip, no ORM objects.
    # The same columns as page_sql.COLUMNS, which plain pages use.
    statement = (
        select(
            Ticket.id,
            key.label("sort_key"),
            Ticket.subject,
            Ticket.status,
            owner.name,
            Ticket.priority,
            Ticket.requestor,
            Ticket.created,
            Ticket.updated,
            and_(
                Ticket.updated_by_id.is_distinct_from(bindparam("me")),
                or_(TicketSeen.seen_at.is_(None), TicketSeen.seen_at < Ticket.updated),
            ),
        )
        .select_from(Ticket)
        .outerjoin(owner, owner.id == Ticket.owner_id)
        .outerjoin(TicketSeen, and_(TicketSeen.ticket_id == Ticket.id, TicketSeen.user_id == bindparam("me")))
    )
    if in_queue:
        statement = statement.where(Ticket.queue_id == bindparam("queue"))
    if query:
        from tessera.core.search.service import where_clause

        statement = statement.where(where_clause(ctx, query))
    else:
        if not include_deleted:
            statement = statement.where(Ticket.status != DELETED)
        if not include_merged:
            statement = statement.where(Ticket.merged_into_id.is_(None))
    if words:
        statement = statement.where(_matches(words, owner))
    if after:
        last_id = bindparam("after_id", type_=Ticket.id.type)
        if sort == "id":
            statement = statement.where(Ticket.id < last_id if descending else Ticket.id > last_id)
        else:
            pair, bound = tuple_(key, Ticket.id), tuple_(bindparam("after_value", type_=key.type), last_id)
            statement = statement.where(pair < bound if descending else pair > bound)
    order = (key.desc(), Ticket.id.desc()) if descending else (key.asc(), Ticket.id.asc())
    return statement.order_by(*(order[1:] if sort == "id" else order)).limit(bindparam("limit"))


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

    A plain page (no `text`, no `query`) is one round trip of the SQL in `page_sql`.
    """

    if sort not in SORT_KEYS:
        raise InvalidInput(f"cannot sort by {sort!r} (sort keys: {', '.join(SORT_KEYS)})")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"page size must be 1 to {MAX_PAGE}")
    if queue is None and not query.strip():
        raise InvalidInput("name a queue or give a query")
    queue_id = _visible_queue_id(ctx, queue) if queue is not None else None
    values: dict[str, Any] = {"me": ctx.actor.id, "queue": queue_id, "limit": limit + 1}
    if after is not None:
        values["after_value"], values["after_id"] = after
    shape = dict(
        in_queue=queue_id is not None,
        after=after is not None,
        include_deleted=include_deleted,
        include_merged=include_merged,
    )
    if query.strip() or text.strip():
        statement = _page_statement(ctx, sort, descending, query=query.strip(), words=text.strip(), **shape)
        found = ctx.session.execute(statement, values).all()
    else:
        from tessera.core.context import driver_execute
        from tessera.core.page_sql import page_sql

        # On the driver's cursor: SQLAlchemy's result wrapper would cost ~0.3 ms of a ~3 ms page.
        sql = page_sql(sort, descending, **shape)
        found = driver_execute(ctx.session, sql, values, binary=True).fetchall()
    if not found and queue_id is not None and not after:
        _visible_queue(ctx, queue_id)  # an empty page: is there such a queue at all?
    return page_of(found, limit)


def page_of(found: list[Any], limit: int) -> TicketPage:
    """The page for `found`, rows of `page_sql.COLUMNS` (one more than `limit` if there is more)."""
    more = len(found) > limit
    found = found[:limit]
    rows = [TicketRow(row[0], *row[2:]) for row in found]
    cursor = (found[-1][1], found[-1][0]) if more and found else None
    return TicketPage(rows=rows, next_cursor=cursor)


def _matches(words: str, owner: Any) -> ColumnElement[bool]:
    from sqlalchemy import false, func, or_

    from tessera.core.models import Ticket
    from tessera.core.tickets import parse_ref

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


def desk_is_empty(ctx: Context) -> bool:
    from sqlalchemy import select

    from tessera.core.models import Ticket

    return ctx.session.scalar(select(Ticket.id).limit(1)) is None


def ticket_view(ctx: Context, ref: str | int) -> TicketView:
    from tessera.core.serialize import history, ticket_json
    from tessera.core.statuses import lifecycle_of
    from tessera.core.tickets import get_ticket

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
    from tessera.core.statuses import lifecycle_of
    from tessera.core.tickets import get_ticket

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
    from tessera.core.statuses import lifecycle_of
    from tessera.core.tickets import get_ticket

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
    from sqlalchemy import literal, select
    from sqlalchemy.dialects.postgresql import insert

    from tessera.core.models import Ticket, TicketSeen

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
    from tessera.core.models import User

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
    from sqlalchemy import func, select

    from tessera.core.models import User
    from tessera.core.rights import RightsCache

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
    from sqlalchemy import select

    from tessera.core.models import Attachment, Transaction
    from tessera.core.tickets import get_ticket

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
    order_by: str = ""


def saved_views(ctx: Context) -> list[View]:
    """The user's saved searches, then the shared ones: the TUI's views (keys 1-9)."""
    from tessera.core.search.service import list_saved

    return [View(s.name, s.query, s.shared, s.order_by) for s in list_saved(ctx)]


# TicketSQL sort keys the queue pane can sort by, and the pane's name for each.
_PANE_SORTS = {
    **{key: key for key in SORT_KEYS},
    "lastupdated": "updated",
    "requestors": "requestor",
}


def view_sort(query: str, order_by: str = "") -> tuple[str, bool] | None:
    """The pane's (sort, descending) for a view: the first key of its order (`order_by`, else the
    query's own ORDER BY), or None when it has none the pane sorts by (the pane keeps its sort)."""
    keys = order_by.strip()
    if not keys:
        from tessera.core.search.parser import SearchError, parse_with_order

        try:
            keys = parse_with_order(query)[1]
        except SearchError:
            return None
    words = keys.replace("|", ",").split(",")[0].split()
    if not words:
        return None
    name, descending = words[0], len(words) > 1 and words[1].upper() == "DESC"
    if name.startswith("-"):
        name, descending = name[1:], True
    sort = _PANE_SORTS.get(name.lower())
    return (sort, descending) if sort else None
