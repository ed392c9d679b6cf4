"""`tessera ssh-server` end to end: asyncssh's client on loopback against the real server.

Each test runs the server in its own event loop on a free port with a fresh database. Most use a
small stand-in program (it reports its user, TERM, terminal size and SIGWINCH) so that what the
pty does can be read exactly; the TUI tests run the real `tessera tui` in the session's pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import signal
import stat
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tessera.core import grants, queues, sshkeys, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.tickets import create_ticket
from tessera.ssh.preload import ForkedSession
from tessera.ssh.server import HOST_KEY_NAME, TesseraSSHServer
from tessera.ssh.session import TERMINAL_RESET
from tessera.ssh.settings import ServerSettings, tui_command
from tests.support.rights import AGENT_RIGHTS
from tests.support.ssh import plain
from tests.support.wait import async_wait_until, until_loop_time

TEST_TIMEOUT = 120

# Stands in for the TUI: says who and where it runs, reports every resize, ends on "quit".
PROBE = r"""
import os, shlex, signal, subprocess, sys
def size():
    s = os.get_terminal_size(0)
    return f"{s.columns}x{s.lines}"
def winch(signum, frame):
    print("SIZE " + size(), flush=True)
signal.signal(signal.SIGWINCH, winch)
ctty = os.tcgetpgrp(0) == os.getpgrp() == os.getsid(0)
print(f"HELLO {sys.argv[1]} TERM={os.environ.get('TERM')} {size()} ctty={ctty} "
      f"user_env={os.environ.get('TESSERA_USER', '-')} pid={os.getpid()} "
      f"colorterm={os.environ.get('COLORTERM', '-')}", flush=True)
print(f"ENV editor={os.environ.get('EDITOR')} visual={os.environ.get('VISUAL')} "
      f"agent={os.environ.get('SSH_AUTH_SOCK', '-')} display={os.environ.get('DISPLAY', '-')} "
      f"ssh={os.environ.get('TESSERA_SSH_SESSION', '-')} "
      f"columns={os.environ.get('COLUMNS', '-')}", flush=True)
for line in sys.stdin:
    if line.strip() == "edit":  # as the TUI runs $VISUAL on a draft
        done = subprocess.run([*shlex.split(os.environ["VISUAL"]), "draft.txt"], check=False)
        print(f"EDITED {done.returncode}", flush=True)
    if line.strip() == "quit":
        print("BYE", flush=True)
        sys.exit(0)
"""


def probe_command(user: str) -> Sequence[str]:
    return [sys.executable, "-c", PROBE, user]


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT))

    return wrapper


class SshDesk:
    """A committed desk the SSH server serves: the users' keys, and the environment it starts in."""

    def __init__(self, database: Database, keys: dict[str, asyncssh.SSHKey], tmp_path: Path) -> None:
        self.database = database
        self.keys = keys
        self.tmp_path = tmp_path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["TESSERA_DATABASE_URL"] = self.database.url.render_as_string(hide_password=False)
        env["TESSERA_DATA_DIR"] = str(self.tmp_path / "data")
        env["TESSERA_CONFIG_DIR"] = str(self.tmp_path / "config")
        env["TESSERA_USER"] = "root"  # the server must not pass these on
        env["SSH_AUTH_SOCK"] = "/tmp/the-admins-agent.sock"
        env["DISPLAY"] = ":7"
        env["COLUMNS"], env["LINES"] = "80", "24"  # the server's terminal: a session's is its pty
        return env

    def server(self, **kw: Any) -> TesseraSSHServer:
        kw.setdefault("command", probe_command)
        settings = ServerSettings(
            host="127.0.0.1", port=0, data_dir=self.tmp_path / "data", env=self.env(), **kw
        )
        return TesseraSSHServer(self.database, settings)


@pytest.fixture
def ssh_desk(database: Database, tmp_path: Path) -> SshDesk:
    """root; agents alice and dave; bob disabled; carol a requestor; a key each; two queues."""
    keys = {name: asyncssh.generate_private_key("ssh-ed25519", comment=f"{name}@laptop") for name in "abcd"}
    named = {"alice": keys["a"], "bob": keys["b"], "carol": keys["c"], "dave": keys["d"]}
    with database.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        queues.create_queue(root, "General")
        queues.create_queue(root, "Network")
        for name in ("alice", "bob", "dave"):
            users.add_user(root, name, email=f"{name}@desk.example")
            for right in AGENT_RIGHTS:
                grants.grant(root, right, f"user:{name}")
        users.add_user(root, "carol", email="carol@customer.example", privileged=False)
        users.update_user(root, "bob", {"disabled": "yes"})
        for name, key in named.items():
            sshkeys.add_key(root, name, key.export_public_key("openssh").decode())
        for subject in ("Printer on fire", "VPN drops every hour"):
            create_ticket(
                root,
                TicketCreate(
                    queue="General",
                    subject=subject,
                    requestors=["someone@customer.example"],
                    message=MessageIn(body="Please help."),
                ),
            )
    return SshDesk(database, named, tmp_path)


def rename_ticket(database: Database, subject: str, new_subject: str) -> None:
    from sqlalchemy import select

    from tessera.core.models import Ticket
    from tessera.core.tickets import set_fields

    with database.session() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.subject == subject)).one()
        set_fields(open_context(session, "alice"), ticket_id, {"subject": new_subject})


async def connect(server: TesseraSSHServer, key: asyncssh.SSHKey, login: str = "agent", **kw: Any):
    return await asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=login,
        client_keys=[key],
        known_hosts=None,
        config=[],
        **{"agent_path": None, **kw},
    )


async def read_until(
    stream: asyncssh.SSHReader[bytes],
    seen: bytearray,
    wanted: str | Callable[[str], bool],
    timeout: float = 60,
) -> str:
    """Read terminal output into `seen` until its plain text contains `wanted`."""
    test = wanted if callable(wanted) else (lambda text: wanted in text)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not test(plain(bytes(seen))):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"never saw {wanted!r}; got:\n{plain(bytes(seen))[-3000:]}")
        try:
            chunk = await asyncio.wait_for(stream.read(65536), remaining)
        except TimeoutError:
            continue
        if not chunk:
            raise AssertionError(f"session ended before {wanted!r}; got:\n{plain(bytes(seen))[-3000:]}")
        seen += chunk
    return plain(bytes(seen))


async def refused(server: TesseraSSHServer, key: asyncssh.SSHKey, **kw: Any) -> tuple[int | None, str]:
    """Open a session that the server refuses: its exit status and stderr."""
    kw.setdefault("term_type", "xterm")
    kw.setdefault("term_size", (80, 24))
    async with await connect(server, key) as conn:
        proc = await conn.create_process(encoding=None, **kw)
        err = await proc.stderr.read()
        await proc.wait()
        return proc.exit_status, err.decode()


# -- the stand-in program: pty, size, resize, limits ---------------------------------------------


@run_async
async def test_registered_key_runs_the_program_in_a_pty_and_resizes_reach_it(
    ssh_desk: SshDesk, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    server = ssh_desk.server()
    await server.start()
    try:
        # The SSH login name does not matter: the key says who is connecting.
        async with await connect(server, ssh_desk.keys["alice"], login="whoever") as conn:
            proc = await conn.create_process(term_type="xterm-256color", term_size=(100, 30), encoding=None)
            seen = bytearray()
            text = await read_until(proc.stdout, seen, "HELLO")
            await read_until(proc.stdout, seen, "user_env=")
            text = plain(bytes(seen))
            assert "HELLO alice TERM=xterm-256color 100x30 ctty=True user_env=-" in text
            proc.change_terminal_size(132, 43)
            await read_until(proc.stdout, seen, "SIZE 132x43")
            proc.change_terminal_size(60, 20)
            await read_until(proc.stdout, seen, "SIZE 60x20")
            proc.stdin.write(b"quit\r")
            text = await read_until(proc.stdout, seen, "BYE")
            await proc.wait()
            assert proc.exit_status == 0
    finally:
        await server.close()
    assert server.active == {}
    messages = [r.getMessage() for r in caplog.records if r.name == "tessera.ssh"]
    assert any(m.startswith("login alice") and "ssh login 'whoever'" in m for m in messages), messages
    assert any(m.startswith("logout alice") and "exit status 0" in m for m in messages), messages
    with ssh_desk.database.session() as session:
        ctx = open_context(session, "root")
        [(key, _)] = sshkeys.list_keys(ctx, "alice")
        assert key.last_used is not None


@run_async
async def test_keys_typed_before_the_program_starts_reach_it(ssh_desk: SshDesk) -> None:
    server = ssh_desk.server()
    await server.start()
    try:
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            proc = await conn.create_process(
                term_type="xterm", term_size=(80, 24), encoding=None, env={"COLORTERM": "truecolor"}
            )
            proc.stdin.write(b"quit\r")  # at once, while the program is still starting
            text = await read_until(proc.stdout, bytearray(), "BYE")
            await proc.wait()
        assert "colorterm=truecolor" in text
        assert proc.exit_status == 0
    finally:
        await server.close()


@run_async
async def test_unknown_key_is_refused_during_authentication_with_a_banner(ssh_desk: SshDesk, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    fingerprint = sshkeys.fingerprint_of(stranger.public_data)
    banners: list[str] = []

    class Client(asyncssh.SSHClient):
        def auth_banner_received(self, msg: str, lang: str) -> None:
            banners.append(msg)

    server = ssh_desk.server()
    await server.start()
    try:
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, stranger, login="alice", client_factory=Client)
    finally:
        await server.close()
    assert banners and f"key {fingerprint} is not registered" in banners[0]
    assert "tessera user key add" in banners[0]
    assert any(f"refused unknown key {fingerprint}" in r.getMessage() for r in caplog.records)


@run_async
async def test_a_client_offering_no_key_is_told_how_to_get_one(ssh_desk: SshDesk, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    told: list[str] = []

    class Client(asyncssh.SSHClient):
        def kbdint_auth_requested(self) -> str | None:
            return "" if not told else None  # try once, as OpenSSH would (up to three times)

        def kbdint_challenge_received(
            self, name: str, instructions: str, lang: str, prompts: Any
        ) -> list[str]:
            told.append(instructions)
            assert prompts == []  # nothing to type: a message, not a password prompt
            return []

    server = ssh_desk.server()
    await server.start()
    try:
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1",
                server.port,
                username="alice",
                client_keys=None,
                agent_path=None,
                known_hosts=None,
                config=[],
                password=None,
                client_factory=Client,
            )
    finally:
        await server.close()
    assert len(told) == 1 and "logs you in by SSH key only" in told[0], told
    assert "tessera user key add NAME" in told[0]
    assert any(r.getMessage().startswith("refused a login without a key") for r in caplog.records)


@run_async
async def test_disabled_and_unprivileged_users_are_refused_with_a_message(ssh_desk: SshDesk, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    server = ssh_desk.server()
    await server.start()
    try:
        status, err = await refused(server, ssh_desk.keys["bob"])
        assert status == 1
        assert err.strip() == "tessera: user bob is disabled; ask an admin to enable it"
        status, err = await refused(server, ssh_desk.keys["carol"])
        assert status == 1
        assert err.strip() == "tessera: user carol is not privileged: the Tessera TUI over SSH is for agents"
    finally:
        await server.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("refused bob (disabled)") for m in messages), messages
    assert any(m.startswith("refused carol (unprivileged)") for m in messages), messages
    assert not any(m.startswith("login ") for m in messages)


NO_COMMAND = "tessera: this server runs only the Tessera TUI: connect without a command"
NO_TERMINAL = "tessera: the Tessera TUI needs a terminal: connect with `ssh -t`"
NO_SFTP = (
    "tessera: no sftp here (no file transfer, no subsystems): this server runs only the Tessera TUI; "
    "connect with plain `ssh`"
)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"command": "cat /etc/passwd"}, NO_COMMAND),  # ssh -t host command
        ({"command": "sh", "term_type": None}, NO_COMMAND),  # ssh host command
        ({"command": "scp -f /etc/passwd", "term_type": None}, NO_COMMAND),  # legacy scp
        ({"term_type": None}, NO_TERMINAL),  # ssh -T host
        ({"subsystem": "sftp", "term_type": None}, NO_SFTP),  # sftp, scp, ssh -s host sftp
        ({"subsystem": "sftp"}, NO_SFTP),
    ],
    ids=["command-with-pty", "command", "scp", "no-pty", "sftp", "sftp-with-pty"],
)
@run_async
async def test_commands_subsystems_and_sessions_without_a_terminal_are_refused(
    ssh_desk: SshDesk,
    request_: dict[str, Any],
    message: str,
    caplog,
) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    server = ssh_desk.server()
    await server.start()
    try:
        status, err = await refused(server, ssh_desk.keys["alice"], **request_)
        assert (status, err.strip()) == (1, message)
        assert server.active == {} and not server.sessions
    finally:
        await server.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("refused ") and "alice" in m for m in messages), messages
    assert not any(m.startswith("login ") for m in messages), messages


@run_async
async def test_forwarding_is_refused_with_a_reason_and_a_login_without_a_session_is_disconnected(
    ssh_desk: SshDesk,
    caplog,
) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    lost: list[Exception | None] = []

    class Client(asyncssh.SSHClient):
        def connection_lost(self, exc: Exception | None) -> None:
            lost.append(exc)

    server = ssh_desk.server(no_session_grace=1.0)
    await server.start()
    try:
        # ssh -N -L / -D: every forwarded connection is refused with a reason OpenSSH prints.
        conn = await connect(server, ssh_desk.keys["alice"], client_factory=Client)
        with pytest.raises(asyncssh.ChannelOpenError) as opened:
            await conn.open_connection("127.0.0.1", server.port)
        assert opened.value.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED
        assert "port forwarding is not allowed here" in opened.value.reason
        with pytest.raises(asyncssh.ChannelOpenError) as unix:
            await conn.open_unix_connection("/run/postgresql/.s.PGSQL.5432")
        assert "socket forwarding is not allowed here" in unix.value.reason
        with pytest.raises(asyncssh.ChannelListenError):  # ssh -R
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 22)
        # ... and as it never starts a session, it is told so and disconnected.
        await asyncio.wait_for(conn.wait_closed(), 20)
        assert isinstance(lost[0], asyncssh.DisconnectError)
        assert "only runs the Tessera TUI; it forwards no ports" in lost[0].reason
    finally:
        await server.close()
    messages = [r.getMessage() for r in caplog.records]
    for wanted in ("refused port forwarding to 127.0.0.1", "refused remote forwarding of 127.0.0.1:0"):
        assert any(m.startswith(wanted) for m in messages), messages
    assert any(m.startswith("disconnected alice") and "no session" in m for m in messages), messages


@run_async
async def test_agent_and_x11_forwarding_are_refused_and_the_session_says_so(
    ssh_desk: SshDesk, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    server = ssh_desk.server(no_session_grace=0.5)
    await server.start()
    try:
        async with await connect(
            server, ssh_desk.keys["alice"], agent_forwarding=True, agent_path=str(ssh_desk.tmp_path / "agent")
        ) as conn:
            proc = await conn.create_process(
                term_type="xterm",
                term_size=(80, 24),
                encoding=None,
                x11_forwarding="ignore_failure",
                x11_display="127.0.0.1:0",
                x11_auth_path=str(ssh_desk.tmp_path / "no-xauthority"),
            )
            errors = asyncio.ensure_future(proc.stderr.read())
            seen = bytearray()
            text = await read_until(proc.stdout, seen, "ssh=")
            # The no-session grace check runs and leaves a running session alone.
            await async_wait_until(lambda: grace_checks_done(server), what="the no-session grace check")
            proc.stdin.write(b"quit\r")
            await read_until(proc.stdout, seen, "BYE")
            await proc.wait()
            err = (await errors).decode()
        assert proc.exit_status == 0
        # The server's own agent, display and terminal size are not passed on.
        assert "agent=- display=-" in text and "columns=-" in text
        assert "tessera: agent forwarding (ssh -A) is not allowed here: ignored" in err
        assert "tessera: X11 forwarding (ssh -X) is not allowed here: ignored" in err
    finally:
        await server.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("refused agent forwarding for alice") for m in messages), messages
    assert any(m.startswith("refused X11 forwarding for alice") for m in messages), messages


@run_async
async def test_the_sessions_editor_refuses_instead_of_opening_a_shell(ssh_desk: SshDesk) -> None:
    """vi & co. run shells (`:!sh`): in a session, $EDITOR and $VISUAL name a stand-in that says no."""
    server = ssh_desk.server()
    await server.start()
    try:
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
            seen = bytearray()
            text = await read_until(proc.stdout, seen, "ssh=")
            assert re.search(
                r"editor=\S+ -m tessera\.ssh\.noeditor visual=\S+ -m tessera\.ssh\.noeditor", text
            )
            assert re.search(r"ssh=127\.0\.0\.1:\d+", text)
            proc.stdin.write(b"edit\r")
            await read_until(proc.stdout, seen, "Press enter to go back")
            assert "no external editor over SSH" in plain(bytes(seen))
            proc.stdin.write(b"\r")
            await read_until(proc.stdout, seen, "EDITED 1")
            proc.stdin.write(b"quit\r")
            await proc.wait()
    finally:
        await server.close()


@run_async
async def test_a_session_over_the_per_user_limit_is_refused(ssh_desk: SshDesk, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    server = ssh_desk.server(max_sessions=2)
    await server.start()
    try:
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            open_ = []
            for _ in range(2):
                proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
                await read_until(proc.stdout, bytearray(), "HELLO alice")
                open_.append(proc)
            status, err = await refused(server, ssh_desk.keys["alice"])
            assert status == 1
            assert err.strip() == (
                "tessera: user alice already has 2 SSH session(s) open (limit 2); close one and try again"
            )
            # Another agent is not affected by alice's limit.
            async with await connect(server, ssh_desk.keys["dave"]) as other:
                proc = await other.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
                await read_until(proc.stdout, bytearray(), "HELLO dave")
                proc.stdin.write(b"quit\r")
                await proc.wait()
            # Closing one of alice's sessions frees its slot.
            open_[0].stdin.write(b"quit\r")
            await open_[0].wait()
            await async_wait_until(lambda: sum(server.active.values()) == 1, what="alice's slot freed")
            proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
            await read_until(proc.stdout, bytearray(), "HELLO alice")
    finally:
        await server.close()
    assert any(r.getMessage().startswith("refused alice (session_limit)") for r in caplog.records)
    assert server.active == {}


@run_async
async def test_idle_sessions_are_hung_up(ssh_desk: SshDesk, caplog) -> None:
    """Input resets the idle clock; the session is hung up `timeout` after the last input.

    The agent types when half the timeout has gone by. Nothing guesses how long the server took:
    the input counts once its echo comes back through the pty, and the server's timers share this
    loop, so once the loop's clock passes the moment the unreset clock would have run out, the
    server's check for that moment has run (and the reset one is still half a timeout away)."""
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    timeout = 3.0
    server = ssh_desk.server(idle_timeout=timeout)
    await server.start()
    loop = asyncio.get_running_loop()

    def hung_up_for_idling() -> bool:
        return any(r.getMessage().startswith("idle timeout: alice") for r in caplog.records)

    try:
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
            seen = bytearray()
            await read_until(proc.stdout, seen, "HELLO alice")
            unreset_deadline = loop.time() + timeout  # the clock started before the program said HELLO
            await until_loop_time(unreset_deadline - timeout / 2)
            typed = loop.time()
            proc.stdin.write(b"still here\r")  # input resets the clock
            await read_until(proc.stdout, seen, "still here")
            await until_loop_time(unreset_deadline)
            assert not hung_up_for_idling()  # the check due then found recent input and waited on
            err = await asyncio.wait_for(proc.stderr.read(), 30)
            hung_up = loop.time()
            await proc.wait()
    finally:
        await server.close()
    assert hung_up - typed >= timeout  # hung up only once a whole timeout passed without input
    assert f"disconnected after {timeout:g}s without input (idle timeout)" in err.decode()
    assert proc.exit_status == 129  # ended by SIGHUP, as a terminal hang-up does
    assert hung_up_for_idling()


def grace_checks_done(server: TesseraSSHServer) -> bool:
    """Whether the no-session grace check of every open connection has run (its timer is spent)."""
    return all(conn.get_owner()._grace is None for conn in server.connections)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat_file:  # a zombie is gone too
        return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"


@run_async
async def test_a_vanished_client_hangs_up_its_program_and_frees_its_slot(ssh_desk: SshDesk, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tessera.ssh")
    # A server started with `nohup` ignores SIGHUP, and its children inherit that: the hang-up
    # must still end the session's program at once (not by SIGKILL after the grace period).
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    server = ssh_desk.server(max_sessions=1)
    await server.start()
    try:
        conn = await connect(server, ssh_desk.keys["alice"])
        proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
        text = await read_until(proc.stdout, bytearray(), lambda t: re.search(r"pid=\d+", t) is not None)
        pid = int(re.search(r"pid=(\d+)", text).group(1))
        assert alive(pid) and server.active
        conn.abort()
        await async_wait_until(lambda: not server.active and not server.sessions, timeout=15)
        assert not alive(pid)
        # The slot is free again.
        async with await connect(server, ssh_desk.keys["alice"]) as again:
            proc = await again.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
            await read_until(proc.stdout, bytearray(), "HELLO alice")
    finally:
        signal.signal(signal.SIGHUP, previous)
        await server.close()
    logouts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("logout alice")]
    assert "exit status 129" in logouts[0], logouts  # SIGHUP, not SIGKILL (137)


@run_async
async def test_stopping_the_server_hangs_up_sessions_with_a_message(ssh_desk: SshDesk) -> None:
    server = ssh_desk.server()
    await server.start()
    try:
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
            await read_until(proc.stdout, bytearray(), "HELLO alice")
            await server.close()
            err = await proc.stderr.read()
            rest = await proc.stdout.read()
            await proc.wait()
        assert err.decode().strip() == "tessera: the server is shutting down"
        assert rest.endswith(TERMINAL_RESET)  # the client's terminal is left usable
        assert proc.exit_status == 129
        assert not server.sessions and not server.connections and not server.active
    finally:
        await server.close()


@run_async
async def test_host_key_is_created_once_and_kept(ssh_desk: SshDesk) -> None:
    first = ssh_desk.server()
    await first.start()
    await first.close()
    path = ssh_desk.tmp_path / "data" / HOST_KEY_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = ssh_desk.server()
    await second.start()
    try:
        assert second.host_key_fingerprint == first.host_key_fingerprint
        async with await connect(second, ssh_desk.keys["alice"]) as conn:
            served = conn.get_server_host_key()
            assert served is not None and served.get_fingerprint("sha256") == first.host_key_fingerprint
    finally:
        await second.close()


# -- the real TUI ---------------------------------------------------------------------------------


@run_async
async def test_agents_log_in_and_read_the_queue_screen_of_the_real_tui(ssh_desk: SshDesk) -> None:
    server = ssh_desk.server(command=lambda user: [sys.executable, "-m", "tessera", "tui", "--user", user])
    await server.start()
    try:
        async with (
            await connect(server, ssh_desk.keys["alice"]) as alice_conn,
            await connect(server, ssh_desk.keys["dave"]) as dave_conn,
        ):
            alice = await alice_conn.create_process(
                term_type="xterm-256color", term_size=(120, 32), encoding=None
            )
            dave = await dave_conn.create_process(
                term_type="xterm-256color", term_size=(100, 30), encoding=None
            )
            alice_seen, dave_seen = bytearray(), bytearray()
            # The screen is drawn in pieces: wait for all of it, not just the first row.
            wanted = ("Printer on fire", "General", "Network", "VPN drops every hour", "alice")
            await read_until(alice.stdout, alice_seen, lambda text: all(w in text for w in wanted))
            text = await read_until(dave.stdout, dave_seen, "Printer on fire")
            assert "dave" in text
            assert sorted(server.active.values()) == [1, 1]
            # alice's change (made here through core, as her session's program would) reaches dave
            # live, with no key pressed (LISTEN/NOTIFY), and alice's own screen too.
            dave_seen.clear()
            alice_seen.clear()
            await asyncio.to_thread(
                rename_ticket, ssh_desk.database, "Printer on fire", "Printer fire is out"
            )
            await read_until(dave.stdout, dave_seen, "Printer fire is out")
            await read_until(alice.stdout, alice_seen, "Printer fire is out")
            # dave takes the highlighted ticket in his TUI: alice's screen shows him as its owner.
            alice_seen.clear()
            dave.stdin.write(b"t")
            await read_until(
                alice.stdout,
                alice_seen,
                lambda text: re.search(r"(?m)│.*TKT-\S+.*\bdave\b", text) is not None,
            )
            # A resize re-lays the screen out at the new width.
            alice_seen.clear()
            alice.change_terminal_size(90, 25)
            await read_until(alice.stdout, alice_seen, "Printer fire is out")
            for proc in (alice, dave):
                proc.stdin.write(b"q")
                await asyncio.wait_for(proc.wait(), 30)
                assert proc.exit_status == 0
    finally:
        await server.close()
    assert server.active == {}


# -- sessions forked from the preloaded parent ----------------------------------------------------


def test_the_preloader_builds_what_each_session_built_after_the_fork() -> None:
    """The search language (and its parse tables), the terminal driver, Rich's tables and the
    holidays library's every country are built once in the preloader: each session used to build
    them on its way to the first screen, ~4 MiB of unique memory per session, and ~14 MiB more on
    a desk whose first page shows a Due under business hours with public holidays (the library
    imports all ~280 of its countries for the first one)."""
    import subprocess

    probe = (
        "import gc, sys\n"
        "from tessera.ssh import preload\n"
        "preload.preload()\n"
        "from tessera.core.search.parser import _parser\n"
        "wanted = ['lark', 'tessera.core.search.service', 'textual.drivers.linux_driver',\n"
        "          'rich._emoji_codes', 'holidays.countries.france', 'holidays.countries.japan',\n"
        "          'concurrent.futures.thread', 'textual.pilot', 'textual.widgets.text_area',\n"
        "          'tessera.tui.admin.screen']\n"
        "print(_parser.cache_info().currsize, all(m in sys.modules for m in wanted),\n"
        "      gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["1", "True", "True"], done.stderr


def _socket_inodes(pid: int) -> set[str]:
    """The sockets process `pid` holds open (their inodes)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:"):
                found.add(target)
    return found


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _owners(database: Database) -> list[str]:
    from sqlalchemy import select

    from tessera.core.models import Ticket, User

    with database.session() as session:
        return list(session.scalars(select(User.name).join(Ticket, Ticket.owner_id == User.id)))


@run_async
async def test_a_forked_session_runs_the_tui_end_to_end_and_holds_no_connection_of_its_parent(
    ssh_desk: SshDesk,
) -> None:
    server = ssh_desk.server(command=tui_command)  # the default program: forked from the preloader
    await server.start()
    try:
        assert server.preloader is not None and await server.preloader.ready()
        preloader = server.preloader.pid
        assert preloader is not None
        async with await connect(server, ssh_desk.keys["alice"]) as conn:
            proc = await conn.create_process(term_type="xterm-256color", term_size=(120, 32), encoding=None)
            seen = bytearray()
            await read_until(proc.stdout, seen, lambda t: "Printer on fire" in t and "VPN drops" in t)
            (session,) = server.sessions
            assert isinstance(session.proc, ForkedSession)
            pid = session.proc.pid
            assert _parent_of(pid) == preloader
            # The session's sockets are its own (its database connections, its LISTEN): none is
            # the preloader's request channel or status channels, nor anything of the server's.
            own = _socket_inodes(pid)
            assert own and own.isdisjoint(_socket_inodes(preloader) | _socket_inodes(os.getpid()))
            # The preloader holds no database connection: only its request channel and this
            # session's status channel.
            assert len(_socket_inodes(preloader)) == 2
            # It works end to end: alice takes the highlighted ticket, and quits.
            proc.stdin.write(b"t")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while await asyncio.to_thread(_owners, ssh_desk.database) != ["alice"]:
                assert loop.time() < deadline, "the forked session's take never reached the database"
                await asyncio.sleep(0.1)
            proc.stdin.write(b"q")
            await asyncio.wait_for(proc.wait(), 30)
            assert proc.exit_status == 0
        assert session.proc.returncode == 0
    finally:
        await server.close()
    assert server.active == {}
