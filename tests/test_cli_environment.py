"""The CLI skeleton: version, help, and one-line errors for a broken environment."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tessera import __version__
from tests.support.cli import assert_one_line_error, run


def test_version(cli_env) -> None:
    result = run(["--version"], cli_env)
    assert result.code == 0
    assert result.out.strip() == f"tessera {__version__}"


def _commands(group, path=()):
    """Every command under `group`, at any depth, with its path."""
    for name, command in getattr(group, "commands", {}).items():
        yield (*path, name), command
        yield from _commands(command, (*path, name))


def test_help_describes_every_command(cli_env) -> None:
    """Every command and group, at any depth, has a description, and so do its options and
    arguments; each group's own --help lists its commands (rendered in-process: ~1 s a process)."""
    import typer.main
    from typer.testing import CliRunner

    from tessera.cli.main import app

    root = typer.main.get_command(app)
    result = run(["--help"], cli_env)  # the real program, once
    assert result.code == 0, result.err
    for name in root.commands:
        assert name in result.out
    runner = CliRunner()
    seen = 0
    for path, command in _commands(root):
        seen += 1
        where = "tessera " + " ".join(path)
        assert (command.help or command.short_help or "").strip(), f"{where} has no description"
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            assert (getattr(param, "help", None) or "").strip(), f"{where}: {param.name} has no help"
        subcommands = getattr(command, "commands", {})
        if subcommands:  # a group's own help lists its commands
            shown = runner.invoke(app, [*path, "--help"], env=cli_env)
            assert shown.exit_code == 0, f"{where} --help: {shown.output}"
            for sub, subcommand in subcommands.items():
                if getattr(subcommand, "hidden", False):  # an alias, such as `queue watchers`
                    continue
                assert sub in shown.output, f"{where} --help does not list {sub}"
    assert seen > len(root.commands), "the walk should reach the commands inside the groups"


def test_db_status_reports_external_database(cli_env) -> None:
    result = run(["db", "status", "--json"], cli_env)
    assert result.code == 0, result.err
    status = json.loads(result.out)
    assert status["embedded"] is False
    assert status["up_to_date"] is True
    assert status["revision"] == status["head"]


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("not a url", "not a valid database URL"),
        ("mysql://u@localhost/x", "needs PostgreSQL"),
        ("postgresql+asyncpg://u@localhost/x", "psycopg"),
        ("postgresql://u@localhost:abc/x", "HOST:PORT cannot be read"),
        ("postgresql://u@[::1/x", "HOST:PORT cannot be read"),
        ("postgresql://u@localhost:99999/x", "not a TCP port"),
        ("postgresql://", "names no host and no database"),
    ],
)
def test_malformed_url_is_one_line(cli_env, url: str, fragment: str) -> None:
    env = dict(cli_env, TESSERA_DATABASE_URL=url)
    assert_one_line_error(run(["db", "status"], env), fragment)


def test_postgres_scheme_is_accepted(cli_env) -> None:
    """`postgres://` (Heroku's and libpq's spelling) is PostgreSQL too."""
    url = cli_env["TESSERA_DATABASE_URL"].replace("postgresql+psycopg://", "postgres://", 1)
    assert url.startswith("postgres://")
    result = run(["db", "status", "--json"], dict(cli_env, TESSERA_DATABASE_URL=url))
    assert result.code == 0, result.err
    assert json.loads(result.out)["up_to_date"] is True


def test_unreachable_server_is_one_line(cli_env) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(cli_env, TESSERA_DATABASE_URL=f"postgresql+psycopg://u:secret@127.0.0.1:{port}/x")
    result = run(["db", "status"], env)
    assert_one_line_error(result, "cannot reach PostgreSQL at", str(port))
    assert "secret" not in result.err


def test_unwritable_data_dir_is_one_line(cli_env, tmp_path) -> None:
    env = dict(cli_env)
    env.pop("TESSERA_DATABASE_URL")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env["TESSERA_DATA_DIR"] = str(blocker / "data")  # a dir cannot be made under a file
    assert_one_line_error(run(["db", "status"], env), "data dir")


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda tmp: tmp / "a-file" / "data", "cannot create data dir"),  # a dir cannot be made under a file
        (lambda tmp: tmp / "a-file", "is not a directory"),
        (lambda tmp: tmp / "cost$1", "pg_ctl cannot handle"),
    ],
    ids=["under-a-file", "a-file", "dollar"],
)
def test_unusable_data_dir_is_one_line(cli_env, tmp_path, make, fragment: str) -> None:
    env = dict(cli_env)
    env.pop("TESSERA_DATABASE_URL")
    (tmp_path / "a-file").write_text("")
    env["TESSERA_DATA_DIR"] = str(make(tmp_path))
    assert_one_line_error(run(["db", "status"], env), "data dir", fragment)


def test_server_that_cannot_start_is_one_line(cli_env) -> None:
    """A data dir whose pgdata holds something that is not a database: initdb refuses, and the
    error says so in one line (the library's multi-line log stays off the terminal)."""
    import shutil
    import tempfile

    env = dict(cli_env)
    env.pop("TESSERA_DATABASE_URL")
    base = Path(tempfile.mkdtemp(prefix="tessera-test-", dir="/tmp"))  # see tests/test_embedded.py
    try:
        (base / "desk" / "pgdata").mkdir(parents=True)
        (base / "desk" / "pgdata" / "notes.txt").write_text("not a database")
        env["TESSERA_DATA_DIR"] = str(base / "desk")
        assert_one_line_error(run(["db", "status"], env), "did not start", "initdb failed", "not empty")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_read_only_data_dir_is_one_line(tmp_path) -> None:
    """As an ordinary user (root can write anywhere: then through runuser, as CI runs as root)."""
    import shutil
    import subprocess

    from tests.support.cli import Result, tessera_cmd

    prefix: list[str] = []
    base, home = tmp_path, str(tmp_path)
    if os.geteuid() == 0:
        runuser, useradd = shutil.which("runuser"), shutil.which("useradd")
        if not runuser or not useradd:
            pytest.skip("runuser/useradd not available to switch to an ordinary user")
        subprocess.run([useradd, "-m", "tessera-test"], capture_output=True, check=False)
        prefix = [runuser, "-u", "tessera-test", "--"]
        base, home = Path("/tmp") / f"tessera-ro-test-{os.getpid()}", "/home/tessera-test"
    ro = base / "ro"
    try:
        ro.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        ro.chmod(0o555)  # readable and traversable by everyone, writable by nobody but root
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "TESSERA_DATA_DIR": str(ro / "data")}
        cmd = [*prefix, *tessera_cmd(), "db", "status"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert_one_line_error(result, f"cannot create data dir {ro / 'data'}: Permission denied")
    finally:
        if prefix:
            shutil.rmtree(base, ignore_errors=True)


def test_schema_behind_is_refused_on_shared_server(pg_server, tmp_path) -> None:
    from tests.support import pg

    url = pg.create_empty(pg_server)
    try:
        env = dict(os.environ, TESSERA_DATABASE_URL=url.render_as_string(hide_password=False))
        result = run(["db", "status"], env)
        assert result.code != 0
        assert "behind" in result.out
        upgraded = run(["db", "upgrade"], env)
        assert upgraded.code == 0, upgraded.err
        assert "upgraded empty ->" in upgraded.out
        assert run(["db", "status"], env).code == 0
    finally:
        pg.drop(url)
