"""Whether this TUI serves an agent over SSH: `tessera ssh-server` marks each session's environment.

Over SSH the app's files and programs are the server's, not the agent's: an external editor would
be a shell on the server (vi's `:!`), and a saved attachment would land in the server's file system
(where a crafted file name like ~/.ssh/authorized_keys would hand out a login). Both are refused.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera.core.config import SSH_SESSION_ENV as SESSION_ENV

if TYPE_CHECKING:
    from textual.screen import Screen

NO_EDITOR = "No external editor over SSH (it would run on the server): write the text here"
NO_SAVE = (
    "Attachments cannot be saved over SSH (the file would be written on the server, not your machine); "
    "run tessera where the desk runs to save them"
)


def over_ssh() -> bool:
    return bool(os.environ.get(SESSION_ENV))


def edit_in_editor(screen: Screen[Any], path: Path) -> bool:
    """Run $VISUAL/$EDITOR on `path` with the app suspended; False (and a notice saying why) when
    it could not run: over SSH, a terminal that cannot suspend, or no such program."""
    from textual.app import SuspendNotSupported

    if over_ssh():
        screen.notify(NO_EDITOR, severity="warning", markup=False)
        return False
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    try:
        with screen.app.suspend():
            subprocess.run([*editor, str(path)], check=False)
    except SuspendNotSupported:
        screen.notify("This terminal cannot suspend the app for an editor", severity="warning", markup=False)
        return False
    except OSError as exc:
        screen.notify(f"Cannot run {editor[0]}: {exc.strerror}", severity="error", markup=False)
        return False
    return True
