"""Run a command with the pty on its standard input as its controlling terminal.

`tessera ssh-server` starts each session's program through this module in a new session
(`setsid`), with the pty's slave side as fds 0, 1 and 2. Making the pty the controlling terminal
here, in a fresh single-threaded process, is what lets the kernel deliver SIGWINCH to the program
when the server changes the window size, and SIGHUP when the session hangs up. Signals the server
inherited as ignored (`nohup` ignores SIGHUP; a shell's `&` ignores SIGINT and SIGQUIT) are set
back to their defaults, or a hung-up session's program would linger until it is killed.
Usage: python -m tessera.ssh.ctty PROGRAM [ARG]...
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import termios

RESET_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE)


def main(argv: list[str]) -> None:
    if not argv:
        sys.stderr.write("usage: python -m tessera.ssh.ctty PROGRAM [ARG]...\n")
        sys.exit(2)
    for signum in RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
