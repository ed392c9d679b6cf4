"""First-run data: shipped lifecycles, and a superuser so a fresh install is usable at once; a new
desk also ships RT's `General` queue, so the examples that name it work from the first command.

`is_bootstrapped` answers "would bootstrap change anything?" in one query and without importing
the lifecycle validator (pydantic) or the scrip defaults, so a start on a set-up desk skips both.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tessera.core.config import login_name
from tessera.core.db import Database, open_database
from tessera.core.errors import SchemaOutOfDate
from tessera.core.models import Grant, Queue, User
from tessera.core.schema_version import BOOTSTRAPPED_SQL, BUILTIN_LIFECYCLES, bootstrapped

_BOOTSTRAP_LOCK_KEY = 0x7E55E8B
# RT's initialdata: the one queue a new desk has (rights are not granted: see the empty state).
GENERAL_QUEUE = "General"
GENERAL_DESCRIPTION = "The default queue"


def bootstrap(session: Session, login: str | None = None, *, general: bool = False) -> User | None:
    """Idempotent. On a desk with no users, the OS login becomes its first superuser (returned),
    and with `general` (a real first run: `bootstrap_database`) the desk gets RT's General queue,
    once: deleted or renamed later, it is not made again.

    Serialised by an advisory lock: processes starting together on a new desk seed it once."""
    from tessera.core.lifecycles.desk import ensure_builtin_lifecycles

    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BOOTSTRAP_LOCK_KEY})
    ensure_builtin_lifecycles(session)
    created = None
    if session.scalar(select(func.count()).select_from(User)) == 0:
        created = User(name=login or login_name(), privileged=True)
        session.add(created)
        session.flush()
        session.add(Grant(right_name="SuperUser", principal_kind="user", user_id=created.id))
        if general and session.scalar(select(func.count()).select_from(Queue)) == 0:
            session.add(Queue(name=GENERAL_QUEUE, description=GENERAL_DESCRIPTION, lifecycle="default"))
    from tessera.core.default_scrips import seed_defaults  # RT's default scrips and templates, once

    seed_defaults(session)
    session.commit()
    return created


def system_user(session: Session, name: str, real_name: str) -> User:
    """A user the desk itself acts as (the timers), made and committed on first use: it must exist
    before any unit of work can act as it. Two processes at once: one inserts it, both find it."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        from sqlalchemy.dialects.postgresql import insert

        session.execute(
            insert(User).values(name=name, real_name=real_name, privileged=False).on_conflict_do_nothing()
        )
        session.commit()
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
    return user


def bootstrap_database(db: Database) -> User | None:
    with db.session() as session:
        return bootstrap(session, general=True)


def is_bootstrapped(db: Database) -> bool:
    """True when `bootstrap` would change nothing: a user, the shipped lifecycles and the global
    templates (seeded with the default scrips) are all there."""
    with db.engine.connect() as conn:
        return bootstrapped(conn.exec_driver_sql(BOOTSTRAPPED_SQL, {"names": list(BUILTIN_LIFECYCLES)}).one())


def open_desk(*, migrate: bool = True) -> Database:
    """The configured database, ready: the embedded one upgrades and bootstraps itself, a shared
    one must be at the migration head (else one clear error). Alembic only when not at head."""
    from tessera.core.schema_version import is_current

    db = open_database()
    if migrate and is_current(db):
        if db.embedded and not is_bootstrapped(db):
            bootstrap_database(db)
    elif migrate:
        from tessera.core import migrate as migrations

        if db.embedded:
            migrations.upgrade(db)
            bootstrap_database(db)
        else:
            state = migrations.status(db)
            if not state.up_to_date:
                raise SchemaOutOfDate(
                    f"{db.location} is at schema revision {state.current or 'none'}, "
                    f"this tessera needs {state.head}: run `tessera db upgrade`"
                )
    return db
