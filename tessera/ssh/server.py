"""The SSH front end (`tessera ssh-server`): public-key logins mapped to Tessera users, each session
the TUI in a pty.

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

This module listens, keeps the host key and the log, counts each user's sessions and shuts down;
`settings` holds what it runs with, `auth` the connection (authentication and its refusals) and
`session` one session (the login decision, the pty and the program).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from tessera.core.errors import ConfigError
from tessera.ssh.auth import KeyOnlyConnection
from tessera.ssh.preload import Preloader
from tessera.ssh.session import TUISession, session_env
from tessera.ssh.settings import ServerSettings

if TYPE_CHECKING:
    from tessera.core.db import Database
    from tessera.core.sshkeys import KeyOwner, LoginDecision

log = logging.getLogger("tessera.ssh")

HOST_KEY_NAME = "ssh_host_ed25519_key"


LOG_NAME = "ssh-server.log"


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
        self.preloader: Preloader | None = None

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
                lambda: KeyOnlyConnection(self),
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
        if self.settings.preloaded_argv("-") is not None:
            # The TUI's imports, once for every session (tessera.ssh.preload).
            base = os.environ if self.settings.env is None else self.settings.env
            self.preloader = Preloader(session_env(base, None, {}, ""))
            self.preloader.start()
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
            with contextlib.suppress(TimeoutError):  # closed already; waiting only lets it finish
                await asyncio.wait_for(conn.wait_closed(), 5)
        self.connections.clear()
        if self.preloader is not None:
            await self.preloader.close()
            self.preloader = None

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
