"""The CLI skeleton: version, help, and one-line errors for a broken environment."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tessera import __version__
from tests.helpers import assert_one_line_error, run


def test_version(cli_env) -> None:
    result = run(["--version"], cli_env)
    assert result.code == 0
    assert result.out.strip() == f"tessera {__version__}"


def test_help_describes_every_command(cli_env) -> None:
    import typer.main

    from tessera.cli.main import app

    group = typer.main.get_command(app)
    result = run(["--help"], cli_env)
    assert result.code == 0
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert name in result.out
        assert command.help or command.short_help, f"command {name} has no description"
        sub = run([name, "--help"], cli_env)
        assert sub.code == 0, sub.err
        for subname, subcommand in getattr(command, "commands", {}).items():
            assert subname in sub.out
            assert (subcommand.help or "").strip(), f"{name} {subname} has no description"


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
    ],
)
def test_malformed_url_is_one_line(cli_env, url: str, fragment: str) -> None:
    env = dict(cli_env, TESSERA_DATABASE_URL=url)
    assert_one_line_error(run(["db", "status"], env), fragment)


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


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_data_dir_is_one_line(cli_env, tmp_path) -> None:
    env = dict(cli_env)
    env.pop("TESSERA_DATABASE_URL")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    env["TESSERA_DATA_DIR"] = str(ro / "data")
    assert_one_line_error(run(["db", "status"], env), "data dir")


def test_schema_behind_is_refused_on_shared_server(pg_server, tmp_path) -> None:
    from tests import pg

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
