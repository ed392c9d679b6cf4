"""Memory and first paint of SSH sessions: each a fresh process, or forked from the preloaded parent.

Run: TESSERA_DATA_DIR=DIR .venv/bin/python bench/ssh_memory.py [--sessions 10] [--settle 5] [--work]

The desk is the 10,000-ticket demo desk in the embedded server of $TESSERA_DATA_DIR (seeded once
if it has no tickets; a server this run started is stopped at the end). For each mode — `exec`
(TESSERA_SSH_PRELOAD=0: every session `python -m tessera tui`, as before) and `fork` (the default:
sessions forked from `tessera.ssh.preload`) — the real `tessera ssh-server` is started, and
`--sessions` asyncssh clients log in one after another as alice (120x40), each waiting for its
first paint: the time from asking for the session to the first ticket row on its screen. After
`--settle` seconds idle (the TUI has opened the database, listens, and has imported what its first
enter needs), the memory of every session process is read from /proc/PID/smaps_rollup: RSS, PSS
(shared pages split among their sharers) and USS (private pages: what one more session costs).
The preloader's own memory is reported too (paid once). The machine load is printed, as the
machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tessera.core import thirdparty  # (after the path: the checkout's tessera)

asyncssh = thirdparty.asyncssh()  # without cryptography's DSA warnings, as tessera imports it
BIN = Path(sys.executable).parent
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]"
)
ROW = re.compile(r"TKT-\d+")
MIB = 1024 * 1024


def desk_env() -> tuple[dict[str, str], Path]:
    data = os.environ.get("TESSERA_DATA_DIR")
    if not data:
        raise SystemExit("set TESSERA_DATA_DIR: the desk's data dir (its embedded PostgreSQL)")
    env = dict(os.environ)
    for name in ("TESSERA_DATABASE_URL", "TESSERA_USER", "TESSERA_DEBUG", "COLUMNS", "LINES"):
        env.pop(name, None)
    env.setdefault("TESSERA_CONFIG_DIR", str(Path(data) / "bench-config"))
    return env, Path(data)


def tessera(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tessera"), *args], env=env, capture_output=True, text=True, check=check)


def ensure_desk(env: dict[str, str]) -> None:
    found = tessera(env, "search", "id = 1", "--user", "root", "--json", check=False)
    if found.returncode == 0 and found.stdout.strip() not in ("", "[]"):
        return
    print("seeding the 10,000-ticket demo desk (once)...", flush=True)
    tessera(env, "demo", "--tickets", "10000")


def register_key(env: dict[str, str], data: Path) -> asyncssh.SSHKey:
    path = data / "bench-ssh-key"
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519", comment="bench@ssh-memory")
    pub = data / "bench-ssh-key.pub"
    pub.write_bytes(key.export_public_key("openssh"))
    tessera(env, "user", "key", "add", "alice", str(pub), "--user", "root")
    path.write_bytes(key.export_private_key("openssh"))
    return key


def memory(pid: int) -> dict[str, float]:
    """MiB from /proc/PID/smaps_rollup: rss, pss, uss (private clean + dirty)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    return {
        "rss": fields["Rss"] / MIB,
        "pss": fields["Pss"] / MIB,
        "uss": (fields["Private_Clean"] + fields["Private_Dirty"]) / MIB,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], preload: bool) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = dict(env, TESSERA_SSH_PRELOAD="1" if preload else "0")
    server = subprocess.Popen(
        [
            str(BIN / "tessera"),
            "ssh-server",
            "--port",
            str(port),
            "--max-sessions",
            "0",
            "--idle-timeout",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    deadline = time.monotonic() + 60
    line = ""
    while "listening on" not in line:
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"the SSH server did not start: {line}")
        line = server.stderr.readline()
    return server, port


def session_pids(log: Path, since: int) -> list[int]:
    text = log.read_text()[since:]
    return [int(m) for m in re.findall(r"login alice .*?, pid (\d+),", text)]


def preloader_pid(server_pid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if b"tessera.ssh.preload" in cmdline and int(stat.rsplit(")", 1)[1].split()[1]) == server_pid:
            return int(entry.name)
    return None


async def open_sessions(port: int, key: asyncssh.SSHKey, count: int) -> tuple[list, list[float]]:
    """`count` sessions, one after another, each until its first ticket row shows: the
    connections, processes and first-paint times (s)."""
    kept, paints = [], []
    for _ in range(count):
        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username="alice",
            client_keys=[key],
            known_hosts=None,
            agent_path=None,
            config=[],
        )
        started = time.perf_counter()
        proc = await conn.create_process(term_type="xterm-256color", term_size=(120, 40), encoding=None)
        seen = b""
        while not ROW.search(ANSI.sub("", seen.decode("utf-8", "replace"))):
            chunk = await asyncio.wait_for(proc.stdout.read(65536), 60)
            if not chunk:
                raise SystemExit(f"a session ended before its first paint: {seen[-400:]!r}")
            seen += chunk
        paints.append(time.perf_counter() - started)
        kept.append((conn, proc))
    return kept, paints


async def drain(kept: list) -> None:
    """Keep reading the sessions' output (a terminal that is not read would block its program)."""
    while True:
        for _, proc in kept:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.stdout.read(65536), 0.01)
        await asyncio.sleep(0.05)


# A session in use: a search, its first ticket opened, a reply started and discarded (esc, then
# "Discard", y), the help screen, the admin area; each key given time to show (this measures
# memory, not speed).
WORK_KEYS = (
    b"F",
    b"status = 'open'\r",
    b"\r",
    b"r",
    b"hello",
    b"\x1b",
    b"\x1b[B\x1b[B\r",
    b"y",
    b"?",
    b"\x1b",
    b"\x1b[20~",  # F9: the admin area
    b"\x1b",
)


async def work(kept: list) -> None:
    for keys in WORK_KEYS:
        for _, proc in kept:
            proc.stdin.write(keys)
        await asyncio.sleep(1.5)


async def quit_session(proc) -> None:
    """`q` until the session ends (a session in use may first go back from a view)."""
    for _ in range(6):
        proc.stdin.write(b"q")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
            return
    raise SystemExit("a session did not quit on q")


async def run_mode(env: dict[str, str], data: Path, key: asyncssh.SSHKey, preload: bool, args) -> dict:
    log = data / "ssh-server.log"
    since = log.stat().st_size if log.exists() else 0
    server, port = start_server(env, preload)
    try:
        if preload:  # the preloader imports in the background once the server listens
            await asyncio.sleep(args.preload_wait)
        kept, paints = await open_sessions(port, key, args.sessions)
        reader = asyncio.ensure_future(drain(kept))
        if args.work:
            await work(kept)
        await asyncio.sleep(args.settle)
        pids = session_pids(log, since)
        mems = [memory(pid) for pid in pids]
        parent = preloader_pid(server.pid)
        parent_mem = memory(parent) if parent else None
        server_mem = memory(server.pid)
        reader.cancel()
        for conn, proc in kept:
            await quit_session(proc)
            conn.close()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
    return {"paints": paints, "mems": mems, "parent": parent_mem, "server": server_mem}


def report(name: str, result: dict) -> None:
    paints, mems = result["paints"], result["mems"]
    print(f"\n{name}: {len(mems)} sessions")
    print(f"  {'#':>3} {'first paint':>12} {'RSS':>8} {'PSS':>8} {'USS':>8}  (MiB)")
    for i, (paint, mem) in enumerate(zip(paints, mems, strict=False), 1):
        print(f"  {i:>3} {paint * 1000:>9.0f} ms {mem['rss']:>8.1f} {mem['pss']:>8.1f} {mem['uss']:>8.1f}")
    extra = mems[1:] or mems
    print(
        f"  median first paint {statistics.median(paints) * 1000:.0f} ms (first session"
        f" {paints[0] * 1000:.0f} ms); per additional session: USS median"
        f" {statistics.median(m['uss'] for m in extra):.1f} MiB (max {max(m['uss'] for m in extra):.1f}),"
        f" PSS median {statistics.median(m['pss'] for m in extra):.1f} MiB"
    )
    if result["parent"] is not None:
        p = result["parent"]
        print(f"  preloader (paid once): RSS {p['rss']:.1f} PSS {p['pss']:.1f} USS {p['uss']:.1f} MiB")
    total = sum(m["pss"] for m in mems) + (result["parent"]["pss"] if result["parent"] else 0)
    print(
        f"  all sessions together (PSS, preloader included): {total:.0f} MiB, {total / len(mems):.1f} MiB each"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before memory is read")
    parser.add_argument("--preload-wait", type=float, default=5.0, help="seconds for the preloader's imports")
    parser.add_argument("--only", choices=("exec", "fork"))
    parser.add_argument(
        "--work",
        action="store_true",
        help="before memory is read, each session searches, opens a ticket, starts a reply and"
        " discards it, and opens the admin area (a session in use, not an idle one)",
    )
    args = parser.parse_args()
    env, data = desk_env()
    from tessera.core.embedded import ready_server, stop_server

    was_running = ready_server(data) is not None
    try:
        ensure_desk(env)
        key = register_key(env, data)
        load = os.getloadavg()
        print(
            f"{os.cpu_count()} cores; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
            " (the machine may be shared with other work: figures vary with it)"
        )
        results = {}
        for preload in (False, True):
            mode = "fork" if preload else "exec"
            if args.only in (None, mode):
                results[mode] = asyncio.run(run_mode(env, data, key, preload, args))
        if "exec" in results:
            report("exec (TESSERA_SSH_PRELOAD=0: a fresh process per session, as before)", results["exec"])
        if "fork" in results:
            report("fork (default: sessions forked from the preloaded parent)", results["fork"])
        load = os.getloadavg()
        print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        if not was_running:
            stop_server(data)


if __name__ == "__main__":
    main()
