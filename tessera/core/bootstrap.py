"""First-run data: shipped lifecycles, and a superuser so a fresh install is usable at once."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tessera.core.context import login_name
from tessera.core.db import Database
from tessera.core.models import Grant, User
from tessera.core.statuses import ensure_builtin_lifecycles

_BOOTSTRAP_LOCK_KEY = 0x7E55E8B


def bootstrap(session: Session, login: str | None = None) -> User | None:
    """Idempotent. On a desk with no users, the OS login becomes its first superuser (returned).

    Serialised by an advisory lock: processes starting together on a new desk seed it once."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BOOTSTRAP_LOCK_KEY})
    ensure_builtin_lifecycles(session)
    created = None
    if session.scalar(select(func.count()).select_from(User)) == 0:
        created = User(name=login or login_name(), privileged=True)
        session.add(created)
        session.flush()
        session.add(Grant(right_name="SuperUser", principal_kind="user", user_id=created.id))
    from tessera.scrips.defaults import seed_defaults  # RT's default scrips and templates, once

    seed_defaults(session)
    session.commit()
    return created


def bootstrap_database(db: Database) -> User | None:
    with db.session() as session:
        return bootstrap(session)
