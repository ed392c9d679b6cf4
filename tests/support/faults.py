"""A PostgreSQL server of the fault suite's own, to freeze (SIGSTOP), kill -9 and restart.

The shared test server is never frozen or killed: every other test runs on it. This one is an
embedded server (the code a desk on one machine runs) in a data dir of its own, one per test
process, with durability as shipped (fsync and synchronous commit on: a kill -9 must not lose an
acknowledged commit). A test that freezes or kills it leaves it running again (`frozen` thaws in
its `finally`, `killed` restarts), so the next test finds it as the first did. Commands run on it
through the embedded default path (`TESSERA_DATA_DIR`, no URL), as on a single machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from tessera.core.embedded import ensure_server, stop_server
from tests.support.wait import wait_until

TEMPLATE = "tessera_fault_template"


@dataclass
class FaultServer:
    data_dir: Path

    @classmethod
    def start(cls, data_dir: Path) -> FaultServer:
        server = cls(data_dir)
        ensure_server(data_dir)
        server.prepare()
        return server

    def prepare(self) -> None:
        """Migrated and bootstrapped (root is the superuser), as the first command leaves a desk;
        and a migrated template, for tests that want a database of their own (`fresh_database`)."""
        from tessera.core import migrate
        from tessera.core.bootstrap import bootstrap
        from tessera.core.db import open_database

        for name in ("tessera", TEMPLATE):
            if name == TEMPLATE:
                with self.admin("postgres") as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
                    conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
            db = open_database(self.url(name))
            try:
                migrate.upgrade(db)
                with db.session() as session:
                    bootstrap(session, "root")
            finally:
                db.dispose()

    def fresh_database(self) -> URL:
        """A new database on this server, migrated and bootstrapped (root is the superuser)."""
        name = token("fdb_")
        with self.admin("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.url(name)

    # -- where it is -----------------------------------------------------------------------------

    def url(self, database: str = "tessera") -> URL:
        server = ensure_server(self.data_dir)
        return server.url(database)

    def conninfo(self, database: str = "tessera") -> str:
        return ensure_server(self.data_dir).conninfo(database)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a `tessera` command on this server's desk, acting as root."""
        env = dict(os.environ)
        env.pop("TESSERA_DATABASE_URL", None)
        env.pop("TESSERA_USER", None)
        env["TESSERA_DATA_DIR"] = str(self.data_dir)
        env.update(extra)
        return env

    def admin(self, database: str = "tessera") -> psycopg.Connection:
        """A plain connection (no bounds of Tessera's) for the test's own looks and locks."""
        return psycopg.connect(self.conninfo(database), autocommit=True, connect_timeout=10)

    # -- its processes -----------------------------------------------------------------------------

    def postmaster(self) -> int | None:
        try:
            first = (self.data_dir / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        pid = int(first) if first.strip().isdigit() else None
        return pid if pid is not None and _alive(pid) else None

    def processes(self) -> list[int]:
        """The postmaster and every process it forked (backends, writers, ...)."""
        parent = self.postmaster()
        if parent is None:
            return []
        return [parent, *_children(parent)]

    @contextmanager
    def frozen(self) -> Iterator[list[int]]:
        """Every server process stopped (SIGSTOP), as a hung host: connections are accepted by the
        kernel, nothing answers. Thawed (SIGCONT) on the way out, whatever happened inside."""
        parent = self.postmaster()
        assert parent is not None, "the fault server is not running"
        os.kill(parent, signal.SIGSTOP)  # first: it forks no new backend while stopped
        stopped = [parent]
        try:
            for pid in _children(parent):
                _signal(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield stopped
        finally:
            for pid in stopped:
                _signal(pid, signal.SIGCONT)

    def kill9(self, postmaster_only: bool = False) -> None:
        """kill -9 of the server (every process, or the postmaster alone: its backends then end
        themselves as they notice); returns once none is left."""
        pids = self.processes()
        targets = pids[:1] if postmaster_only else pids
        for pid in targets:
            _signal(pid, signal.SIGKILL)
        # Gone from /proc, not only dead: PostgreSQL refuses to start while its old pid is a zombie.
        wait_until(lambda: not any(_exists(pid) for pid in pids), timeout=60, what="the server to die")

    def restart(self) -> None:
        """Start it again after a kill (crash recovery), as the next tessera command would."""
        ensure_server(self.data_dir)

    def stop(self) -> None:
        for pid in self.processes():  # a test that failed inside `frozen` thawed it; be sure
            _signal(pid, signal.SIGCONT)
        stop_server(self.data_dir)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _signal(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def token(prefix: str = "f") -> str:
    """A name no other test (or run) uses: queues and subjects of one test on the shared desk."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    """This test process's own server for the fault suite (started on first use, ~5 s)."""
    # Not under pytest's temp dir (root-only when run as root): the server runs as its own user.
    data_dir = Path(tempfile.mkdtemp(prefix=f"tessera-faultpg-{os.getpid()}-"))
    data_dir.chmod(0o755)
    started = time.perf_counter()
    server = FaultServer.start(data_dir)
    os.environ["TESSERA_TEST_SETUP_FAULT_SERVER_S"] = f"{time.perf_counter() - started:.2f}"
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
