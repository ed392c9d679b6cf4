"""Who is acting, in which session: every operation runs inside a `Context`.

An operation is one database transaction. The outermost `@operation` commits (or rolls back
everything); operations that call other operations join the same transaction. Before the commit,
the transactions recorded by the unit of work are handed to the registered observers (the scrip
engine plugs in there), so their effects land in the same database transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import ColumnProperty, Session, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from tessera.core.config import USER_ENV, wanted_user
from tessera.core.db import first_line
from tessera.core.errors import DatabaseUnavailable, InvalidInput, NotFound, PermissionDenied
from tessera.core.live import ANNOUNCED_KEY, announce, payload
from tessera.core.models import Ticket, Transaction, User
from tessera.core.rights import RightsCache

P = ParamSpec("P")
R = TypeVar("R")


class TransactionObserver(Protocol):
    """Called with the unit of work's new transactions before it commits (the scrip engine)."""

    def __call__(self, ctx: Context, transactions: list[Transaction]) -> None: ...


@dataclass
class Ride:
    """A read an observer wants done in the same statement as the unit's one-change write (one
    round trip fewer on the commonest units). `sql` selects `(kind text, row json)` rows; its
    parameter names must not clash with the write's; `rows` is filled in when it has run."""

    sql: str
    params: dict[str, Any]
    rows: list[tuple[str, Any]] | None = None


class RidingObserver(TransactionObserver, Protocol):
    def ride(self, ctx: Context, ticket: Ticket) -> Ride | None:
        """What to read along with the write of `ticket`'s one change (None: nothing)."""
        ...


_observers: list[TransactionObserver] = []


def add_observer(observer: TransactionObserver) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: TransactionObserver) -> None:
    if observer in _observers:
        _observers.remove(observer)


@dataclass
class Context:
    session: Session
    actor: User
    rights: RightsCache
    # Set by scrips and migrations: changes made on the desk's own behalf skip rights checks.
    system: bool = False
    depth: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    batch: list[Transaction] = field(default_factory=list)
    # Tickets changed by this unit of work: each gets its version bumped once. `record` bumps it
    # with the first change (so the UPDATE that writes the change carries it); `bumped` keeps the
    # version each ticket must have at commit.
    touched: dict[int, Ticket] = field(default_factory=dict)
    bumped: dict[int, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Free for observers (the scrip engine keeps its recursion depth and trace here).
    extras: dict[str, Any] = field(default_factory=dict)

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


def _translate_data(exc: DBAPIError) -> InvalidInput:
    """A value the database cannot hold (what the checks before it missed), as one clear line."""
    text = first_line(exc)
    if "out of range" in text:
        return InvalidInput("a number is out of range (-2147483648 to 2147483647)")
    if "too long" in text or "index row" in text:
        limit = text.rsplit("(", 1)[-1].rstrip(")") if "varying(" in text else None
        return InvalidInput("a value is too long" + (f" (at most {limit} characters)" if limit else ""))
    return InvalidInput(f"refused by the database: {text}")


def operation(fn: Callable[Concatenate[Context, P], R]) -> Callable[Concatenate[Context, P], R]:
    """Make `fn` one unit of work: all of it commits, or none of it does."""

    @wraps(fn)
    def wrapper(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> R:
        if ctx.depth:
            return fn(ctx, *args, **kwargs)
        ctx.depth = 1
        ctx.now = datetime.now(UTC)
        ctx.bumped.clear()
        ctx.extras.pop(ANNOUNCED_KEY, None)
        session = ctx.session
        try:
            result = fn(ctx, *args, **kwargs)
            if not _flush_one_change(ctx):
                session.flush()
            if ctx.batch:
                for observer in list(_observers):
                    observer(ctx, list(ctx.batch))
            for ticket_id, ticket in ctx.touched.items():
                version = ctx.bumped.get(ticket_id)
                if version is None:  # marked touched without `record` (a merged ticket)
                    ticket.version = (ticket.version or 1) + 1
                elif ticket.version != version:  # a savepoint rollback took the bump with it
                    ticket.version = version
            session.flush()
            changed = {txn.ticket_id for txn in ctx.batch} | set(ctx.touched)
            # Delivered by PostgreSQL only if this commits; an observer may have sent it already.
            if changed and ctx.extras.pop(ANNOUNCED_KEY, None) != payload(changed):
                announce(session, changed)
            session.commit()
            return result
        except IntegrityError as exc:
            session.rollback()
            raise _translate_integrity(exc) from None
        except DataError as exc:
            session.rollback()
            raise _translate_data(exc) from None
        except OperationalError as exc:
            session.rollback()
            if isinstance(exc.orig, psycopg.errors.ProgramLimitExceeded):  # e.g. a huge indexed value
                raise _translate_data(exc) from None
            raise DatabaseUnavailable(f"database error: {first_line(exc)}") from None
        except BaseException:
            session.rollback()
            raise
        finally:
            ctx.depth = 0
            ctx.batch.clear()
            ctx.touched.clear()
            ctx.bumped.clear()
            ctx.extras.pop(ANNOUNCED_KEY, None)
            ctx.rights._ticket_roles.clear()

    return wrapper


_ONE_CHANGE_CACHE: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}


def _one_change_statement(columns: tuple[str, ...], rides: tuple[str, ...] = ()) -> str:
    """UPDATE of these ticket columns and INSERT of one transaction, in one statement; its first
    row (`rider` -1) carries the UPDATE's row count and the transaction's id, the rides' rows follow."""
    sql = _ONE_CHANGE_CACHE.get((columns, rides))
    if sql is None:
        sets = ", ".join(f"{name} = %(u_{name})s" for name in columns)
        sql = f"""
            WITH u AS (
              UPDATE tickets SET {sets} WHERE id = %(u_id)s RETURNING 1
            ), x AS (
              INSERT INTO transactions (ticket_id, type, field, old_value, new_value, actor_id, created, data)
              VALUES (%(ticket_id)s, %(type)s, %(field)s, %(old_value)s, %(new_value)s, %(actor_id)s,
                      %(created)s, %(data)s)
              RETURNING id
            )
            SELECT -1 AS rider, NULL::text AS kind,
                   json_build_array((SELECT count(*) FROM u), (SELECT id FROM x))
            """
        for n, ride in enumerate(rides):
            sql += f" UNION ALL SELECT {n}, r.kind, r.row FROM ({ride}) AS r(kind, row)"
        _ONE_CHANGE_CACHE[(columns, rides)] = sql
    return sql


def _flush_one_change(ctx: Context) -> bool:
    """The commonest unit (one ticket's columns changed, one transaction recorded: a status, an
    owner, a field) written in one statement instead of a flush's UPDATE and INSERT; the objects
    end up as the flush leaves them. False (nothing done) for anything else: the caller flushes."""
    session = ctx.session
    if len(ctx.batch) != 1 or session.deleted:
        return False
    txn = ctx.batch[0]
    new = session.new
    if len(new) != 1 or txn not in new or txn.id is not None:
        return False
    dirty = session.dirty
    if len(dirty) != 1:
        return False
    ticket = next(iter(dirty))
    if type(ticket) is not Ticket or ticket.id != txn.ticket_id:
        return False
    state = inspect(ticket)
    mapper = state.mapper
    changes: dict[str, Any] = {}
    for key, old in state.committed_state.items():
        prop = mapper.get_property(key)
        if not isinstance(prop, ColumnProperty) or key in ("subject", "search_vector", "id"):
            return False  # relationships, and what makes the database recompute a column
        column = prop.columns[0]
        value = state.dict.get(key)
        if column.type.compare_values(value, old):
            continue  # set to what it was: no change, as the flush would see it
        if not isinstance(value, (str, int, float, datetime, type(None))):
            return False  # bound as psycopg adapts it by itself: plain values only
        changes[column.name] = value
    if not changes:
        return False
    columns = tuple(sorted(changes))
    params: dict[str, Any] = {f"u_{name}": changes[name] for name in columns}
    params["u_id"] = ticket.id
    params.update(
        ticket_id=txn.ticket_id,
        type=txn.type,
        field=txn.field,
        old_value=txn.old_value,
        new_value=txn.new_value,
        actor_id=txn.actor_id,
        created=txn.created,
        data=Jsonb(txn.data),
    )
    rides = []
    for observer in _observers:
        ride_for = getattr(observer, "ride", None)
        ride = ride_for(ctx, ticket) if ride_for is not None else None
        if ride is not None and not (ride.params.keys() & params.keys()):
            rides.append(ride)
            params.update(ride.params)
    sql = _one_change_statement(columns, tuple(r.sql for r in rides))
    rows = driver_execute(session, sql, params).fetchall()
    for ride in rides:
        ride.rows = []
    updated = txn_id = None
    for rider, kind, row in rows:
        if rider < 0:
            updated, txn_id = row
        else:
            rides[rider].rows.append((kind, row))  # type: ignore[union-attr]
    if updated != 1:
        raise StaleDataError(f"UPDATE of {ticket!r} matched {updated} rows; expected 1")
    state._commit_all(state.dict, session.identity_map)  # as a flush leaves an updated object
    session.expunge(txn)
    txn.id = txn_id
    adopt(session, txn)
    return True


def driver_execute(session: Session, sql: str, params: dict[str, Any], *, binary: bool = False) -> Any:
    """Run `sql` (psycopg's `%(name)s` placeholders) on the session's connection, in its
    transaction, without SQLAlchemy's statement machinery (a tenth of a millisecond a statement,
    which counts on the hot paths); returns the psycopg cursor. Errors come out as SQLAlchemy's,
    so `operation` translates them as it does any other. `binary` asks for rows in PostgreSQL's
    binary format: a page of timestamps and numbers decodes ~20% faster than from text."""
    connection = session.connection()
    cursor = connection.connection.driver_connection.cursor(binary=binary)  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=connection.dialect) from exc
    return cursor


def adopt(session: Session, obj: Any) -> None:
    """Make `obj`, whose row a statement of our own just inserted (its key and server-made values
    set), persistent in `session` as if the ORM had inserted it: no SQL, no pending change."""
    make_transient_to_detached(obj)
    session.add(obj)


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
