"""`tessera tui` (and bare `tessera`): the Textual app on the configured database."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from tessera.cli.common import USER_OPTION

THEME_OPTION = typer.Option(None, "--theme", help="light or dark (default: your saved choice, else light).")
KEYS_OPTION = typer.Option(
    False, "--keys", help="Print the key map (with your key-map file applied) and exit."
)


def tui(user: str = USER_OPTION, theme: str = THEME_OPTION, keys: bool = KEYS_OPTION) -> None:
    """Open the keyboard-first TUI: queues, ticket details and history (the default command)."""
    from tessera.cli import common
    from tessera.core.errors import InvalidInput

    if theme is not None and theme.strip().lower() not in ("light", "dark"):
        raise InvalidInput(f"--theme must be light or dark, not {theme!r}")
    if keys:
        print_keys()
        return
    from tessera.tui.backend import FirstScreenHelper

    user = user or common._global_user
    # In a terminal, a forked helper opens the database and reads the first screen while this
    # process imports Textual and draws (see tessera.tui.backend). `tessera.cli.main.run` forks
    # it before typer is imported, for a plain command line; else it is forked here.
    if sys.stdin.isatty() and sys.stdout.isatty():
        FirstScreenHelper.start(user)
    helper = FirstScreenHelper.take()
    from tessera.tui.app import TesseraApp

    app = TesseraApp(common.database, user=user, theme=theme, first_screen=helper)
    # In the app's raw terminal mode ctrl+c is a key; a ^C typed before that mode is set would
    # interrupt the app half-mounted (a crash dump). A handler, unlike SIG_IGN, is not inherited
    # by an $EDITOR the app runs.
    previous = signal.signal(signal.SIGINT, _ignore_interrupt)
    try:
        app.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if app.error is not None:
        raise app.error
    if app.return_code:
        raise typer.Exit(app.return_code)


def _ignore_interrupt(signum: int, frame: FrameType | None) -> None:
    return None


def print_keys() -> None:
    from tessera.cli.common import echo, table, warn
    from tessera.tui.actions import ACTIONS, SCOPES, effective_keys
    from tessera.tui.keymap import keymap_path, load_keymap

    keymap, problems = load_keymap()
    for problem in problems:
        warn(problem)
    rows = [
        [spec.id, ", ".join(effective_keys(spec, keymap)), spec.description, spec.scope] for spec in ACTIONS
    ]
    table(rows, ["ACTION", "KEYS", "DESCRIPTION", "SCOPE"])
    echo()
    echo(f"key map file: {keymap_path()}  (scopes: {', '.join(SCOPES)})")
    sys.stdout.flush()
