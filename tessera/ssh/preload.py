"""Sessions forked from a preloaded parent: each SSH session's TUI shares what imports built.

An idle TUI is ~90 MiB, most of it the code and data its imports build (Textual, Rich, SQLAlchemy,
the models, pydantic schemas). A fresh process per session builds it again each time. Instead the
server starts one *preloader* (`python -m tessera.ssh.preload FD`): a plain single-threaded process
that imports everything the TUI needs, freezes those objects out of the garbage collector's reach
(`gc.freeze`, so collections in a child do not write to their pages), and then forks one child per
session. The children share those pages copy-on-write; each owns only what its own screen and
database work allocate.

The preloader opens no database connection, runs no event loop and starts no thread: forking is
safe only from such a process. A child closes every socket it inherited (the request channel and
the other sessions' status channels) before it runs the TUI, then makes the session's pty its
controlling terminal, as `tessera.ssh.ctty` does for an exec'd session.

Protocol, over a Unix socket pair whose one end the preloader inherits as FD:
  request  (server → preloader): JSON {"argv": [...], "env": {...}} with two file descriptors
           (SCM_RIGHTS): the pty's slave side, and the session's own status socket.
  status   (preloader → server, on the session's status socket): "pid N\\n" once forked, then
           "exit N\\n" when the child ended (N as `Popen.returncode`: negative for a signal).
The preloader exits when the request channel closes (the server stopped or died).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import termios
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import NoReturn

# What a session's TUI imports on its way to the first screen and on its first enter and change,
# imported once here so every session shares it.
PRELOAD = (
    "tessera.cli.main",
    "tessera.cli.state",
    "tessera.cli.tui_launch",
    "tessera.tui.app",
    "tessera.tui.backend",
    "tessera.core.quick_read",
    "tessera.core.bootstrap",
    "tessera.core.context",
    "tessera.core.tickets",
    "tessera.core.ownership",
    "tessera.core.serialize",
    "tessera.core.statuses",
    "tessera.core.live",
    "tessera.scrips.engine",
    "tessera.scrips.preview",
    # What each session otherwise imported after the fork, before its first screen was up (the
    # first screen's reads and the terminal driver): the search language and its parser, the
    # driver, the layouts and scrollbars, Rich's emoji and Unicode width tables.
    "tessera.core.search.service",
    "tessera.core.bookmarks",
    "tessera.core.outgoing",
    "textual.drivers.linux_driver",
    "textual.layouts.factory",
    "textual.scrollbar",
    "rich._emoji_codes",
    # And what each session imported after the fork by its first page: the driver's threads, the
    # embedded server's settings, Textual's run loop (it imports its pilot and headless driver
    # whatever the terminal), a status change's lifecycle actions.
    "concurrent.futures.thread",
    "tessera.core.embedded",
    "tessera.core.business_hours",
    "tessera.core.lifecycle_actions",
    "textual.pilot",
    "textual.drivers.headless_driver",
    # And what a working session imported after the fork: the reply form's text area, the
    # command palette's system commands, the admin area (F9) with its tabs and scrip editor.
    "textual.widgets.text_area",
    "textual.system_commands",
    "textual.renderables.bar",
    "tessera.tui.styles",
    "tessera.tui.admin.screen",
)
RESET_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD)
MAX_REQUEST = 1 << 20


# -- the preloader process ----------------------------------------------------------------------


def preload() -> None:
    """Import what sessions use, then keep it out of the collector's way (shared, never written)."""
    for name in PRELOAD:
        import_module(name)
    from tessera.core.search.parser import _parser

    _parser()  # TicketSQL's parse tables, built once here instead of on each session's first search
    from rich.cells import cell_len

    cell_len("é中")  # Rich's table of character widths, read on the first wide character
    from tessera.core.business_hours import load_public_holidays

    load_public_holidays()  # a page with a Due under business hours imports every country's holidays
    gc.collect()
    gc.freeze()


def serve(control: socket.socket) -> None:
    """Fork a session per request until the request channel closes; report each child's end."""
    children: dict[int, socket.socket] = {}
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the server's terminal is not ours to die with
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server: it hangs sessions up itself
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "request")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    control.sendall(b"ready\n")
    while True:
        for key, _ in selector.select():
            if key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
                _reap(children)
                continue
            try:
                message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 2)
            except OSError:
                message, fds = b"", []
            if not message:  # the server is gone: its sessions get SIGHUP from their ptys
                os._exit(0)
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            _fork_session(json.loads(message), fds[0], socket.socket(fileno=fds[1]), control, children)
        _reap(children)


def _fork_session(
    request: Mapping[str, object],
    slave: int,
    status: socket.socket,
    control: socket.socket,
    children: dict[int, socket.socket],
) -> None:
    argv = [str(a) for a in request.get("argv") or []]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in dict(request.get("env") or {}).items()}  # type: ignore[call-overload]
    pid = os.fork()
    if pid == 0:
        # The child: nothing of the parent's channels stays open in a session.
        control.close()
        for other in children.values():
            other.close()
        status.close()
        _run_session(slave, argv, env)
    os.close(slave)
    children[pid] = status
    with contextlib.suppress(OSError):
        status.sendall(f"pid {pid}\n".encode())


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status = children.pop(pid, None)
        if status is None:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        with contextlib.suppress(OSError):
            status.sendall(f"exit {code}\n".encode())
        status.close()


def _run_session(slave: int, argv: list[str], env: dict[str, str]) -> NoReturn:
    """In the forked child: the pty as controlling terminal and fds 0-2, the session's
    environment, then the TUI's command line (`tessera.cli.main.run`)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in RESET_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["tessera", *argv]
        gc.enable()
        try:
            # The program itself, as `python -m tessera ARGS` runs it (what an unforked session
            # starts): the session runs the CLI's entry point, the ssh layer does not import it.
            runpy.run_module("tessera", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the session's own failure: its terminal shows it, the server logs the exit
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: Sequence[str]) -> None:
    if len(argv) != 1 or not argv[0].isdigit():
        sys.stderr.write("usage: python -m tessera.ssh.preload FD\n")
        sys.exit(2)
    control = socket.socket(fileno=int(argv[0]))
    preload()
    serve(control)


# -- the server's side --------------------------------------------------------------------------


class ForkedSession:
    """A session's program forked by the preloader: its pid, `wait()` and `returncode`, as an
    asyncio subprocess has them (it is the preloader's child, not the server's: the preloader
    reports its end)."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._reader = reader
        self._writer = writer

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        line = await self._reader.readline()
        self._writer.close()
        if line.startswith(b"exit "):
            self.returncode = int(line.split()[1])
        else:  # the preloader died: wait for the orphan itself, its status is lost
            while _alive(self.pid):
                await asyncio.sleep(0.5)
            self.returncode = 1
        return self.returncode


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Preloader:
    """The server's handle on its preloader: `await start()`, `await spawn(...)`, `await close()`."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.pid: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._control: socket.socket | None = None
        self._ready: asyncio.Task[bool] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        """Start the preloader; it imports in the background (`spawn` waits until it is ready)."""
        self._ready = asyncio.ensure_future(self._start())

    async def _start(self) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tessera.ssh.preload",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        self.pid = self._proc.pid
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(loop.sock_recv(ours, 64), 120)
        except (TimeoutError, OSError):
            ready = b""
        if ready != b"ready\n":
            ours.close()
            return False
        ours.setblocking(True)  # requests are sent from a worker thread
        self._control = ours
        return True

    async def ready(self) -> bool:
        """Whether sessions can be forked (False: the preloader failed; sessions are exec'd)."""
        if self._ready is None:
            return False
        return (
            await self._ready
            and self._control is not None
            and self._proc is not None
            and (self._proc.returncode is None)
        )

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str], slave: int) -> ForkedSession | None:
        """Fork a session running `tessera ARGV...` on the pty `slave`; None if the preloader
        cannot (the caller then starts the program itself)."""
        if not await self.ready():
            return None
        control = self._control
        assert control is not None
        ours, theirs = socket.socketpair()
        request = json.dumps({"argv": list(argv), "env": dict(env)}).encode()
        loop = asyncio.get_running_loop()
        try:
            async with self._lock:
                await loop.run_in_executor(
                    None, lambda: socket.send_fds(control, [request], [slave, theirs.fileno()])
                )
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        line = await reader.readline()
        if not line.startswith(b"pid "):
            writer.close()
            return None
        return ForkedSession(int(line.split()[1]), reader, writer)

    async def close(self) -> None:
        """Stop the preloader (sessions it forked go on until they are hung up)."""
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ready
        if self._control is not None:
            self._control.close()
            self._control = None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
