"""The lifecycles a desk holds: stored in the database (table `lifecycles`), the shipped ones written
there on first use, each parsed once per session.

Everything that needs a queue's lifecycle asks here: status changes (`core.statuses`), search,
listing, the scrips; `store` forgets the session's copies when it applies a change.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core.errors import NotFound
from tessera.core.lifecycles.builtin import builtin_lifecycles
from tessera.core.lifecycles.load import lifecycle_from_dict
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.models import LifecycleRecord, Queue

_CACHE_KEY = "tessera.lifecycles"


def ensure_builtin_lifecycles(session: Session) -> None:
    """Write the shipped lifecycles the database does not have yet (never overwrites edits)."""
    have = set(session.scalars(select(LifecycleRecord.name)))
    for lifecycle in builtin_lifecycles():
        if lifecycle.name not in have:
            session.add(LifecycleRecord(name=lifecycle.name, definition=lifecycle.to_dict()))
    session.flush()


def lifecycle_names(session: Session) -> list[str]:
    """Stored lifecycle names; the shipped ones when the table is still empty (before bootstrap)."""
    names = list(session.scalars(select(LifecycleRecord.name).order_by(LifecycleRecord.name)))
    return names or [lc.name for lc in builtin_lifecycles()]


def _cache(session: Session) -> dict[str, Lifecycle]:
    cache: dict[str, Lifecycle] = session.info.setdefault(_CACHE_KEY, {})
    return cache


def forget_lifecycles(session: Session) -> None:
    """Drop the session's parsed lifecycles, so the next look-up sees an applied change."""
    session.info.pop(_CACHE_KEY, None)


# Parsed stored lifecycles by (name, last update): a row read again as it was is not parsed again.
_PARSED: dict[tuple[str, object], Lifecycle] = {}


def remember_stored(session: Session, name: str, definition: dict[str, object], updated: object) -> None:
    """A stored lifecycle read along with something else (a ticket's locked read), put in the
    session's cache: `lifecycle_by_name` then reads no row for it."""
    cache = _cache(session)
    if name in cache:
        return
    key = (name, updated)
    lifecycle = _PARSED.get(key)
    if lifecycle is None:
        if len(_PARSED) > 64:
            _PARSED.clear()
        lifecycle = _PARSED[key] = lifecycle_from_dict(definition)
    cache[name] = lifecycle


def lifecycle_by_name(session: Session, name: str) -> Lifecycle:
    """The validated lifecycle stored under `name` (any case), parsed once per session."""
    cache = _cache(session)
    if name in cache:
        return cache[name]
    row = session.get(LifecycleRecord, name)
    if row is None:
        row = session.scalars(
            select(LifecycleRecord).where(func.lower(LifecycleRecord.name) == name.lower())
        ).first()
    if row is not None:
        lifecycle = lifecycle_from_dict(row.definition)
    else:
        builtin = {lc.name: lc for lc in builtin_lifecycles()}
        if name not in builtin:
            known = ", ".join(lifecycle_names(session))
            raise NotFound(f"unknown lifecycle {name!r} (lifecycles: {known})")
        lifecycle = builtin[name]
    cache[name] = lifecycle
    return lifecycle


def lifecycle_of(session: Session, queue: Queue) -> Lifecycle:
    """The lifecycle a queue's tickets follow."""
    return lifecycle_by_name(session, queue.lifecycle)
