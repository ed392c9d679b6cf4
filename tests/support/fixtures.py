"""The fixtures every test may ask for: a real PostgreSQL, isolated per test, and the desks on it.

Registered as a pytest plugin by tests/conftest.py; the support package holds no tests itself."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from tessera.core.db import Database, open_database
from tests.support import pg
from tests.support.desks import Desk, build_desk, make_desk


@pytest.fixture(scope="session")
def pg_server() -> URL:
    started = time.perf_counter()
    url = pg.server_url()
    pg.drop_leftovers(url)
    os.environ["TESSERA_TEST_SETUP_SERVER_S"] = f"{time.perf_counter() - started:.2f}"
    return url


@pytest.fixture(scope="session")
def template_db(pg_server: URL) -> str:
    return pg.ensure_template(pg_server)


@pytest.fixture
def db_url(pg_server: URL, template_db: str) -> Iterator[URL]:
    """A fresh, migrated database of this test's own (for commits, CLI runs, concurrency)."""
    url = pg.clone(pg_server, template_db)
    yield url
    pg.drop(url)


@pytest.fixture
def database(db_url: URL) -> Iterator[Database]:
    db = open_database(db_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def shared_database(pg_server: URL, template_db: str) -> Iterator[Database]:
    url = pg.clone(pg_server, template_db, prefix="tessera_s")
    db = open_database(url)
    yield db
    db.dispose()
    pg.drop(url)


@pytest.fixture
def session(shared_database: Database) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction rolled back after the test."""
    conn = shared_database.engine.connect()
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield sess
    sess.close()
    outer.rollback()
    conn.close()


@pytest.fixture
def cli_env(db_url: URL, tmp_path: Path) -> dict[str, str]:
    """Environment for running the real `tessera` program against this test's database."""
    env = dict(os.environ)
    env["TESSERA_DATABASE_URL"] = db_url.render_as_string(hide_password=False)
    env["TESSERA_DATA_DIR"] = str(tmp_path / "data")
    env.pop("TESSERA_USER", None)
    return env


# -- the desks: one family, by where the desk lives (scrips run in all, as for every caller) -------


@pytest.fixture
def desk(session: Session) -> Desk:
    """A desk on the rolled-back session: root, General (with mail addresses) and Network."""
    return make_desk(session)


@pytest.fixture
def committed_desk(database: Database) -> Iterator[Desk]:
    """The same desk in a database of its own, its session open for the test: commits are real,
    so other sessions, threads and processes (the mail gateway, the outbox worker) see them."""
    with database.session() as session:
        yield make_desk(session)


@pytest.fixture
def tui_desk(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """`build_desk` committed (agents alice and bob, four tickets): the ids of its tickets by key.
    Config and data directories are the test's own, so no preference of the machine leaks in."""
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    return build_desk(database)


@pytest.fixture
def ticket_id(database: Database) -> int:
    """One committed ticket in queue General of a fresh desk: for tests that use several sessions."""
    from tessera.core import queues, tickets
    from tessera.core.bootstrap import bootstrap
    from tessera.core.context import open_context
    from tessera.core.schemas import TicketCreate

    with database.session() as s:
        bootstrap(s, "root")
        ctx = open_context(s, "root")
        queues.create_queue(ctx, "General")
        return tickets.create_ticket(ctx, TicketCreate(queue="General", subject="shared")).id
