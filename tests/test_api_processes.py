"""Several API processes serve one desk side by side (nothing lives in a process's memory), and a
database that goes away is a 503 with Retry-After, then service resumes by itself."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.support import pg
from tests.support.api import Api, server_output, start_server
from tests.support.cli import run


@pytest.fixture
def second(api: Api, cli_env) -> Iterator[str]:
    """Another API process, of two workers, on the same database."""
    process, base = start_server(cli_env, "--workers", "2")
    yield base
    process.terminate()
    process.communicate(timeout=30)


def test_two_processes_share_idempotency_keys_and_dedup_keys(api: Api, second: str) -> None:
    bases = itertools.cycle([api.base, second])
    targets = [next(bases) for _ in range(12)]
    headers = {"Authorization": f"Bearer {api.agent}"}

    def post(job: tuple[str, dict, dict]) -> httpx.Response:
        base, body, extra = job
        return httpx.post(f"{base}/tickets", json=body, headers={**headers, **extra}, timeout=60)

    retried = {"queue": "General", "subject": "retried form"}
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(post, [(b, retried, {"Idempotency-Key": "k-1"}) for b in targets]))
    assert {r.status_code for r in replies} == {201}, [r.text for r in replies]
    assert len({r.json()["id"] for r in replies}) == 1, "one ticket whichever process answered"
    alert = {"queue": "General", "subject": "db1 down", "dedup_key": "db1"}
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(post, [(b, alert, {}) for b in targets]))
    assert sorted(r.status_code for r in replies) == [200] * 11 + [201]
    assert len({r.json()["id"] for r in replies}) == 1


def test_a_database_that_goes_away_is_a_503_and_comes_back(api: Api, db_url) -> None:
    name = db_url.database
    with api.client(api.agent) as agent:
        tid = agent.post("/tickets", json={"queue": "General", "subject": "x"}).json()["id"]
        with psycopg.connect(pg.conninfo(db_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            try:
                for path in (f"/tickets/{tid}", "/tickets", "/queues"):
                    gone = agent.get(path)
                    assert gone.status_code == 503, gone.text
                    assert gone.headers["Retry-After"].isdigit()
                    assert gone.headers["content-type"].startswith("application/problem+json")
                    assert "Traceback" not in gone.text and "sqlalche" not in gone.text
                health = httpx.get(f"{api.base}/health")
                assert health.status_code == 503 and health.headers["Retry-After"].isdigit()
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert agent.get(f"/tickets/{tid}").status_code == 200, "service resumes by itself"
    assert api.process.poll() is None, "the server kept running"


def test_a_read_that_waits_too_long_on_a_lock_is_a_503_that_names_the_lock(api: Api, db_url, cli_env) -> None:
    """TESSERA_DB_TIMEOUT=3 makes lock_timeout 1 s. The ticket's people, links and reminders are
    read on the driver's own cursor (core/fast_sql.py): its failures answer as every other
    database failure does, a 503 in core's words, never an internal error."""
    process, base = start_server({**cli_env, "TESSERA_DB_TIMEOUT": "3"})
    headers = {"Authorization": f"Bearer {api.agent}"}
    try:
        tid = httpx.post(f"{base}/tickets", json={"queue": "General", "subject": "x"}, headers=headers)
        url = f"{base}/tickets/{tid.json()['id']}"
        with psycopg.connect(pg.conninfo(db_url)) as holder:
            holder.execute("LOCK TABLE reminders IN ACCESS EXCLUSIVE MODE")
            waited = httpx.get(url, headers=headers, timeout=60)
            assert waited.status_code == 503, f"{waited.text}\n{server_output(process)}"
            assert waited.headers["Retry-After"].isdigit()
            assert "lock" in waited.json()["detail"], waited.text
        assert httpx.get(url, headers=headers, timeout=60).status_code == 200, "the lock released"
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in server_output(process)


def test_the_api_command_refuses_bad_options_in_one_line(cli_env) -> None:
    for options in (["--port", "70000"], ["--workers", "0"]):
        proc = run(["api", *options], cli_env, timeout=60)
        assert proc.code != 0 and len(proc.err.strip().splitlines()) == 1, proc.err


def test_a_body_limit_that_is_no_number_of_bytes_is_refused_in_one_line(cli_env) -> None:
    """It fell back to 25 MiB without a word: a typo left the desk taking bodies its admin meant
    to refuse."""
    for value in ("abc", "0", "-5", "10MB", "١٠"):
        env = {**cli_env, "TESSERA_API_MAX_BODY": value}
        proc = run(["api"], env, timeout=60)
        lines = proc.err.strip().splitlines()
        assert proc.code == 2 and len(lines) == 1, (value, proc.err)
        assert "TESSERA_API_MAX_BODY" in lines[0] and "positive number of bytes" in lines[0], lines


def test_a_port_in_use_or_a_host_not_here_is_one_line_and_exit_2(cli_env) -> None:
    """As `lmtp` and `ssh-server` say it: uvicorn's own words were several log lines and exit 3,
    the code of a database error."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for options in (["--port", str(port)], ["--host", "10.254.254.254", "--port", str(port)]):
            proc = run(["api", *options], cli_env, timeout=60)
            lines = proc.err.strip().splitlines()
            assert proc.code == 2 and len(lines) == 1, proc.err
            assert lines[0].startswith("tessera: cannot listen on "), lines
