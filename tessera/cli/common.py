"""What every command shares: opening the database, printing JSON, one-line errors."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any

import typer

from tessera.core.db import Database, open_database
from tessera.core.errors import SchemaOutOfDate

_db: Database | None = None


def database(*, migrate: bool = True) -> Database:
    """The process's database; the embedded one upgrades itself, a shared one must be current."""
    global _db
    if _db is None:
        from tessera.core import migrate as migrations

        db = open_database()
        if migrate:
            if db.embedded:
                migrations.upgrade(db)
            else:
                state = migrations.status(db)
                if not state.up_to_date:
                    raise SchemaOutOfDate(
                        f"{db.location} is at schema revision {state.current or 'none'}, "
                        f"this tessera needs {state.head}: run `tessera db upgrade`"
                    )
        _db = db
    return _db


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


def echo(text: str = "") -> None:
    typer.echo(text)
