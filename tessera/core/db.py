"""Engines and sessions: the one place that knows where the database is.

SQLAlchemy is imported by the functions that need it, not with this module, so the TUI (whose
first screen a forked helper reads, see `tessera.tui.backend`) can start drawing before it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from tessera.core import config
from tessera.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.orm import Session, sessionmaker

P = ParamSpec("P")
R = TypeVar("R")
PING_AFTER_IDLE_S = 5.0  # a pooled connection idle longer than this is pinged before use
# An unreachable host (packets dropped, not refused) is an error after this, not a hang of minutes;
# a URL's own `?connect_timeout=` wins.
CONNECT_TIMEOUT_S = 10


@dataclass
class Database:
    """An engine plus a session factory, and a human description of where it points."""

    url: URL
    engine: Engine
    sessions: sessionmaker[Session]
    embedded: bool
    location: str

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def make_engine(url: URL, **kwargs: object) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DisconnectionError

    engine = create_engine(url, **kwargs)  # type: ignore[arg-type]

    # A connection idle for a while may have been cut (a server restart, a NAT timeout): ping it
    # before use, and a dead one is replaced (DisconnectionError makes the pool retry). One that
    # was in use moments ago is not pinged: pool_pre_ping would cost a round trip per operation.
    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc

    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Times are stored as timestamptz; show them to clients in UTC whatever the server says.
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    return engine


def open_database(url: URL | None = None) -> Database:
    """Connect to `url`, `$TESSERA_DATABASE_URL`, or the embedded server (started if needed)."""
    from sqlalchemy.orm import sessionmaker

    url = url or config.configured_database_url()
    if url is not None:
        timeout = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
        engine = make_engine(url, connect_args=timeout)
        location = f"PostgreSQL at {config.describe_url(url)}"
        embedded = False
    else:
        from tessera.core.embedded import ensure_server

        data_dir = config.data_dir()
        server = ensure_server(data_dir)
        url = server.url()
        engine = make_engine(url)
        location = f"embedded PostgreSQL in {data_dir}"
        embedded = True
    db = Database(
        url=url,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        embedded=embedded,
        location=location,
    )
    check_reachable(db)
    return db


def check_reachable(db: Database) -> None:
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (OperationalError, DBAPIError) as exc:
        raise DatabaseUnavailable(f"cannot reach {db.location}: {first_line(exc)}") from None


def translate_db_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost or refused connection inside `fn` into a one-line DatabaseUnavailable."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from sqlalchemy.exc import OperationalError

        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            raise DatabaseUnavailable(f"database error: {first_line(exc)}") from None

    return wrapper


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
