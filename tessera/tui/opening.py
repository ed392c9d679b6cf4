"""What the list says while the desk opens, and on a desk with no tickets yet.

Between the first paint and the first page (on a fresh data dir, 4–6 s: initdb, PostgreSQL's
start, the migrations, the desk's built-in rows) the list says which of those steps is under way
and for how long, read from the data dir's files (no database: it is not open yet). Once open, a
desk with no tickets says what to do next instead of an empty list.
"""

from __future__ import annotations

import os

from tessera.core import config

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def stage() -> str:
    """The step of opening the desk that is under way, as far as the files tell."""
    if os.environ.get(config.DATABASE_URL_ENV):
        return "connecting to the database"
    try:
        pgdata = config.data_dir() / "pgdata"
    except Exception:  # a bad data dir is reported by the opening itself, in one line
        return "opening the database"
    if not (pgdata / "PG_VERSION").exists():
        return "first run, creating the database"
    if not (pgdata / "postmaster.pid").exists():
        return "starting PostgreSQL"
    return "schema and desk set-up"


def progress(elapsed: float) -> str:
    """One line for the list while the desk opens: a spinner, the step, the seconds so far."""
    spin = SPINNER[int(elapsed * 8) % len(SPINNER)]
    return f"{spin} Opening the desk: {stage()}… {elapsed:.0f} s"


def next_steps(queue: str | None) -> str:
    """The empty desk's note: how to get tickets (RT's first-run steps, in Tessera's commands)."""
    name = queue or "General"
    quoted = f"'{name}'" if " " in name else name
    return "\n".join(
        [
            "This desk has no tickets yet. What to do next:",
            f"  n     a new ticket in {name}",
            "  F9    Admin → Queues: n makes a queue (or tessera queue create NAME)",
            f"  mail  tessera right grant CreateTicket role:Everyone --queue {quoted}",
            "        lets anyone write in; have your MTA pipe mail to",
            f"        tessera mailgate --queue {quoted}",
            "  demo  tessera demo seeds sample tickets to try it on",
        ]
    )
