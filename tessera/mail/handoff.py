"""What `tessera mailgate`'s quick path and the warm filer share, importable with nothing heavy
(the piped command imports this before SQLAlchemy, and often instead of it): the exit codes an
MTA reads, the exit code a recorded decision stands for, and the settings compared between the
mailgate's process and the filer's (see tessera.mail.filer)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75

# Dropped with these classifications, a message can never be accepted: the MTA is told 65.
REFUSED_FOR_GOOD = frozenset({"too-large", "unparseable", "quarantine", "error"})

# The settings that can change how a message is filed: the mailgate records its own with the
# message, and a filer whose own differ leaves the message to the mailgate. An allow-list: the
# record is kept in the database, and a password (TESSERA_SMTP_PASSWORD) must never be.
FILING_SETTINGS = (
    "TESSERA_DESK_NAME",
    "TESSERA_FROM_NAME",
    "TESSERA_MAIL_CC_WATCHERS",
    "TESSERA_MAIL_FROM",
    "TESSERA_MAIL_MAX_BYTES",
    "TESSERA_MAIL_ROBOTS",
    "TESSERA_MAIL_STORE_LOOPS",
    "TESSERA_NOTIFY_ACTOR",
    "TESSERA_OWNER_EMAIL",
    "TESSERA_OWNER_NOTICES_PER_HOUR",
    "TESSERA_PRIORITY_NAMES",
    "TESSERA_SCRIP_MAX_DEPTH",
)
WAIT_ENV = "TESSERA_MAILGATE_WAIT"  # seconds a mailgate waits for the filer (default 10, 0: never)
DEFAULT_WAIT_S = 10.0


def exit_code(action: str, classification: str | None) -> int:
    return EX_DATAERR if action == "dropped" and classification in REFUSED_FOR_GOOD else EX_OK


DEFERRED = "deferred"  # `tessera mailgate --json`'s action when it exits 75: not taken, try later


def deferred(reason: str) -> dict[str, Any]:
    """`tessera mailgate --json`'s answer when it exits 75 (EX_TEMPFAIL): the keys of every other
    outcome (`Outcome.as_dict`), action "deferred", no ticket, and why."""
    return {"action": DEFERRED, "ticket": None, "reason": " ".join(reason.split())}


def desk_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings of a process that can change how a message is filed (FILING_SETTINGS)."""
    env = os.environ if env is None else env
    return {k: env[k] for k in FILING_SETTINGS if k in env}


def wait_for_filer(
    conn: Any, inbound_id: int, wait_s: float
) -> tuple[str, int | None, str, str | None] | None:
    """The filer's decision on the row, or None when it is this process's to file (the filer
    asked so, died, or did not answer within `wait_s`)."""
    from tessera.core import fast_sql

    done, retry = str(inbound_id), f"{inbound_id} retry"
    end = time.monotonic() + wait_s
    while (left := end - time.monotonic()) > 0:
        # Listed first: the generator holds the connection's lock until it is exhausted.
        payloads = [note.payload for note in conn.notifies(timeout=min(0.5, left), stop_after=1)]
        for payload in payloads:
            if payload == retry:
                return None
            if payload == done:
                row = fast_sql.filed_row(conn, inbound_id)
                if row is not None and row[0] != fast_sql.PENDING:
                    return row
        if not fast_sql.filer_alive(conn):  # killed meanwhile: filed, or not, by now for good
            row = fast_sql.filed_row(conn, inbound_id)
            return row if row is not None and row[0] != fast_sql.PENDING else None
    return None


class HandOffFailed(Exception):
    """The database failed during the hand-off; `text` says so in one line (and whether the
    message was recorded meanwhile)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class HandOff:
    """Recording a piped message for the warm filer and waiting for its decision, on one
    connection; `pending` is the recorded row's id once it exists (also after a failure)."""

    def __init__(self, conninfo: str, limits: Any) -> None:
        self.conninfo = conninfo
        self.limits = limits
        self.pending: int | None = None

    @classmethod
    def from_env(cls) -> HandOff | None:
        """The hand-off this process's settings describe, or None when they need the full CLI to
        read them (or to say what is wrong with them)."""
        from tessera.core.db_wait import Limits, bare_conninfo
        from tessera.core.errors import TesseraError

        try:
            limits = Limits.from_env()
            conninfo = bare_conninfo()
        except TesseraError:
            return None
        return None if conninfo is None else cls(conninfo, limits)

    def record_and_wait(
        self, raw: bytes, requested: str, meta: dict[str, Any], wait_s: float
    ) -> tuple[str, int | None, str, str | None] | None:
        """The filer's decision, or None when the message is this process's to file; raises
        HandOffFailed when the database fails meanwhile."""
        import psycopg

        from tessera.core import fast_sql
        from tessera.core.db_wait import connect, deadline

        try:
            with deadline(self.limits.answer_s):
                conn = connect(
                    self.conninfo, limits=self.limits, autocommit=True, application_name="tessera mailgate"
                )
                try:
                    conn.execute(fast_sql.LISTEN_FILED)  # before the row exists: no answer is missed
                    self.pending = fast_sql.record_pending(conn, raw, requested, meta)
                    return None if self.pending is None else wait_for_filer(conn, self.pending, wait_s)
                finally:
                    conn.close()
        except psycopg.Error as exc:
            from tessera.core.db_faults import database_error

            error = database_error(exc)
            text = error.message if error is not None else str(exc).strip().split("\n")[0]
            if self.pending is not None:  # recorded, not filed: a filer files it; a retry finds it filed
                text = f"{text} (recorded as inbound message #{self.pending}, not yet filed)"
            raise HandOffFailed(" ".join(text.split())) from None

    def forget(self) -> None:
        """The recorded row dropped again (the MTA keeps the message: no orphan to file later)."""
        if self.pending is not None:
            forget_pending(self.conninfo, self.limits, self.pending)


def forget_pending(conninfo: str, limits: Any, pending: int) -> None:
    from tessera.core import fast_sql
    from tessera.core.db_wait import connect, deadline

    try:
        with deadline(2.0):
            conn = connect(conninfo, limits=limits, autocommit=True, application_name="tessera mailgate")
            try:
                fast_sql.forget_pending(conn, pending)
            finally:
                conn.close()
    except Exception:
        pass  # a filer's sweep files it later; the MTA's retry is then found filed (a duplicate)
