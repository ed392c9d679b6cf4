"""Who is acting, in which session, and the unit of work: every operation runs inside a `Context`.

An operation is one database transaction. The outermost `@operation` commits (or rolls back
everything); operations that call other operations join the same transaction. Before the commit,
the transactions recorded by the unit of work are handed to the scrip engine (found through
`scrip_runner`: core does not import it), so their effects land in the same database transaction.

The unit of work is kept here and only here: `operation` (the one wrapper), `rolled_back` (a
dry-run: operations inside join a unit that is then rolled back) and `savepoint` (a part of the
caller's operation that may fail alone). Nothing else sets `depth`, commits, or clears what a unit
keeps on its context (`batch`, `touched`, `bumped`, the per-ticket role cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import psycopg
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from tessera.core import clock, fast_sql, scrip_runner
from tessera.core.config import USER_ENV, wanted_user
from tessera.core.db import first_line, rollback_quietly
from tessera.core.db_faults import database_error
from tessera.core.errors import DatabaseUnavailable, InvalidInput, NotFound, PermissionDenied
from tessera.core.fast_sql import Ride
from tessera.core.live import announce, payload
from tessera.core.models import Ticket, Transaction, User
from tessera.core.rights import RightsCache

P = ParamSpec("P")
R = TypeVar("R")


class ScripRunner(Protocol):
    """What core asks of the scrip engine (found through `scrip_runner`, installed by the
    `tessera` package): run the scrips on a unit's transactions before it commits."""

    def ride(self, ctx: Context, ticket: Ticket) -> Ride | None:
        """What to read along with the write of `ticket`'s one change (None: nothing)."""
        ...

    def run(self, ctx: Context, transactions: list[Transaction], ride: Ride | None) -> str | None:
        """Run the scrips on `transactions`, in the unit's database transaction; `ride` is the
        one this runner asked for in this unit, its rows read (None when there was none).
        Returns the live-update notice its own write already sent (`live.payload`), if any, so
        the commit does not send the same one again."""
        ...


@dataclass
class Context:
    session: Session
    actor: User
    rights: RightsCache
    # Set by scrips and migrations: changes made on the desk's own behalf skip rights checks.
    system: bool = False
    depth: int = 0
    now: datetime = field(default_factory=clock.now)
    batch: list[Transaction] = field(default_factory=list)
    # Tickets changed by this unit of work: each gets its version bumped once. `record` bumps it
    # with the first change (so the UPDATE that writes the change carries it); `bumped` keeps the
    # version each ticket must have at commit.
    touched: dict[int, Ticket] = field(default_factory=dict)
    bumped: dict[int, int] = field(default_factory=dict)
    # Tickets this unit created, held until it ends: the session's identity map holds objects
    # weakly, and a caller that keeps no reference (the mail gateway keeps its inbound record)
    # would have the scrips read the new ticket back from the database, twice.
    made: list[Ticket] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # RT's ActivateScrips: every unit of work runs the scrips, unless a bulk load (the demo seed,
    # an import) turns them off for its own context (`scrips_off`).
    scrips: bool = True
    # Which client's change this is, named in its live-update notice (`live.announce`): a client
    # that reloads what it changed itself skips its own notices.
    origin: str | None = None
    # The scrip runner's prefetch read along with a write of this unit (a create's INSERT), for
    # its run at the unit's end; it is used there only if nothing was sent since it was read.
    ride: Ride | None = None
    # Run once the unit's scrips ran and its versions are final, just before it commits, in its
    # database transaction: what must be written with the change but read after all of it (an
    # idempotent request's stored reply).
    before_commit: list[Callable[[], None]] = field(default_factory=list)

    def can(self, right: str, queue_id: int | None = None, ticket: Ticket | None = None) -> bool:
        return self.system or self.rights.has(right, queue_id, session=self.session, ticket=ticket)

    def can_any(
        self, rights: tuple[str, ...], queue_id: int | None = None, ticket: Ticket | None = None
    ) -> bool:
        return any(self.can(r, queue_id, ticket) for r in rights)

    def require(
        self,
        right: str | tuple[str, ...],
        what: str,
        where: str,
        *,
        queue_id: int | None = None,
        ticket: Ticket | None = None,
    ) -> None:
        rights = (right,) if isinstance(right, str) else right
        if not self.can_any(rights, queue_id, ticket):
            needed = " or ".join(rights)
            raise PermissionDenied(f"{self.actor.name} may not {what} {where} (needs {needed})")


_FIND_USER = select(User).where(
    (func.lower(User.name) == bindparam("key")) | (func.lower(User.email) == bindparam("key"))
)


def find_user(session: Session, name_or_email: str) -> User | None:
    key = name_or_email.strip().lower()
    if not key:
        return None
    return session.scalars(_FIND_USER, {"key": key}).first()


def resolve_actor(session: Session, name: str | None = None) -> User:
    """`--user NAME`, else `$TESSERA_USER`, else the OS login; unknown or disabled is an error."""
    wanted = wanted_user(name)
    user = find_user(session, wanted)
    if user is None:
        source = "--user" if name else (USER_ENV if os.environ.get(USER_ENV) else "your login name")
        raise NotFound(
            f"unknown user {wanted!r} (from {source}); an admin can add it with `tessera user add {wanted}`"
        )
    if user.disabled:
        raise PermissionDenied(f"user {user.name!r} is disabled")
    return user


def open_context(session: Session, actor: str | User | None = None) -> Context:
    user = actor if isinstance(actor, User) else resolve_actor(session, actor)
    return Context(session=session, actor=user, rights=RightsCache.load(session, user))


@dataclass(frozen=True)
class Acting:
    """The acting user and their grants as one unit of work read them (`acting_of`), to open the
    next units without reading them again (`context_for`). Whoever keeps one must drop it when
    rights may have changed: `live.RIGHTS_CHANNEL` says when (its triggers fire for grants,
    groups, members and user rows), so a client keeps one only while it listens there."""

    user_id: int
    user_row: tuple[Any, ...]
    rights: RightsCache


def acting_of(ctx: Context) -> Acting:
    """What `context_for` needs to act as `ctx`'s user again (read from `ctx`, no query)."""
    import copy

    columns = fast_sql.loaded_columns(User)
    row = tuple(copy.deepcopy(getattr(ctx.actor, key)) for key, _ in columns)
    return Acting(ctx.actor.id, row, ctx.rights)


def context_for(session: Session, acting: Acting) -> Context:
    """A context in `session` for the kept user and rights (as `open_context`, without its two
    queries); the user is a persistent object of this session, the per-ticket role cache new."""
    import copy

    user = fast_sql.persistent(session, User, copy.deepcopy(list(acting.user_row)))
    return Context(session=session, actor=user, rights=acting.rights.for_user(user))


def _translate_integrity(exc: IntegrityError) -> InvalidInput:
    text = first_line(exc)
    if "uq_users_email_lower" in text:
        return InvalidInput("a user with that email address already exists")
    if "uq_users_name_lower" in text:
        return InvalidInput("a user with that name already exists")
    if "uq_queues_name_lower" in text:
        return InvalidInput("a queue with that name already exists")
    if "uq_groups_name_lower" in text:
        return InvalidInput("a group with that name already exists")
    if "uq_custom_fields_name_lower" in text:
        return InvalidInput("a custom field with that name already exists")
    return InvalidInput(f"refused by the database: {text}")


def translate_data_error(exc: DBAPIError) -> InvalidInput:
    """A value the database cannot hold (what the checks before it missed), as one clear line."""
    text = first_line(exc)
    if "out of range" in text:
        return InvalidInput("a number is out of range (-2147483648 to 2147483647)")
    if "too long" in text or "index row" in text:
        limit = text.rsplit("(", 1)[-1].rstrip(")") if "varying(" in text else None
        return InvalidInput("a value is too long" + (f" (at most {limit} characters)" if limit else ""))
    return InvalidInput(f"refused by the database: {text}")


# A unit of work chosen as a deadlock's victim (or refused by a serialisation check) is run
# again from the start, this many times in all, before the user hears of it: its rollback undid
# everything, and the other unit has the locks by now. Ticket locks are taken in one order (by
# id), so this is for the rare cycles that order cannot rule out.
RETRY_ATTEMPTS = 5


class _RunAgain(Exception):
    """Raised inside `operation` when the database asks for the unit to be run again."""


def _must_run_again(exc: OperationalError) -> bool:
    return isinstance(exc.orig, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))


def operation(fn: Callable[Concatenate[Context, P], R]) -> Callable[Concatenate[Context, P], R]:
    """Make `fn` one unit of work: all of it commits, or none of it does."""

    @wraps(fn)
    def wrapper(ctx: Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if ctx.depth:
            return fn(ctx, *args, **kwargs)
        warned = len(ctx.warnings)
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return _unit_of_work(ctx, fn, *args, **kwargs)
            except _RunAgain as again:
                del ctx.warnings[warned:]  # the rolled-back attempt's warnings went with it
                if attempt == RETRY_ATTEMPTS:
                    raise DatabaseUnavailable(
                        f"database error: {again} (still, after {RETRY_ATTEMPTS} attempts); try again"
                    ) from None
        raise AssertionError("unreachable")

    return wrapper


def _begin_unit(ctx: Context) -> None:
    """A unit of work starts: its own clock, and nothing left of a unit before it."""
    ctx.depth = 1
    ctx.now = clock.now()
    ctx.bumped.clear()
    ctx.made.clear()
    ctx.ride = None
    ctx.before_commit.clear()


def _end_unit(ctx: Context) -> None:
    """A unit of work is over (committed, rolled back, or a dry-run): forget what it kept."""
    ctx.depth = 0
    ctx.batch.clear()
    ctx.touched.clear()
    ctx.bumped.clear()
    ctx.made.clear()
    ctx.ride = None
    ctx.before_commit.clear()
    ctx.rights._ticket_roles.clear()


def _unit_of_work(ctx: Context, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """One attempt at the unit: run `fn`, the scrips, commit; roll back on any error."""
    _begin_unit(ctx)
    session = ctx.session
    try:
        result = fn(ctx, *args, **kwargs)
        runner: ScripRunner | None = scrip_runner.runner() if ctx.scrips else None
        written, ride = _flush_one_change(ctx, runner)
        if not written:
            session.flush()
            ride = ctx.ride  # (the runner checks that it is still current)
        announced = None
        if ctx.batch and runner is not None:
            session.info[fast_sql.LAST_WRITE] = True  # its trace and outbox go with the COMMIT
            try:
                announced = runner.run(ctx, list(ctx.batch), ride)
            finally:
                session.info.pop(fast_sql.LAST_WRITE, None)
        for ticket_id, ticket in ctx.touched.items():
            version = ctx.bumped.get(ticket_id)
            if version is None:  # marked touched without `record` (a merged ticket)
                ticket.version = (ticket.version or 1) + 1
            elif ticket.version != version:  # a savepoint rollback took the bump with it
                ticket.version = version
        session.flush()
        if ctx.before_commit:
            ctx.rights._ticket_roles.clear()  # the scrips may have changed who holds a role
            for hook in ctx.before_commit:
                hook()
            session.flush()
        changed = {txn.ticket_id for txn in ctx.batch} | set(ctx.touched)
        # Delivered by PostgreSQL only if this commits; the scrips' write may have sent it already.
        if changed and announced != payload(changed, ctx.origin):
            announce(session, changed, ctx.origin)
        session.commit()
        return result
    except IntegrityError as exc:
        session.rollback()
        raise _translate_integrity(exc) from None
    except DataError as exc:
        session.rollback()
        raise translate_data_error(exc) from None
    except OperationalError as exc:
        if isinstance(exc.orig, psycopg.errors.ProgramLimitExceeded):  # e.g. a huge indexed value
            session.rollback()
            raise translate_data_error(exc) from None
        if _must_run_again(exc):
            session.rollback()
            raise _RunAgain(first_line(exc)) from None
        error = database_error(exc)  # lost, frozen, a lock not granted: says if it committed
        rollback_quietly(session)
        raise error or DatabaseUnavailable(f"database error: {first_line(exc)}") from None
    except BaseException as exc:
        error = database_error(exc) if isinstance(exc, Exception) else None
        rollback_quietly(session)
        if error is None or error is exc:
            raise
        raise error from None
    finally:
        _end_unit(ctx)


@contextmanager
def rolled_back(ctx: Context) -> Iterator[Context]:
    """A dry-run: a unit of work that is always rolled back. Operations called inside join it (so
    none commits); core runs no scrips at its end (a preview runs them itself, to collect their
    plan); when it is over nothing of it is left, in the database or on `ctx`. Refused inside
    another unit, whose work its rollback would take with it."""
    if ctx.depth:
        raise RuntimeError("a dry-run cannot run inside another operation")
    _begin_unit(ctx)
    try:
        yield ctx
    finally:
        rollback_quietly(ctx.session)
        _end_unit(ctx)


@contextmanager
def savepoint(ctx: Context) -> Iterator[None]:
    """A part of the caller's operation that may fail alone (a scrip's commit): when the block
    raises, its rows are rolled back and what it recorded leaves the unit (its transactions, the
    tickets it first touched); the rest of the unit goes on. Only inside an operation."""
    if not ctx.depth:
        raise RuntimeError("a savepoint is part of an operation: open it inside one")
    recorded, touched = len(ctx.batch), set(ctx.touched)
    try:
        with ctx.session.begin_nested():
            yield
            if not _write_one_change(ctx, ctx.batch[recorded:], None)[0]:
                ctx.session.flush()
    except BaseException:
        del ctx.batch[recorded:]
        for ticket_id in set(ctx.touched) - touched:
            del ctx.touched[ticket_id]
            ctx.bumped.pop(ticket_id, None)
        raise


def desk_context(session: Session, actor: User) -> Context:
    """A context acting on the desk's behalf as `actor` (its rights not loaded, nor checked): for
    the desk's own bookkeeping, such as a gateway filing what it refused or a key's last use."""
    return Context(session=session, actor=actor, rights=RightsCache(user=actor), system=True)


@contextmanager
def scrips_off(ctx: Context) -> Iterator[Context]:
    """Units of work of `ctx` inside this block run no scrips: for bulk loads only (the demo seed,
    an import), as RT's ActivateScrips. Everything else runs them."""
    was, ctx.scrips = ctx.scrips, False
    try:
        yield ctx
    finally:
        ctx.scrips = was


_NOT_WRITTEN: tuple[bool, Ride | None] = (False, None)


def _flush_one_change(ctx: Context, runner: ScripRunner | None) -> tuple[bool, Ride | None]:
    """The commonest unit (one ticket's columns changed, one transaction recorded: a status, an
    owner, a field) written in one statement instead of a flush's UPDATE and INSERT, with the
    scrip runner's ride (`fast_sql.write_one_change`). Returns whether it wrote (else the caller
    flushes) and the ride, its rows read."""
    return _write_one_change(ctx, ctx.batch, runner)


def _write_one_change(
    ctx: Context, recorded: list[Transaction], runner: ScripRunner | None
) -> tuple[bool, Ride | None]:
    """`_flush_one_change` of what is pending when it is `recorded`'s one transaction and its
    ticket's changes (also a savepoint's part: a scrip's status change)."""
    found = fast_sql.one_change_pending(ctx.session, recorded[0]) if len(recorded) == 1 else None
    if found is None:
        return _NOT_WRITTEN
    ticket, changes = found
    txn = recorded[0]
    ride = runner.ride(ctx, ticket) if runner is not None else None
    fast_sql.write_one_change(ctx.session, ticket, changes, txn, ride)
    return True, ride


def new_transaction(
    ctx: Context,
    ticket: Ticket,
    type_: str,
    *,
    field: str | None = None,
    old: object = None,
    new: object = None,
    data: dict[str, Any] | None = None,
) -> Transaction:
    """A transaction row for `ticket`, not yet in the session (`record` adds it)."""
    return Transaction(
        ticket_id=ticket.id,
        type=type_,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        actor_id=ctx.actor.id,
        created=ctx.now,
        data=data or {},
    )


def record(
    ctx: Context,
    ticket: Ticket,
    type_: str,
    *,
    field: str | None = None,
    old: object = None,
    new: object = None,
    data: dict[str, Any] | None = None,
) -> Transaction:
    """Append one transaction row for `ticket` and mark the ticket updated by the actor."""
    txn = new_transaction(ctx, ticket, type_, field=field, old=old, new=new, data=data)
    ctx.session.add(txn)
    ctx.batch.append(txn)
    ticket.updated = ctx.now
    ticket.updated_by_id = ctx.actor.id
    if type_ != "Create" and ticket.id not in ctx.touched:  # a new ticket starts at version 1
        ctx.touched[ticket.id] = ticket
        version = (ticket.version or 1) + 1
        ticket.version = version
        ctx.bumped[ticket.id] = version
    return txn
