"""Engines and sessions: the one place that knows where the database is.

SQLAlchemy is imported by the functions that need it, not with this module, so the TUI (whose
first screen a forked helper reads, see `tessera.tui.backend`) can start drawing before it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tessera.core import config
from tessera.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.orm import Session, sessionmaker
    from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

P = ParamSpec("P")
R = TypeVar("R")
PING_AFTER_IDLE_S = 5.0  # a pooled connection idle longer than this is pinged before use
CONNECT_TIMEOUT_S = 10  # see tessera.core.db_wait (where every wait on the server is bounded)


@dataclass
class Database:
    """An engine plus a session factory, and a human description of where it points."""

    url: URL
    engine: Engine
    sessions: sessionmaker[Session]
    embedded: bool
    location: str

    def session(self) -> Session:
        """A session for one unit of work (a command, a delivery, a TUI call)."""
        from tessera.core.db_wait import start_unit

        start_unit()  # a failure in it says whether what it wrote had committed (db_faults)
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def make_engine(url: URL, *, restart: Callable[[], object] | None = None, **kwargs: Any) -> Engine:
    """An engine whose connections bound every wait on the server (`tessera.core.db_wait`) and
    whose failures say whether the change committed (`tessera.core.db_faults`). `restart` brings
    the server back (the embedded one) for the check of a commit whose answer was lost."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DisconnectionError

    from tessera.core import db_faults, db_wait

    db_faults.install()
    limits = db_wait.Limits.from_env()
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        conn = db_wait.connect(*cargs, limits=limits, **cparams)

        def reconnect() -> db_wait.BoundedConnection:
            if restart is not None and db_wait.remaining() is None:
                restart()
            return db_wait.connect(*cargs, limits=limits, **cparams)

        conn.reconnect = reconnect
        return conn

    # A connection idle for a while may have been cut (a server restart, a NAT timeout): ping it
    # before use, and a dead one is replaced (DisconnectionError makes the pool retry). One that
    # was in use moments ago is not pinged: pool_pre_ping would cost a round trip per operation.
    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: psycopg.Connection[Any], record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(
        dbapi_conn: psycopg.Connection[Any], record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc

    # A transaction's first statement takes its BEGIN with it: one round trip, not two.
    @event.listens_for(engine, "do_execute")
    def _begin_with_first(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool | None:
        conn = cursor.connection
        if isinstance(conn, db_wait.BoundedConnection) and conn.begin_with(cursor, statement, parameters):
            return True
        return None

    settings = "; ".join(filter(None, ["SET TIME ZONE 'UTC'", limits.server_settings()]))

    @event.listens_for(engine, "connect")
    def _session_settings(dbapi_conn: psycopg.Connection[Any], _record: ConnectionPoolEntry) -> None:
        # Times are stored as timestamptz; show them to clients in UTC whatever the server says.
        # The server's own limits (lock, statement, idle transaction) go in the same round trip,
        # outside any transaction.
        dbapi_conn.autocommit = True
        try:
            dbapi_conn.execute(settings)
        finally:
            dbapi_conn.autocommit = False

    return engine


def open_database(url: URL | None = None) -> Database:
    """Connect to `url`, `$TESSERA_DATABASE_URL`, or the embedded server (started if needed)."""
    from sqlalchemy.orm import sessionmaker

    url = url or config.configured_database_url()
    if url is not None:
        engine = make_engine(url)
        location = f"PostgreSQL at {config.describe_url(url)}"
        embedded = False
    else:
        from tessera.core.embedded import ensure_server

        data_dir = config.data_dir()
        server = ensure_server(data_dir)
        url = server.url()
        engine = make_engine(url, restart=lambda: ensure_server(data_dir))
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
    """Turn a failure of the database inside `fn` (lost, frozen, refused, a lock not granted) into
    the one-line DatabaseUnavailable, which says whether the change was made."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            from tessera.core.db_faults import database_error

            error = database_error(exc)
            if error is None or error is exc:
                raise
            raise error from None

    return wrapper


def rollback_quietly(session: Session) -> None:
    """Roll back after a failure; a rollback that fails too (the connection is gone, which rolls
    the transaction back on the server anyway) must not hide the failure being reported."""
    try:
        session.rollback()
    except Exception as exc:
        from tessera.core.db_faults import is_database_failure

        if not is_database_failure(exc):
            raise
