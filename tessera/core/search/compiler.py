"""Compile a TicketSQL tree to a parameterised SQLAlchemy condition on `tickets`.

Every value reaches the database as a bound parameter; field names are looked up in a fixed
table, never spliced into SQL. Choices that differ from RT, on purpose:
* AND binds tighter than OR (RT takes the last connective of a bracket level for all of it).
* LIKE is a case-insensitive substring match (as RT), but `%` and `_` typed by the user match
  themselves (RT passes them through as wildcards).
* Bare words are values where a column makes no sense: `Status = open` works (RT: "no such column").
* Unknown fields, queues, statuses and agents are errors with a suggestion, never an empty result.
* Deleted tickets are hidden unless the query asks for them (`Status = 'deleted'`), merged ones
  unless it asks for them (`MergedInto IS NOT NULL`, `MergedInto = 12`): RT always hides both.
* Numbers outside PostgreSQL's integer range are errors at their column, not database errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, aliased

from tessera.core.context import Context, find_user
from tessera.core.models import (
    Attachment,
    CustomField,
    CustomFieldValue,
    Link,
    Queue,
    Ticket,
    Transaction,
    User,
    Watcher,
)
from tessera.core.search.dates import date_range
from tessera.core.search.parser import BoolOp, Comparison, Node, SearchError

INT_FIELDS: dict[str, InstrumentedAttribute[int]] = {
    "priority": Ticket.priority,
    "initialpriority": Ticket.initial_priority,
    "finalpriority": Ticket.final_priority,
    "timeworked": Ticket.time_worked,
    "timeleft": Ticket.time_left,
    "timeestimated": Ticket.time_estimated,
}
DATE_FIELDS: dict[str, InstrumentedAttribute] = {
    "created": Ticket.created,
    "updated": Ticket.updated,
    "lastupdated": Ticket.updated,
    "resolved": Ticket.resolved,
    "started": Ticket.started,
    "due": Ticket.due,
    "starts": Ticket.starts,
    "told": Ticket.told,
}
INT_MAX = 2**31 - 1  # PostgreSQL's integer: ids, priorities, minutes
USER_FIELDS: dict[str, InstrumentedAttribute] = {
    "owner": Ticket.owner_id,
    "creator": Ticket.creator_id,
    "lastupdatedby": Ticket.updated_by_id,
}
ROLE_FIELDS = {
    "requestor": ("Requestor",),
    "requestors": ("Requestor",),
    "cc": ("Cc",),
    "admincc": ("AdminCc",),
    "watcher": ("Requestor", "Cc", "AdminCc"),
}
ROLE_SUBFIELDS = {"": "address", "emailaddress": "email", "name": "name", "realname": "real_name", "id": "id"}
LINK_FIELDS = {
    "dependson": ("DependsOn", True),
    "dependedonby": ("DependsOn", False),
    "dependenton": ("DependsOn", False),
    "refersto": ("RefersTo", True),
    "referredtoby": ("RefersTo", False),
    "memberof": ("MemberOf", True),
    "parent": ("MemberOf", True),
    "hasmember": ("MemberOf", False),
    "children": ("MemberOf", False),
    "members": ("MemberOf", False),
}
TEXT_FIELDS = {"subject": Ticket.subject}
# The names people type, for suggestions and completion.
FIELD_NAMES = [
    "id",
    "Queue",
    "Status",
    "Lifecycle",
    "Owner",
    "Owner.EmailAddress",
    "Owner.RealName",
    "Creator",
    "LastUpdatedBy",
    "Requestor",
    "Requestor.EmailAddress",
    "Requestor.Name",
    "Requestor.RealName",
    "Cc",
    "AdminCc",
    "Watcher",
    "Subject",
    "Content",
    "Priority",
    "InitialPriority",
    "FinalPriority",
    "TimeWorked",
    "TimeLeft",
    "TimeEstimated",
    "Created",
    "Updated",
    "LastUpdated",
    "Resolved",
    "Started",
    "Due",
    "Starts",
    "Told",
    "DependsOn",
    "DependedOnBy",
    "RefersTo",
    "ReferredToBy",
    "MemberOf",
    "HasMember",
    "MergedInto",
]
STRING_OPS = ("=", "!=", "LIKE", "NOT LIKE", "STARTSWITH", "NOT STARTSWITH", "ENDSWITH", "NOT ENDSWITH")
ORDER_OPS = ("=", "!=", "<", "<=", ">", ">=")
NULL_OPS = ("IS", "IS NOT")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern(op: str, text: str) -> str:
    core = _escape_like(text)
    if op.endswith("STARTSWITH"):
        return core + "%"
    if op.endswith("ENDSWITH"):
        return "%" + core
    return "%" + core + "%"


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.6)
    if not close:
        return ""
    original = next(o for o in options if o.lower() == close[0])
    return f" - did you mean {original}?"


@dataclass
class Compiler:
    ctx: Context
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    asks_for_deleted: bool = False
    asks_for_merged: bool = False
    _queues: dict[str, Queue] | None = None

    # -- helpers -------------------------------------------------------------------------------
    def _err(self, message: str, column: int) -> SearchError:
        """`unknown field 'Statsu' at column 1 - did you mean Status?`: the place, then the hint."""
        head, sep, hint = message.partition(" - did you mean")
        return SearchError(f"{head} at column {column}{sep}{hint}", column)

    def _queues_by_name(self) -> dict[str, Queue]:
        if self._queues is None:
            self._queues = {q.name.lower(): q for q in self.ctx.session.scalars(select(Queue))}
        return self._queues

    def _text(self, c: Comparison) -> str:
        if c.value is None:
            raise self._err(f"{c.field} {c.op} needs a value", c.value_column)
        return str(c.value)

    def _number(self, c: Comparison, what: str = "a whole number") -> int:
        """The comparison's value as an integer PostgreSQL can hold, or an error at its column."""
        try:
            number = c.value if isinstance(c.value, int) else int(self._text(c).strip())
        except ValueError:
            raise self._err(f"{c.field} needs {what}, not {c.value!r}", c.value_column) from None
        if abs(number) > INT_MAX:
            raise self._err(f"{c.field}: {number} is out of range", c.value_column)
        return number

    def _ticket_ref(self, c: Comparison) -> int:
        from tessera.core.tickets import parse_ref

        try:
            number = parse_ref(c.value if isinstance(c.value, int) else self._text(c))
        except Exception:
            raise self._err(f"{c.field} needs a ticket number, not {c.value!r}", c.value_column) from None
        if abs(number) > INT_MAX:
            raise self._err(f"{c.field}: {number} is out of range", c.value_column)
        return number

    def _check_op(self, c: Comparison, allowed: tuple[str, ...]) -> None:
        if c.op not in allowed:
            raise self._err(
                f"operator {c.op} does not apply to {c.field} (use {', '.join(allowed)})", c.column
            )

    def _null_test(self, c: Comparison, column: ColumnElement) -> ColumnElement[bool] | None:
        if c.op in NULL_OPS:
            return column.is_(None) if c.op == "IS" else column.is_not(None)
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL or IS NOT NULL to test for no value", c.value_column)
        return None

    # -- the tree --------------------------------------------------------------------------------
    def compile(self, node: Node | None) -> ColumnElement[bool]:
        if node is None:
            return true()
        if isinstance(node, BoolOp):
            parts = [self.compile(n) for n in node.items]
            return and_(*parts) if node.op == "AND" else or_(*parts)
        return self.comparison(node)

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        key = c.field.lower()
        if key.startswith(("cf.", "customfield.")):
            return self._custom_field(c)
        base, _, sub = key.partition(".")
        if base in ROLE_FIELDS:
            return self._role(c, ROLE_FIELDS[base], sub)
        if base in USER_FIELDS and sub:
            return self._user_sub(c, USER_FIELDS[base], sub)
        if sub:
            raise self._err(f"unknown field {c.field!r}{_suggest(c.field, FIELD_NAMES)}", c.column)
        if key in ("id", "effectiveid"):
            return self._id(c)
        if key == "queue":
            return self._queue(c)
        if key == "status":
            return self._status(c)
        if key == "lifecycle":
            return self._lifecycle(c)
        if key in USER_FIELDS:
            return self._user_column(c, USER_FIELDS[key])
        if key in TEXT_FIELDS:
            return self._string(c, TEXT_FIELDS[key])
        if key in ("content", "historycontent", "description"):
            return self._content(c)
        if key in INT_FIELDS:
            return self._int(c, INT_FIELDS[key])
        if key in DATE_FIELDS:
            return self._date(c, DATE_FIELDS[key])
        if key in LINK_FIELDS:
            return self._link(c, *LINK_FIELDS[key])
        if key == "mergedinto":
            return self._merged_into(c)
        raise self._err(f"unknown field {c.field!r}{_suggest(c.field, FIELD_NAMES)}", c.column)

    # -- fields ----------------------------------------------------------------------------------
    def _id(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ORDER_OPS)
        return _compare(Ticket.id, c.op, self._ticket_ref(c))

    def _queue(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        if c.op in NULL_OPS:
            raise self._err("every ticket has a queue: IS NULL does not apply to Queue", c.column)
        text = self._text(c)
        if c.op in ("=", "!="):
            queues = self._queues_by_name()
            queue = queues.get(text.lower())
            if queue is None and text.isdigit():
                queue = next((q for q in queues.values() if q.id == int(text)), None)
            if queue is None:
                from tessera.core.queues import list_queues

                names = [q.name for q in list_queues(self.ctx)]  # never name a queue they may not see
                hint = _suggest(text, names) or f" (queues: {', '.join(names[:12])})"
                raise self._err(f"unknown queue {text!r}{hint}", c.value_column)
            return Ticket.queue_id == queue.id if c.op == "=" else Ticket.queue_id != queue.id
        matching = select(Queue.id).where(Queue.name.ilike(_pattern(c.op, text), escape="\\"))
        condition = Ticket.queue_id.in_(matching)
        return not_(condition) if c.op.startswith("NOT") else condition

    def _lifecycle_sets(self) -> dict[str, tuple[list[int], set[str], set[str], set[str]]]:
        """lifecycle name -> (queue ids, every status, active = initial+active, inactive)."""
        from tessera.core.statuses import lifecycle_by_name

        out: dict[str, tuple[list[int], set[str], set[str], set[str]]] = {}
        for queue in self._queues_by_name().values():
            lifecycle = lifecycle_by_name(self.ctx.session, queue.lifecycle)
            entry = out.setdefault(
                lifecycle.name,
                ([], set(lifecycle.statuses), set(lifecycle.active_set()), set(lifecycle.inactive_set())),
            )
            entry[0].append(queue.id)
        return out

    def _status(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        if c.op in NULL_OPS:
            raise self._err("every ticket has a status: IS NULL does not apply to Status", c.column)
        text = self._text(c).strip().lower()
        sets = self._lifecycle_sets()
        if text in ("__active__", "__inactive__"):
            if c.op not in ("=", "!="):
                raise self._err(f"{c.value} works with = and != only", c.column)
            pick = 2 if text == "__active__" else 3
            parts = [
                and_(Ticket.queue_id.in_(qids), Ticket.status.in_(sorted(entry[pick])))
                for _, entry in sorted(sets.items())
                for qids in [entry[0]]
            ]
            condition = or_(*parts) if parts else false()
            return condition if c.op == "=" else not_(condition)
        if c.op in ("=", "!="):
            known = sorted(set().union(*(entry[1] for entry in sets.values())) or {"new"})
            if text not in known:
                raise self._err(
                    f"unknown status {c.value!r}{_suggest(text, [*known, '__Active__', '__Inactive__'])}",
                    c.value_column,
                )
            if text == "deleted" and c.op == "=":
                self.asks_for_deleted = True
            return Ticket.status == text if c.op == "=" else Ticket.status != text
        return self._string(c, Ticket.status)

    def _lifecycle(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ("=", "!="))
        text = self._text(c).lower()
        sets = {name.lower(): entry for name, entry in self._lifecycle_sets().items()}
        qids = sets[text][0] if text in sets else []
        return Ticket.queue_id.in_(qids) if c.op == "=" else Ticket.queue_id.not_in(qids)

    def _user_id(self, c: Comparison) -> int | None:
        """A user for `=`/`!=`: a name, an address, an id, Nobody (None) or __CurrentUser__."""
        text = self._text(c).strip()
        if text.lower() == "nobody":
            return None
        if text.lower() in ("__currentuser__", "__currentusername__"):
            return self.ctx.actor.id
        user = find_user(self.ctx.session, text)
        if user is None and text.isdigit():
            user = self.ctx.session.get(User, int(text))
        if user is None:
            agents = (  # suggestions name agents, and only to agents
                list(self.ctx.session.scalars(select(User.name).where(User.privileged.is_(True)).limit(500)))
                if self.ctx.actor.privileged or self.ctx.system
                else []
            )
            raise self._err(f"unknown user {text!r}{_suggest(text, agents)}", c.value_column)
        return user.id

    def _user_column(self, c: Comparison, column: InstrumentedAttribute) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        if c.op in ("=", "!="):
            user_id = self._user_id(c)
            if user_id is None:
                return column.is_(None) if c.op == "=" else column.is_not(None)
            return column == user_id if c.op == "=" else column.is_distinct_from(user_id)
        pattern = _pattern(c.op, self._text(c))
        matching = select(User.id).where(
            or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\"))
        )
        condition = column.in_(matching)
        return or_(not_(condition), column.is_(None)) if c.op.startswith("NOT") else condition

    def _user_sub(self, c: Comparison, column: InstrumentedAttribute, sub: str) -> ColumnElement[bool]:
        """Owner.EmailAddress, Creator.Name, ...: RT's watcher sub-fields on a user column."""
        if sub not in ROLE_SUBFIELDS or not sub:
            raise self._err(
                f"unknown field {c.field!r} (sub-fields: EmailAddress, Name, RealName, id)", c.column
            )
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        text = self._text(c)
        kind = ROLE_SUBFIELDS[sub]
        positive_op = c.op.removeprefix("NOT ").replace("!=", "=")
        if kind == "id":
            match: ColumnElement[bool] = User.id == self._number(c, "a user id")
        else:
            user_column = {"email": User.email, "name": User.name, "real_name": User.real_name}[kind]
            if positive_op == "=":
                match = func.lower(user_column) == text.lower()
            else:
                match = user_column.ilike(_pattern(positive_op, text), escape="\\")
        condition = column.in_(select(User.id).where(match))
        if c.op.startswith("NOT") or c.op == "!=":
            return or_(not_(condition), column.is_(None))
        return condition

    def _role(self, c: Comparison, roles: tuple[str, ...], sub: str) -> ColumnElement[bool]:
        if sub not in ROLE_SUBFIELDS:
            raise self._err(
                f"unknown field {c.field!r} (sub-fields: EmailAddress, Name, RealName, id)", c.column
            )
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        anyone = exists().where(Watcher.ticket_id == Ticket.id, Watcher.role.in_(roles))
        if c.op in NULL_OPS:
            return not_(anyone) if c.op == "IS" else anyone
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL to find tickets with nobody in the role", c.value_column)
        text = self._text(c)
        kind = ROLE_SUBFIELDS[sub]
        member = (
            select(Watcher.ticket_id)
            .join(User, User.id == Watcher.user_id)
            .where(Watcher.ticket_id == Ticket.id, Watcher.role.in_(roles))
        )
        positive_op = c.op.removeprefix("NOT ").replace("!=", "=")
        if text.lower() == "__currentuser__" and positive_op == "=":
            match = User.id == self.ctx.actor.id
        elif kind == "id":
            match = User.id == self._number(c, "a user id")
        else:
            columns = {
                "address": [User.email, User.name],
                "email": [User.email],
                "name": [User.name],
                "real_name": [User.real_name],
            }[kind]
            if positive_op == "=":
                match = or_(*(func.lower(col) == text.lower() for col in columns))
            else:
                pattern = _pattern(positive_op, text)
                match = or_(*(col.ilike(pattern, escape="\\") for col in columns))
        condition = exists(member.where(match))
        # RT: != and NOT LIKE mean "no member matches", so tickets with nobody in the role match.
        return not_(condition) if c.op.startswith("NOT") or c.op == "!=" else condition

    def _string(self, c: Comparison, column: InstrumentedAttribute) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        text = self._text(c)
        if c.op == "=":
            return func.lower(column) == text.lower()
        if c.op == "!=":
            return func.lower(column) != text.lower()
        condition = column.ilike(_pattern(c.op, text), escape="\\")
        return not_(condition) if c.op.startswith("NOT") else condition

    def _content(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ("=", "LIKE", "NOT LIKE", "!="))
        text = self._text(c).strip()
        if not text:
            raise self._err("Content needs words to look for", c.value_column)
        query = func.websearch_to_tsquery("english", text)
        # Both sides are GIN lookups; a UNION of ids lets PostgreSQL use them instead of testing
        # every ticket (an EXISTS under OR would be checked row by row).
        in_messages = (
            select(Transaction.ticket_id)
            .join(Attachment, Attachment.transaction_id == Transaction.id)
            .where(Attachment.search_vector.op("@@")(query))
        )
        hidden_comments = _comment_filter(self.ctx)
        if hidden_comments is not None:
            in_messages = in_messages.where(hidden_comments)
        inner = aliased(Ticket)
        in_subjects = select(inner.id).where(inner.search_vector.op("@@")(query))
        condition = Ticket.id.in_(in_messages.union(in_subjects))
        return not_(condition) if c.op in ("NOT LIKE", "!=") else condition

    def _int(self, c: Comparison, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        self._check_op(c, ORDER_OPS)
        return _compare(column, c.op, self._number(c))

    def _date(self, c: Comparison, column: InstrumentedAttribute) -> ColumnElement[bool]:
        self._check_op(c, (*ORDER_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        text = self._text(c)
        span = date_range(text, self.now)
        if span is None:
            raise self._err(
                f"{c.field}: cannot read {text!r} as a date "
                "(try '2026-12-01', 'today', '2 days ago', 'last week')",
                c.value_column,
            )
        start, end = span
        if start == end:  # an instant: `=` means its whole day
            if c.op in ("=", "!="):
                day = datetime.combine(start.date(), datetime.min.time(), tzinfo=UTC)
                start, end = day, day + timedelta(days=1)
            else:
                end = start
        if c.op == "=":
            return and_(column >= start, column < end)
        if c.op == "!=":
            return or_(column < start, column >= end)
        if c.op == "<":
            return column < start
        if c.op == ">=":
            return column >= start
        if c.op == ">":
            return column >= end if end != start else column > start
        return column < end if end != start else column <= start  # <=

    def _link(self, c: Comparison, kind: str, forward: bool) -> ColumnElement[bool]:
        self._check_op(c, ("=", "!=", *NULL_OPS))
        mine, theirs = (Link.base_id, Link.target_id) if forward else (Link.target_id, Link.base_id)
        anyone = exists().where(mine == Ticket.id, Link.type == kind)
        if c.op in NULL_OPS:
            return not_(anyone) if c.op == "IS" else anyone
        other = self._ticket_ref(c)
        condition = exists().where(mine == Ticket.id, Link.type == kind, theirs == other)
        return condition if c.op == "=" else not_(condition)

    def _merged_into(self, c: Comparison) -> ColumnElement[bool]:
        """Merged tickets, which are hidden unless a query names them this way."""
        self._check_op(c, ("=", "!=", *NULL_OPS))
        if c.op in NULL_OPS:
            self.asks_for_merged = self.asks_for_merged or c.op == "IS NOT"
            return Ticket.merged_into_id.is_(None) if c.op == "IS" else Ticket.merged_into_id.is_not(None)
        other = self._ticket_ref(c)
        self.asks_for_merged = self.asks_for_merged or c.op == "="
        if c.op == "=":
            return Ticket.merged_into_id == other
        return Ticket.merged_into_id.is_distinct_from(other)

    def _custom_field(self, c: Comparison) -> ColumnElement[bool]:
        raw = c.field.partition(".")[2]
        name = raw[1:-1] if raw.startswith("{") and raw.endswith("}") else raw
        cf = self.ctx.session.scalars(
            select(CustomField).where(func.lower(CustomField.name) == name.strip().lower())
        ).first()
        if cf is None:
            names = list(self.ctx.session.scalars(select(CustomField.name)))
            raise self._err(f"unknown custom field {name!r}{_suggest(name, names)}", c.column)
        has_value = select(CustomFieldValue.id).where(
            CustomFieldValue.ticket_id == Ticket.id, CustomFieldValue.custom_field_id == cf.id
        )
        if c.op in NULL_OPS:
            return not_(exists(has_value)) if c.op == "IS" else exists(has_value)
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL to find tickets without a value", c.value_column)
        text = self._text(c)
        column: ColumnElement = CustomFieldValue.value
        if cf.type == "integer":
            self._check_op(c, ORDER_OPS)
            number = self._number(c)
            # CASE first: PostgreSQL may test rows of other fields too, and 'High' is no integer.
            as_int = case((column.op("~")(r"^\s*-?\d{1,18}\s*$"), cast(column, BigInteger)), else_=None)
            positive = exists(has_value.where(_compare(as_int, c.op.replace("!=", "="), number)))
            return not_(positive) if c.op == "!=" else positive
        if cf.type == "date":
            return self._cf_date(c, has_value)
        self._check_op(c, (*STRING_OPS, "<", "<=", ">", ">="))
        if c.op in ("<", "<=", ">", ">="):
            match: ColumnElement[bool] = _compare(column, c.op, text)
            return exists(has_value.where(match))
        positive_op = c.op.removeprefix("NOT ").replace("!=", "=")
        if positive_op == "=":
            match = func.lower(column) == text.lower()
        else:
            match = column.ilike(_pattern(positive_op, text), escape="\\")
        condition = exists(has_value.where(match))
        # RT: != includes tickets with no value at all.
        return not_(condition) if c.op.startswith("NOT") or c.op == "!=" else condition

    def _cf_date(self, c: Comparison, has_value: Select) -> ColumnElement[bool]:
        """Date fields hold YYYY-MM-DD, which compares as text; `=` is the whole day (or week)."""
        self._check_op(c, ORDER_OPS)
        text = self._text(c)
        span = date_range(text, self.now)
        if span is None:
            raise self._err(
                f"{c.field}: cannot read {text!r} as a date (try '2026-12-01', 'today', 'last week')",
                c.value_column,
            )
        first = span[0].date()
        last = (span[1] - timedelta(microseconds=1)).date() if span[1] > span[0] else first
        value = CustomFieldValue.value
        match = {
            "=": and_(value >= first.isoformat(), value <= last.isoformat()),
            "!=": and_(value >= first.isoformat(), value <= last.isoformat()),
            "<": value < first.isoformat(),
            "<=": value <= last.isoformat(),
            ">": value > last.isoformat(),
            ">=": value >= first.isoformat(),
        }[c.op]
        condition = exists(has_value.where(match))
        return not_(condition) if c.op == "!=" else condition


_COMPARE: dict[str, Callable[[ColumnElement, object], ColumnElement[bool]]] = {
    "=": lambda col, v: col == v,
    "!=": lambda col, v: col != v,
    "<": lambda col, v: col < v,
    "<=": lambda col, v: col <= v,
    ">": lambda col, v: col > v,
    ">=": lambda col, v: col >= v,
}


def _compare(column: ColumnElement, op: str, value: object) -> ColumnElement[bool]:
    return _COMPARE[op](column, value)


def _comment_filter(ctx: Context) -> ColumnElement[bool] | None:
    """Comments count for full text only where the searcher may read comments (None: everywhere)."""
    from tessera.core.search.visibility import queues_with_right

    allowed = queues_with_right(ctx, "ShowTicketComments")
    if allowed is None:
        return None
    inner = aliased(Ticket)
    readable = exists().where(inner.id == Transaction.ticket_id, inner.queue_id.in_(sorted(allowed)))
    return or_(Transaction.type != "Comment", readable)
