"""Schema migrations through alembic, driven from code (`tessera db upgrade`, auto-upgrade)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tessera.core.db import Database
from tessera.core.db_wait import unbounded
from tessera.core.schema_version import SchemaStatus

# Serialises concurrent upgrades (two tessera processes starting on a fresh database).
_UPGRADE_LOCK_KEY = 0x7E55E8A


def _script_location() -> Path:
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_alembic"  # wheel installs carry the migrations inside the package
    if (packaged / "env.py").exists():
        return packaged
    source = here.parent / "alembic"  # a source checkout or an editable install
    if (source / "env.py").exists():
        return source
    raise FileNotFoundError("Tessera's alembic migrations are missing from this installation")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_script_location()))
    cfg.set_main_option("path_separator", "os")
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def status(db: Database) -> SchemaStatus:  # SchemaStatus lives in schema_version (no alembic import)
    return SchemaStatus(current=current_revision(db), head=head_revision())


def _run(db: Database, fn_name: str, target: str) -> None:
    cfg = alembic_config()
    # A migration is long by nature (an index over a million tickets): no statement limit, no
    # client-side bound on its waits (see tessera.core.db_wait); lock_timeout still holds.
    with unbounded(), db.engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK_KEY})
        cfg.attributes["connection"] = conn
        getattr(command, fn_name)(cfg, target)


def upgrade(db: Database, target: str = "head") -> SchemaStatus:
    """Apply migrations up to `target`; safe to run from several processes at once."""
    before = current_revision(db)
    if before != head_revision() or target != "head":
        _run(db, "upgrade", target)
    return status(db)


def downgrade(db: Database, target: str = "base") -> SchemaStatus:
    _run(db, "downgrade", target)
    return status(db)
