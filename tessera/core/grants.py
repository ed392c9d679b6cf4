"""Granting and revoking rights (to users, groups or roles; on a queue or globally)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tessera.core.context import Context, find_user, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.knowable import known_queue_ids
from tessera.core.models import Grant, Group, Queue, User
from tessera.core.queues import get_queue
from tessera.core.rights import ALL_ROLES, GLOBAL_RIGHTS, canonical_right, canonical_role
from tessera.core.users import get_group, require_agent


@dataclass(frozen=True)
class Principal:
    kind: str  # user | group | role
    user: User | None = None
    group: Group | None = None
    role: str | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.name}"
        if self.group is not None:
            return f"group:{self.group.name}"
        return f"role:{self.role}"


def parse_principal(ctx: Context, raw: str) -> Principal:
    """`user:alice`, `group:Support`, `role:Requestor`; a bare name is a role, else a user, else a group."""
    kind, _, name = raw.partition(":")
    if not name:
        name, kind = raw, ""
    kind = kind.strip().lower()
    if kind == "user":
        user = find_user(ctx.session, name)
        if user is None:
            raise NotFound(f"unknown user {name!r}")
        return Principal("user", user=user)
    if kind == "group":
        return Principal("group", group=get_group(ctx, name))
    if kind == "role":
        return Principal("role", role=canonical_role(name))
    if kind:
        raise InvalidInput(f"unknown principal kind {kind!r} in {raw!r} (use user:, group: or role:)")
    if name.strip().lower() in {r.lower() for r in ALL_ROLES}:
        return Principal("role", role=canonical_role(name))
    user = find_user(ctx.session, name)
    if user is not None:
        return Principal("user", user=user)
    try:
        return Principal("group", group=get_group(ctx, name))
    except NotFound:
        raise NotFound(f"no role, user or group named {name!r}") from None


def _scope(ctx: Context, queue: str | None) -> Queue | None:
    return get_queue(ctx, queue) if queue else None


def _require_acl_admin(ctx: Context, queue: Queue | None) -> None:
    if queue is None:
        ctx.require("SuperUser", "grant or revoke", "global rights")
    else:
        ctx.require("AdminQueue", "grant or revoke rights", f"on queue {queue.name}", queue_id=queue.id)


def _find(ctx: Context, right: str, who: Principal, queue: Queue | None) -> Grant | None:
    query = select(Grant).where(Grant.right_name == right, Grant.principal_kind == who.kind)
    query = query.where(Grant.queue_id.is_(None) if queue is None else Grant.queue_id == queue.id)
    if who.user is not None:
        query = query.where(Grant.user_id == who.user.id)
    elif who.group is not None:
        query = query.where(Grant.group_id == who.group.id)
    else:
        query = query.where(Grant.role == who.role)
    return ctx.session.scalars(query).first()


@operation
def grant(ctx: Context, right: str, who: str, queue: str | None = None) -> bool:
    """Grant; False when the grant already existed. Rights named by lifecycles may be granted too."""
    from tessera.core.lifecycles.store import lifecycle_rights

    name = canonical_right(right, lifecycle_rights(ctx))
    scope = _scope(ctx, queue)
    if scope is not None and name in GLOBAL_RIGHTS:
        raise InvalidInput(f"{name} is a global right; grant it without --queue")
    _require_acl_admin(ctx, scope)
    principal = parse_principal(ctx, who)
    if _find(ctx, name, principal, scope) is not None:
        return False
    ctx.session.add(
        Grant(
            right_name=name,
            principal_kind=principal.kind,
            user_id=principal.user.id if principal.user else None,
            group_id=principal.group.id if principal.group else None,
            role=principal.role,
            queue_id=scope.id if scope else None,
        )
    )
    return True


@operation
def revoke(ctx: Context, right: str, who: str, queue: str | None = None) -> bool:
    from tessera.core.lifecycles.store import lifecycle_rights

    name = canonical_right(right, lifecycle_rights(ctx))
    scope = _scope(ctx, queue)
    _require_acl_admin(ctx, scope)
    existing = _find(ctx, name, parse_principal(ctx, who), scope)
    if existing is None:
        return False
    ctx.session.delete(existing)
    return True


@dataclass(frozen=True)
class GrantRow:
    right: str
    principal: str
    queue: str | None


def list_grants(ctx: Context, queue: str | None = None) -> list[GrantRow]:
    require_agent(ctx, "rights")
    scope = _scope(ctx, queue)
    query = select(Grant, User.name, Group.name, Queue.name).outerjoin(User, User.id == Grant.user_id)
    query = query.outerjoin(Group, Group.id == Grant.group_id).outerjoin(Queue, Queue.id == Grant.queue_id)
    if scope is not None:
        query = query.where((Grant.queue_id == scope.id) | Grant.queue_id.is_(None))
    rows = []
    known = known_queue_ids(ctx)  # grants on queues the actor may not know would name them
    for g, user_name, group_name, queue_name in ctx.session.execute(query):
        if g.queue_id is not None and known is not None and g.queue_id not in known:
            continue
        label = (
            f"user:{user_name}"
            if g.principal_kind == "user"
            else (f"group:{group_name}" if g.principal_kind == "group" else f"role:{g.role}")
        )
        rows.append(GrantRow(right=g.right_name, principal=label, queue=queue_name))
    rows.sort(key=lambda r: (r.queue or "", r.principal.lower(), r.right))
    return rows
