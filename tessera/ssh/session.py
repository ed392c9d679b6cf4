"""One SSH session: the login decision, then the Tessera TUI in its own pty and process.

Per session channel, a pty pair and a child process (by default `python -m tessera tui --user
NAME`) whose controlling terminal is the pty's slave side. Bytes go between the channel and the
pty's master side; window-size changes are set on the pty (the kernel then sends SIGWINCH to the
program). Known keys of disabled or unprivileged users, sessions over the per-user limit, commands,
subsystems (SFTP, scp) and sessions without a terminal are refused when the session starts, with a
one-line message on the session's stderr and exit status 1. An idle session is hung up.

The session's program gets no way out to the server: $EDITOR and $VISUAL name a stand-in that
refuses (any real editor can run a shell), and the environment says it is an SSH session.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import pty
import re
import shlex
import signal
import struct
import sys
import termios
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import asyncssh

from tessera.core.config import SSH_SESSION_ENV
from tessera.core.errors import ConfigError
from tessera.ssh.settings import ServerSettings

if TYPE_CHECKING:
    from tessera.core.sshkeys import KeyOwner, LoginDecision
    from tessera.ssh.preload import Preloader

log = logging.getLogger("tessera.ssh")

DEFAULT_TERM = "xterm-256color"

# Client-sent environment variables a session's program may see; everything else is ignored.
PASSED_ENV = ("COLORTERM",)
SAFE_ENV_VALUE = re.compile(r"[A-Za-z0-9._+-]{1,64}")
# The server's own environment variables a session's program must not inherit: they point at the
# admin's SSH agent, X display or login, none of which an agent's session may use.
DROPPED_ENV = (
    "TESSERA_USER",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_TTY",
    "SSH_ORIGINAL_COMMAND",
    "DISPLAY",
    "XAUTHORITY",
    "WAYLAND_DISPLAY",
    # The server's own terminal size: the session's comes from its pty (Python and Textual
    # believe COLUMNS/LINES over the pty, so an exported COLUMNS=80 would fix every agent at 80).
    "COLUMNS",
    "LINES",
)
HANGUP_GRACE = 3.0
INPUT_BUFFER_LIMIT = 256 * 1024
# What a terminal needs after a full-screen program died without cleaning up: leave the
# alternate screen, stop mouse and focus reporting and bracketed paste, show the cursor.
TERMINAL_RESET = (
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l\x1b[?2004l"
    b"\x1b[?1049l\x1b[0m\x1b[?25h\r\n"
)


class Program(Protocol):
    """A session's running program: a subprocess, or a session forked by the preloader."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class SessionHost(Protocol):
    """What a session needs of the server it runs on (`server.TesseraSSHServer`)."""

    settings: ServerSettings
    preloader: Preloader | None
    active: dict[int, int]
    sessions: set[TUISession]

    async def admit(self, fingerprint: str) -> LoginDecision: ...

    def release(self, user_id: int) -> None: ...


class SessionConnection(Protocol):
    """What a session needs of the connection it was opened on (`auth.KeyOnlyConnection`)."""

    started: bool
    login: str
    peer: str
    notes: list[str]


def no_editor_command() -> str:
    """$EDITOR for sessions: a stand-in that refuses, since vi & co. can run a shell (`:!sh`)."""
    return shlex.join([sys.executable, "-m", "tessera.ssh.noeditor"])


def session_env(
    base: Mapping[str, str], term: str | None, client: Mapping[str, str], peer: str
) -> dict[str, str]:
    """The environment of a session's program: the server's (database settings included, which
    agents never see), minus the admin's agent/display/login, plus TERM and safe client values."""
    env = {name: value for name, value in base.items() if name not in DROPPED_ENV}
    env["TERM"] = term if term and SAFE_ENV_VALUE.fullmatch(term) else DEFAULT_TERM
    for name in PASSED_ENV:
        value = client.get(name)
        if value and SAFE_ENV_VALUE.fullmatch(value):
            env[name] = value
    env["EDITOR"] = env["VISUAL"] = no_editor_command()
    env[SSH_SESSION_ENV] = peer
    return env


class TUISession(asyncssh.SSHServerSession[bytes]):
    """One session channel: the login decision, then the program in its own pty and process."""

    def __init__(self, server: SessionHost, connection: SessionConnection, key: KeyOwner) -> None:
        self.server = server
        self.connection = connection
        self.key = key
        self.login = connection.login
        self.peer = connection.peer
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.term_type: str | None = None
        self.size: tuple[int, int, int, int] = (80, 24, 0, 0)
        self.has_pty = False
        self.command: str | None = None
        self.subsystem: str | None = None
        self.proc: Program | None = None
        self.master: int | None = None
        self.user_id: int | None = None
        self.user_name = key.user_name
        self.done = asyncio.Event()
        self._eof = asyncio.Event()
        self._pending = bytearray()
        self._input_paused = False
        self._reading = False
        self._paused = False
        self._closing = False
        self._hung_up: str | None = None
        self._last_input = time.monotonic()
        self._idle_handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    # -- asyncssh callbacks ----------------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object) -> bool:
        self.has_pty = True
        self.term_type = term_type or None
        if term_size[0] > 0 and term_size[1] > 0:
            self.size = term_size
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.command = command  # accepted only to refuse it with a message in session_started
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self.subsystem = subsystem  # accepted only to refuse it with a message in session_started
        return True

    def session_started(self) -> None:
        self.connection.started = True
        self._task = asyncio.ensure_future(self._run())
        self.server.sessions.add(self)

    def data_received(self, data: bytes, datatype: int | None) -> None:
        self._last_input = time.monotonic()
        if self._closing:
            return
        # Keys typed before the program starts are kept for it; past the limit the client waits.
        self._pending += data
        if len(self._pending) > INPUT_BUFFER_LIMIT and not self._input_paused and self.chan is not None:
            self._input_paused = True
            self.chan.pause_reading()
        self._flush_input()

    def eof_received(self) -> bool:
        return True  # keep the channel open: the program ends the session, not the client's EOF

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._last_input = time.monotonic()
        if width > 0 and height > 0:
            self.size = (width, height, pixwidth, pixheight)
            if self.master is not None:
                self._set_size()

    def pause_writing(self) -> None:
        self._paused = True
        self._stop_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.is_set():
            self.hang_up(None)

    # -- the session -----------------------------------------------------------------------------

    def _refuse(self, message: str) -> None:
        assert self.chan is not None
        with contextlib.suppress(OSError):  # asyncssh: BrokenPipeError when the channel is closed
            self.chan.write_stderr(f"tessera: {message}\r\n".encode())
            self.chan.exit(1)

    async def _run(self) -> None:
        try:
            await self._login_and_run()
        except Exception as exc:
            log.exception("session of %s from %s failed", self.user_name, self.peer)
            self._refuse(f"the session failed: {exc}")  # a closed channel's OSError is ignored there
        finally:
            if self.user_id is not None:
                self.server.release(self.user_id)
            self._cancel_idle()
            self._close_master()
            self.server.sessions.discard(self)
            self.done.set()

    async def _login_and_run(self) -> None:
        try:
            decision = await self.server.admit(self.key.fingerprint)
        except Exception as exc:
            log.error("login of key %s from %s failed: %s", self.key.fingerprint, self.peer, exc)
            self._refuse("the desk's database is unavailable; try again later")
            return
        if decision.allowed:
            self.user_id = decision.user_id
        self.user_name = decision.user_name or self.user_name
        if not decision.allowed:
            log.warning(
                "refused %s (%s) for key %s (ssh login %r) from %s: %s",
                decision.user_name or "?",
                decision.code,
                decision.fingerprint,
                self.login,
                self.peer,
                decision.reason,
            )
            self._refuse(decision.reason)
            return
        if self._closing:
            log.info("%s from %s hung up before the session started", self.user_name, self.peer)
            return
        if self.subsystem is not None:
            log.warning(
                "refused subsystem %r for %s from %s: only the TUI runs here",
                self.subsystem,
                self.user_name,
                self.peer,
            )
            name = self.subsystem if SAFE_ENV_VALUE.fullmatch(self.subsystem) else "subsystem"
            self._refuse(
                f"no {name} here (no file transfer, no subsystems): this server runs only "
                "the Tessera TUI; connect with plain `ssh`"
            )
            return
        if self.command is not None:
            log.warning(
                "refused command %r for %s from %s: only the TUI runs here",
                self.command,
                self.user_name,
                self.peer,
            )
            self._refuse("this server runs only the Tessera TUI: connect without a command")
            return
        if not self.has_pty:
            log.warning("refused %s from %s: no terminal requested", self.user_name, self.peer)
            self._refuse("the Tessera TUI needs a terminal: connect with `ssh -t`")
            return
        await self._run_program()

    async def _run_program(self) -> None:
        assert self.chan is not None and self.user_id is not None
        settings = self.server.settings
        argv = [sys.executable, "-m", "tessera.ssh.ctty", *settings.command(self.user_name)]
        env = session_env(
            os.environ if settings.env is None else settings.env,
            self.term_type,
            self.chan.get_environment(),
            self.peer,
        )
        for note in self.connection.notes:  # shown before the TUI takes the screen, and after it
            with contextlib.suppress(OSError):  # asyncssh: the channel is not open any more
                self.chan.write_stderr(f"tessera: {note}\r\n".encode())
        master, slave = pty.openpty()
        self.master = master
        self._set_size()
        started = time.monotonic()
        try:
            self.proc = await self._start_program(argv, env, slave)
        except OSError as exc:
            os.close(slave)
            self._close_master()
            raise ConfigError(f"cannot start {' '.join(argv[3:])}: {exc.strerror or exc}") from None
        os.close(slave)
        os.set_blocking(master, False)
        if self._closing:  # hung up while the program was starting
            self._signal_hangup()
        log.info(
            "login %s (key %s, ssh login %r) from %s: session %d of %s, pid %d, %s %dx%d",
            self.user_name,
            self.key.fingerprint,
            self.login,
            self.peer,
            self.server.active.get(self.user_id, 0),
            settings.max_sessions or "unlimited",
            self.proc.pid,
            env["TERM"],
            self.size[0],
            self.size[1],
        )
        self._start_reading()
        self._flush_input()
        self._schedule_idle()
        code = await self.proc.wait()
        # The program is gone: hand over what it wrote before exiting, then close the pty.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._eof.wait(), 2.0)
        self._stop_reading()
        self._close_master()
        status = code if code >= 0 else 128 - code
        if self._hung_up is not None or code < 0:
            with contextlib.suppress(OSError):  # the client is gone: nothing to reset
                self.chan.write(TERMINAL_RESET)
        if self._hung_up:
            with contextlib.suppress(OSError):
                self.chan.write_stderr(f"tessera: {self._hung_up}\r\n".encode())
        log.info(
            "logout %s from %s after %.0fs (exit status %d%s)",
            self.user_name,
            self.peer,
            time.monotonic() - started,
            status,
            f"; {self._hung_up}" if self._hung_up else "",
        )
        with contextlib.suppress(OSError):
            self.chan.exit(status)

    async def _start_program(self, argv: list[str], env: dict[str, str], slave: int) -> Program:
        """Forked from the server's preloaded parent when it runs the TUI (memory shared
        copy-on-write, no imports to wait for), else a new process."""
        forked_argv = self.server.settings.preloaded_argv(self.user_name)
        preloader = self.server.preloader
        if forked_argv is not None and preloader is not None:
            forked = await preloader.spawn(forked_argv, env, slave)
            if forked is not None:
                return forked
            log.warning("the preloaded parent is not available: starting the session's own process")
        return await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )

    # -- the pty ---------------------------------------------------------------------------------

    def _set_size(self) -> None:
        if self.master is None:
            return
        width, height, pixwidth, pixheight = self.size
        with contextlib.suppress(OSError):
            # On the master side: the kernel sends SIGWINCH to the pty's foreground process group.
            fcntl.ioctl(
                self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight)
            )

    def _start_reading(self) -> None:
        if self.master is None or self._reading or self._paused or self._eof.is_set():
            return
        asyncio.get_running_loop().add_reader(self.master, self._readable)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self.master is not None:
            asyncio.get_running_loop().remove_reader(self.master)
        self._reading = False

    def _readable(self) -> None:
        assert self.master is not None and self.chan is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: every slave fd is closed, the program is gone
                log.warning("reading the pty of %s: %s", self.user_name, exc)
            data = b""
        if not data:
            self._stop_reading()
            self._eof.set()
            return
        try:
            self.chan.write(data)
        except (BrokenPipeError, OSError):  # the client is gone; the hang-up ends the program
            self._stop_reading()

    def _flush_input(self) -> None:
        if self.master is None or not self._pending:
            return
        loop = asyncio.get_running_loop()
        try:
            written = os.write(self.master, self._pending)
        except BlockingIOError:
            written = 0
        except OSError:
            self._pending.clear()
            return
        del self._pending[:written]
        if self._pending:
            loop.remove_writer(self.master)
            loop.add_writer(self.master, self._writable)
        elif self._input_paused and self.chan is not None:
            self._input_paused = False
            self.chan.resume_reading()

    def _writable(self) -> None:
        if self.master is not None:
            asyncio.get_running_loop().remove_writer(self.master)
        self._flush_input()

    def _close_master(self) -> None:
        if self.master is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_writer(self.master)
        self._stop_reading()
        with contextlib.suppress(OSError):
            os.close(self.master)
        self.master = None

    # -- idle timeout and hang-up ----------------------------------------------------------------

    def _schedule_idle(self, delay: float | None = None) -> None:
        timeout = self.server.settings.idle_timeout
        if timeout <= 0:
            return
        self._idle_handle = asyncio.get_running_loop().call_later(
            timeout if delay is None else delay, self._check_idle
        )

    def _cancel_idle(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _check_idle(self) -> None:
        timeout = self.server.settings.idle_timeout
        idle = time.monotonic() - self._last_input
        if idle < timeout:
            self._schedule_idle(timeout - idle)
            return
        log.info("idle timeout: %s from %s had no input for %.0fs", self.user_name, self.peer, idle)
        self.hang_up(f"disconnected after {timeout:g}s without input (idle timeout)")

    def hang_up(self, reason: str | None) -> None:
        """End the program as a terminal hang-up does: SIGHUP, then SIGKILL if it lingers."""
        self._cancel_idle()
        if self._closing:
            return
        self._closing = True
        self._hung_up = reason
        if self.proc is None:  # not started yet: _run sees _closing and does not start it
            if self._task is None or self._task.done():
                self.done.set()
            return
        self._signal_hangup()

    def _signal_hangup(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGHUP)

        def kill() -> None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

        asyncio.get_running_loop().call_later(HANGUP_GRACE, kill)
