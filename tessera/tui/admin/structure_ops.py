"""What the admin panes for lifecycles, queues and custom fields ask of core: each a function of a
Context, run by the pane's `Backend` (`await backend.call(structure_ops.queue_rows)`), plain data
out. Nothing here touches the screen, and no ORM object leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.core import customfield_admin, customfields, queues
from tessera.core import queue_watchers as qw
from tessera.core.context import Context
from tessera.core.lifecycles import check as lifecycle_check
from tessera.core.lifecycles import store as lifecycle_store
from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.models import CustomField, Queue

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


def powers(ctx: Context) -> Powers:
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


# -- lifecycles -----------------------------------------------------------------------------------


lifecycles = lifecycle_store.list_lifecycles


def lifecycle_names(ctx: Context) -> list[str]:
    return [s.name for s in lifecycles(ctx)]


def lifecycle_detail(ctx: Context, name: str) -> LifecycleDetail:
    lifecycle = lifecycle_store.get_lifecycle(ctx, name)
    return LifecycleDetail(
        lifecycle=lifecycle,
        yaml=lifecycle.to_yaml(),
        queues=lifecycle_store.queues_using(ctx, lifecycle.name),
    )


def check_lifecycle(ctx: Context, text: str) -> LifecycleCheck:
    """What `tessera lifecycle apply` would say about `text`, with nothing saved."""
    return lifecycle_check.check_lifecycle(ctx, text)


def apply_lifecycle(ctx: Context, text: str) -> Saved:
    """Save `text` as `tessera lifecycle apply` does; a refusal carries the CLI's one-line message."""
    try:
        applied = lifecycle_store.apply_lifecycle(ctx, text)
    except LifecycleInvalid as exc:
        raise LifecycleInvalid(lifecycle_check.refusal_line(exc), exc.problems) from None
    return Saved(
        f"{applied.result} lifecycle {applied.lifecycle.name}",
        applied.lifecycle.name,
        list(applied.warnings),
    )


# -- queues ---------------------------------------------------------------------------------------


def queue_rows(ctx: Context) -> list[QueueRow]:
    return [_queue_row(q) for q in queues.list_queues(ctx, include_disabled=True)]


def create_queue(ctx: Context, values: dict[str, str]) -> QueueRow:
    queue = queues.create_queue(
        ctx,
        values.get("name", ""),
        description=values.get("description", ""),
        lifecycle=values.get("lifecycle") or "default",
        correspond_address=values.get("correspond_address") or None,
        comment_address=values.get("comment_address") or None,
    )
    return _queue_row(queue)


def update_queue(ctx: Context, name: str, changes: dict[str, str]) -> QueueRow:
    return _queue_row(queues.update_queue(ctx, name, changes))


queue_watchers = qw.list_queue_watchers
add_queue_watcher = qw.add_queue_watcher
remove_queue_watcher = qw.remove_queue_watcher


# -- custom fields --------------------------------------------------------------------------------


def field_rows(ctx: Context) -> list[FieldRow]:
    return [_field_row(ctx, cf) for cf in customfields.list_fields(ctx)]


def create_field(ctx: Context, values: dict[str, Any]) -> FieldRow:
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


def update_field(ctx: Context, name: str, changes: dict[str, Any]) -> FieldRow:
    return _field_row(ctx, customfield_admin.update_field(ctx, name, **changes))


__all__ = [
    "FieldRow",
    "LifecycleCheck",
    "LifecycleDetail",
    "LifecycleSummary",
    "Powers",
    "QueueRow",
    "QueueWatcherInfo",
    "Saved",
]
