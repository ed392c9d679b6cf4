"""The TUI's door to core: `Backend` runs database work off the UI thread, one short session per
call, plain data out; and the start-up helper that reads the first screen before the app has drawn.

Every database call of the TUI goes through one `Backend`, handed to each pane when it is made:
`await backend.call(fn, *args)` runs `fn(ctx, *args)` (a function of a Context, e.g. from
`tessera.tui.ticket_ops`) in a worker thread and raises a refusal as `TesseraError`, for a pane
that shows it where it happened; `await backend.ask(fn, *args)` does the same but reports a
refusal as a one-line notification and a lost database as the banner (through the app, its
`Reporter`) and returns None after either. `backend.run(fn, *args)` is the blocking step both take,
for code already in a thread. Nothing here touches the screen.

Start-up: `FirstScreenHelper.start` forks a helper that opens the database and reads what the
first screen shows (the user's preferences and queues, and the page of tickets the saved view asks
for), while this process imports Textual and draws; the two run on two cores, not one GIL. This
module therefore imports nothing heavy: SQLAlchemy, the models, the ticket operations and their
pydantic schemas are imported when first needed (by the helper, or after the first page is on
screen by `Backend.warm`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, NoReturn, ParamSpec, Protocol, TypeVar

from tessera.core import listing
from tessera.core.db import translate_db_errors
from tessera.core.errors import DatabaseUnavailable, TesseraError
from tessera.tui import ticket_ops
from tessera.tui.lazy import Later
from tessera.tui.queue_view import PREF_VIEW, QueueView
from tessera.tui.ticket_ops import Startup

if TYPE_CHECKING:
    from tessera.core.context import Context
    from tessera.core.db import Database

T = TypeVar("T")
P = ParamSpec("P")
live = Later("tessera.core.live")
open_context = Later("tessera.core.context", "open_context")
acting_of = Later("tessera.core.context", "acting_of")
context_for = Later("tessera.core.context", "context_for")
WARM_MODULES = (
    "tessera.core.context",
    "tessera.core.tickets",
    "tessera.core.ownership",
    "tessera.core.serialize",
    "tessera.core.statuses",
)  # not the scrip engine (Jinja): the first change imports it, in its worker

__all__ = ["PREF_VIEW", "Backend", "FirstScreen", "FirstScreenHelper", "Reporter", "Startup"]


class Reporter(Protocol):
    """Where `Backend.ask` reports what went wrong: the app, which owns the notifications and the
    lost-database banner."""

    def refused(self, message: str) -> None:
        """A refusal (a TesseraError's one line)."""

    def reachable(self, problem: str | None) -> None:
        """The database was lost (`problem`), or answered again (None)."""

    def closed(self) -> bool:
        """Whether the screen a result would be shown on is gone (the app closing)."""
        ...


@dataclass(frozen=True)
class FirstScreen:
    """What the start-up helper read: the startup data, and the first page with its request."""

    startup: Startup
    request: tuple[int | None, dict[str, Any]] | None
    page: listing.TicketPage | None


def first_page_request(info: Startup) -> tuple[int | None, dict[str, Any]] | None:
    """The `tickets` call the queue pane makes first, from the saved view (as the pane does)."""
    view = QueueView.from_preference(info.preferences.get(PREF_VIEW))
    queue = view.choose(info.queues)
    return view.request(queue) if queue is not None else None


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
            info = backend.run(ticket_ops.startup)
            request = first_page_request(info)
            page = backend.run(ticket_ops.tickets, request[0], **request[1]) if request else None
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
            if queue is None or options["query"] or options["text"] or options.get("due_within"):
                return None  # a saved search or filter: TicketSQL needs the full path
            sort, descending, limit = options["sort"], options["descending"], options["limit"]
            left = options.get("time_left", False)
            page = reader.page(queue, sort=sort, descending=descending, limit=limit, time_left=left)
            if page is None:
                return None
        return FirstScreen(info, request, page)
    finally:
        reader.close()


class Backend:
    """The one way the TUI runs database work: see the module's docstring."""

    def __init__(
        self,
        db: Database | None,
        user: str | None,
        *,
        opener: Callable[[], Database] | None = None,
        first: FirstScreen | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        """`db`, or an `opener` called when a call first needs the database (with a helper's
        `first` screen, after the first page is shown); `reporter`: where `ask` reports."""
        self._db = db
        self._opener = opener
        self._opening = threading.Lock()
        self.user = user
        self.reporter = reporter
        self._first: FirstScreen | None = None
        self._catch_up = False
        # This app's changes are tagged with it; its listener skips them (the app reloads what it
        # changed itself, so its own notice would only reload it twice).
        self.origin = f"tui{os.getpid()}-{id(self):x}"
        # The user and their rights, kept between calls while the listener hears rights changes
        # (`live.RIGHTS_CHANNEL`); dropped on every such notice and whenever it is not listening.
        self._acting: Any = None
        self._acting_lock = threading.Lock()
        self._rights_epoch = 0
        self._rights_heard = False
        if first is not None:
            self.adopt(first)

    def adopt(self, first: FirstScreen) -> Startup:
        """Take what the start-up helper read: its start-up data now, its page once (`first_page`),
        and, once listening, one reload for what changed since it read."""
        self._first = first
        self._catch_up = True
        self.user = first.startup.user
        return first.startup

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

    # -- the one way to run database work ----------------------------------------------------------

    def run(self, fn: Callable[Concatenate[Context, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(ctx, *args, **kwargs)` in one session as this user; blocks, so only from a thread."""

        @translate_db_errors
        def in_session() -> T:
            with self.db.session() as session:
                ctx = self._context(session)
                ctx.origin = self.origin
                return fn(ctx, *args, **kwargs)

        return in_session()

    def _context(self, session: Any) -> Context:
        """This user's context in `session`: from the kept user and rights when they may be
        trusted (no queries), else read, and kept if they may be from now on."""
        acting = self._acting
        ctx: Context
        if acting is not None:
            ctx = context_for(session, acting)
            return ctx
        epoch = self._rights_epoch
        ctx = open_context(session, self.user)
        if self._rights_heard:
            kept = acting_of(ctx)
            with self._acting_lock:
                if epoch == self._rights_epoch and self._rights_heard:
                    self._acting = kept
        return ctx

    def rights_changed(self, user_id: int | None = None) -> None:
        """What a user may do changed (`user_id`'s row, or None: anyone's grants): read afresh."""
        with self._acting_lock:
            acting = self._acting
            if user_id is None or acting is None or acting.user_id == user_id:
                self._rights_epoch += 1
                self._acting = None

    def _hearing_rights(self, heard: bool) -> None:
        with self._acting_lock:
            self._rights_heard = heard
            self._rights_epoch += 1
            self._acting = None

    async def call(self, fn: Callable[Concatenate[Context, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`run` in a worker thread, the UI free meanwhile; a refusal raises `TesseraError`."""
        return await asyncio.to_thread(lambda: self.run(fn, *args, **kwargs))

    async def ask(
        self, fn: Callable[Concatenate[Context, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """`call`, reporting what went wrong instead of raising it: a refusal as one line, a lost
        database as the banner (and a reachable one clears it); None after either, and when the
        screen is gone by the time the answer comes. Without a reporter, errors propagate."""
        reporter = self.reporter
        if reporter is None:
            return await self.call(fn, *args, **kwargs)
        try:
            result = await self.call(fn, *args, **kwargs)
        except DatabaseUnavailable as exc:
            if not reporter.closed():
                reporter.reachable(exc.message)
            return None
        except TesseraError as exc:
            reporter.refused(exc.message)
            return None
        if reporter.closed():  # the app closed while the call ran: no screen to show it on
            return None
        reporter.reachable(None)
        return result

    # -- start-up and live changes -----------------------------------------------------------------

    def first_page(self, queue: int | None, **options: Any) -> listing.TicketPage | None:
        """The page the start-up helper read, if it is this one (once; no database)."""
        first, self._first = self._first, None
        if first is not None and first.page is not None and first.request == (queue, options):
            return first.page
        return None

    def warm(self) -> None:
        """Open the database and import what opening and changing a ticket need, in a thread after
        the first page is on screen, so the first enter does not wait for them."""
        with contextlib.suppress(TesseraError):  # reported by the next call that needs it
            _ = self.db
        for module in WARM_MODULES:
            import_module(module)

    def listen(
        self,
        on_change: Callable[[set[int] | None], None],
        stop: threading.Event,
        on_state: Callable[[str | None], None] | None = None,
        on_queues: Callable[[], None] | None = None,
    ) -> None:
        """Block, handing the ids of tickets others change to `on_change`, until `stop` is set;
        `on_queues`: a queue was created or changed (anyone's, this app's too)."""
        catch_up, self._catch_up = self._catch_up, False
        url = None
        while url is None:
            try:
                url = self.db.url
            except TesseraError as exc:
                if on_state is not None:
                    on_state(exc.message)
                if stop.wait(2.0):
                    return

        def state(problem: str | None) -> None:
            nonlocal catch_up
            self._hearing_rights(problem is None)
            if problem is None and catch_up:
                catch_up = False
                on_change(None)  # what changed since the helper read the first screen: reload it
            if on_state is not None:
                on_state(problem)

        try:
            live.listen(
                url,
                on_change,
                stop,
                on_state=state,
                ignore_origin=self.origin,
                on_rights=self.rights_changed,
                on_queues=on_queues,
            )
        finally:
            self._hearing_rights(False)
