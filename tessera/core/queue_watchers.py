"""Queue watchers: the Cc and AdminCc of a queue, added to every ticket's notifications (as in RT).

Changing them needs AdminQueue or ModifyQueueWatchers on the queue (SuperUser has both). A group
(`group:NAME`) may be one too: its members receive the role's mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from tessera.core.context import Context, find_user, operation
from tessera.core.desk_addresses import check_watcher
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Group, QueueGroupWatcher, QueueWatcher, User
from tessera.core.queues import get_queue
from tessera.core.watchers import GROUP_PREFIX, group_named

QUEUE_WATCHER_ROLES = ("AdminCc", "Cc")
RIGHTS = ("AdminQueue", "ModifyQueueWatchers")


@dataclass(frozen=True)
class QueueWatcherInfo:
    role: str
    name: str
    email: str | None


def canonical_queue_role(role: str) -> str:
    key = role.strip().lower().rstrip("s")
    for name in QUEUE_WATCHER_ROLES:
        if name.lower() == key:
            return name
    raise InvalidInput(f"unknown queue watcher role {role!r} (roles: {', '.join(QUEUE_WATCHER_ROLES)})")


def list_queue_watchers(ctx: Context, queue: str) -> list[QueueWatcherInfo]:
    """A queue's watchers, AdminCc first, then by name."""
    found = get_queue(ctx, queue)
    rows = ctx.session.execute(
        select(QueueWatcher.role, User.name, User.email)
        .join(User, User.id == QueueWatcher.user_id)
        .where(QueueWatcher.queue_id == found.id)
        .order_by(QueueWatcher.role, func.lower(User.name))
    ).all()
    groups = ctx.session.execute(
        select(QueueGroupWatcher.role, Group.name)
        .join(Group, Group.id == QueueGroupWatcher.group_id)
        .where(QueueGroupWatcher.queue_id == found.id)
        .order_by(QueueGroupWatcher.role, func.lower(Group.name))
    ).all()
    out = [QueueWatcherInfo(role, name, email) for role, name, email in rows]
    out += [QueueWatcherInfo(role, GROUP_PREFIX + name, None) for role, name in groups]
    return sorted(out, key=lambda w: w.role)  # stable: by role, people then groups


@operation
def add_queue_watcher(ctx: Context, queue: str, role: str, who: str) -> bool:
    """Add a user (by name or address) as a queue watcher; False when they already were one."""
    from tessera.core.users import user_for_address

    found = get_queue(ctx, queue)
    role = canonical_queue_role(role)
    ctx.require(RIGHTS, f"change the {role} watchers of", f"queue {found.name}", queue_id=found.id)
    who = who.strip()
    if not who:
        raise InvalidInput("name a user or an e-mail address to add as a watcher")
    group = group_named(ctx, who)
    if group is not None:
        if ctx.session.get(QueueGroupWatcher, (found.id, role, group.id)) is not None:
            return False
        ctx.session.add(QueueGroupWatcher(queue_id=found.id, role=role, group_id=group.id))
        return True
    user = find_user(ctx.session, who)
    check_watcher(ctx.session, user, who, role, f"queue {found.name}")  # before a user is made for it
    if user is None:
        if "@" not in who:
            raise NotFound(f"unknown user {who!r}")
        user = user_for_address(ctx, who)
    if ctx.session.get(QueueWatcher, (found.id, role, user.id)) is not None:
        return False
    ctx.session.add(QueueWatcher(queue_id=found.id, role=role, user_id=user.id))
    return True


@operation
def remove_queue_watcher(ctx: Context, queue: str, role: str, who: str) -> None:
    found = get_queue(ctx, queue)
    role = canonical_queue_role(role)
    ctx.require(RIGHTS, f"change the {role} watchers of", f"queue {found.name}", queue_id=found.id)
    group = group_named(ctx, who)
    if group is not None:
        held = ctx.session.get(QueueGroupWatcher, (found.id, role, group.id))
        if held is None:
            raise InvalidInput(f"{GROUP_PREFIX}{group.name} is not a {role} of queue {found.name}")
        ctx.session.delete(held)
        return
    user = find_user(ctx.session, who)
    if user is None:
        raise NotFound(f"unknown user {who!r}")
    existing = ctx.session.get(QueueWatcher, (found.id, role, user.id))
    if existing is None:
        raise InvalidInput(f"{user.name} is not a {role} of queue {found.name}")
    ctx.session.delete(existing)
