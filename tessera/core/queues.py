"""Queues: creation and settings."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Queue
from tessera.core.schemas import normalise_email

QUEUE_FIELDS = ("name", "description", "correspond_address", "comment_address", "lifecycle", "disabled")


def find_queue(ctx: Context, name: str) -> Queue | None:
    key = name.strip()
    if key.isdigit():
        return ctx.session.get(Queue, int(key))
    return ctx.session.scalars(select(Queue).where(func.lower(Queue.name) == key.lower())).first()


def get_queue(ctx: Context, name: str) -> Queue:
    """Case-insensitive, as RT: `general` finds `General`."""
    queue = find_queue(ctx, name)
    if queue is None:
        known = ", ".join(q.name for q in ctx.session.scalars(select(Queue).order_by(Queue.name)).all()[:10])
        raise NotFound(f"unknown queue {name!r}" + (f" (queues: {known})" if known else ""))
    return queue


def list_queues(ctx: Context, *, include_disabled: bool = False) -> list[Queue]:
    """The queues the actor may see (SeeQueue)."""
    query = select(Queue).order_by(func.lower(Queue.name))
    if not include_disabled:
        query = query.where(Queue.disabled.is_(False))
    return [q for q in ctx.session.scalars(query) if ctx.can_any(("SeeQueue", "ShowTicket"), q.id)]


def _address(raw: str | None) -> str | None:
    return normalise_email(raw) if raw and raw.strip() else None


def _check_lifecycle(ctx: Context, name: str) -> str:
    from tessera.core.statuses import lifecycle_names

    names = lifecycle_names(ctx.session)
    for known in names:
        if known.lower() == name.strip().lower():
            return known
    raise InvalidInput(f"unknown lifecycle {name!r} (lifecycles: {', '.join(sorted(names))})")


@operation
def create_queue(
    ctx: Context,
    name: str,
    *,
    description: str = "",
    lifecycle: str = "default",
    correspond_address: str | None = None,
    comment_address: str | None = None,
) -> Queue:
    ctx.require(("AdminQueue",), "create queues", "on this desk")
    name = name.strip()
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
        correspond_address=_address(correspond_address),
        comment_address=_address(comment_address),
    )
    ctx.session.add(queue)
    ctx.session.flush()
    return queue


@operation
def update_queue(ctx: Context, name: str, changes: dict[str, str]) -> Queue:
    queue = get_queue(ctx, name)
    ctx.require(("AdminQueue",), "change", f"queue {queue.name}", queue_id=queue.id)
    for key, raw in changes.items():
        if key not in QUEUE_FIELDS:
            raise InvalidInput(f"unknown queue field {key!r} (fields: {', '.join(QUEUE_FIELDS)})")
        if key == "name":
            new_name = raw.strip()
            other = find_queue(ctx, new_name)
            if not new_name or (other is not None and other.id != queue.id):
                raise InvalidInput(f"queue name {new_name!r} is empty or taken")
            if len(new_name) > 200:
                raise InvalidInput("a queue name may be at most 200 characters")
            queue.name = new_name
        elif key == "description":
            queue.description = raw
        elif key in ("correspond_address", "comment_address"):
            setattr(queue, key, _address(raw))
        elif key == "lifecycle":
            from tessera.core.statuses import change_queue_lifecycle

            change_queue_lifecycle(ctx, queue, _check_lifecycle(ctx, raw))
        elif key == "disabled":
            from tessera.core.users import _bool

            queue.disabled = _bool(raw, key)
    return queue
