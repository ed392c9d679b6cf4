"""The TUI's door to core: one short session per call, plain data out, run from worker threads.

Nothing here touches the screen; the app calls these methods through `asyncio.to_thread` so the UI
never waits on the database.

Start-up: `FirstScreenHelper.start` forks a helper that opens the database and reads what the
first screen shows (the user's preferences and queues, and the page of tickets the saved view asks
for), while this process imports Textual and draws; the two run on two cores, not one GIL. This
module therefore imports nothing heavy: SQLAlchemy, the models, the ticket operations and their
pydantic schemas are imported when first needed (by the helper, or after the first page is on
screen by `Backend.warm`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from tessera.core import listing
from tessera.core.db import translate_db_errors
from tessera.core.errors import TesseraError

if TYPE_CHECKING:
    from tessera.core.context import Context
    from tessera.core.db import Database

T = TypeVar("T")
DEMO_TICKETS = 500
# The queue pane's page size (tessera.tui.app.PAGE) and saved-view preference, for the helper.
FIRST_PAGE = 100
PREF_VIEW = "tui.view"


class _Later:
    """A module, or a name in one, imported on first use (by a worker thread, not at start-up)."""

    def __init__(self, module: str, name: str | None = None) -> None:
        self._where = (module, name)

    def _resolve(self) -> Any:
        module, name = self._where
        found = import_module(module)
        return getattr(found, name) if name else found

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._resolve(), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)


live = _Later("tessera.core.live")
open_context = _Later("tessera.core.context", "open_context")
ownership = _Later("tessera.core.ownership")
tickets = _Later("tessera.core.tickets")
MessageIn = _Later("tessera.core.schemas", "MessageIn")
WARM_MODULES = (
    "tessera.core.context",
    "tessera.core.tickets",
    "tessera.core.ownership",
    "tessera.core.serialize",
    "tessera.core.statuses",
)  # not the scrip engine (Jinja): the first change imports it, in its worker


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


@dataclass(frozen=True)
class FirstScreen:
    """What the start-up helper read: the startup data, and the first page with its request."""

    startup: Startup
    request: tuple[int | None, dict[str, Any]] | None
    page: listing.TicketPage | None


def first_page_request(info: Startup) -> tuple[int | None, dict[str, Any]] | None:
    """The `tickets` call the queue pane makes first, from the saved view (as MainScreen.start)."""
    view = info.preferences.get(PREF_VIEW)
    view = view if isinstance(view, dict) else {}
    sort, descending = "updated", True
    if view.get("sort") in listing.SORT_KEYS:
        sort, descending = str(view["sort"]), bool(view.get("descending", True))
    text = view["filter"] if isinstance(view.get("filter"), str) and view["filter"] else ""
    search = view["search"] if isinstance(view.get("search"), str) else ""
    preferred = view.get("queue")
    queue = next((q for q in info.queues if q.name == preferred), info.queues[0] if info.queues else None)
    if queue is None:
        return None
    options = {"query": search, "sort": sort, "descending": descending, "text": text, "limit": FIRST_PAGE}
    return (None if search else queue.id), options


class FirstScreenHelper:
    """A forked process reading the first screen's data; `result` waits for it (None: it failed,
    and the app opens the database itself, so any error is reported as without the helper)."""

    pending: ClassVar[FirstScreenHelper | None] = None  # started, not yet taken by the app

    def __init__(self, pid: int, fd: int) -> None:
        self._pid = pid
        self._fd: int | None = fd

    @classmethod
    def start(cls, user: str | None, opener: Callable[[], Database] | None = None) -> None:
        """Fork the helper (as early as possible: it has the longer way to go); see `take`."""
        if not hasattr(os, "fork") or cls.pending is not None:
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _helper(write, opener or _open_desk, user)
        os.close(write)
        cls.pending = cls(pid, read)

    @classmethod
    def take(cls) -> FirstScreenHelper | None:
        helper, cls.pending = cls.pending, None
        return helper

    def done(self, wait: float = 0.0) -> bool:
        """Whether `result` would not wait (the helper has written, or died), waiting up to `wait` s."""
        if self._fd is None:
            return True
        import select

        return bool(select.select([self._fd], [], [], wait)[0])

    def result(self) -> FirstScreen | None:
        if self._fd is None:
            return None
        fd, self._fd = self._fd, None
        with os.fdopen(fd, "rb") as pipe:
            data = pipe.read()
        os.waitpid(self._pid, 0)
        try:
            found = pickle.loads(data) if data else None
        except Exception:  # a helper that died half-way: do without
            return None
        return found if isinstance(found, FirstScreen) else None


def _open_desk() -> Database:
    from tessera.core.bootstrap import open_desk

    return open_desk()


def _helper(fd: int, opener: Callable[[], Database], user: str | None) -> NoReturn:
    gc.disable()  # a short-lived process: its imports run ~15% faster without collections
    code = 1
    try:
        quiet = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):  # the terminal belongs to the TUI
            os.dup2(quiet, stream)
        try:
            first = _quick_first_screen(user) if opener is _open_desk else None
        except Exception:  # a connection lost half-way, say: the full path reports it properly
            first = None
        if first is None:  # not the common case: the full path (SQLAlchemy, migrations, errors)
            db = opener()
            backend = Backend(db, user)
            info = backend.startup()
            request = first_page_request(info)
            page = backend.tickets(request[0], **request[1]) if request is not None else None
            db.dispose()
            first = FirstScreen(info, request, page)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(pickle.dumps(first))
        code = 0
    finally:
        os._exit(code)  # a forked child: no atexit handlers, no flushing of the parent's buffers


def _quick_first_screen(user: str | None) -> FirstScreen | None:
    """The first screen read with psycopg alone (core.quick_read): on a ready desk, a plain first
    page, the helper's whole work in ~0.15 s instead of ~0.65 s. None for anything else."""
    from tessera.core.quick_read import QuickReader

    reader = QuickReader.open(user)
    if reader is None:
        return None
    try:
        info = Startup(
            user=reader.actor.name,
            preferences=reader.preferences,
            queues=reader.queues(),
            empty=reader.desk_is_empty(),
            can_seed=reader.can("SuperUser"),
        )
        request = first_page_request(info)
        page = None
        if request is not None:
            queue, options = request
            if queue is None or options["query"] or options["text"]:
                return None  # a saved search or filter: TicketSQL needs the full path
            sort, descending, limit = options["sort"], options["descending"], options["limit"]
            page = reader.page(queue, sort=sort, descending=descending, limit=limit)
            if page is None:
                return None
        return FirstScreen(info, request, page)
    finally:
        reader.close()


class Backend:
    def __init__(
        self,
        db: Database | None,
        user: str | None,
        *,
        opener: Callable[[], Database] | None = None,
        first: FirstScreen | None = None,
    ) -> None:
        """`db`, or (with a helper's `first` screen) an `opener` called when a call first needs it."""
        self._db = db
        self._opener = opener
        self._opening = threading.Lock()
        self.user = user
        self._first = first
        self._catch_up = first is not None

    @property
    def db(self) -> Database:
        if self._db is None:
            with self._opening:
                if self._db is None:
                    assert self._opener is not None, "a Backend needs a database or an opener"
                    self._db = self._opener()
        return self._db

    @db.setter
    def db(self, value: Database) -> None:
        self._db = value

    def listen(
        self,
        on_change: Callable[[set[int] | None], None],
        stop: threading.Event,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        """Block, handing the ids of tickets others change to `on_change`, until `stop` is set."""
        catch_up, self._catch_up = self._catch_up, False
        while True:
            try:
                url = self.db.url
                break
            except TesseraError as exc:
                if on_state is not None:
                    on_state(exc.message)
                if stop.wait(2.0):
                    return

        def state(problem: str | None) -> None:
            nonlocal catch_up
            if problem is None and catch_up:
                catch_up = False
                on_change(None)  # what changed since the helper read the first screen: reload it
            if on_state is not None:
                on_state(problem)

        live.listen(url, on_change, stop, on_state=state)

    @translate_db_errors
    def _run(self, fn: Callable[[Context], T]) -> T:
        with self.db.session() as session:
            return fn(open_context(session, self.user))

    def startup(self) -> Startup:
        if self._first is not None:
            self.user = self._first.startup.user
            return self._first.startup

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

    def warm(self) -> None:
        """Open the database and import what opening and changing a ticket need, in a thread after
        the first page is on screen, so the first enter does not wait for them."""
        with contextlib.suppress(TesseraError):  # reported by the next call that needs it
            _ = self.db
        for module in WARM_MODULES:
            import_module(module)

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

    def first_page(self, queue: int | None, **options: Any) -> listing.TicketPage | None:
        """The page the start-up helper read, if it is this one (once; no database)."""
        first, self._first = self._first, None
        if first is not None and first.page is not None and first.request == (queue, options):
            return first.page
        return None

    def tickets(self, queue: int | None, **options: Any) -> listing.TicketPage:
        page = self.first_page(queue, **options)
        if page is not None:
            return page
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

    def message_preview(self, ticket_id: int, kind: str, body: str) -> dict[str, Any]:
        """The scrip dry-run of a reply or comment: the mail it would cause; nothing recorded."""
        from tessera.scrips.preview import preview_message

        return self._run(lambda ctx: preview_message(ctx, ticket_id, kind, body))

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

    def steal(self, ticket_ids: list[int]) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: ownership.steal(ctx, t))

    def assign(self, ticket_ids: list[int], owner: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: ownership.give(ctx, t, owner))

    def move(self, ticket_ids: list[int], queue: str) -> Outcome:
        return self._each(ticket_ids, lambda ctx, t: tickets.set_fields(ctx, t, {"queue": queue}))

    def edit(self, ticket_id: int, changes: dict[str, str], version: int) -> Outcome:
        return self._each(
            [ticket_id], lambda ctx, t: tickets.set_fields(ctx, t, changes, expected_version=version)
        )
