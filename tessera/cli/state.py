"""The process's database and acting user, shared by every command and the TUI.

Kept apart from `tessera.cli.common` because that imports typer (~0.1 s), which the TUI's path to
its first screen does without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tessera.core.db import Database

_db: Database | None = None
global_user: str | None = None


def set_global_user(name: str | None) -> None:
    global global_user
    global_user = name


def database(*, migrate: bool = True) -> Database:
    """The process's database; the embedded one upgrades itself, a shared one must be current."""
    global _db
    if _db is None:
        from tessera.core.bootstrap import open_desk

        _db = open_desk(migrate=migrate)
    return _db
