"""The process's database and acting user, shared by every command and the TUI.

Kept apart from `tessera.cli.common` because that imports typer (~0.1 s), which the TUI's path to
its first screen does without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.core.context import Context
    from tessera.core.db import Database

_db: Database | None = None
global_user: str | None = None
# Set by the `tessera` program: the scrip engine is plugged in when the database is first opened
# (not at import, so `--help` stays fast and in-process tests choose for themselves).
run_scrips = False


def set_global_user(name: str | None) -> None:
    global global_user
    global_user = name


def database(*, migrate: bool = True) -> Database:
    """The process's database; the embedded one upgrades itself, a shared one must be current."""
    global _db
    if _db is None:
        from tessera.core.bootstrap import open_desk

        db = open_desk(migrate=migrate)
        if run_scrips:
            from tessera.core.context import add_observer

            add_observer(_scrip_engine)
        _db = db
    return _db


class _LazyScripEngine:
    """The scrip engine as a transaction observer, imported by the first change (Jinja and the
    scrip modules cost a read-only start, such as the TUI's first screen, ~0.1 s). It passes on
    the engine's `ride` too, so the prefetch rides in the change's own statement."""

    def __call__(self, ctx: Context, transactions: list[Any]) -> None:
        from tessera.scrips.engine import ENGINE

        ENGINE(ctx, transactions)

    def ride(self, ctx: Context, ticket: Any) -> Any:
        from tessera.scrips.engine import ENGINE

        return ENGINE.ride(ctx, ticket)


_scrip_engine = _LazyScripEngine()
