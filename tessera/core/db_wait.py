"""Bounded waits on PostgreSQL: a server that stops answering is an error in seconds, not a hang.

A frozen server (SIGSTOPped, a hung host) accepts connections and takes queries but never
answers. PostgreSQL's own timeouts do not run in a server that does not run, and TCP keepalives
do not notice a stopped process (its kernel still acknowledges), so the bound is kept here, on the
client: every wait of a `BoundedConnection` for the server ends after `Limits.answer_s`
(`TESSERA_DB_TIMEOUT`, default 30 s), or earlier at the deadline of the unit it belongs to
(`deadline`: the mail gateway bounds a whole delivery, so an MTA hears "try later" in time); the
connection is then closed and the caller gets `NoAnswer`. Connecting is bounded the same way.

On a server that does run, its own limits answer first, each with a clear error and the
connection kept: `lock_timeout` (a third of the bound: a change waiting on a ticket another one
holds), `statement_timeout` (two thirds), and a transaction left idle (a client that froze while
holding locks) is ended after twice the bound. TCP keepalives and `tcp_user_timeout` catch a peer
that vanished from the network. `unbounded` lifts all of it for work that is long by nature
(migrations).

The connection also remembers what a lost COMMIT needs to be checked afterwards (see
`tessera.core.db_faults`): the key of a row the transaction inserted (its witness), else its
transaction id, read just before the COMMIT.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from tessera.core.errors import ConfigError

# psycopg logs "error ignored terminating <psycopg.Pipeline [BAD]>" when the connection is lost
# inside a pipeline; the error itself is raised and reported in one line, and with no handler
# Python would print the log record to the user's terminal as a second line. A program that sets
# up logging (the API's server) still gets it.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

TIMEOUT_ENV = "TESSERA_DB_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
# An unreachable host (packets dropped, not refused) is an error after this, not a hang of minutes;
# a URL's own `?connect_timeout=` wins.
CONNECT_TIMEOUT_S = 10
_WAIT_INTERVAL = 0.1  # psycopg's own: how often a wait wakes up to check for interrupts

_local = threading.local()


@dataclass(frozen=True)
class Limits:
    """How long to wait on the database; `answer_s` None means no limit at all."""

    answer_s: float | None

    @classmethod
    def from_env(cls) -> Limits:
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        if not raw:
            return cls(DEFAULT_TIMEOUT_S)
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not (value >= 0 and value < 86400):
            raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds (0: no limit), not {raw!r}")
        return cls(value or None)

    @property
    def connect_s(self) -> int:
        if self.answer_s is None:
            return CONNECT_TIMEOUT_S
        return max(2, min(CONNECT_TIMEOUT_S, round(self.answer_s)))  # libpq: whole seconds, 2 at least

    def server_settings(self) -> str:
        """SET statements for a new session (one round trip, with whatever else is set then);
        with no limit, the server's own configuration is left as it is."""
        if self.answer_s is None:
            return ""
        ms = int(self.answer_s * 1000)
        return (
            f"SET lock_timeout = {max(1, ms // 3)}; SET statement_timeout = {max(1, ms * 2 // 3)}; "
            f"SET idle_in_transaction_session_timeout = {ms * 2}"
        )

    def connect_params(self) -> dict[str, Any]:
        """libpq parameters: a bounded connect, and TCP that notices a vanished peer (ignored by
        libpq on a Unix socket, the embedded server's)."""
        params: dict[str, Any] = {
            "connect_timeout": self.connect_s,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        if self.answer_s is not None:
            params["tcp_user_timeout"] = int(self.answer_s * 1000)
        return params


@dataclass(frozen=True)
class LostCommit:
    """A COMMIT whose answer never came: what is needed to find out whether it happened
    (`tessera.core.db_faults.check`)."""

    reconnect: Callable[[], Any] | None
    witness: tuple[str, dict[str, Any]] | None
    txid: str | None
    backend_pid: int | None
    lost_at: float  # time.time()


def forget_lost_commit() -> None:
    _local.lost = None


def start_unit() -> None:
    """A new unit of this thread's work begins (a session opened for a command, a delivery, a
    TUI call): nothing of it has committed yet (see `committed_in_unit`)."""
    _local.lost = None
    _local.wrote = 0


def committed_in_unit() -> int:
    """How many transactions that wrote something this thread committed since `start_unit`: a
    failure after one of them must not say that nothing was changed."""
    return int(getattr(_local, "wrote", 0))


def take_lost_commit() -> LostCommit | None:
    """The COMMIT this thread lost last, once (None: none since the last commit began)."""
    lost = getattr(_local, "lost", None)
    _local.lost = None
    return lost


class NoAnswer(psycopg.OperationalError):
    """The server did not answer in time; the connection has been closed."""


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Everything this thread waits on the database inside the block ends by `seconds` from now
    (None: no deadline of the unit's own; the per-wait bound still holds)."""
    outer = getattr(_local, "deadline", None)
    mine = None if seconds is None else time.monotonic() + seconds
    _local.deadline = mine if outer is None or (mine is not None and mine < outer) else outer
    try:
        yield
    finally:
        _local.deadline = outer


@contextmanager
def unbounded() -> Iterator[None]:
    """No client-side bound on this thread's waits inside the block (the caller lifts the server's
    statement_timeout on its own connection): for work long by nature, such as a migration."""
    outer = getattr(_local, "unbounded", False)
    _local.unbounded = True
    try:
        yield
    finally:
        _local.unbounded = outer


def remaining() -> float | None:
    """Seconds left before this thread's unit deadline (None: no deadline)."""
    end = getattr(_local, "deadline", None)
    return None if end is None else end - time.monotonic()


def _bound(answer_s: float | None) -> float | None:
    if getattr(_local, "unbounded", False):
        return None
    left = remaining()
    if left is None:
        return answer_s
    left = max(left, 0.001)
    return left if answer_s is None else min(answer_s, left)


class BoundedConnection(psycopg.Connection[Any]):
    """psycopg's connection with every wait for the server bounded, and what a lost COMMIT needs."""

    answer_s: float | None = DEFAULT_TIMEOUT_S
    # (table, {column: value}) of a row this transaction inserted, set by tessera.core.db_faults.
    witness: tuple[str, dict[str, Any]] | None = None
    reconnect: Any = None  # how to open another connection to the same database (for the check)

    # Every wait on the server adds one: a read taken at one count is current while it holds
    # (nothing was sent since, in this transaction).
    waits: int = 0

    def wait(self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> Any:
        self.waits += 1
        if timeout is not None:  # the caller's own bound (LISTEN's notifies): theirs to handle
            return super().wait(gen, interval, timeout)
        bound = _bound(self.answer_s)
        if bound is None:
            return super().wait(gen, interval)
        try:
            return super().wait(gen, interval, bound)
        except pg_errors._WaitTimeout:
            self.pgconn.finish()  # mid-protocol: the connection cannot be used again
            raise NoAnswer(f"no answer from the server in {_seconds(bound)}") from None

    # A statement whose answer nobody reads (`send_with_commit`): sent with the COMMIT.
    with_commit: tuple[str, dict[str, Any]] | None = None

    def send_with_commit(self, sql: str, params: dict[str, Any]) -> bool:
        """Send `sql` in the same round trip as this transaction's COMMIT (psycopg's pipeline
        mode): for the last write of a unit of work, whose answer is only "it worked". False
        (nothing kept: run it now) when there is no inserted row to check a lost COMMIT by, or a
        statement is kept already. An error of `sql` comes out of `commit()` and nothing commits;
        `rollback()` drops it."""
        if self.with_commit is not None or self.witness is None:
            return False
        self.with_commit = (sql, params)
        return True

    def begin_with(
        self, cursor: psycopg.Cursor[Any], sql: Any, params: Any, setup: tuple[str, Any] | None = None
    ) -> bool:
        """Run `sql` on `cursor` as the first statement of a transaction, its BEGIN sent in the
        same round trip; False (nothing done) when no transaction is to begin here.

        psycopg sends BEGIN and waits for its answer before the statement, even in pipeline mode
        (it syncs after BEGIN): a round trip of its own on every unit of work. Here BEGIN and the
        statement are queued in one pipeline and sent with one Sync; an error of either comes out
        of the pipeline's end, as psycopg's own execute would raise it. (Not for a statement
        without parameters: psycopg sends those by the simple query protocol, which takes several
        statements in one string; a pipeline does not.) While they are queued
        psycopg's `_autocommit` is set, so its own BEGIN is not sent: the one use of psycopg's
        private API in Tessera, checked by tests/test_core_round_trips.py on every upgrade.
        `setup`, a statement whose answer nobody reads (a setting for the transaction), is queued
        between the BEGIN and `sql`."""
        if (
            not params  # psycopg sends it by the simple protocol, which takes several statements
            or self._autocommit
            or self._pipeline is not None
            or type(cursor) is not psycopg.Cursor
            or self.pgconn.transaction_status != TransactionStatus.IDLE
        ):
            return False
        begin = self._get_tx_start_command()
        self._autocommit = True
        try:
            with self.pipeline():
                self.cursor().execute(begin)
                if setup is not None:
                    self.cursor().execute(*setup)
                cursor.execute(sql, params)
        finally:
            self._autocommit = False
        return True

    def commit(self) -> None:
        forget_lost_commit()
        witness, self.witness = self.witness, None
        with_commit, self.with_commit = self.with_commit, None
        txid = None
        pid = self.pgconn.backend_pid
        if witness is None and self.pgconn.transaction_status == TransactionStatus.INTRANS:
            # No inserted row to look up afterwards: the transaction id is (NULL when read-only).
            row = self.execute("SELECT pg_current_xact_id_if_assigned()::text").fetchone()
            txid = row[0] if row else None
        try:
            if with_commit is None or self.pgconn.transaction_status != TransactionStatus.INTRANS:
                if with_commit is not None:
                    self.cursor().execute(*with_commit)
                super().commit()
            else:
                # The statement and the COMMIT, queued and sent with one Sync: one round trip.
                # (Not `commit()` inside the pipeline: it syncs, and leaving the pipeline syncs
                # again.) psycopg then sees the transaction ended: its own commit does nothing.
                with self.pipeline():
                    cursor = self.cursor()
                    cursor.execute(*with_commit)
                    cursor.execute("COMMIT")
                super().commit()
        except psycopg.Error as exc:
            # An ERROR answering the COMMIT (a deferred constraint, a serialisation failure) means
            # it rolled back. Anything else (the connection lost, no answer, a FATAL such as
            # "terminating connection due to unexpected postmaster exit", which may come after
            # the commit was made) leaves it unknown: record what the check needs.
            if exc.diag.severity_nonlocalized != "ERROR":
                _local.lost = LostCommit(self.reconnect, witness, txid, pid, time.time())
            raise
        if witness is not None or txid is not None:
            _local.wrote = committed_in_unit() + 1

    def rollback(self) -> None:
        self.witness = None
        self.with_commit = None
        super().rollback()


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


def connect(conninfo: str = "", *, limits: Limits | None = None, **kwargs: Any) -> BoundedConnection:
    """A `BoundedConnection`: connecting takes at most the limits' connect time (and no longer
    than this thread's unit deadline allows); keepalives on. Parameters given win."""
    limits = limits or Limits.from_env()
    params = limits.connect_params()
    given: dict[str, Any] = dict(conninfo_to_dict(conninfo)) if conninfo else {}
    for key in given.keys() & params.keys():
        del params[key]  # the URL's own (`?connect_timeout=`) wins
    params.update(kwargs)
    given.update(params)
    params = given
    left = remaining()
    if left is not None and not getattr(_local, "unbounded", False):
        wanted = int(float(params.get("connect_timeout") or CONNECT_TIMEOUT_S))
        params["connect_timeout"] = max(2, min(wanted, int(left + 0.999)))
    conn = BoundedConnection.connect(**params)
    conn.answer_s = limits.answer_s
    return conn


def bare_conninfo() -> str | None:
    """The database's conninfo for a bare psycopg connection, before SQLAlchemy is imported (the
    TUI's first read, the piped mailgate): None when only the full path can tell (a URL it must
    explain, an embedded server not running yet)."""
    from tessera.core import config

    raw = os.environ.get(config.DATABASE_URL_ENV)
    if raw is not None:
        scheme, sep, rest = raw.strip().partition("://")
        if not sep or scheme not in ("postgresql", "postgresql+psycopg", "postgres"):
            return None  # the full path explains what is wrong with it
        url = f"postgresql://{rest}"
        if "connect_timeout=" not in rest:
            url += ("&" if "?" in rest else "?") + f"connect_timeout={CONNECT_TIMEOUT_S}"
        return url
    from tessera.core.embedded import ready_server

    server = ready_server(config.data_dir())
    return server.conninfo() if server is not None else None
