"""What a piece of work costs on the wire, counted from libpq's own trace of the connection."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import psycopg


def wire(conn: psycopg.Connection[Any], work: Callable[[], object]) -> tuple[int, int]:
    """(statements, round trips) `work` sends on `conn`: a statement is a Query or an Execute
    message; a round trip is each time the client, having sent, reads the server's answer."""
    with tempfile.TemporaryFile("w+") as f:
        conn.pgconn.trace(f.fileno())
        try:
            work()
        finally:
            conn.pgconn.untrace()
        f.seek(0)
        return count_trace(f)


def count_trace(f: Any) -> tuple[int, int]:
    """(statements, round trips) in a libpq trace read from `f`."""
    statements = trips = 0
    last = ""
    for line in f:
        parts = line.split("\t")
        if len(parts) < 4 or parts[1] not in ("F", "B"):
            continue
        statements += parts[1] == "F" and parts[3].strip() in ("Query", "Execute")
        trips += parts[1] == "B" and last == "F"
        last = parts[1]
    return statements, trips
