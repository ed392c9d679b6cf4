"""Queues: creation and settings."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.hostile_text import check_name
from tessera.core.knowable import may_know_queue
from tessera.core.models import Queue
from tessera.core.schemas import as_int32, normalise_email
from tessera.core.spelling import did_you_mean
from tessera.core.subject_tags import check_tag

QUEUE_FIELDS = (
    "name",
    "description",
    "correspond_address",
    "comment_address",
    "lifecycle",
    "disabled",
    "subject_tag",
)


def find_queue(ctx: Context, name: str) -> Queue | None:
    """The queue named (or numbered) `name`, whether or not the actor may know it."""
    key = name.strip()
    queue_id = as_int32(key)
    if queue_id is not None and key.isdigit():
        return ctx.session.get(Queue, queue_id)
    return ctx.session.scalars(select(Queue).where(func.lower(Queue.name) == key.lower())).first()


def get_queue(ctx: Context, name: str) -> Queue:
    """Case-insensitive, as RT: `general` finds `General`. A queue the actor may not know is
    reported exactly as one that does not exist, listing only queues they may see."""
    queue = find_queue(ctx, name)
    if queue is None or not may_know_queue(ctx, queue):
        names = [q.name for q in list_queues(ctx)]  # only those the actor may see, hint included
        known = ", ".join(names[:10])
        hint = did_you_mean(name, names)
        raise NotFound(f"unknown queue {name!r}{hint}" + (f" (queues: {known})" if known else ""))
    return queue


def list_queues(ctx: Context, *, include_disabled: bool = False) -> list[Queue]:
    """The queues the actor may see (SeeQueue)."""
    query = select(Queue).order_by(func.lower(Queue.name))
    if not include_disabled:
        query = query.where(Queue.disabled.is_(False))
    return [q for q in ctx.session.scalars(query) if ctx.can_any(("SeeQueue", "ShowTicket"), q.id)]


def _address(raw: str | None) -> str | None:
    return normalise_email(raw) if raw and raw.strip() else None


def _unused_address(ctx: Context, address: str | None, queue_id: int | None) -> str | None:
    """A queue's correspond or comment address that no other queue has (in either role, in any
    case): the mail gateway routes a recipient to the queue whose address it is, and two would
    make that a guess."""
    if address is None:
        return None
    key = address.lower()
    taken = select(Queue.id).where(
        or_(func.lower(Queue.correspond_address) == key, func.lower(Queue.comment_address) == key)
    )
    if queue_id is not None:
        taken = taken.where(Queue.id != queue_id)
    if ctx.session.scalars(taken.limit(1)).first() is not None:
        raise InvalidInput(
            f"{address} is already another queue's correspond or comment address: mail to it"
            " would reach one of them"
        )
    return address


def _check_lifecycle(ctx: Context, name: str) -> str:
    from tessera.core.lifecycles.desk import lifecycle_names

    names = lifecycle_names(ctx.session)
    for known in names:
        if known.lower() == name.strip().lower():
            return known
    raise InvalidInput(f"unknown lifecycle {name!r} (lifecycles: {', '.join(sorted(names))})")


def _announce(ctx: Context, queue: Queue) -> None:
    """Running TUIs read their queue list again once this commits (NOTIFY)."""
    from tessera.core.live import announce_queue

    announce_queue(ctx.session, queue.id)


@operation
def create_queue(
    ctx: Context,
    name: str,
    *,
    description: str = "",
    lifecycle: str = "default",
    correspond_address: str | None = None,
    comment_address: str | None = None,
    subject_tag: str | None = None,
) -> Queue:
    ctx.require(("AdminQueue",), "create queues", "on this desk")
    name = check_name(name, "queue")
    if not name:
        raise InvalidInput("a queue name may not be empty")
    if len(name) > 200:
        raise InvalidInput("a queue name may be at most 200 characters")
    if find_queue(ctx, name) is not None:
        raise InvalidInput(f"a queue named {name!r} already exists")
    queue = Queue(
        name=name,
        description=description,
        lifecycle=_check_lifecycle(ctx, lifecycle),
        correspond_address=_unused_address(ctx, _address(correspond_address), None),
        comment_address=_unused_address(ctx, _address(comment_address), None),
        subject_tag=check_tag(subject_tag),
    )
    ctx.session.add(queue)
    ctx.session.flush()
    _announce(ctx, queue)
    return queue


@operation
def update_queue(ctx: Context, name: str, changes: dict[str, str]) -> Queue:
    queue = get_queue(ctx, name)
    ctx.require(("AdminQueue",), "change", f"queue {queue.name}", queue_id=queue.id)
    for key, raw in changes.items():
        if key not in QUEUE_FIELDS:
            raise InvalidInput(f"unknown queue field {key!r} (fields: {', '.join(QUEUE_FIELDS)})")
        if key == "name":
            new_name = check_name(raw, "queue")
            other = find_queue(ctx, new_name)
            if not new_name or (other is not None and other.id != queue.id):
                raise InvalidInput(f"queue name {new_name!r} is empty or taken")
            if len(new_name) > 200:
                raise InvalidInput("a queue name may be at most 200 characters")
            queue.name = new_name
        elif key == "description":
            queue.description = raw
        elif key in ("correspond_address", "comment_address"):
            setattr(queue, key, _unused_address(ctx, _address(raw), queue.id))
        elif key == "lifecycle":
            from tessera.core.statuses import change_queue_lifecycle

            change_queue_lifecycle(ctx, queue, _check_lifecycle(ctx, raw))
        elif key == "subject_tag":
            queue.subject_tag = check_tag(raw)
        elif key == "disabled":
            from tessera.core.users import _bool

            queue.disabled = _bool(raw, key)
    if changes:
        _announce(ctx, queue)
    return queue
