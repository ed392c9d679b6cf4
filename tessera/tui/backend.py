"""The TUI's door to core: one short session per call, plain data out, run from worker threads.

Nothing here touches the screen; the app calls these methods through `asyncio.to_thread` so the UI
never waits on the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tessera.core import listing, live, ownership, tickets
from tessera.core.context import Context, open_context
from tessera.core.db import Database, translate_db_errors
from tessera.core.schemas import MessageIn

T = TypeVar("T")
DEMO_TICKETS = 500


@dataclass(frozen=True)
class Startup:
    user: str
    preferences: dict[str, Any]
    queues: list[listing.QueueInfo]
    empty: bool
    can_seed: bool


@dataclass(frozen=True)
class Outcome:
    """What a ticket action did to each ticket: the ids it changed and one message per failure."""

    done: list[int]
    errors: list[str]


class Backend:
    def __init__(self, db: Database, user: str | None) -> None:
        self.db = db
        self.user = user

    def listen(
        self,
        on_change: Callable[[set[int] | None], None],
        stop: threading.Event,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        """Block, handing the ids of tickets others change to `on_change`, until `stop` is set."""
        live.listen(self.db.url, on_change, stop, on_state=on_state)

    @translate_db_errors
    def _run(self, fn: Callable[[Context], T]) -> T:
        with self.db.session() as session:
            return fn(open_context(session, self.user))

    def startup(self) -> Startup:
        def load(ctx: Context) -> Startup:
            self.user = ctx.actor.name
            return Startup(
                user=ctx.actor.name,
                preferences=listing.preferences(ctx),
                queues=listing.queues(ctx),
                empty=listing.desk_is_empty(ctx),
                can_seed=ctx.can("SuperUser"),
            )

        return self._run(load)

    def seed_demo(self, count: int = DEMO_TICKETS) -> int:
        from tessera.core.demo import seed

        def run(ctx: Context) -> int:
            ctx.require("SuperUser", "seed demo data", "on this desk")
            return seed(ctx, count)

        return self._run(run)

    def queues(self) -> list[listing.QueueInfo]:
        return self._run(listing.queues)

    def check_query(self, query: str) -> str | None:
        return self._run(lambda ctx: listing.check_query(ctx, query))

    def complete_query(self, text: str) -> list[str]:
        return self._run(lambda ctx: listing.complete_query(ctx, text))

    def views(self) -> list[listing.View]:
        return self._run(listing.saved_views)

    def tickets(self, queue: int | None, **options: Any) -> listing.TicketPage:
        return self._run(lambda ctx: listing.list_tickets(ctx, queue, **options))

    def view(self, ticket_id: int, *, mark_seen: bool = True) -> listing.TicketView:
        def load(ctx: Context) -> listing.TicketView:
            view = listing.ticket_view(ctx, ticket_id)
            if mark_seen:
                listing.mark_seen(ctx, [view.ticket["id"]])
            return view

        return self._run(load)

    def status_choices(self, ticket_id: int) -> list[listing.StatusChoice]:
        return self._run(lambda ctx: listing.status_choices(ctx, ticket_id))

    def status_preview(self, ticket_id: int, status: str | None) -> dict[str, Any]:
        """The scrip dry-run of a status change (None: what "resolve" means for this ticket)."""
        from tessera.scrips.preview import preview

        def run(ctx: Context) -> dict[str, Any]:
            target = status or listing.resolve_target(ctx, ticket_id)
            plan = preview(ctx, ticket_id, {"status": target})
            plan["status"] = target
            return plan

        return self._run(run)

    def owner_choices(self, queue: int) -> list[str]:
        return self._run(lambda ctx: listing.owner_choices(ctx, queue))

    def set_preference(self, key: str, value: Any) -> None:
        self._run(lambda ctx: listing.set_preference(ctx, key, value))

    def attachment(self, attachment_id: int) -> listing.AttachmentData:
        return self._run(lambda ctx: listing.attachment(ctx, attachment_id))

    # -- ticket actions: each ticket is its own operation, so one refusal does not undo the rest

    def _each(self, ticket_ids: list[int], act: Callable[[Context, int], object]) -> Outcome:
        from tessera.core.errors import TesseraError

        def run(ctx: Context) -> Outcome:
            done, errors = [], []
            for ticket_id in ticket_ids:
                try:
                    act(ctx, ticket_id)
                    done.append(ticket_id)
                except TesseraError as exc:
                    ctx.session.rollback()
                    errors.append(exc.message)
            return Outcome(done, errors)

        return self._run(run)

    def reply(self, ticket_ids: list[int], body: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: tickets.correspond(ctx, t, MessageIn(body=body)))

    def comment(self, ticket_ids: list[int], body: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: tickets.comment(ctx, t, MessageIn(body=body)))

    def set_status(self, ticket_ids: list[int], status: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: tickets.set_status(ctx, t, status))

    def resolve(self, ticket_ids: list[int]) -> Outcome:
        return self._each(
            ticket_ids, lambda ctx, t: tickets.set_status(ctx, t, listing.resolve_target(ctx, t))
        )

    def take(self, ticket_ids: list[int]) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: ownership.take(ctx, t))

    def assign(self, ticket_ids: list[int], owner: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: ownership.give(ctx, t, owner))

    def move(self, ticket_ids: list[int], queue: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: tickets.set_fields(ctx, t, {"queue": queue}))

    def edit(self, ticket_id: int, changes: dict[str, str], version: int) -> Outcome:
        return self._each(
            [ticket_id], lambda ctx, t: tickets.set_fields(ctx, t, changes, expected_version=version)
        )
