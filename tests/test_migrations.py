"""Models and migrations agree, and the migrations run both ways on a real database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tessera.core import migrate
from tessera.core.db import open_database
from tessera.core.models import Base
from tests.support import pg


def test_models_and_migrations_agree(database) -> None:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_downgrade_upgrade(pg_server) -> None:
    url = pg.create_empty(pg_server)
    db = open_database(url)
    try:
        assert migrate.status(db).current is None
        state = migrate.upgrade(db)
        assert state.up_to_date and state.current == migrate.head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "queues", "tickets", "transactions"} <= tables

        state = migrate.downgrade(db, "base")
        assert state.current is None
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        state = migrate.upgrade(db)
        assert state.up_to_date
        assert {"users", "queues", "tickets", "transactions"} <= set(inspect(db.engine).get_table_names())
        # A second upgrade is a no-op, not an error.
        assert migrate.upgrade(db).current == state.current
    finally:
        db.dispose()
        pg.drop(url)


def test_fast_head_check_agrees_with_alembic(database) -> None:
    """Commands check the schema without importing alembic; both must name the same head."""
    from tessera.core.schema_version import head_from_files, is_current

    assert head_from_files() == migrate.head_revision()
    assert is_current(database) is True


def test_fast_head_check_says_no_for_an_empty_database(pg_server) -> None:
    from tessera.core.schema_version import is_current

    url = pg.create_empty(pg_server)
    db = open_database(url)
    try:
        assert is_current(db) is False
    finally:
        db.dispose()
        pg.drop(url)
