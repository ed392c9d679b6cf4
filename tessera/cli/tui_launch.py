"""Open the TUI: what `tessera tui` and bare `tessera` do once their options are read.

Free of typer (and of `tessera.cli.common`, which imports it), so a plain `tessera` reaches its
first screen without paying for the CLI's option parsing.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def open_tui(user: str | None, theme: str | None) -> int:
    """Run the app until it quits; its exit code (a failure it ended on is raised)."""
    from tessera.cli import state
    from tessera.core.errors import InvalidInput

    if theme is not None and theme.strip().lower() not in ("light", "dark"):
        raise InvalidInput(f"--theme must be light or dark, not {theme!r}")
    from tessera.tui.backend import FirstScreenHelper

    user = user or state.global_user
    # In a terminal, a forked helper opens the database and reads the first screen while this
    # process imports Textual and draws (see tessera.tui.backend). `tessera.cli.main.run` forks
    # it before anything heavy is imported, for a plain command line; else it is forked here.
    if sys.stdin.isatty() and sys.stdout.isatty():
        FirstScreenHelper.start(user)
    helper = FirstScreenHelper.take()
    from tessera.tui.app import TesseraApp

    app = TesseraApp(state.database, user=user, theme=theme, first_screen=helper)
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
    return app.return_code or 0


def _ignore_interrupt(signum: int, frame: FrameType | None) -> None:
    return None
