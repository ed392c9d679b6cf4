"""The SSH front end: public-key logins mapped to Tessera users, each session the TUI in a pty.

One asyncssh server; per SSH session channel, a pty pair and a child process (by default
`python -m tessera tui --user NAME`) whose controlling terminal is the pty's slave side. Bytes go
between the channel and the pty's master side; window-size changes are set on the pty (the
kernel then sends SIGWINCH to the program). There is no shell, no command execution, no
subsystem (SFTP), no port, agent or X11 forwarding.

Who may log in is decided by `tessera.core.sshkeys`: unknown keys are refused during
authentication (with an auth banner saying why); known keys of disabled or unprivileged users,
sessions over the per-user limit, commands, subsystems (SFTP, scp) and sessions without a terminal
are refused when the session starts, with a one-line message on the session's stderr and exit
status 1. Port forwarding is refused with a reason the client prints; agent and X11 forwarding are
refused and noted on the session's stderr; a connection that opens no session (`ssh -N`) is
disconnected with a reason. Every login and refusal is logged.

The session's program gets no way out to the server: $EDITOR and $VISUAL name a stand-in that
refuses (any real editor can run a shell), and the environment says it is an SSH session.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import logging.handlers
import math
import os
import pty
import re
import shlex
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from tessera.core.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from tessera.core.db import Database
    from tessera.core.sshkeys import KeyOwner, LoginDecision

log = logging.getLogger("tessera.ssh")

IDLE_TIMEOUT_ENV = "TESSERA_SSH_IDLE_TIMEOUT"
MAX_SESSIONS_ENV = "TESSERA_SSH_MAX_SESSIONS"
DEFAULT_IDLE_TIMEOUT = 30 * 60.0
DEFAULT_MAX_SESSIONS = 4
HOST_KEY_NAME = "ssh_host_ed25519_key"
LOG_NAME = "ssh-server.log"
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
NO_KEY_MESSAGE = (
    "tessera: this desk logs you in by SSH key only, and your client offered none. Make one with "
    "`ssh-keygen -t ed25519`; an admin registers it with `tessera user key add NAME "
    "~/.ssh/id_ed25519.pub`."
)
# Set in every session's environment: the program runs for a remote agent, not on their machine.
SSH_SESSION_ENV = "TESSERA_SSH_SESSION"
# A connection that has not started a session this long after logging in (`ssh -N`, forwarding
# only) is disconnected.
NO_SESSION_GRACE = 20.0
HANGUP_GRACE = 3.0
INPUT_BUFFER_LIMIT = 256 * 1024
# What a terminal needs after a full-screen program died without cleaning up: leave the
# alternate screen, stop mouse and focus reporting and bracketed paste, show the cursor.
TERMINAL_RESET = (
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l\x1b[?2004l"
    b"\x1b[?1049l\x1b[0m\x1b[?25h\r\n"
)


def tui_command(user_name: str) -> list[str]:
    """The program every session runs: the Tessera TUI as the logged-in user."""
    return [sys.executable, "-m", "tessera", "tui", "--user", user_name]


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


def parse_duration(raw: str, *, source: str) -> float:
    """Seconds, or a number with s/m/h; 0 turns the timeout off."""
    text = raw.strip().lower()
    scale = 1.0
    if text and text[-1] in "smh":
        scale = {"s": 1.0, "m": 60.0, "h": 3600.0}[text[-1]]
        text = text[:-1]
    try:
        value = float(text) * scale
    except ValueError:
        raise InvalidInput(f"{source}: expected seconds (or e.g. 30m, 1h), got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{source}: expected a duration of 0 or more (0 = never), got {raw!r}")
    return value


def parse_count(raw: str, *, source: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{source}: expected a whole number, got {raw!r}") from None
    if value < 0:
        raise InvalidInput(f"{source}: expected 0 (no limit) or more, got {raw!r}")
    return value


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 2222
    data_dir: Path = field(default_factory=lambda: Path("."))
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # seconds without input; 0 = never
    max_sessions: int = DEFAULT_MAX_SESSIONS  # per user, on this server; 0 = no limit
    no_session_grace: float = NO_SESSION_GRACE  # seconds a login may go without starting a session
    # What a session runs, given the user's name. Tests swap in a small program.
    command: Callable[[str], Sequence[str]] = tui_command
    # The environment of each session's program (default: the server's own, which holds the
    # database settings: agents need none of their own).
    env: Mapping[str, str] | None = None

    @classmethod
    def from_env(
        cls,
        *,
        idle_timeout: str | None = None,
        max_sessions: str | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> ServerSettings:
        """Options win over $TESSERA_SSH_IDLE_TIMEOUT and $TESSERA_SSH_MAX_SESSIONS, then the defaults."""
        environ = os.environ if environ is None else environ
        settings = cls(**kwargs)  # type: ignore[arg-type]
        raw_idle = idle_timeout if idle_timeout is not None else environ.get(IDLE_TIMEOUT_ENV)
        if raw_idle is not None and raw_idle.strip():
            source = "--idle-timeout" if idle_timeout is not None else IDLE_TIMEOUT_ENV
            settings.idle_timeout = parse_duration(raw_idle, source=source)
        raw_max = max_sessions if max_sessions is not None else environ.get(MAX_SESSIONS_ENV)
        if raw_max is not None and raw_max.strip():
            source = "--max-sessions" if max_sessions is not None else MAX_SESSIONS_ENV
            settings.max_sessions = parse_count(raw_max, source=source)
        return settings


# -- host key and logging -------------------------------------------------------------------------


def load_or_create_host_key(data_dir: Path) -> tuple[asyncssh.SSHKey, Path, bool]:
    """The server's ed25519 host key in the data dir, created (mode 0600) on first start."""
    path = data_dir / HOST_KEY_NAME
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            try:
                return asyncssh.read_private_key(str(path)), path, False
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise ConfigError(f"cannot read the SSH host key {path}: {exc}") from None
        key = asyncssh.generate_private_key("ssh-ed25519", comment="tessera ssh-server host key")
        partial = path.with_name(path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key("openssh"))
        os.replace(partial, path)
        path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    except OSError as exc:
        raise ConfigError(f"cannot keep the SSH host key in {data_dir}: {exc.strerror or exc}") from None
    return key, path, True


def configure_logging(data_dir: Path, *, stderr: bool = True) -> Path:
    """Log logins and refusals to stderr and to `ssh-server.log` in the data dir (rotated at 10 MB)."""
    path = data_dir / LOG_NAME
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write the SSH log {path}: {exc.strerror or exc}") from None
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [file_handler]
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    return path


# -- the server -----------------------------------------------------------------------------------


class TesseraSSHServer:
    """Listens, authenticates, and runs one TUI process per session; `await start()`, `await close()`."""

    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self.database = database
        self.settings = settings
        self.active: dict[int, int] = {}  # user id -> open sessions on this server
        self.sessions: set[TUISession] = set()
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._login_lock = asyncio.Lock()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.host_key_path: Path | None = None
        self.host_key_fingerprint = ""

    @property
    def port(self) -> int:
        assert self._acceptor is not None, "server not started"
        return self._acceptor.get_port()

    async def start(self) -> None:
        key, path, created = await asyncio.to_thread(load_or_create_host_key, self.settings.data_dir)
        self.host_key_path = path
        self.host_key_fingerprint = key.get_fingerprint("sha256")
        if created:
            log.info("created host key %s (%s)", path, self.host_key_fingerprint)
        try:
            self._acceptor = await asyncssh.create_server(
                lambda: _Connection(self),
                self.settings.host,
                self.settings.port,
                server_host_keys=[key],
                encoding=None,
                line_editor=False,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                password_auth=False,
                kbdint_auth=True,  # only to tell a client that offered no key what to do
                gss_host=None,
                keepalive_interval=60,
                keepalive_count_max=3,
                login_timeout=60,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.settings.host}:{self.settings.port}: {exc.strerror or exc}"
            ) from None
        limit = self.settings.max_sessions or "no limit"
        idle = f"{self.settings.idle_timeout:g}s" if self.settings.idle_timeout else "none"
        log.info(
            "listening on %s:%d (host key %s; sessions per user: %s; idle timeout: %s)",
            self.settings.host,
            self.port,
            self.host_key_fingerprint,
            limit,
            idle,
        )

    async def close(self) -> None:
        """Stop listening, hang up every session (its program gets SIGHUP), close every connection."""
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for session in list(self.sessions):
            session.hang_up("the server is shutting down")
        if self.sessions:
            await asyncio.wait([asyncio.ensure_future(s.done.wait()) for s in self.sessions], timeout=10)
        if self.connections:  # clients whose session ended disconnect by themselves: let them
            waits = [asyncio.ensure_future(conn.wait_closed()) for conn in self.connections]
            _, pending = await asyncio.wait(waits, timeout=3)
            for waiting in pending:
                waiting.cancel()
        for conn in list(self.connections):
            conn.close()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)
        self.connections.clear()

    # -- database calls, in a thread -------------------------------------------------------------

    def _owner(self, fingerprint: str) -> KeyOwner | None:
        from tessera.core.sshkeys import key_owner

        with self.database.session() as session:
            return key_owner(session, fingerprint)

    async def key_owner(self, fingerprint: str) -> KeyOwner | None:
        return await asyncio.to_thread(self._owner, fingerprint)

    def _decide(self, fingerprint: str, active: dict[int, int]) -> LoginDecision:
        from tessera.core.sshkeys import decide_login

        with self.database.session() as session:
            return decide_login(
                session, fingerprint, active_sessions=active, max_sessions=self.settings.max_sessions
            )

    async def admit(self, fingerprint: str) -> LoginDecision:
        """The login decision; an allowed login takes one of its user's session slots at once."""
        async with self._login_lock:
            decision = await asyncio.to_thread(self._decide, fingerprint, dict(self.active))
            if decision.allowed and decision.user_id is not None:
                self.active[decision.user_id] = self.active.get(decision.user_id, 0) + 1
            return decision

    def release(self, user_id: int) -> None:
        left = self.active.get(user_id, 0) - 1
        if left > 0:
            self.active[user_id] = left
        else:
            self.active.pop(user_id, None)


class _Connection(asyncssh.SSHServer):
    """One SSH connection: public-key authentication only, session channels only."""

    def __init__(self, server: TesseraSSHServer) -> None:
        self.server = server
        self.conn: asyncssh.SSHServerConnection | None = None
        self.peer = "?"
        self.login = ""
        # The last key that validated: asyncssh validates the key of every signed request just
        # before checking its signature, so after auth_completed this is the key that logged in.
        self.key: KeyOwner | None = None
        self._refused: list[str] = []  # unknown keys offered; logged if no other key logs in
        self.authenticated = False
        self.started = False  # a session of this connection has started (shell, exec, subsystem)
        # Refused requests the client does not report itself: told on the session's stderr.
        self.notes: list[str] = []
        self._grace: asyncio.TimerHandle | None = None
        self._told_no_key = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.server.connections.add(conn)
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        # asyncssh refuses agent and X11 forwarding itself (both are off) but offers no callback
        # for them; these stand-ins refuse the same way and also log the refusal and note it for
        # the session (OpenSSH asks for agent forwarding without waiting for an answer, so an
        # agent would otherwise never learn it was refused).
        conn.create_agent_listener = self._refuse_agent  # type: ignore[method-assign]
        conn.attach_x11_listener = self._refuse_x11  # type: ignore[method-assign]

    async def _refuse_agent(self) -> bool:
        self._note("agent forwarding", "agent forwarding (ssh -A) is not allowed here: ignored")
        return False

    async def _refuse_x11(self, chan: object, auth_proto: bytes, auth_data: bytes, screen: int) -> None:
        self._note("X11 forwarding", "X11 forwarding (ssh -X) is not allowed here: ignored")
        return None

    def _note(self, what: str, message: str) -> None:
        who = self.key.user_name if self.key else "?"
        log.warning("refused %s for %s from %s", what, who, self.peer)
        if message not in self.notes:
            self.notes.append(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._grace is not None:
            self._grace.cancel()
        if self.conn is not None:
            self.server.connections.discard(self.conn)
        if self.authenticated:
            return
        if self._refused:
            log.warning(
                "refused unknown key%s %s (ssh login %r) from %s",
                "s" if len(self._refused) > 1 else "",
                ", ".join(self._refused),
                self.login,
                self.peer,
            )
        else:
            log.info("connection from %s closed before login%s", self.peer, f": {exc}" if exc else "")

    def auth_completed(self) -> None:
        self.authenticated = True
        self._grace = asyncio.get_running_loop().call_later(
            self.server.settings.no_session_grace, self._check_started
        )

    def _check_started(self) -> None:
        """Disconnect a login that never started a session: here there is nothing else to do."""
        self._grace = None
        if self.started or self.conn is None:
            return
        who = self.key.user_name if self.key else "?"
        log.warning(
            "disconnected %s from %s: no session after %gs (ssh -N?)",
            who,
            self.peer,
            self.server.settings.no_session_grace,
        )
        with contextlib.suppress(Exception):
            self.conn.disconnect(
                asyncssh.DISC_SERVICE_NOT_AVAILABLE,
                "tessera: this server only runs the Tessera TUI; it forwards no ports (connect without -N)",
            )

    def begin_auth(self, username: str) -> bool:
        self.login = username
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> bool | tuple:  # type: ignore[type-arg]
        """Never a login: a message (no prompts) for a client that offered no key at all; a client
        whose keys were unknown already got the auth banner saying so."""
        if self._refused or self._told_no_key:  # OpenSSH asks up to three times: answer once
            return False
        self._told_no_key = True
        log.warning("refused a login without a key (ssh login %r) from %s", username, self.peer)
        return ("", NO_KEY_MESSAGE, "", [])

    def validate_kbdint_response(self, username: str, responses: object) -> bool:
        return False

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        from tessera.core.sshkeys import fingerprint_of

        fingerprint = fingerprint_of(key.public_data)
        try:
            owner = await self.server.key_owner(fingerprint)
        except Exception as exc:
            log.error("cannot check key %s from %s: %s", fingerprint, self.peer, exc)
            if self.conn is not None:
                with contextlib.suppress(OSError):
                    self.conn.send_auth_banner(
                        "tessera: the desk's database is unavailable; try again later\r\n"
                    )
            return False
        if owner is None:
            if fingerprint not in self._refused:
                self._refused.append(fingerprint)
                if self.conn is not None:
                    with contextlib.suppress(OSError):
                        self.conn.send_auth_banner(
                            f"tessera: key {fingerprint} is not registered on this desk; an admin can "
                            "add it with `tessera user key add NAME FILE`\r\n"
                        )
            return False
        self.key = owner
        return True

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        """`ssh -L` and `ssh -D`: refused with a reason OpenSSH prints ("open failed: ...")."""
        who = self.key.user_name if self.key else "?"
        log.warning("refused port forwarding to %s:%d for %s from %s", dest_host, dest_port, who, self.peer)
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
            "tessera: port forwarding is not allowed here; this server only runs the Tessera TUI",
        )

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        who = self.key.user_name if self.key else "?"
        log.warning(
            "refused remote forwarding of %s:%d for %s from %s", listen_host, listen_port, who, self.peer
        )
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        log.warning("refused forwarding to socket %s from %s", dest_path, self.peer)
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
            "tessera: socket forwarding is not allowed here; this server only runs the Tessera TUI",
        )

    def unix_server_requested(self, listen_path: str) -> bool:
        log.warning("refused remote forwarding of socket %s from %s", listen_path, self.peer)
        return False

    def session_requested(self) -> asyncssh.SSHServerSession[bytes] | bool:
        if self.key is None:
            return False
        return TUISession(self.server, self, self.key)


class TUISession(asyncssh.SSHServerSession[bytes]):
    """One session channel: the login decision, then the program in its own pty and process."""

    def __init__(self, server: TesseraSSHServer, connection: _Connection, key: KeyOwner) -> None:
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
        self.proc: asyncio.subprocess.Process | None = None
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

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:  # type: ignore[override]
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

    def data_received(self, data: bytes, datatype: int | None) -> None:  # type: ignore[override]
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
        with contextlib.suppress(BrokenPipeError, OSError):
            self.chan.write_stderr(f"tessera: {message}\r\n".encode())
            self.chan.exit(1)

    async def _run(self) -> None:
        try:
            await self._login_and_run()
        except Exception as exc:
            log.exception("session of %s from %s failed", self.user_name, self.peer)
            with contextlib.suppress(Exception):
                self._refuse(f"the session failed: {exc}")
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
            with contextlib.suppress(Exception):
                self.chan.write_stderr(f"tessera: {note}\r\n".encode())
        master, slave = pty.openpty()
        self.master = master
        self._set_size()
        started = time.monotonic()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
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
            with contextlib.suppress(Exception):
                self.chan.write(TERMINAL_RESET)
        if self._hung_up:
            with contextlib.suppress(Exception):
                self.chan.write_stderr(f"tessera: {self._hung_up}\r\n".encode())
        log.info(
            "logout %s from %s after %.0fs (exit status %d%s)",
            self.user_name,
            self.peer,
            time.monotonic() - started,
            status,
            f"; {self._hung_up}" if self._hung_up else "",
        )
        with contextlib.suppress(Exception):
            self.chan.exit(status)

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


async def serve(database: Database, settings: ServerSettings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set, or SIGINT / SIGTERM arrives; then hang up every session and stop."""
    stop = stop or asyncio.Event()
    server = TesseraSSHServer(database, settings)
    await server.start()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("stopping: hanging up %d session(s)", len(server.sessions))
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await server.close()
