"""The admin panes' door to core (lifecycles, queues, custom fields): plain data out.

Each function is one `Backend._run` call (one session, one Context); the panes call them from
workers through `asyncio.to_thread`. Nothing here touches the screen, and no ORM object leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tessera.core import customfield_admin, customfields, lifecycle_check, lifecycle_store, queues
from tessera.core import queue_watchers as qw
from tessera.core.context import Context
from tessera.core.errors import TesseraError
from tessera.core.lifecycle import Lifecycle, LifecycleInvalid
from tessera.core.models import CustomField, Queue
from tessera.tui.backend import Backend

T = TypeVar("T")
LifecycleSummary = lifecycle_store.LifecycleSummary
LifecycleCheck = lifecycle_check.LifecycleCheck
QueueWatcherInfo = qw.QueueWatcherInfo
CF_TYPES = customfields.CF_TYPES
QUEUE_WATCHER_ROLES = qw.QUEUE_WATCHER_ROLES


@dataclass(frozen=True)
class Powers:
    """What the acting user may change here (core checks again on every change)."""

    user: str
    lifecycles: bool
    custom_fields: bool
    create_queues: bool
    admin_queues: frozenset[int] = frozenset()
    watcher_queues: frozenset[int] = frozenset()


@dataclass(frozen=True)
class LifecycleDetail:
    lifecycle: Lifecycle
    yaml: str
    queues: list[str]


@dataclass(frozen=True)
class QueueRow:
    id: int
    name: str
    description: str
    correspond_address: str
    comment_address: str
    lifecycle: str
    disabled: bool


@dataclass(frozen=True)
class FieldRow:
    id: int
    name: str
    type: str
    multiple: bool
    values: list[str]
    pattern: str
    description: str
    queue: str | None  # None: every queue
    disabled: bool


@dataclass(frozen=True)
class Saved:
    """What a save did: a short summary and the warnings a person should read."""

    summary: str
    name: str
    warnings: list[str] = field(default_factory=list)


def _queue_row(q: Queue) -> QueueRow:
    return QueueRow(
        id=q.id,
        name=q.name,
        description=q.description or "",
        correspond_address=q.correspond_address or "",
        comment_address=q.comment_address or "",
        lifecycle=q.lifecycle,
        disabled=bool(q.disabled),
    )


def _field_row(ctx: Context, cf: CustomField) -> FieldRow:
    scope = queues.find_queue(ctx, str(cf.queue_id)) if cf.queue_id is not None else None
    return FieldRow(
        id=cf.id,
        name=cf.name,
        type=cf.type,
        multiple=bool(cf.multiple),
        values=[o.value for o in cf.options],
        pattern=cf.pattern or "",
        description=cf.description or "",
        queue=scope.name if scope is not None else None,
        disabled=bool(cf.disabled),
    )


# -- rights -------------------------------------------------------------------------------------


def powers(backend: Backend) -> Powers:
    def load(ctx: Context) -> Powers:
        every = queues.list_queues(ctx, include_disabled=True)
        admin = {q.id for q in every if ctx.can("AdminQueue", q.id)}
        watch = {q.id for q in every if ctx.can_any(qw.RIGHTS, q.id)}
        return Powers(
            user=ctx.actor.name,
            lifecycles=ctx.can(lifecycle_store.ADMIN_RIGHT),
            custom_fields=ctx.can(customfield_admin.ADMIN_RIGHT),
            create_queues=ctx.can("AdminQueue"),
            admin_queues=frozenset(admin),
            watcher_queues=frozenset(watch),
        )

    return backend._run(load)


# -- lifecycles -----------------------------------------------------------------------------------


def lifecycles(backend: Backend) -> list[LifecycleSummary]:
    return backend._run(lifecycle_store.list_lifecycles)


def lifecycle_names(backend: Backend) -> list[str]:
    return [s.name for s in lifecycles(backend)]


def lifecycle_detail(backend: Backend, name: str) -> LifecycleDetail:
    def load(ctx: Context) -> LifecycleDetail:
        lifecycle = lifecycle_store.get_lifecycle(ctx, name)
        return LifecycleDetail(
            lifecycle=lifecycle,
            yaml=lifecycle.to_yaml(),
            queues=lifecycle_store.queues_using(ctx, lifecycle.name),
        )

    return backend._run(load)


def check_lifecycle(backend: Backend, text: str) -> LifecycleCheck:
    """What `tessera lifecycle apply` would say about `text`, with nothing saved."""
    return backend._run(lambda ctx: lifecycle_check.check_lifecycle(ctx, text))


def apply_lifecycle(backend: Backend, text: str) -> Saved:
    """Save `text` as `tessera lifecycle apply` does; a refusal carries the CLI's one-line message."""

    def run(ctx: Context) -> Saved:
        try:
            applied = lifecycle_store.apply_lifecycle(ctx, text)
        except LifecycleInvalid as exc:
            raise LifecycleInvalid(lifecycle_check.refusal_line(exc), exc.problems) from None
        return Saved(
            f"{applied.result} lifecycle {applied.lifecycle.name}",
            applied.lifecycle.name,
            list(applied.warnings),
        )

    return backend._run(run)


# -- queues ---------------------------------------------------------------------------------------


def queue_rows(backend: Backend) -> list[QueueRow]:
    return backend._run(lambda ctx: [_queue_row(q) for q in queues.list_queues(ctx, include_disabled=True)])


def create_queue(backend: Backend, values: dict[str, str]) -> QueueRow:
    def run(ctx: Context) -> QueueRow:
        queue = queues.create_queue(
            ctx,
            values.get("name", ""),
            description=values.get("description", ""),
            lifecycle=values.get("lifecycle") or "default",
            correspond_address=values.get("correspond_address") or None,
            comment_address=values.get("comment_address") or None,
        )
        return _queue_row(queue)

    return backend._run(run)


def update_queue(backend: Backend, name: str, changes: dict[str, str]) -> QueueRow:
    return backend._run(lambda ctx: _queue_row(queues.update_queue(ctx, name, changes)))


def queue_watchers(backend: Backend, queue: str) -> list[QueueWatcherInfo]:
    return backend._run(lambda ctx: qw.list_queue_watchers(ctx, queue))


def add_queue_watcher(backend: Backend, queue: str, role: str, who: str) -> bool:
    return backend._run(lambda ctx: qw.add_queue_watcher(ctx, queue, role, who))


def remove_queue_watcher(backend: Backend, queue: str, role: str, who: str) -> None:
    backend._run(lambda ctx: qw.remove_queue_watcher(ctx, queue, role, who))


# -- custom fields --------------------------------------------------------------------------------


def field_rows(backend: Backend) -> list[FieldRow]:
    return backend._run(lambda ctx: [_field_row(ctx, cf) for cf in customfields.list_fields(ctx)])


def create_field(backend: Backend, values: dict[str, Any]) -> FieldRow:
    def run(ctx: Context) -> FieldRow:
        cf = customfields.create_field(
            ctx,
            values.get("name", ""),
            type_=values.get("type", "freeform"),
            multiple=bool(values.get("multiple")),
            values=list(values.get("values") or []),
            queue=values.get("queue") or None,
            pattern=values.get("pattern") or None,
            description=values.get("description", ""),
        )
        return _field_row(ctx, cf)

    return backend._run(run)


def update_field(backend: Backend, name: str, changes: dict[str, Any]) -> FieldRow:
    return backend._run(lambda ctx: _field_row(ctx, customfield_admin.update_field(ctx, name, **changes)))


__all__ = [
    "FieldRow",
    "LifecycleCheck",
    "LifecycleDetail",
    "LifecycleSummary",
    "Powers",
    "QueueRow",
    "QueueWatcherInfo",
    "Saved",
    "TesseraError",
]


async def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, str | None]:
    """Run `fn` in a thread: (result, None), or (None, the one-line message of a TesseraError)."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs), None
    except TesseraError as exc:
        return None, exc.message
