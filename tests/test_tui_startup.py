"""Start-up of the TUI: the forked helper's first screen, lazy imports, the bench probe, CLI fast path."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tessera.cli.main import _plain_tui
from tessera.core import listing
from tessera.core.bootstrap import BUILTIN_LIFECYCLES, bootstrap_database, is_bootstrapped
from tessera.core.db import Database
from tessera.core.lifecycles.builtin import builtin_lifecycles
from tessera.tui import app as tui_app
from tessera.tui import ticket_ops
from tessera.tui.backend import Backend, FirstScreen, FirstScreenHelper, first_page_request
from tessera.tui.queue_view import PREF_VIEW, SORT_LABELS
from tests.support.cli import tessera_cmd
from tests.support.desks import build_desk
from tests.support.tui import FIXED_NOW, run_async, settle, until


def test_the_queue_pane_sorts_by_every_key_core_sorts_by() -> None:
    assert set(SORT_LABELS) == set(listing.SORT_KEYS)


def test_builtin_lifecycle_names_are_in_step() -> None:
    assert set(BUILTIN_LIFECYCLES) == {lc.name for lc in builtin_lifecycles()}


def test_is_bootstrapped_answers_whether_bootstrap_would_change_anything(database: Database) -> None:
    bootstrap_database(database)
    assert is_bootstrapped(database)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM lifecycles WHERE name = 'approvals'")
    assert not is_bootstrapped(database)
    bootstrap_database(database)
    assert is_bootstrapped(database)


def test_the_tui_draws_before_sqlalchemy_is_imported() -> None:
    """The first screen's data comes from the forked helper, so the TUI's own modules import no
    SQLAlchemy, psycopg or pydantic until after the first page (then Backend.warm does)."""
    code = (
        "import sys, tessera.cli.main, tessera.cli.tui_cmd, tessera.tui.app, tessera.tui.backend;"
        "heavy = {'sqlalchemy', 'psycopg', 'pydantic', 'jinja2'};"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plain_tui_command_line_opens_the_app_without_typer() -> None:
    """What `tessera.cli.main.run` imports to open the TUI leaves typer (~0.1 s) out."""
    code = (
        "import sys, tessera.cli.main, tessera.cli.state, tessera.cli.tui_launch, tessera.tui.app;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'tessera.cli.common'}"
        " | ({'common'} if 'tessera.cli.common' in sys.modules else set())))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], (None, {"user": None, "theme": None, "keys": False})),
        (["tui"], (None, {"user": None, "theme": None, "keys": False})),
        (["--user", "alice"], ("alice", {"user": "alice", "theme": None, "keys": False})),
        (["-u", "alice", "tui"], ("alice", {"user": None, "theme": None, "keys": False})),
        (
            ["--user=alice", "tui", "--theme", "dark", "--keys"],
            ("alice", {"user": None, "theme": "dark", "keys": True}),
        ),
        (["tui", "-ubob", "--theme=light"], (None, {"user": "bob", "theme": "light", "keys": False})),
        (["--user", "a", "--user", "b"], ("b", {"user": "b", "theme": None, "keys": False})),
    ],
)
def test_plain_tui_command_lines_skip_typer(args: list[str], expected: object) -> None:
    assert _plain_tui(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["tui", "--help"],
        ["--version"],
        ["db", "status"],
        ["tui", "--theme"],
        ["--theme", "dark"],
        ["tui", "tui"],
        ["-u=x"],
        ["tui", "--user", "--keys"],
        ["--keys"],
        ["tui", "--bogus"],
    ],
)
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert _plain_tui(args) is None


class _Ready:
    """A helper that has already read the first screen (as the forked one would)."""

    def __init__(self, first: FirstScreen, done: bool = True) -> None:
        self.first = first
        self._done = done

    def done(self, wait: float = 0.0) -> bool:  # False: still reading; the start worker takes it
        return self._done

    def result(self) -> FirstScreen:
        return self.first


async def _open_with_helper(
    database: Database, done: bool
) -> tuple[FirstScreen, list[int], bool, list[bool]]:
    """The app started on what a helper read (`done` by mount, or still reading): the rows it
    showed, whether the table had focus, and whether rows were on screen when it opened the
    database itself (which it does once the first page is painted)."""
    backend = Backend(database, "alice")
    info = backend.run(ticket_ops.startup)
    request = first_page_request(info)
    assert request is not None
    first = FirstScreen(info, request, backend.run(ticket_ops.tickets, request[0], **request[1]))
    rows_on_screen_when_opened: list[bool] = []

    def factory() -> Database:
        rows_on_screen_when_opened.append(bool(app.main.queue_pane.rows))
        return database

    app = tui_app.TesseraApp(factory, user="alice", clock=lambda: FIXED_NOW, first_screen=_Ready(first, done))  # type: ignore[arg-type]
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.main
        await screen.ready.wait()
        await settle(pilot)
        shown, focused = list(screen.queue_pane.rows), app.focused is screen.queue_pane.table
        # then Backend.warm opens the database, in a thread
        await until(pilot, lambda: bool(rows_on_screen_when_opened), timeout=20)
    return first, shown, focused, rows_on_screen_when_opened


@pytest.mark.parametrize("done", [True, False], ids=["done-at-mount", "still-reading"])
@run_async
async def test_the_first_screen_comes_from_the_helper_and_the_database_opens_after(
    database: Database, tui_desk, done: bool
) -> None:
    first, shown, focused, opened = await _open_with_helper(database, done)
    assert shown == [row.id for row in first.page.rows]  # type: ignore[union-attr]
    assert focused and opened == [True]


def test_listening_after_a_helper_read_catches_up_once(database: Database, tui_desk) -> None:
    info = Backend(database, "alice").run(ticket_ops.startup)
    late = Backend(None, "alice", opener=lambda: database, first=FirstScreen(info, None, None))
    changes: list[set[int] | None] = []
    stop = threading.Event()

    def on_change(ids: set[int] | None) -> None:
        changes.append(ids)
        stop.set()

    thread = threading.Thread(target=late.listen, args=(on_change, stop), daemon=True)
    thread.start()
    thread.join(20)
    assert changes == [None]  # reload what the helper read: it may have changed since


def test_a_failed_helper_is_done_without() -> None:
    read, write = os.pipe()
    os.write(write, b"not a pickle")
    os.close(write)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert FirstScreenHelper(pid, read).result() is None


def _in_a_terminal(cmd: list[str], env: dict[str, str], timeout: float = 60) -> int:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(cmd, env=env, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty)
    os.close(slave)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_startup_probe_notes_the_first_page_and_exits(database: Database, cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_desk(database)
    probe = tmp_path / "probe"
    env = dict(
        cli_env,
        TESSERA_STARTUP_PROBE=str(probe),
        TESSERA_CONFIG_DIR=str(tmp_path / "config"),
        TERM="xterm-256color",
    )
    started = time.time()
    assert _in_a_terminal([*tessera_cmd(), "--user", "alice"], env) == 0
    moment = float(probe.read_text())
    assert started < moment < time.time()


@pytest.mark.parametrize("done", [True, False], ids=["done-at-mount", "still-reading"])
@run_async
async def test_a_saved_search_is_shown_from_the_helper_too(database: Database, tui_desk, done: bool) -> None:
    """A saved search's page is asked for every queue (None): the helper's page must still be the
    one shown first, before the database is opened here."""
    view = {"queue": "General", "search": "Status = 'new'"}
    Backend(database, "alice").run(ticket_ops.set_preference, PREF_VIEW, view)
    first, shown, _focused, opened = await _open_with_helper(database, done)
    assert first.request is not None and first.request[0] is None
    assert shown == [row.id for row in first.page.rows] and opened == [True]  # type: ignore[union-attr]
