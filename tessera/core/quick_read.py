"""The TUI's first screen read on a bare psycopg connection, before SQLAlchemy is imported.

The start-up helper (tessera.tui.backend) has to hand the app its first page while the app imports
Textual; through SQLAlchemy and the models that took ~0.65 s, longer than the app, and so set the
cold start. This reads the same things (the actor, its rights and preferences, the queues it may
see, the first plain page) with psycopg and the light modules only (config, embedded, rights,
fast_sql, listing's dataclasses). It answers only the common case: a desk that is ready (server
up, schema at head, bootstrapped) and an enabled user; for anything else it returns None and the
caller takes the full path, which also makes every error message the usual one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from tessera.core import clock, config
from tessera.core.db_wait import bare_conninfo, connect
from tessera.core.fast_sql import (
    DUE_PAGE,
    QUICK_EMPTY,
    QUICK_QUEUES,
    QUICK_SCHEMA,
    QUICK_USER,
    page_sql,
)
from tessera.core.lifecycles.rules import DELETED
from tessera.core.listing import QueueInfo, TicketPage, page_of
from tessera.core.rights import GRANTS_SQL, RightsCache


@dataclass(frozen=True)
class Actor:
    id: int
    name: str
    privileged: bool
    disabled: bool


class QuickReader:
    """One connection, the acting user and its rights; closed by `close`."""

    def __init__(self, conn: psycopg.Connection[Any], actor: Actor, rights: RightsCache, preferences: Any):
        self.conn = conn
        self.actor = actor
        self.rights = rights
        self.preferences: dict[str, Any] = dict(preferences) if isinstance(preferences, dict) else {}

    @classmethod
    def open(cls, user: str | None) -> QuickReader | None:
        """Connected as `user` (else $TESSERA_USER, else the login), or None: not the common case."""
        from tessera.core.schema_version import head_from_files

        conninfo = bare_conninfo()
        head = head_from_files()
        if conninfo is None or head is None:
            return None
        try:
            conn = connect(conninfo, autocommit=True)  # bounded: a frozen server is no hang
        except psycopg.Error:
            return None
        try:
            reader = cls._login(conn, head, config.wanted_user(user))
        except psycopg.Error:
            reader = None
        if reader is None:
            conn.close()
        return reader

    @classmethod
    def _login(cls, conn: psycopg.Connection[Any], head: str, wanted: str) -> QuickReader | None:
        conn.execute("SET TIME ZONE 'UTC'")  # as every engine connection does (core.db)
        from tessera.core.schema_version import BOOTSTRAPPED_SQL, BUILTIN_LIFECYCLES, bootstrapped

        versions = [r[0] for r in conn.execute(QUICK_SCHEMA).fetchall()]
        if versions != [head]:  # not migrated (or an empty database): the full path
            return None
        ready = conn.execute(BOOTSTRAPPED_SQL, {"names": list(BUILTIN_LIFECYCLES)}).fetchone()
        if not bootstrapped(ready):
            return None
        key = wanted.strip().lower()
        row = conn.execute(QUICK_USER, {"key": key}).fetchone()
        if not key or row is None or row[3]:  # unknown or disabled: the full path says so
            return None
        actor = Actor(*row[:4])
        rights = RightsCache.from_grants(actor, conn.execute(GRANTS_SQL, {"user": actor.id}).fetchall())
        return cls(conn, actor, rights, row[4])

    def can(self, right: str, queue_id: int | None = None) -> bool:
        return self.rights.has(right, queue_id)

    def queues(self) -> list[QueueInfo]:
        """As `listing.queues`: the enabled queues the actor may see, by name."""
        found = self.conn.execute(QUICK_QUEUES).fetchall()
        return [
            QueueInfo(*row) for row in found if self.can("SeeQueue", row[0]) or self.can("ShowTicket", row[0])
        ]

    def desk_is_empty(self) -> bool:
        row = self.conn.execute(QUICK_EMPTY).fetchone()
        return row is not None and bool(row[0])

    def page(
        self, queue_id: int, *, sort: str, descending: bool, limit: int, time_left: bool = False
    ) -> TicketPage | None:
        """As `listing.list_tickets` for a plain page of a queue (None: not one it answers)."""
        if not self.can("ShowTicket", queue_id):
            return None
        sql = page_sql(sort, descending, in_queue=True, after=False, hide_status=DELETED)
        values = {"me": self.actor.id, "queue": queue_id, "limit": limit + 1}
        found = self.conn.cursor(binary=True).execute(sql, values).fetchall()
        page = page_of(found, limit)
        if time_left:
            self.fill_time_left(page)
        return page

    def fill_time_left(self, page: TicketPage) -> None:
        """As `time_left.fill_for`: the levels, calendars and inactive tickets in one read, if a
        row has a Due."""
        from tessera.core.time_left import due_ids, fill_from

        ids = due_ids(page.rows)
        found = self.conn.execute(DUE_PAGE, {"ids": ids}).fetchone() if ids else None
        fill_from(page.rows, clock.now(), found)

    def close(self) -> None:
        self.conn.close()
