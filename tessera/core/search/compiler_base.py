"""The compiler's shared state and helpers: whom it compiles for, the queues it may name, and
the checks every field's part makes (operators, values as numbers PostgreSQL can hold, errors at
their column). tessera.core.search.people and tessera.core.search.compiler build on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, select

from tessera.core import clock
from tessera.core.context import Context
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.knowable import known_queue_ids
from tessera.core.models import CustomField, Queue
from tessera.core.search.fields import INT_MAX, INTEGER, NULL_OPS
from tessera.core.search.parser import Comparison, SearchError, shown


@dataclass
class CompilerBase:
    ctx: Context
    now: datetime = field(default_factory=clock.now)
    asks_for_deleted: bool = False
    asks_for_merged: bool = False
    _queues: dict[str, Queue] | None = None
    _known: set[int] | None = None  # the queues the actor may know (None: all), once read
    _known_read: bool = False

    # -- helpers -------------------------------------------------------------------------------
    def _err(self, message: str, column: int) -> SearchError:
        """`unknown field 'Statsu' at column 1 - did you mean Status?`: the place, then the hint."""
        head, sep, hint = message.partition(" - did you mean")
        return SearchError(f"{head} at column {column}{sep}{hint}", column)

    def _queues_by_name(self) -> dict[str, Queue]:
        """Every queue (the lifecycles' status sets need them all); `_knows` says which to name."""
        if self._queues is None:
            self._queues = {q.name.lower(): q for q in self.ctx.session.scalars(select(Queue))}
        return self._queues

    def _knows(self, queue: Queue) -> bool:
        if not self._known_read:
            self._known, self._known_read = known_queue_ids(self.ctx), True
        return self._known is None or queue.id in self._known

    def _text(self, c: Comparison) -> str:
        if c.value is None:
            raise self._err(f"{c.field} {c.op} needs a value", c.value_column)
        return str(c.value)

    def _knows_field(self, cf: CustomField) -> bool:
        if cf.queue_id is None:
            return True
        queue = next((q for q in self._queues_by_name().values() if q.id == cf.queue_id), None)
        return queue is not None and self._knows(queue)

    def _number(self, c: Comparison, what: str = "a whole number") -> int:
        """The comparison's value as an integer PostgreSQL can hold, or an error at its column."""
        if isinstance(c.value, int):
            number = c.value
        else:
            text = self._text(c).strip()
            if not INTEGER.fullmatch(text):
                raise self._err(f"{c.field} needs {what}, not {shown(str(c.value))}", c.value_column)
            if len(text.lstrip("+-").lstrip("0")) > 10:
                raise self._err(f"{c.field}: {shown(text)} is out of range", c.value_column)
            number = int(text)
        if abs(number) > INT_MAX:
            raise self._err(f"{c.field}: {number} is out of range", c.value_column)
        return number

    def _ticket_ref(self, c: Comparison) -> int:
        from tessera.core.ticket_read import parse_ref

        try:
            number = parse_ref(c.value if isinstance(c.value, int) else self._text(c))
        except NotFound:  # a number past any id
            raise self._err(f"{c.field}: {shown(str(c.value))} is out of range", c.value_column) from None
        except InvalidInput:
            raise self._err(
                f"{c.field} needs a ticket number, not {shown(str(c.value))}", c.value_column
            ) from None
        if abs(number) > INT_MAX:
            raise self._err(f"{c.field}: {number} is out of range", c.value_column)
        return number

    def _check_op(self, c: Comparison, allowed: tuple[str, ...]) -> None:
        if c.op not in allowed:
            raise self._err(
                f"operator {c.op} does not apply to {c.field} (use {', '.join(allowed)})", c.column
            )

    def _null_test(self, c: Comparison, column: SQLColumnExpression[Any]) -> ColumnElement[bool] | None:
        if c.op in NULL_OPS:
            return column.is_(None) if c.op == "IS" else column.is_not(None)
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL or IS NOT NULL to test for no value", c.value_column)
        return None
