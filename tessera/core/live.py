"""Live updates: every committed change announces its tickets with PostgreSQL NOTIFY.

`announce` runs inside the operation's transaction, so PostgreSQL delivers the notice only if the
change commits (and never a notice for a rolled-back one). `listen` blocks on a dedicated
connection and hands each notice's ticket ids to a callback; the TUI runs it in a worker thread.

A notice may name its origin (`ORIGIN:ids`): the client whose unit of work made the change
(`Context.origin`, e.g. one TUI). That client reloads what it changed itself, so its listener
skips its own notices (`listen(..., ignore_origin=...)`) instead of reloading twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

CHANNEL = "tessera_tickets"
# Sent by triggers (migration 0020) when what a user may do can have changed: the payload is the
# user's id when one user's row changed, "" when grants or groups did (anyone's rights).
RIGHTS_CHANNEL = "tessera_rights"
# Sent when a queue is created or its settings change (name, disabled...): the queue list is read
# again (payload: the queue's id; every listener hears it, the changing client's own too).
QUEUES_CHANNEL = "tessera_queues"
EVERYTHING = "*"  # a bulk change (the demo seeder): reload whatever is on screen
_MAX_PAYLOAD = 7000  # PostgreSQL's limit is 8000 bytes


def payload(ticket_ids: Iterable[int], origin: str | None = None) -> str:
    """The notice's body ("" for no tickets: nothing to send)."""
    ids = sorted(set(ticket_ids))
    body = ",".join(str(i) for i in ids)
    if not body:
        return ""
    body = body if len(body) <= _MAX_PAYLOAD else EVERYTHING
    return f"{origin}:{body}" if origin else body


def announce(session: Session, ticket_ids: Iterable[int] | None, origin: str | None = None) -> None:
    """Tell listeners these tickets changed (None: anything may have changed)."""
    if ticket_ids is None:
        body = f"{origin}:{EVERYTHING}" if origin else EVERYTHING
    else:
        body = payload(ticket_ids, origin)
    if body:
        session.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": CHANNEL, "body": body})


def announce_queue(session: Session, queue_id: int) -> None:
    """Tell listeners a queue was created or changed (delivered only if the change commits)."""
    session.execute(
        text("SELECT pg_notify(:channel, :body)"), {"channel": QUEUES_CHANNEL, "body": str(queue_id)}
    )


def parse_notice(body: str) -> tuple[str | None, set[int] | None]:
    """(the origin, if the notice names one; its ticket ids, None meaning "anything")."""
    origin, colon, rest = body.partition(":")
    if not colon:
        origin, rest = "", body
    if rest == EVERYTHING:
        return origin or None, None
    return origin or None, {int(part) for part in rest.split(",") if part.strip().isdigit()}


def parse(body: str) -> set[int] | None:
    """The ticket ids of a notice; None means "anything"."""
    return parse_notice(body)[1]


def conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def listen(
    url: URL,
    on_change: Callable[[set[int] | None], None],
    stop: threading.Event,
    *,
    on_state: Callable[[str | None], None] | None = None,
    retry_seconds: float = 2.0,
    ignore_origin: str | None = None,
    on_rights: Callable[[int | None], None] | None = None,
    on_queues: Callable[[], None] | None = None,
) -> None:
    """Call `on_change` for every notice until `stop` is set; reconnect when the database goes
    away. Notices from `ignore_origin` (the caller's own changes) are skipped. `on_rights` hears
    rights changes (a user's id, or None: anyone's); `on_queues` hears that a queue was created or
    changed."""
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                if on_rights is not None:
                    conn.execute(f"LISTEN {RIGHTS_CHANNEL}")
                if on_queues is not None:
                    conn.execute(f"LISTEN {QUEUES_CHANNEL}")
                if on_state is not None:
                    on_state(None)
                while not stop.is_set():
                    for notice in conn.notifies(timeout=0.5):
                        if notice.channel == RIGHTS_CHANNEL:
                            if on_rights is not None:
                                on_rights(int(notice.payload) if notice.payload.isdigit() else None)
                            continue
                        if notice.channel == QUEUES_CHANNEL:
                            if on_queues is not None:
                                on_queues()
                            continue
                        origin, ids = parse_notice(notice.payload)
                        if origin is None or origin != ignore_origin:
                            on_change(ids)
        except psycopg.Error as exc:
            if on_state is not None:
                on_state(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            stop.wait(retry_seconds)
        else:
            return
        time.sleep(0)
