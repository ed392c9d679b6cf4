"""Whether this TUI serves an agent over SSH: `tessera ssh-server` marks each session's environment.

Over SSH the app's files and programs are the server's, not the agent's: an external editor would
be a shell on the server (vi's `:!`), and a saved attachment would land in the server's file system
(where a crafted file name like ~/.ssh/authorized_keys would hand out a login). Both are refused.
"""

from __future__ import annotations

import os

SESSION_ENV = "TESSERA_SSH_SESSION"  # set by tessera.ssh.server for every session it starts

NO_EDITOR = "No external editor over SSH (it would run on the server): write the text here"
NO_SAVE = (
    "Attachments cannot be saved over SSH (the file would be written on the server, not your machine); "
    "run tessera where the desk runs to save them"
)


def over_ssh() -> bool:
    return bool(os.environ.get(SESSION_ENV))
