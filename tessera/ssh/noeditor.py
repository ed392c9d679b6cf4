"""$EDITOR and $VISUAL in `tessera ssh-server` sessions: says no, leaves the file as it was.

A real editor (vi, nano, emacs) can run a shell or open any file on the server as the server's
own user, which an agent on the desk over SSH must never get. The TUI's own editor still works.
Usage: python -m tessera.ssh.noeditor FILE...
"""

from __future__ import annotations

import contextlib
import sys

MESSAGE = (
    "tessera: no external editor over SSH (it could run a shell on the server); "
    "the text is unchanged: edit it in the TUI.\r\nPress enter to go back. "
)


def main() -> int:
    sys.stdout.write(MESSAGE)
    sys.stdout.flush()
    with contextlib.suppress(OSError, KeyboardInterrupt, EOFError):
        sys.stdin.readline()
    return 1


if __name__ == "__main__":
    sys.exit(main())
