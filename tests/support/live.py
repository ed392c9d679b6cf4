"""Whether a LISTEN connection is open on a database: the moment a live-update test may make the
change it expects to see, observed in pg_stat_activity rather than guessed with a pause."""

from __future__ import annotations

import psycopg

from tessera.core.db import Database
from tests.support import pg


def listening(database: Database) -> bool:
    """A backend of this database has run LISTEN (and is idle in it, waiting for notices)."""
    with psycopg.connect(pg.conninfo(database.url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN %%'"
        ).fetchone()
    return bool(row and row[0])
