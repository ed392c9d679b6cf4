"""The warm filer: files the messages `tessera mailgate` recorded as pending, in a process that
has imported everything already (`tessera worker` runs it beside the outbox).

The piped mailgate is one process per message; importing the gateway (SQLAlchemy, the models, the
scrips) is most of its time. So it records the raw message (`inbound_mail`, action `pending`)
with psycopg alone when a filer is alive, and waits for the filer's NOTIFY (tessera.cli.mailgate_pipe).

Exactly once: a filer takes a pending row with FOR UPDATE SKIP LOCKED and files it with the
gateway, whose record of the decision replaces the pending row in the same transaction as the
ticket (`gateway._record`): of a worker and a mailgate that gave up waiting for it, only one
filing can commit. A message the filer cannot decide on (a setting of the mailgate's that is not
the worker's, the database's trouble) is answered "retry": the mailgate files it itself, as the
command always did, with its own settings and messages.

Rows left pending (a mailgate killed while waiting, whose MTA delivers the message again and which
the gateway then finds filed, a duplicate delivery) are filed by the sweep, once they are a minute old.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from tessera.core import fast_sql
from tessera.core.db import Database, first_line, rollback_quietly, translate_db_errors
from tessera.core.db_wait import Limits, deadline
from tessera.core.models import InboundMail
from tessera.mail.gateway import Settings, deliver, from_extension
from tessera.mail.handoff import desk_env

log = logging.getLogger(__name__)

SWEEP_AGE_S = 60.0  # a pending row this old has no mailgate waiting for it any more


def file_pending(db: Database, inbound_id: int) -> str:
    """File one pending row: "filed" (or filed by someone else already), "gone" (no such pending
    row, or another filer holds it), "retry" (the mailgate must file it itself)."""
    with db.session() as session:
        row = session.execute(
            select(InboundMail.raw, InboundMail.data)
            .where(InboundMail.id == inbound_id, InboundMail.action == fast_sql.PENDING)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None or row.raw is None:
            session.rollback()
            return "gone"
        meta: dict[str, Any] = dict(row.data or {}).get("pending") or {}
        if meta.get("env") != desk_env():
            session.rollback()
            return "retry"  # another configuration: the mailgate's own process decides
        try:
            queue, action, ticket = from_extension(
                meta.get("extension"), meta.get("EXTENSION"), str(meta.get("queue")), str(meta.get("action"))
            )
            with deadline(Limits.from_env().answer_s):
                translate_db_errors(deliver)(
                    session, row.raw, queue, action, Settings.from_env(), ticket=ticket, pending=inbound_id
                )
        except Exception as exc:
            rollback_quietly(session)
            log.warning("inbound message #%s left to its mailgate: %s", inbound_id, first_line(exc))
            return "retry"
    return "filed"


def _stale(db: Database) -> list[int]:
    from datetime import UTC, datetime, timedelta

    with db.session() as session:
        ids = session.scalars(
            select(InboundMail.id)
            .where(
                InboundMail.action == fast_sql.PENDING,
                InboundMail.received < datetime.now(UTC) - timedelta(seconds=SWEEP_AGE_S),
            )
            .order_by(InboundMail.id)
            .limit(100)
        ).all()
    return list(ids)


def run_filer(
    db: Database,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    poll: float = 2.0,
    listening: Callable[[], object] = lambda: None,
) -> None:
    """Listen for pending messages and file them, until `should_stop`; the shared advisory lock
    held on the listening connection tells mailgates that a filer is alive (`listening` is
    called once it is held)."""
    raw = db.engine.raw_connection()
    conn: Any = raw.driver_connection
    raw.detach()  # this connection listens for the filer's life: never back to the pool
    try:
        conn.rollback()
        conn.autocommit = True
        conn.execute(fast_sql.FILER_HOLD)
        conn.execute(fast_sql.LISTEN_INBOUND)
        listening()
        swept = 0.0
        while not should_stop():
            if time.monotonic() - swept > SWEEP_AGE_S / 2:
                swept = time.monotonic()
                for inbound_id in _stale(db):
                    file_pending(db, inbound_id)
            ids = [n.payload for n in conn.notifies(timeout=poll, stop_after=1)]
            ids += [n.payload for n in conn.notifies(timeout=0)]  # those that came meanwhile
            for payload in dict.fromkeys(ids):
                if not payload.isdigit():
                    continue
                done = file_pending(db, int(payload))
                if done != "gone":
                    fast_sql.notify_filed(conn, int(payload), retry=done == "retry")
    finally:
        if conn.broken:  # the server went away: no rollback to try (it would log a traceback)
            conn.close()
            raw.invalidate()
        else:
            raw.close()


class FilerThread(threading.Thread):
    """`run_filer` beside the outbox's delivery loop, in `tessera worker`; restarted after the
    database's trouble (the mailgates file in-process meanwhile)."""

    def __init__(self, db: Database, poll: float = 2.0) -> None:
        super().__init__(name="tessera-filer", daemon=True)
        self.db, self.poll = db, poll
        self.stopping = threading.Event()

    def run(self) -> None:
        trouble = False  # told once for an outage, not once a try

        def listening() -> None:
            nonlocal trouble
            if trouble:
                log.warning("mail filer: listening again")
            trouble = False

        while not self.stopping.is_set():
            try:
                run_filer(self.db, should_stop=self.stopping.is_set, poll=self.poll, listening=listening)
            except Exception as exc:
                if not trouble:
                    log.warning("mail filer: %s; trying again every %g s", first_line(exc), self.poll)
                trouble = True
                self.stopping.wait(self.poll)
