"""The real `tessera ssh-server` program, started as an admin starts it, used by asyncssh's client
and by the ordinary OpenSSH client in a real terminal (tmux); Ctrl-C (SIGINT) stops it."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from tests.support.cli import run, tessera_cmd
from tests.support.net import free_port
from tests.support.ssh import plain, write_key
from tests.support.terminal import Terminal

pytestmark = pytest.mark.slow


@dataclass
class Running:
    port: int
    key: asyncssh.SSHKey
    key_path: Path
    data_dir: Path


@pytest.fixture
def ssh_program(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Running]:
    """A desk with a Helpdesk queue and one ticket; root's key registered; the server running."""
    assert run(["db", "upgrade"], cli_env).code == 0
    # the desk's one queue, shipped as General, renamed (the TUI opens on it)
    assert run(["queue", "set", "General", "name=Helpdesk", "--user", "root"], cli_env).code == 0
    created = run(
        ["ticket", "create", "--queue", "Helpdesk", "--subject", "Badge reader broken", "--user", "root"],
        cli_env,
    )
    assert created.code == 0, created
    key, pub = write_key(tmp_path, "root")
    (tmp_path / "root").chmod(0o600)
    assert run(["user", "key", "add", "root", str(pub), "--user", "root"], cli_env).code == 0
    port = free_port()
    env = {**cli_env, "TESSERA_CONFIG_DIR": str(tmp_path / "config"), "TESSERA_SSH_IDLE_TIMEOUT": "10m"}
    server = subprocess.Popen(
        [*tessera_cmd(), "ssh-server", "--port", str(port), "--max-sessions", "3"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while "listening on" not in line:
            if server.poll() is not None:
                raise AssertionError(f"the server did not start: {line}{server.stderr.read()}")
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            line = server.stderr.readline()
        assert f"127.0.0.1:{port}" in line and "sessions per user: 3" in line and "idle timeout: 600s" in line
        yield Running(port, key, tmp_path / "root", Path(cli_env["TESSERA_DATA_DIR"]))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert server.returncode == 0, err
    assert err.rstrip().endswith("INFO stopped"), err


def test_an_agent_gets_the_tui_from_the_real_server(ssh_program: Running) -> None:
    async def session() -> str:
        async with await asyncssh.connect(
            "127.0.0.1",
            ssh_program.port,
            username="root",
            client_keys=[ssh_program.key],
            known_hosts=None,
            agent_path=None,
            config=[],
        ) as conn:
            proc = await conn.create_process(term_type="xterm-256color", term_size=(120, 30), encoding=None)
            seen = bytearray()
            while "Badge reader broken" not in plain(bytes(seen)):
                chunk = await asyncio.wait_for(proc.stdout.read(65536), 60)
                assert chunk, plain(bytes(seen))
                seen += chunk
            proc.stdin.write(b"q")
            await asyncio.wait_for(proc.wait(), 30)
            assert proc.exit_status == 0
            return plain(bytes(seen))

    text = asyncio.run(asyncio.wait_for(session(), 90))
    assert "Helpdesk" in text and "root" in text
    log = (ssh_program.data_dir / "ssh-server.log").read_text()
    assert "login root (key " in log and "logout root" in log
    assert (ssh_program.data_dir / "ssh_host_ed25519_key").exists()


@pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("ssh") is None, reason="needs tmux and ssh")
def test_the_ordinary_ssh_client_lands_in_the_tui(ssh_program: Running, tmp_path: Path) -> None:
    terminal = Terminal(f"tessera-ssh-{uuid.uuid4().hex[:8]}", "ssh")

    # What the ordinary client shows for what this server refuses.
    base = [
        "ssh",
        "-F",
        "/dev/null",
        "-p",
        str(ssh_program.port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
    ]
    write_key(tmp_path, "stranger")
    (tmp_path / "stranger").chmod(0o600)
    for extra, status, message in [
        (["-i", str(tmp_path / "stranger")], 255, "is not registered on this desk"),
        (["-i", str(ssh_program.key_path), "-T"], 1, "the Tessera TUI needs a terminal"),
        (["-i", str(ssh_program.key_path), "-s"], 1, "no sftp here (no file transfer"),
    ]:
        tail = ["sftp"] if extra[-1] == "-s" else []
        done = subprocess.run(
            [*base, *extra, "root@127.0.0.1", *tail],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, message in done.stderr) == (status, True), (extra, done)
    done = subprocess.run(
        [*base, "-i", str(ssh_program.key_path), "root@127.0.0.1", "id"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "runs only the Tessera TUI: connect without a command" in done.stderr
    assert "uid=" not in done.stdout

    command = (
        f"ssh -F /dev/null -p {ssh_program.port} -i {ssh_program.key_path} -o IdentitiesOnly=yes "
        f"-o StrictHostKeyChecking=no -o UserKnownHostsFile={tmp_path / 'known_hosts'} "
        "root@127.0.0.1; echo SSH-EXIT=$?; sleep 60"
    )
    terminal.tmux("new-session", "-d", "-s", "ssh", "-x", "110", "-y", "30", f"TERM=xterm-256color {command}")
    try:
        screen = terminal.wait_for("Badge reader broken", timeout=60)
        assert "Helpdesk" in screen and "user root" in screen
        terminal.tmux("resize-window", "-t", "ssh", "-x", "80", "-y", "24")
        # The TUI lays itself out again for 80 columns: its top border ends in a corner at column 80
        # (were the resize lost, tmux would show the 110-column screen cut off, with no corner).

        def top_border(screen: str) -> str:
            lines = screen.splitlines()
            return lines[1].rstrip() if len(lines) > 1 else ""

        terminal.wait_until(
            lambda screen: len(top_border(screen)) == 80 and top_border(screen).endswith("╮"),
            what="the TUI laid out again for 80 columns",
        )
        terminal.keys("q")
        screen = terminal.wait_for("SSH-EXIT=")
        assert "SSH-EXIT=0" in screen
    finally:
        terminal.kill()
