"""Read models for list views (the TUI's queue pane): ticket pages, unread markers, preferences.

Every list is paged by keyset (sort value, id), so a queue of millions opens with one index-backed
page and never loads the whole set. Deleted and merged tickets are hidden unless asked for.

A page is one round trip of plain columns (no ORM objects). The read models (the dataclasses) import
nothing heavy: the TUI draws them, unpickles them from its start-up helper, and reaches its first
screen before SQLAlchemy is imported; so SQLAlchemy, the models and the heavier modules (ticket
operations, serialisation, lifecycles, pydantic schemas) are imported by the functions using them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tessera.core import clock
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.ids import display_id
from tessera.core.lifecycles.rules import DELETED

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from tessera.core.context import Context
    from tessera.core.models import Queue

SORT_KEYS = ("id", "subject", "status", "owner", "priority", "requestor", "created", "updated", "due")
MAX_PAGE = 500

Cursor = tuple[Any, int]


@dataclass(frozen=True)
class QueueInfo:
    id: int
    name: str
    description: str


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~3 µs a row, a page is 100 rows
class TicketRow:
    """One row of a page; made straight from the page's SQL row (fast_sql.PAGE_COLUMNS, less the key)."""

    id: int
    subject: str
    status: str
    owner: str | None
    priority: int
    requestor: str | None
    created: datetime
    updated: datetime
    unread: bool  # updated by someone else since the viewer last looked (or never looked)
    due: datetime | None = None
    sla: str | None = None  # the ticket's service level
    # Time to Due on the level's calendar (business time; real time without a level), negative
    # when overdue; counted up to `time_left.LIMIT` at most (see `time_left.fill`). Set when the
    # list asked for it (`list_tickets(time_left=True)`).
    left: timedelta | None = None

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
    # A lifecycle action (run by `lifecycle_actions.run_action`), not a bare status.
    action: bool = False
    # The action's update (RT's action menu): "respond" (a reply), "comment", or "none".
    update: str = "none"


@dataclass(frozen=True)
class TicketView:
    """Everything a detail pane shows about one ticket, and what this user may do to its status."""

    ticket: dict[str, Any]
    history: list[dict[str, Any]]
    lifecycle: str
    category: str | None
    choices: list[StatusChoice] = field(default_factory=list)
    bookmarked: bool = False  # by this user (RT's bookmarks; the TUI's b toggles it)
    # When `history` is a page (the newest transactions): how many of each type the whole history
    # has, and who was refused mail about the ticket (which the page may not show).
    history_counts: dict[str, int] | None = None
    undelivered: list[str] | None = None

    @property
    def history_total(self) -> int:
        return sum(self.history_counts.values()) if self.history_counts is not None else len(self.history)

    @property
    def history_complete(self) -> bool:
        """Whether `history` is all of it (else earlier transactions can be read: `history_page`)."""
        return len(self.history) >= self.history_total


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


@dataclass(frozen=True)
class QueueCounts:
    active: int  # tickets in a status of the queue's lifecycle that is initial or active (RT's)
    unowned: int  # of those, the ones nobody owns


def queue_counts(ctx: Context) -> dict[int, QueueCounts]:
    """Active and unowned active tickets of each queue whose tickets the actor may see (the TUI's
    queue picker): one grouped count, each status put in its queue's lifecycle's category."""
    from sqlalchemy import func, select

    from tessera.core.lifecycles.desk import lifecycle_of
    from tessera.core.models import Queue, Ticket

    shown = {
        q.id: q
        for q in ctx.session.scalars(select(Queue).where(Queue.disabled.is_(False)))
        if ctx.can("ShowTicket", q.id)
    }
    counts = {queue_id: [0, 0] for queue_id in shown}
    if not shown:
        return {}
    rows = ctx.session.execute(
        select(Ticket.queue_id, Ticket.status, Ticket.owner_id.is_(None), func.count())
        .where(Ticket.queue_id.in_(shown), Ticket.merged_into_id.is_(None), Ticket.status != DELETED)
        .group_by(Ticket.queue_id, Ticket.status, Ticket.owner_id.is_(None))
    ).all()
    lifecycles = {queue_id: lifecycle_of(ctx.session, queue) for queue_id, queue in shown.items()}
    for queue_id, status, nobody, n in rows:
        if lifecycles[queue_id].category(status) in ("initial", "active"):
            counts[queue_id][0] += n
            if nobody:
                counts[queue_id][1] += n
    return {queue_id: QueueCounts(*pair) for queue_id, pair in counts.items()}


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
    due_by: Any = None,
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
    elif sort == "due":
        from tessera.core.fast_sql import NO_DUE

        key = func.coalesce(Ticket.due, literal(datetime.fromisoformat(NO_DUE), Ticket.due.type))
    else:
        key = getattr(Ticket, sort)
    # Plain columns (the first requestor is kept on the ticket): one round trip, no ORM objects.
    # The same columns as fast_sql.PAGE_COLUMNS, which plain pages use.
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
            Ticket.due,
            Ticket.sla,
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
    if due_by is not None:
        statement = statement.where(due_by)
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
    time_left: bool = False,
    due_within: timedelta | None = None,
) -> TicketPage:
    """One page of a queue's tickets, sorted by `sort` (then id), filtered by `text`.

    `text` matches a ticket number, a status or owner name exactly, a priority by number or name
    (`high`: its range), or a piece of the subject or of the (first) requestor's address: every
    column the list shows that words can match (the times are relative: TicketSQL's work).
    `query` is TicketSQL (a saved view or the search bar); with it, `queue` may be None: every queue
    the user may see. TicketSQL brings its own visibility, deleted and merged filters.

    A plain page (no `text`, no `query`) is one round trip of the SQL in `fast_sql.page_sql`.

    `time_left`: each row's business time to Due (`TicketRow.left`), the page's in one go
    (`time_left.fill`: the service levels and calendars read once). `due_within`: only tickets
    due within that much business time from now, or overdue, each on its level's calendar (the
    TUI's "breaching soon" view; `time_left.due_within`).
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
    if query.strip() or text.strip() or due_within is not None:
        due_by = None
        if due_within is not None:
            from tessera.core.time_left import due_within_clause

            due_by = due_within_clause(ctx, clock.now(), due_within)
        statement = _page_statement(
            ctx, sort, descending, query=query.strip(), words=text.strip(), due_by=due_by, **shape
        )
        from tessera.core.fast_sql import planned_each_time

        with planned_each_time(ctx.session, page=True):  # a search's plan depends on its values
            found = ctx.session.execute(statement, values).all()
    else:
        from tessera.core.fast_sql import driver_execute, page_sql

        # On the driver's cursor: SQLAlchemy's result wrapper would cost ~0.3 ms of a ~3 ms page.
        sql = page_sql(
            sort,
            descending,
            in_queue=queue_id is not None,
            after=after is not None,
            hide_status=None if include_deleted else DELETED,
            include_merged=include_merged,
        )
        found = driver_execute(ctx.session, sql, values, binary=True).fetchall()
    if not found and queue_id is not None and not after:
        _visible_queue(ctx, queue_id)  # an empty page: is there such a queue at all?
    page = page_of(found, limit)
    if time_left:
        from tessera.core.time_left import fill_for

        fill_for(ctx, page.rows, clock.now())
    return page


def page_of(found: Sequence[Any], limit: int) -> TicketPage:
    """The page for `found`, rows of `fast_sql.PAGE_COLUMNS` (one more than `limit` if there is more)."""
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
        Ticket.requestor.icontains(words, autoescape=True),  # the Requestor column shows it
        func.lower(Ticket.status) == words.lower(),
        func.lower(owner.name) == words.lower(),
    ]
    if number is not None and number < 2**31:
        conditions.append(Ticket.id == number)
    shown = _priority_words(words)
    if isinstance(shown, int):
        conditions.append(Ticket.priority == shown)
    elif shown is not None:
        _, low, high = shown
        conditions.append(Ticket.priority >= low if high is None else Ticket.priority.between(low, high - 1))
    return or_(false(), *conditions)


def _priority_words(words: str) -> int | tuple[str, int, int | None] | None:
    """What the Priority column shows that `words` name: its number (`100`) or its name's range
    (`high`), or None."""
    from tessera.core import priorities
    from tessera.core.errors import ConfigError

    if re.fullmatch(r"-?[0-9]{1,10}", words) and abs(int(words)) <= priorities.INT_MAX:
        return int(words)
    try:
        return priorities.span(words)
    except ConfigError:  # misnamed priorities: the column shows numbers, already matched above
        return None


_ORDER_NAMES = {
    "id": "id",
    "subject": "Subject",
    "status": "Status",
    "priority": "Priority",
    "created": "Created",
    "updated": "LastUpdated",
    "due": "Due",
}


def _ticketsql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def list_query(
    queue: str | None, query: str, words: str, compiles: Callable[[str], bool] = lambda _: True
) -> str:
    """The TicketSQL of what a list shows (to save it as a view): its search, else its queue,
    narrowed by the quick filter's `words` as `list_tickets` narrows by them (a piece of the
    subject or a requestor, a status or owner name, a ticket number). "" when it shows nothing to save."""
    query, words = query.strip(), words.strip()
    if not words:
        return query or (f"Queue = {_ticketsql_string(queue)}" if queue else "")
    quoted = _ticketsql_string(words)
    either = [f"Subject LIKE {quoted}", f"Requestor LIKE {quoted}"]
    # A status or an owner only when the words name one (TicketSQL refuses an unknown one; the
    # quick filter just finds nothing there).
    either += [cond for cond in (f"Status = {quoted}", f"Owner = {quoted}") if compiles(cond)]
    from tessera.core.ids import ticket_number

    number = ticket_number(words)
    if number is not None:
        either.append(f"id = {number}")
    shown = _priority_words(words)
    if isinstance(shown, int):
        either.append(f"Priority = {shown}")
    elif shown is not None:
        either.append(f"Priority = {_ticketsql_string(shown[0])}")
    narrowed = "(" + " OR ".join(either) + ")"
    if query:
        return f"({_without_order(query)}) AND {narrowed}"
    return f"Queue = {_ticketsql_string(queue)} AND {narrowed}" if queue else narrowed


def _without_order(query: str) -> str:
    """The query less a trailing ORDER BY (the view keeps the list's order apart)."""
    from tessera.core.search.parser import SearchError, parse_with_order

    try:
        keys = parse_with_order(query)[1]
    except SearchError:
        return query
    if not keys:
        return query
    found = list(re.finditer(r"\bORDER\s+BY\b", query, re.I))
    return query[: found[-1].start()].strip() if found else query


def list_order(sort: str, descending: bool) -> str:
    """The order of a list as a saved search's `order_by` ("" where TicketSQL has no such key)."""
    name = _ORDER_NAMES.get(sort)
    return f"{name} {'DESC' if descending else 'ASC'}" if name else ""


def desk_is_empty(ctx: Context) -> bool:
    from sqlalchemy import select

    from tessera.core.models import Ticket

    return ctx.session.scalar(select(Ticket.id).limit(1)) is None


def ticket_view(ctx: Context, ref: str | int, *, history_limit: int | None = None) -> TicketView:
    """The ticket and its history; with `history_limit`, only that many of the newest transactions
    (read in SQL: a long history costs a reader only what it shows), and the counts of the rest."""
    from tessera.core.bookmarks import is_bookmarked
    from tessera.core.lifecycles.desk import lifecycle_of
    from tessera.core.serialize import history, history_counts, ticket_json, undelivered
    from tessera.core.tickets import get_ticket

    ticket = get_ticket(ctx, ref)
    lifecycle = lifecycle_of(ctx.session, ticket.queue)
    data = ticket_json(ctx, ticket)
    events = history(ctx, ticket, limit=history_limit)
    paged = history_limit is not None
    return TicketView(
        ticket=data,
        history=events,
        lifecycle=lifecycle.name,
        category=lifecycle.category(ticket.status),
        choices=_status_choices(ctx, ticket, lifecycle),
        history_counts=history_counts(ctx, ticket) if paged else None,
        undelivered=undelivered(ctx, ticket) if paged else None,
        bookmarked=is_bookmarked(ctx, ticket.id),
    )


def history_page(ctx: Context, ref: str | int, before: int, limit: int | None) -> list[dict[str, Any]]:
    """The `limit` transactions of the ticket's history before transaction `before` (None: all of
    them), oldest first: what a reader scrolling up reads next."""
    from tessera.core.serialize import history
    from tessera.core.tickets import get_ticket

    return history(ctx, get_ticket(ctx, ref), limit=limit, before=before)


def status_choices(ctx: Context, ref: str | int) -> list[StatusChoice]:
    """The lifecycle's named actions, then plain statuses, that this user may apply to the ticket now."""
    from tessera.core.lifecycles.desk import lifecycle_of
    from tessera.core.tickets import get_ticket

    ticket = get_ticket(ctx, ref)
    return _status_choices(ctx, ticket, lifecycle_of(ctx.session, ticket.queue))


def _status_choices(ctx: Context, ticket: Any, lifecycle: Any) -> list[StatusChoice]:
    def can(right: str) -> bool:
        return ctx.can(right, ticket.queue_id, ticket)

    out: list[StatusChoice] = []
    seen: set[str] = set()
    for action in lifecycle.actions_for(ticket.status, can=can):
        if action.to not in seen:
            seen.add(action.to)
            category = lifecycle.category(action.to)
            out.append(StatusChoice(action.to, action.label, category, action=True, update=action.update))
    for status in lifecycle.next_statuses(ticket.status, can=can):
        if status not in seen and status != ticket.status:
            seen.add(status)
            out.append(StatusChoice(status, lifecycle.display(status), lifecycle.category(status)))
    return out


def resolve_target(ctx: Context, ref: str | int) -> str:
    """The status "resolve" means for this ticket: `resolved` if allowed, else the first inactive one."""
    from tessera.core.lifecycles.desk import lifecycle_of
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
    clients and the server can never hide a change. One unit of work (`operation`, imported here:
    this module stays light for the TUI's start).
    """
    from tessera.core.context import operation

    if ticket_ids:
        operation(_mark_seen)(ctx, ticket_ids)


def _mark_seen(ctx: Context, ticket_ids: list[int]) -> None:
    from sqlalchemy import literal, select
    from sqlalchemy.dialects.postgresql import insert

    from tessera.core.models import Ticket, TicketSeen

    rows = select(literal(ctx.actor.id), Ticket.id, Ticket.updated).where(Ticket.id.in_(set(ticket_ids)))
    stmt = insert(TicketSeen).from_select(["user_id", "ticket_id", "seen_at"], rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[TicketSeen.user_id, TicketSeen.ticket_id], set_={"seen_at": stmt.excluded.seen_at}
    )
    ctx.session.execute(stmt)


def preferences(ctx: Context) -> dict[str, Any]:
    return dict(ctx.actor.preferences or {})


def set_preference(ctx: Context, key: str, value: str | int | bool | dict[str, Any] | None) -> None:
    """Remember one of the actor's settings (theme, last view) in `users.preferences`: one unit of
    work."""
    from tessera.core.context import operation

    ctx.actor.preferences = operation(_set_preference)(ctx, key, value)


def _set_preference(
    ctx: Context, key: str, value: str | int | bool | dict[str, Any] | None
) -> dict[str, Any]:
    from tessera.core.models import User

    if not key or len(key) > 64:
        raise InvalidInput("a preference name is 1 to 64 characters")
    # Read afresh and locked: the actor's row may be one a client kept (`context.Acting`), and
    # another session of the same user may be setting one of its preferences too.
    user = ctx.session.get(User, ctx.actor.id, populate_existing=True, with_for_update=True)
    if user is None:
        raise NotFound(f"no user {ctx.actor.name}")
    prefs = dict(user.preferences or {})
    if value is None:
        prefs.pop(key, None)
    else:
        prefs[key] = value
    user.preferences = prefs
    return prefs


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

    from tessera.core.messages import PRIVATE_TYPES
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
    if kind in PRIVATE_TYPES and not ctx.can("ShowTicketComments", ticket.queue_id, ticket):
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
