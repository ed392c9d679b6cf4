"""The test PostgreSQL: a migrated template database, cloned per test that needs commits.

Cloning a template is PostgreSQL's cheapest way to a fresh, fully migrated database, so each
test that commits gets its own; tests that only need a session share one database and roll back.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from tessera.core.config import parse_database_url

TEST_URL_ENV = "TESSERA_TEST_DATABASE_URL"
ROOT = Path(__file__).resolve().parents[2]  # the checkout: tests/support/pg.py -> ../..


def test_data_dir() -> Path:
    configured = os.environ.get("TESSERA_TEST_DATA_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tessera")) / "test-pg"


def server_url() -> URL:
    """A URL on the test server; its database part is replaced per use."""
    raw = os.environ.get(TEST_URL_ENV)
    if raw:
        return parse_database_url(raw, source=TEST_URL_ENV)
    from tessera.core.embedded import ensure_server

    server = ensure_server(test_data_dir())
    url = server.url("postgres")
    _tune_for_tests(url)
    return url


def _tune_for_tests(url: URL) -> None:
    """Durability off on the throwaway test server: tests need speed, not crash safety."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        if conn.execute("SHOW fsync").fetchone()[0] == "on":
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")


def conninfo(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False)


def schema_fingerprint() -> str:
    """Changes whenever a migration changes, so a stale template is never reused."""
    digest = hashlib.sha256()
    migrations = sorted((ROOT / "alembic" / "versions").glob("*.py"))
    if not migrations:  # a fingerprint of nothing would never change: a stale template forever
        raise RuntimeError(f"no migrations found under {ROOT / 'alembic' / 'versions'}")
    for path in migrations:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_template(url: URL) -> str:
    """Create (once per schema) a migrated template database and return its name."""
    name = f"tessera_tpl_{schema_fingerprint()}"
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7401)")
        try:
            row = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row and row[0]:
                return name
            if row:  # a half-made template from an interrupted run
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            # Templates of other schema versions are left alone: another checkout may be using them.
            conn.execute(f'CREATE DATABASE "{name}"')
            _migrate(url.set(database=name))
            conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE true')
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(7401)")


def _migrate(url: URL) -> None:
    from tessera.core import migrate
    from tessera.core.db import open_database

    db = open_database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()


def _name(prefix: str) -> str:
    """Names carry the creating pid, so leftovers of dead runs can be told from live ones."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"


def clone(url: URL, template: str, prefix: str = "tessera_t") -> URL:
    name = _name(prefix)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return url.set(database=name)


def create_empty(url: URL, prefix: str = "tessera_e") -> URL:
    name = _name(prefix)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name)


def drop(url: URL) -> None:
    with psycopg.connect(conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def drop_leftovers(url: URL) -> None:
    """Databases left by a run that was killed before its teardown (its pid is gone)."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^tessera_(t|e|s)_[0-9]+_[0-9a-f]{12}$'"
        ).fetchall():
            pid = int(name.split("_")[2])
            try:
                os.kill(pid, 0)
                continue  # a live test run owns it
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["clone", "create_empty", "drop", "ensure_template", "make_url", "server_url"]
