"""End to end: the real `tessera` program in a real terminal (tmux), driven by keys, read off the screen."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.serialize import history, ticket_json
from tessera.core.tickets import get_ticket
from tests.helpers import tessera_cmd
from tests.test_tui_support import build_desk

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20, check=False
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            time.sleep(0.15)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")


@pytest.fixture
def terminal(database: Database, cli_env: dict[str, str], tmp_path) -> Iterator[Terminal]:  # type: ignore[no-untyped-def]
    build_desk(database)
    env = {
        "TESSERA_DATABASE_URL": cli_env["TESSERA_DATABASE_URL"],
        "TESSERA_DATA_DIR": cli_env["TESSERA_DATA_DIR"],
        "TESSERA_CONFIG_DIR": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        "PATH": cli_env.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'Written in the editor\\n' > \"$1\"\n")
    editor.chmod(0o755)
    env["EDITOR"] = str(editor)
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    program = " ".join(shlex.quote(part) for part in tessera_cmd())
    # Bare `tessera` (no subcommand) opens the TUI; the exit status is printed when it ends.
    command = f"env -i {assignments} {program} --user alice; echo TESSERA-EXIT=$?; sleep 60"
    term = Terminal(f"tessera-e2e-{uuid.uuid4().hex[:8]}", "e2e")
    term.tmux("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", command)
    try:
        yield term
    finally:
        term.tmux("kill-server")


def state(database: Database, ticket_id: int) -> dict:
    with database.session() as session:
        ctx = open_context(session, "root")
        return ticket_json(ctx, get_ticket(ctx, ticket_id))


def test_find_read_take_and_resolve_in_tmux(terminal: Terminal, database: Database) -> None:
    screen = terminal.wait_for("TKT-0001")
    assert "user alice" in screen and "General" in screen
    # hostile subject: markup shown literally, the escape sequences gone
    assert "[bold red]Boom[/] [/x]" in screen
    # the printer ticket has the newest change, so it is the highlighted first row: open it
    terminal.keys("Enter")
    screen = terminal.wait_for("Have you tried water?")
    assert "steps.txt" in screen and "printer@customer.example" in screen
    terminal.keys("q", "t")  # back to the list, take it
    terminal.wait_for("Taken: TKT-0001")
    assert state(database, 1)["owner"] == "alice"
    terminal.keys("X")
    screen = terminal.wait_for("Set TKT-0001 to resolved?")
    assert "Dry run of the scrips" in screen
    terminal.keys("y")
    terminal.wait_for("Resolved: TKT-0001")
    assert state(database, 1)["status"] == "resolved"
    terminal.keys("c")  # comment, written in $EDITOR: the app suspends and resumes
    terminal.wait_for("Comment on TKT-0001")
    terminal.keys("F4")  # when the editor exits, the review follows
    screen = terminal.wait_for("Review comment on TKT-0001")
    assert "Written in the editor" in screen and "Internal comment" in screen
    assert "Dry run of the scrips" in screen
    terminal.keys("y")
    terminal.wait_for("Commented: TKT-0001")
    with database.session() as session:
        ctx = open_context(session, "root")
        events = history(ctx, get_ticket(ctx, 1))
    assert events[-1]["type"] == "Comment" and events[-1]["actor"] == "alice"
    assert events[-1]["message"]["content"] == "Written in the editor\n"
    terminal.keys("?")
    terminal.wait_for("Tessera keys")
    terminal.keys("Escape")
    time.sleep(0.5)
    terminal.keys("q")
    terminal.wait_for("TESSERA-EXIT=0")
