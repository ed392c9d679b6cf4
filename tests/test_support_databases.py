"""The test infrastructure itself: each test isolated, and the database setup cheap once the server
is initialised (issue: under 5 s beyond the server's first initialisation)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from tessera.core.db import open_database
from tessera.core.models import User
from tests.support import pg

PROBE = "isolation-probe"


@pytest.mark.parametrize("turn", [1, 2])
def test_session_commits_do_not_leak_into_the_next_test(session, turn: int) -> None:
    """Run twice: the second run fails if the first one's commit outlived its test."""
    assert session.scalar(select(func.count()).select_from(User).where(User.name == PROBE)) == 0
    session.add(User(name=PROBE))
    session.commit()
    assert session.scalar(select(func.count()).select_from(User).where(User.name == PROBE)) == 1


@pytest.mark.parametrize("turn", [1, 2])
def test_own_database_commits_do_not_leak_into_the_next_test(database, turn: int) -> None:
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.name == PROBE)) == 0
        s.add(User(name=PROBE))
        s.commit()
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.name == PROBE)) == 1


def test_database_setup_is_cheap_once_the_server_is_initialised(pg_server: URL, template_db: str) -> None:
    """What a run pays on an initialised server: find the server, reuse the migrated template,
    clone it for a test and drop the clone. Not a benchmark: a guard against, say, migrating on
    every run (several seconds) or a per-test `upgrade`."""
    started = time.perf_counter()
    url = pg.server_url()
    assert pg.ensure_template(url) == template_db, "the template of this schema must be reused"
    clone = pg.clone(url, template_db)
    db = open_database(clone)
    try:
        with db.session() as s:
            s.scalar(select(func.count()).select_from(User))
    finally:
        db.dispose()
        pg.drop(clone)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"database setup took {elapsed:.1f}s on an initialised server"


def test_every_test_database_is_at_the_migrations_head(database) -> None:
    """The template is rebuilt whenever a migration changes: a clone is always at the head the
    installed tessera needs (a stale template would fail every test that opens the desk)."""
    from tessera.core import migrate

    assert migrate.current_revision(database) == migrate.head_revision() is not None
