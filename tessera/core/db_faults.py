"""A database failure as the person who ran the command sees it: one line, saying whether the
change was made, checked rather than guessed.

A connection lost before the COMMIT was sent cannot have committed (PostgreSQL rolls back a
session that ends inside a transaction): nothing was changed, unless the unit (a session of
`Database.session`) had already committed a change, and lost the connection reading back what to
show: then the change was made. One lost while the COMMIT was on its
way may have committed, so the change is looked up on a new connection, once the old session has
ended on the server (until then it may still be committing): the first row the transaction
inserted, its witness (a new ticket, a ticket's transaction record; every ticket change inserts
one), is there or not; a transaction that inserted nothing is found by its id, read before the
COMMIT, with pg_xact_status. A desk on the embedded server restarts it for the check when no
unit deadline is running (the next command would restart it anyway). The answer goes in the
message and in `DatabaseUnavailable.committed`: the mail gateway then answers "taken" for a
message that was filed, "try later" otherwise, so the MTA neither drops nor (it would be
recognised anyway) duplicates it.

SQLAlchemy and psycopg are imported by the functions that need them: the CLI's error handler
calls `database_error` on any exception.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from tessera.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from tessera.core import db_wait

CHECK_S = 30.0  # the longest the check of a lost commit may take (a unit deadline may cut it)
_SESSION_CONN = "tessera.dbapi_connection"


# -- witnesses: the first row each transaction inserts ------------------------------------------


def _key(instance: Any) -> tuple[str, dict[str, Any]] | None:
    from sqlalchemy import inspect

    mapper = inspect(instance).mapper
    values = mapper.primary_key_from_instance(instance)
    if any(v is None for v in values):
        return None
    table = mapper.local_table
    return table.name, {col.name: v for col, v in zip(mapper.primary_key, values, strict=True)}


def note_inserted(session: Any, instance: Any) -> None:
    """`instance`'s row was inserted by this session's transaction: the first one is its witness
    (not one made in a savepoint, which may yet be rolled back alone)."""
    conn = session.info.get(_SESSION_CONN)
    if conn is None or getattr(conn, "witness", 0) is not None or session.in_nested_transaction():
        return
    conn.witness = _key(instance)


def _deleted(session: Any, instance: Any) -> None:
    conn = session.info.get(_SESSION_CONN)
    witness = getattr(conn, "witness", None)
    if witness is not None and witness == _key(instance):
        conn.witness = None  # deleted again in the same transaction: no longer proves anything


def _began(session: Any, _transaction: Any, connection: Any) -> None:
    from tessera.core.db_wait import forget_lost_commit

    forget_lost_commit()
    session.info[_SESSION_CONN] = connection.connection.dbapi_connection


_installed = False


def install() -> None:
    """Watch every session's inserts (idempotent; `tessera.core.db.make_engine` calls it)."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_begin", _began)
    event.listen(Session, "pending_to_persistent", note_inserted)
    event.listen(Session, "persistent_to_deleted", _deleted)
    _installed = True


# -- the check ------------------------------------------------------------------------------------


def check(lost: db_wait.LostCommit) -> tuple[bool | None, str]:
    """(committed, how it was found out); committed None: could not be checked, and why."""
    from tessera.core import db_wait

    if lost.reconnect is None:
        return None, "no way to reconnect"
    if lost.witness is None and lost.txid is None:
        return False, "the transaction had written nothing"
    why = "no answer"
    with db_wait.deadline(CHECK_S):
        while True:
            try:
                with lost.reconnect() as conn:
                    conn.autocommit = True
                    answer = _look_up(conn, lost)
                    if answer is not None:
                        return answer, "checked after reconnecting"
                    why = "the old session was still finishing"
            except Exception as exc:  # psycopg's errors, or a restart of the embedded server failing
                why = _first_line(exc)
            left = db_wait.remaining()
            if left is None or left < 0.3:
                return None, f"could not reconnect to check: {why}"
            time.sleep(0.2)


def _look_up(conn: Any, lost: db_wait.LostCommit) -> bool | None:
    if lost.backend_pid is not None:
        # Until the old session has ended on the server its transaction may still be committing.
        still = conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND backend_start <= to_timestamp(%s)",
            (lost.backend_pid, lost.lost_at),
        ).fetchone()
        if still is not None:
            return None
    if lost.witness is not None:
        from psycopg import sql

        table, key = lost.witness
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(col)) for col in key)
        query = sql.SQL("SELECT 1 FROM {} WHERE {}").format(sql.Identifier(table), where)
        return conn.execute(query, list(key.values())).fetchone() is not None
    status = conn.execute("SELECT pg_xact_status(%s::xid8)", (lost.txid,)).fetchone()[0]
    if status == "committed":
        return True
    if status == "aborted":
        return False
    return None  # in progress


# -- translation ----------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _what(exc: BaseException) -> str | None:
    """What went wrong, in words, for a failure of the database (None: `exc` is not one)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    orig: BaseException = exc
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        if isinstance(exc, sa_exc.PendingRollbackError):
            return "the connection to the database was lost"
        if isinstance(exc, sa_exc.TimeoutError):
            return f"no free database connection: {_first_line(exc)}"
        if isinstance(exc, sa_exc.DisconnectionError):
            return f"the connection to the database was lost ({_first_line(exc)})"
        if not isinstance(exc, sa_exc.DBAPIError) or exc.orig is None:
            return None
        orig = exc.orig
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(orig, psycopg.Error):
        return None
    from psycopg import errors as e

    from tessera.core import db_wait

    text = _first_line(orig)
    if isinstance(orig, db_wait.NoAnswer):
        return f"PostgreSQL did not answer ({text}; {db_wait.TIMEOUT_ENV} sets the limit)"
    if isinstance(orig, e.LockNotAvailable):
        return "gave up waiting for a lock another change holds (lock_timeout); try again"
    if isinstance(orig, e.QueryCanceled):
        return f"the server cancelled a statement ({text})"
    if isinstance(orig, e.DeadlockDetected | e.SerializationFailure):
        return f"the change collided with a concurrent one ({text}); try again"
    if isinstance(orig, e.IdleInTransactionSessionTimeout | e.AdminShutdown | e.CrashShutdown):
        return f"the server ended the connection ({text})"
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        if getattr(orig, "sqlstate", None) is None:
            return f"the connection to the database was lost ({text})"
        return text
    return None


def is_database_failure(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseUnavailable) or _what(exc) is not None


def database_error(exc: BaseException) -> DatabaseUnavailable | None:
    """The one-line `DatabaseUnavailable` for a failure of the database, with whether the change
    was made (checked, for a lost COMMIT); None when `exc` is not such a failure."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    what = _what(exc)
    if what is None:
        return None
    from tessera.core.db_wait import committed_in_unit, take_lost_commit

    lost = take_lost_commit()
    if lost is None and committed_in_unit():
        # Lost after the change committed (reading back what to show): it was made.
        error = DatabaseUnavailable(f"database error: {what}; the change WAS made (it had committed)")
        error.committed = True
        return error
    if lost is None:
        error = DatabaseUnavailable(f"database error: {what}; nothing was changed")
        error.committed = False
        return error
    committed, how = check(lost)
    if committed is True:
        outcome = f"the connection was lost during the commit, and the change WAS made ({how})"
    elif committed is False:
        outcome = f"the connection was lost during the commit, and the change was NOT made ({how})"
    else:
        outcome = (
            "the connection was lost during the commit: the change may or may not have been made "
            f"({how}); look before trying again"
        )
    error = DatabaseUnavailable(f"database error: {what}; {outcome}")
    error.committed = committed
    return error
