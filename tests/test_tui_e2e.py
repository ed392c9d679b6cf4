"""End to end: the real `tessera` program in a real terminal (tmux), driven by keys, read off the screen."""

from __future__ import annotations

import shlex
import shutil
import uuid
from collections.abc import Iterator

import pytest

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.serialize import history, ticket_json
from tessera.core.tickets import get_ticket
from tests.support.cli import tessera_cmd
from tests.support.desks import build_desk
from tests.support.terminal import Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def terminal(database: Database, cli_env: dict[str, str], tmp_path) -> Iterator[Terminal]:
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
        term.kill()


def state(database: Database, ticket_id: int) -> dict:
    with database.session() as session:
        ctx = open_context(session, "root")
        return ticket_json(ctx, get_ticket(ctx, ticket_id))


def test_find_read_take_and_resolve_in_tmux(terminal: Terminal, database: Database) -> None:
    screen = terminal.wait_for("TKT-0001")
    assert "user alice" in screen and "General" in screen
    # hostile subject: markup shown literally, the escape sequences gone
    assert "[bold red]Boom[/] [/x]" in screen and "\x1b" not in screen
    # the printer ticket has the newest change, so it is the highlighted first row: open it
    terminal.keys("Enter")
    screen = terminal.wait_for("Have you tried water?")
    assert "steps.txt" in screen and "printer@customer.example" in screen
    terminal.wait_for_focus("History (")
    terminal.keys("q")  # back to the list
    terminal.wait_for_focus("General (")
    terminal.keys("t")  # take it
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
    terminal.keys("Escape")  # a lone Escape: the help closes before q is typed (not Alt+q)
    terminal.wait_for_gone("Tessera keys")
    terminal.keys("q")
    terminal.wait_for("TESSERA-EXIT=0")


def test_jump_quoted_reply_q_rules_save_view_and_create_in_tmux(
    terminal: Terminal, database: Database
) -> None:
    terminal.wait_for("TKT-0001")
    # jump by number from the search bar
    # F and the number typed at once, without waiting for the bar: every key reaches it
    terminal.keys("F", "#4")
    terminal.wait_for("Search (TicketSQL")
    terminal.wait_for("#4")
    terminal.keys("Enter")
    terminal.wait_for("Black screen.")
    terminal.wait_for_focus("History (")
    # a reply starts quoted; what you write goes below the quote
    terminal.keys("r")
    screen = terminal.wait_for("Reply to TKT-0004")
    assert "root wrote:" in screen and "> Black screen." in screen
    terminal.keys("Plugged in?")
    terminal.wait_for("Plugged in?")
    terminal.keys("F2")
    terminal.wait_for("Review reply to TKT-0004")
    terminal.keys("y")
    terminal.wait_for("Replied: TKT-0004")
    with database.session() as session:
        ctx = open_context(session, "root")
        events = history(ctx, get_ticket(ctx, 4))
    content = next(e for e in events if e["type"] == "Correspond" and e["actor"] == "alice")["message"][
        "content"
    ]
    assert content.startswith("On ") and content.endswith("wrote:\n> Black screen.\n\nPlugged in?")
    # q: panes -> list; a filter -> the queue; never out of the app
    terminal.keys("q")
    terminal.wait_for_focus("General (")
    terminal.keys("/", "VPN", "Enter")  # in one go: the keys after / go into the filter
    terminal.wait_for("filter VPN")
    terminal.keys("q")
    terminal.wait_for_gone("filter VPN")
    # save the queue as a view, show it with its digit, q back to the queue
    terminal.keys("W")
    terminal.wait_for("Save this list as a view named")
    terminal.keys("everything general", "Enter")
    terminal.wait_for("Who sees the view")
    terminal.keys("Enter")
    terminal.wait_for("Saved view everything general")
    terminal.keys("1", "q")  # at once: q waits for the view, then goes back from it
    terminal.wait_for("View 1: everything general")  # the saved view by its digit
    terminal.wait_for("queue General")
    assert "TESSERA-EXIT" not in terminal.screen()
    # a new ticket: queue, form, review with the dry run, created and opened
    terminal.keys("n")
    terminal.wait_for("New ticket in which queue?")
    terminal.keys("Enter")
    terminal.wait_for("New ticket in General")
    for typed in ("e2e@customer.example", "Made in tmux"):
        terminal.keys(typed)
        terminal.wait_for(typed)
        terminal.keys("Tab")
    terminal.wait_until(lambda screen: "Made in tmux" in screen and "e2e@customer.exampleMade" not in screen)
    terminal.keys("Body from tmux")
    terminal.wait_for("Body from tmux")
    terminal.keys("F2")
    screen = terminal.wait_for("Review new ticket in General")
    assert "Dry run of the scrips" in screen and "e2e@customer.example" in screen
    terminal.keys("y")
    # (the dry run took a number from the sequence, as a rolled-back insert does: the ticket is 6)
    screen = terminal.wait_for("Created TKT-")
    made = int(screen.split("Created TKT-")[1][:4])
    terminal.wait_for(f"TKT-{made:04d}  Made in tmux")
    assert state(database, made)["subject"] == "Made in tmux"
    # nothing unsent: q from the panes to the list, q again quits without a question
    terminal.keys("q")
    terminal.wait_for_focus("General (")
    terminal.keys("q")
    terminal.wait_for("TESSERA-EXIT=0")
