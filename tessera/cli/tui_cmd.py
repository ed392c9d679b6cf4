"""`tessera tui` (and bare `tessera`): the Textual app on the configured database."""

from __future__ import annotations

import sys

import typer

from tessera.cli.common import USER_OPTION

THEME_OPTION = typer.Option(None, "--theme", help="light or dark (default: your saved choice, else light).")
KEYS_OPTION = typer.Option(
    False, "--keys", help="Print the key map (with your key-map file applied) and exit."
)


def tui(user: str | None = USER_OPTION, theme: str | None = THEME_OPTION, keys: bool = KEYS_OPTION) -> None:
    """Open the keyboard-first TUI: queues, ticket details and history (the default command)."""
    from tessera.cli.tui_launch import open_tui

    if keys:
        print_keys()
        return
    code = open_tui(user, theme)
    if code:
        raise typer.Exit(code)


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
