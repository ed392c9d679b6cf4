"""Users and groups: who works the desk and who writes to it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tessera.core.context import Context, find_user, operation
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.hostile_text import check_name
from tessera.core.knowable import may_know_user
from tessera.core.models import Group, GroupMember, User
from tessera.core.schemas import is_user_name, normalise_email

USER_FIELDS = ("email", "real_name", "privileged", "disabled", "name", "notify_actor")
SELF_FIELDS = {"real_name", "email", "notify_actor"}  # what users may change of their own
MAX_NAME = 200  # users.name, users.real_name and groups.name are varchar(200)


def get_user(ctx: Context, name_or_email: str) -> User:
    """The user by name or address; to a requestor, who may not list the desk's people, anyone
    but themselves is reported exactly as a user who does not exist."""
    user = find_user(ctx.session, name_or_email)
    if user is None or not may_know_user(ctx, user):
        raise NotFound(f"unknown user {name_or_email!r}")
    return user


def require_self_or_admin(ctx: Context, user: User, what: str) -> None:
    """A user's own credentials (SSH keys, API tokens) are theirs to manage; anyone else's need
    AdminUsers."""
    if user.id != ctx.actor.id:
        ctx.require(("AdminUsers",), what, f"of user {user.name}")


def require_agent(ctx: Context, what: str) -> None:
    """Who works the desk, and how, is for agents (as RT keeps its admin pages from requestors):
    a requestor may not list the desk's people, their addresses, groups or grants."""
    if not (ctx.system or ctx.actor.privileged or ctx.can("AdminUsers")):
        raise PermissionDenied(f"{ctx.actor.name} may not list {what} (agents only)")


def list_users(ctx: Context, *, privileged: bool | None = None) -> list[User]:
    require_agent(ctx, "users")
    query = select(User).order_by(func.lower(User.name))
    if privileged is not None:
        query = query.where(User.privileged == privileged)
    return list(ctx.session.scalars(query))


def _check_name(name: str) -> str:
    name = check_name(name, "user")
    if not name:
        raise InvalidInput("a user name may not be empty")
    if any(c.isspace() for c in name):
        raise InvalidInput(f"user name {name!r} may not contain spaces")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a user name may be at most {MAX_NAME} characters")
    return name


def _check_real_name(raw: str | None) -> str | None:
    real_name = (raw or "").strip() or None
    if real_name and len(real_name) > MAX_NAME:
        raise InvalidInput(f"a real name may be at most {MAX_NAME} characters")
    return real_name


@operation
def add_user(
    ctx: Context,
    name: str,
    *,
    email: str | None = None,
    real_name: str | None = None,
    privileged: bool = True,
) -> User:
    """An agent (privileged, the default from the CLI) or a requestor."""
    ctx.require(("AdminUsers",), "add users", "on this desk")
    name = _check_name(name)
    address = normalise_email(email) if email else None
    if find_user(ctx.session, name) is not None:
        raise InvalidInput(f"a user named {name!r} already exists")
    if address and find_user(ctx.session, address) is not None:
        raise InvalidInput(f"a user with address {address!r} already exists")
    user = User(name=name, email=address, real_name=_check_real_name(real_name), privileged=privileged)
    ctx.session.add(user)
    ctx.session.flush()
    return user


def _bool(raw: str, field: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on", "y"):
        return True
    if value in ("0", "false", "no", "off", "n"):
        return False
    raise InvalidInput(f"{field}: expected yes or no, got {raw!r}")


@operation
def update_user(ctx: Context, name_or_email: str, changes: dict[str, str]) -> User:
    user = get_user(ctx, name_or_email)
    if not (ctx.can("AdminUsers") or (user.id == ctx.actor.id and set(changes) <= SELF_FIELDS)):
        ctx.require(("AdminUsers",), "change users", "on this desk")
    for key, raw in changes.items():
        if key not in USER_FIELDS:
            raise InvalidInput(f"unknown user field {key!r} (fields: {', '.join(USER_FIELDS)})")
        if key == "email":
            address = normalise_email(raw) if raw.strip() else None
            other = find_user(ctx.session, address) if address else None
            if other is not None and other.id != user.id:
                raise InvalidInput(f"a user with address {address!r} already exists")
            user.email = address
        elif key == "name":
            new_name = _check_name(raw)
            other = find_user(ctx.session, new_name)
            if other is not None and other.id != user.id:
                raise InvalidInput(f"a user named {new_name!r} already exists")
            user.name = new_name
        elif key == "real_name":
            user.real_name = _check_real_name(raw)
        elif key == "notify_actor":
            # RT's per-user NotifyActor: mail me my own changes (yes/no), or the desk's default.
            prefs = dict(user.preferences or {})
            if raw.strip().lower() in ("", "default"):
                prefs.pop("notify_actor", None)
            else:
                prefs["notify_actor"] = _bool(raw, key)
            user.preferences = prefs
        else:
            setattr(user, key, _bool(raw, key))
    return user


@lru_cache(maxsize=4096)
def normalised_address(raw: str) -> str:
    """`normalise_email`, remembered: it is pure, and checking an address is not cheap."""
    return normalise_email(raw)


def user_for_address(ctx: Context, address: str, known: dict[str, User] | None = None) -> User:
    """The user with this address, created as an unprivileged requestor when new (as RT does).

    `known` maps lower-cased addresses to the users a caller already looked up in this unit of
    work (`known_users`); a user created here is added to it. A user's name (no @-sign) finds that
    user, and only that: a name nobody has is refused. An address a user already has finds them
    as written, before it is checked: the mail gateway takes senders the checks refuse
    (`cron@localhost`), and naming that user again must not fail."""
    if is_user_name(address):
        user = (known or {}).get(address.strip().lower()) or find_user(ctx.session, address)
        if user is None:
            raise InvalidInput(f"malformed email address {address!r}: no @-sign, and no user has that name")
        return user
    try:
        address = normalised_address(address)
    except InvalidInput:
        # Looked up only when the checks refuse it: every other address keeps its one lookup.
        existing = find_user(ctx.session, address)
        if existing is None or not existing.email or existing.email.lower() != address.strip().lower():
            raise
        if known is not None:
            known[address.strip().lower()] = existing
        return existing
    key = address.strip().lower()
    user = known.get(key) if known is not None else None
    if user is None:
        user = find_user(ctx.session, address)
    if user is None:
        user = _new_requestor(ctx, address)
    if known is not None:
        known[key] = user
    return user


def _new_requestor(ctx: Context, address: str) -> User:
    return new_user_once(ctx.session, address)[0]


def new_user_once(session: Session, address: str, real_name: str | None = None) -> tuple[User, bool]:
    """A new unprivileged user for `address` (name and email), and whether this unit made it.

    Two units of work may meet the same new address at once (two alerts from one monitor, two
    mails from a new sender): the second waits for the first's insert, then takes that user
    instead of failing on the unique index."""
    new = insert(User).values(name=address, email=address, real_name=real_name, privileged=False)
    made = session.scalars(new.on_conflict_do_nothing().returning(User)).first()
    if made is not None:
        return made, True
    user = find_user(session, address)  # committed by the other unit (a new statement sees it)
    if user is None:
        raise InvalidInput(f"a user with the address {address!r} could not be made")
    return user, False


def address_keys(addresses: Iterable[str]) -> set[str]:
    """The look-up keys (`find_user`'s) of the well-formed addresses among `addresses`."""
    keys = set()
    for raw in addresses:
        if is_user_name(raw):
            keys.add(raw.strip().lower())
            continue
        try:
            keys.add(normalised_address(raw).strip().lower())
        except InvalidInput:
            continue  # refused where it is used, in the caller's order
    return keys


def known_users(keys: set[str], users: Iterable[User | None]) -> dict[str, User]:
    """Which of `users` (rows matching `lower(name)` or `lower(email)` in `keys`) each key finds,
    where exactly one does; a key left out is looked up with `find_user` as usual."""
    matches: dict[str, set[int]] = {}
    by_id: dict[int, User] = {}
    for user in users:
        if user is None:
            continue
        if not (user.name.isascii() and (user.email or "").isascii()):
            return {}  # PostgreSQL's lower() may match what Python's does not: let it decide
        by_id[user.id] = user
        for value in (user.name, user.email):
            if value and value.lower() in keys:
                matches.setdefault(value.lower(), set()).add(user.id)
    return {k: by_id[next(iter(ids))] for k, ids in matches.items() if len(ids) == 1 and k.isascii()}


def get_group(ctx: Context, name: str) -> Group:
    group = ctx.session.scalars(select(Group).where(func.lower(Group.name) == name.strip().lower())).first()
    if group is None:
        raise NotFound(f"unknown group {name!r}")
    return group


def list_groups(ctx: Context) -> list[tuple[Group, list[User]]]:
    require_agent(ctx, "groups")
    groups = list(ctx.session.scalars(select(Group).order_by(func.lower(Group.name))))
    members: dict[int, list[User]] = {g.id: [] for g in groups}
    rows = ctx.session.execute(
        select(GroupMember.group_id, User).join(User, User.id == GroupMember.user_id).order_by(User.name)
    ).all()
    for group_id, user in rows:
        members.setdefault(group_id, []).append(user)
    return [(g, members[g.id]) for g in groups]


@operation
def add_group(ctx: Context, name: str, description: str = "") -> Group:
    ctx.require(("AdminGroups",), "add groups", "on this desk")
    name = check_name(name, "group")
    if not name.strip():
        raise InvalidInput("a group name may not be empty")
    if len(name.strip()) > MAX_NAME:
        raise InvalidInput(f"a group name may be at most {MAX_NAME} characters")
    if ctx.session.scalars(select(Group).where(func.lower(Group.name) == name.strip().lower())).first():
        raise InvalidInput(f"a group named {name.strip()!r} already exists")
    group = Group(name=name.strip(), description=description)
    ctx.session.add(group)
    ctx.session.flush()
    return group


@operation
def set_membership(ctx: Context, group_name: str, user_name: str, *, member: bool) -> bool:
    """Add or remove a member; returns False when nothing had to change."""
    ctx.require(("AdminGroups",), "change group members", "on this desk")
    group = get_group(ctx, group_name)
    user = get_user(ctx, user_name)
    existing = ctx.session.get(GroupMember, (group.id, user.id))
    if member and existing is None:
        ctx.session.add(GroupMember(group_id=group.id, user_id=user.id))
        return True
    if not member and existing is not None:
        ctx.session.delete(existing)
        return True
    return False
