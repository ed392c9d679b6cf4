"""Authentication: who may connect, by public key only, and the connection's other refusals.

Who may log in is decided by `tessera.core.sshkeys`: unknown keys are refused during authentication
(with an auth banner saying why); a client that offers no key is told how to get one registered.
Port forwarding is refused with a reason the client prints; agent and X11 forwarding are refused and
noted on the session's stderr; a connection that opens no session (`ssh -N`) is disconnected with a
reason. Every refusal is logged. A connection's sessions are `session.TUISession`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Protocol

import asyncssh

from tessera.ssh.session import SessionHost, TUISession

if TYPE_CHECKING:
    from asyncssh.auth import KbdIntChallenge

    from tessera.core.sshkeys import KeyOwner

log = logging.getLogger("tessera.ssh")


class ConnectionHost(SessionHost, Protocol):
    """What a connection needs of the server (`server.TesseraSSHServer`)."""

    connections: set[asyncssh.SSHServerConnection]

    async def key_owner(self, fingerprint: str) -> KeyOwner | None: ...


NO_KEY_MESSAGE = (
    "tessera: this desk logs you in by SSH key only, and your client offered none. Make one with "
    "`ssh-keygen -t ed25519`; an admin registers it with `tessera user key add NAME "
    "~/.ssh/id_ed25519.pub`."
)


class KeyOnlyConnection(asyncssh.SSHServer):
    """One SSH connection: public-key authentication only, session channels only."""

    def __init__(self, server: ConnectionHost) -> None:
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
        # agent would otherwise never learn it was refused). Assigning over a method is what mypy
        # refuses here: there is no hook to do it otherwise.
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
        with contextlib.suppress(OSError):  # asyncssh: the connection is already going away
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

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> KbdIntChallenge:
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
