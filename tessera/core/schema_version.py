"""Is the database at the migration head? Answered without importing alembic.

Every command asks this on start; alembic's import and script parsing cost ~0.5 s, so the common
case (already current) is read from the migration files' `revision`/`down_revision` lines and one
`SELECT` of `alembic_version`. Anything else takes the full alembic path in `migrate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.core.db import Database

# The names of the shipped lifecycles (`tessera.core.lifecycles.builtin`; a test keeps the two in step).
BUILTIN_LIFECYCLES = ("default", "approvals")
# Would `bootstrap` change nothing? (psycopg parameters; `names`: BUILTIN_LIFECYCLES as a list)
BOOTSTRAPPED_SQL = (
    "SELECT EXISTS (SELECT 1 FROM users),"
    " (SELECT count(*) FROM lifecycles WHERE name = ANY(%(names)s)),"
    " EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)"
)


def bootstrapped(row: tuple[bool, int, bool] | Any) -> bool:
    """BOOTSTRAPPED_SQL's row: a user, the shipped lifecycles and the global templates are there."""
    users, lifecycles, templates = row
    return bool(users) and lifecycles == len(BUILTIN_LIFECYCLES) and bool(templates)


_REVISION = re.compile(r'^revision(?::\s*str)?\s*=\s*["\'](\w+)["\']', re.M)
_DOWN = re.compile(r'^down_revision(?::[^=]*)?=\s*["\'](\w+)["\']', re.M)


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _versions_dir() -> Path | None:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_alembic" / "versions", here.parent / "alembic" / "versions"):
        if candidate.is_dir():
            return candidate
    return None


@lru_cache(maxsize=1)
def head_from_files() -> str | None:
    """The single revision no other migration builds on (None if that is not clear-cut)."""
    folder = _versions_dir()
    if folder is None:
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found:
            revisions.add(found.group(1))
        parent = _DOWN.search(source)
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current(db: Database) -> bool:
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    """True when the database is certainly at head; False means: ask alembic."""
    head = head_from_files()
    if head is None:
        return False
    try:
        with db.engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except ProgrammingError:  # no alembic_version table: an empty database
        return False
    return current == [head]


def status_if_current(db: Database) -> SchemaStatus | None:
    """The status of a database at head, read without alembic; None means: ask `migrate.status`."""
    if not is_current(db):
        return None
    head = head_from_files()
    return SchemaStatus(current=head, head=head)
