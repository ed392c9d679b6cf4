"""Fixtures: a real PostgreSQL for every test, isolated per test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from tessera.core.db import Database, open_database
from tests import pg


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
def cli_env(db_url: URL, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment for running the real `tessera` program against this test's database."""
    env = dict(os.environ)
    env["TESSERA_DATABASE_URL"] = db_url.render_as_string(hide_password=False)
    env["TESSERA_DATA_DIR"] = str(tmp_path / "data")
    env.pop("TESSERA_USER", None)
    return env


@pytest.fixture
def desk(session: Session):  # type: ignore[no-untyped-def]
    from tests.desk import make_desk

    return make_desk(session)


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
