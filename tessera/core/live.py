"""Live updates: every committed change announces its tickets with PostgreSQL NOTIFY.

`announce` runs inside the operation's transaction, so PostgreSQL delivers the notice only if the
change commits (and never a notice for a rolled-back one). `listen` blocks on a dedicated
connection and hands each notice's ticket ids to a callback; the TUI runs it in a worker thread.
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
EVERYTHING = "*"  # a bulk change (the demo seeder): reload whatever is on screen
_MAX_PAYLOAD = 7000  # PostgreSQL's limit is 8000 bytes


def payload(ticket_ids: Iterable[int]) -> str:
    ids = sorted(set(ticket_ids))
    body = ",".join(str(i) for i in ids)
    return body if len(body) <= _MAX_PAYLOAD else EVERYTHING


# `ctx.extras` key: the payload already NOTIFYed in this unit of work by a statement that carried
# it (the scrip engine's write), so the operation does not send the same notice a second time.
ANNOUNCED_KEY = "tessera.live.announced"


def announce(session: Session, ticket_ids: Iterable[int] | None) -> None:
    """Tell listeners these tickets changed (None: anything may have changed)."""
    body = EVERYTHING if ticket_ids is None else payload(ticket_ids)
    if body:
        session.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": CHANNEL, "body": body})


def parse(body: str) -> set[int] | None:
    """The ticket ids of a notice; None means "anything"."""
    if body == EVERYTHING:
        return None
    return {int(part) for part in body.split(",") if part.strip().isdigit()}


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def listen(
    url: URL,
    on_change: Callable[[set[int] | None], None],
    stop: threading.Event,
    *,
    on_state: Callable[[str | None], None] | None = None,
    retry_seconds: float = 2.0,
) -> None:
    """Call `on_change` for every notice until `stop` is set; reconnect when the database goes away."""
    while not stop.is_set():
        try:
            with psycopg.connect(_conninfo(url), autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                if on_state is not None:
                    on_state(None)
                while not stop.is_set():
                    for notice in conn.notifies(timeout=0.5):
                        on_change(parse(notice.payload))
        except psycopg.Error as exc:
            if on_state is not None:
                on_state(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            stop.wait(retry_seconds)
        else:
            return
        time.sleep(0)
