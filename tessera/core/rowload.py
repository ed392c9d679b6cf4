"""Persistent ORM objects from rows read on the driver cursor.

The ORM's own load of one locked ticket (with its queue and owner) costs about 0.8 ms of Python
on top of the round trip, a fifth of a whole status change. The hot paths read the same columns
with `driver_execute` and turn them into the objects the ORM would have produced: the instance
already in the session is refreshed (as `populate_existing` does), otherwise a new one is made
persistent, with no pending change either way.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, instance_state

T = TypeVar("T")


@cache
def loaded_columns(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of what a plain ORM load of `cls` reads: every column not deferred."""
    pairs = []
    for prop in inspect(cls).column_attrs:
        if isinstance(prop, ColumnProperty) and not prop.deferred and len(prop.columns) == 1:
            pairs.append((prop.key, prop.columns[0].name))
    return tuple(pairs)


@cache
def _primary_key(cls: type) -> tuple[str, ...]:
    mapper = inspect(cls)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def select_list(cls: type, alias: str) -> str:
    """`alias.col, ...` for `loaded_columns(cls)`, in that order."""
    return ", ".join(f"{alias}.{column}" for _, column in loaded_columns(cls))


def persistent(session: Session, cls: type[T], row: tuple[Any, ...] | list[Any]) -> T:
    """The `cls` instance for `row` (values in `loaded_columns(cls)` order), persistent in
    `session` and holding exactly the row's values."""
    mapper = inspect(cls)
    values = dict(zip((key for key, _ in loaded_columns(cls)), row, strict=True))
    key = mapper.identity_key_from_primary_key([values[name] for name in _primary_key(cls)])
    obj = session.identity_map.get(key)
    if obj is None:
        obj = mapper.class_manager.new_instance()
        instance_dict(obj).update(values)  # transient: no history to keep
        make_transient_to_detached(obj)  # as loaded: history reset, the rest unloaded
        session.add(obj)
        return obj  # type: ignore[no-any-return]
    state = instance_state(obj)
    state.dict.update(values)
    # As `populate_existing` leaves it: the row's values committed, pending changes dropped. (The
    # same private call `context._flush_one_change` makes; tests/test_core_rowload.py guards it.)
    state._commit_all(state.dict, session.identity_map)
    return obj  # type: ignore[no-any-return]
