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
* Priority names (`Priority = 'High'`, `TESSERA_PRIORITY_NAMES`) cover a range each, from the
  name's number up to the next name's: RT compares with the name's one number.
As RT: an unquoted field name compares two columns (`Due < Resolved`, `Priority > InitialPriority`);
`EffectiveId` is the id a merged ticket was merged into (so `EffectiveId = 12` finds 12 and the
tickets merged into it); `id = '__Bookmarked__'` is the searcher's bookmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, aliased

from tessera.core.context import Context
from tessera.core.knowable import known_fields
from tessera.core.lifecycles.rules import DELETED
from tessera.core.models import (
    Attachment,
    CustomField,
    CustomFieldValue,
    Link,
    Queue,
    Reminder,
    Ticket,
    TicketBookmark,
    TicketSearch,
    Transaction,
)
from tessera.core.schemas import as_int32
from tessera.core.search.dates import date_range
from tessera.core.search.fields import (
    DATE_FIELDS,
    FIELD_NAMES,
    INT_FIELDS,
    INTEGER,
    LINK_FIELDS,
    NULL_OPS,
    ORDER_OPS,
    PRIORITY_FIELDS,
    ROLE_FIELDS,
    STRING_OPS,
    TEXT_FIELDS,
    USER_FIELDS,
    like_pattern,
    suggest,
)
from tessera.core.search.parser import BoolOp, Comparison, Node, SearchError, shown
from tessera.core.search.people import PeopleCompiler


class Compiler(PeopleCompiler):
    """A TicketSQL tree to one SQLAlchemy condition on `tickets` (see the module's docstring)."""

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
        if base == "reminder":
            return self._reminder(c, sub)
        if sub:
            raise self._err(f"unknown field {c.field!r}{suggest(c.field, FIELD_NAMES)}", c.column)
        if key == "id":
            return self._id(c)
        if key == "effectiveid":
            return self._effective_id(c)
        if key == "queue":
            return self._queue(c)
        if key == "status":
            return self._status(c)
        if key == "lifecycle":
            return self._lifecycle(c)
        if key in USER_FIELDS:
            return self._user_column(c, USER_FIELDS[key])
        if key == "sla" and c.op in ("=", "!="):
            return self._sla(c)
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
        raise self._err(f"unknown field {c.field!r}{suggest(c.field, FIELD_NAMES)}", c.column)

    # -- fields ----------------------------------------------------------------------------------
    def _id(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ORDER_OPS)
        if isinstance(c.value, str) and c.value.strip().lower() == "__bookmarked__":
            return self._bookmarked(c)
        return _compare(Ticket.id, c.op, self._ticket_ref(c))

    def _bookmarked(self, c: Comparison) -> ColumnElement[bool]:
        """RT's `__Bookmarked__`: the searcher's bookmarks, each as its effective ticket (a bookmarked
        ticket merged away is found as the one it was merged into); no bookmarks, nothing."""
        if c.op not in ("=", "!="):
            raise self._err("__Bookmarked__ works with = and != only", c.column)
        marked = aliased(Ticket)
        mine = (
            select(func.coalesce(marked.merged_into_id, marked.id))
            .select_from(TicketBookmark)
            .join(marked, marked.id == TicketBookmark.ticket_id)
            .where(TicketBookmark.user_id == self.ctx.actor.id)
        )
        return Ticket.id.in_(mine) if c.op == "=" else Ticket.id.not_in(mine)

    def _effective_id(self, c: Comparison) -> ColumnElement[bool]:
        """RT's EffectiveId: a ticket's own id, or for a merged one the id it was merged into (merges
        are flattened, so one step). Naming it shows merged tickets, as in RT."""
        self._check_op(c, ORDER_OPS)
        self.asks_for_merged = True
        effective = func.coalesce(Ticket.merged_into_id, Ticket.id)
        return _compare(effective, c.op, self._ticket_ref(c))

    def _other_column(
        self, c: Comparison, columns: dict[str, InstrumentedAttribute[Any]]
    ) -> InstrumentedAttribute[Any] | None:
        """RT's column comparison: an unquoted value that names a field of the same kind."""
        if c.value_kind != "word" or not isinstance(c.value, str):
            return None
        return columns.get(c.value.strip().lower())

    def _queue(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        if c.op in NULL_OPS:
            raise self._err("every ticket has a queue: IS NULL does not apply to Queue", c.column)
        text = self._text(c)
        if c.op in ("=", "!="):
            queues = self._queues_by_name()
            queue = queues.get(text.lower())
            queue_id = as_int32(text)
            if queue is None and queue_id is not None:
                queue = next((q for q in queues.values() if q.id == queue_id), None)
            if queue is None or not self._knows(queue):  # hidden reads exactly as missing
                from tessera.core.queues import list_queues

                names = [q.name for q in list_queues(self.ctx)]  # never name a queue they may not see
                hint = suggest(text, names) or f" (queues: {', '.join(names[:12])})"
                raise self._err(f"unknown queue {shown(text)}{hint}", c.value_column)
            return Ticket.queue_id == queue.id if c.op == "=" else Ticket.queue_id != queue.id
        matching = select(Queue.id).where(Queue.name.ilike(like_pattern(c.op, text), escape="\\"))
        condition = Ticket.queue_id.in_(matching)
        return not_(condition) if c.op.startswith("NOT") else condition

    def _lifecycle_sets(self) -> dict[str, tuple[list[int], set[str], set[str], set[str]]]:
        """lifecycle name -> (queue ids, every status, active = initial+active, inactive)."""
        from tessera.core.lifecycles.desk import lifecycle_by_name

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
                    f"unknown status {shown(str(c.value))}"
                    f"{suggest(text, [*known, '__Active__', '__Inactive__'])}",
                    c.value_column,
                )
            if text == DELETED and c.op == "=":
                self.asks_for_deleted = True
            return Ticket.status == text if c.op == "=" else Ticket.status != text
        return self._string(c, Ticket.status)

    def _sla(self, c: Comparison) -> ColumnElement[bool]:
        """A level the desk does not define is an error, as an unknown status is (a typo would
        otherwise find nothing, silently)."""
        from tessera.core.sla import load_config

        text = self._text(c).strip()
        levels = list(load_config(self.ctx).levels)
        if text.lower() not in {name.lower() for name in levels}:
            listed = ", ".join(levels) or "none defined: `tessera sla apply FILE`"
            raise self._err(
                f"unknown service level {shown(str(c.value))} (levels: {listed}){suggest(text, levels)}",
                c.value_column,
            )
        return self._string(c, Ticket.sla)

    def _lifecycle(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ("=", "!="))
        text = self._text(c).lower()
        sets = {name.lower(): entry for name, entry in self._lifecycle_sets().items()}
        qids = sets[text][0] if text in sets else []
        return Ticket.queue_id.in_(qids) if c.op == "=" else Ticket.queue_id.not_in(qids)

    def _string(self, c: Comparison, column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        text = self._text(c)
        if c.op == "=":
            return func.lower(column) == text.lower()
        if c.op == "!=":
            return func.lower(column) != text.lower()
        condition = column.ilike(like_pattern(c.op, text), escape="\\")
        return not_(condition) if c.op.startswith("NOT") else condition

    def _content(self, c: Comparison) -> ColumnElement[bool]:
        self._check_op(c, ("=", "LIKE", "NOT LIKE", "!="))
        text = self._text(c).strip()
        if not text:
            raise self._err("Content needs words to look for", c.value_column)
        condition = _content(self.ctx, text)
        return not_(condition) if c.op in ("NOT LIKE", "!=") else condition

    def _int(self, c: Comparison, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        self._check_op(c, ORDER_OPS)
        other = self._other_column(c, INT_FIELDS)
        if other is not None:
            return _compare(column, c.op, other)
        named = isinstance(c.value, str) and not INTEGER.fullmatch(c.value.strip())
        if named and c.field.lower() in PRIORITY_FIELDS:
            return self._priority_name(c, column)
        return _compare(column, c.op, self._number(c))

    def _priority_name(self, c: Comparison, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """`Priority = 'High'`: the name's range, from its number to the next name's (exclusive)."""
        from tessera.core import priorities

        found = priorities.span(str(c.value))
        if found is None:
            labels = [name for name, _ in priorities.names()]
            hint = suggest(str(c.value), labels)
            error = self._err(f"{c.field}: unknown priority {shown(str(c.value))}{hint}", c.value_column)
            if not hint:
                error = SearchError(f"{error.message} (names: {', '.join(labels)})", c.value_column)
            raise error
        _, low, high = found
        inside = column >= low if high is None else and_(column >= low, column < high)
        if c.op == "=":
            return inside
        if c.op == "!=":
            return not_(inside)
        if c.op == "<":
            return column < low
        if c.op == ">=":
            return column >= low
        if c.op == "<=":
            return column.is_not(None) if high is None else column < high
        return false() if high is None else column >= high  # >

    def _date(self, c: Comparison, column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        self._check_op(c, (*ORDER_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        other = self._other_column(c, DATE_FIELDS)
        if other is not None:  # `Due < Resolved`: unset dates never compare, as in RT
            return _compare(column, c.op, other)
        text = self._text(c)
        span = date_range(text, self.now)
        if span is None:
            raise self._err(
                f"{c.field}: cannot read {shown(text)} as a date "
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

    def _reminder(self, c: Comparison, sub: str) -> ColumnElement[bool]:
        """Tickets with a reminder matching: `Reminder IS NOT NULL` (any), `Reminder.Subject`,
        `.Owner`, `.Due`, `.Status` (RT searches its reminder tickets with `Type = 'reminder'`)."""
        mine = Reminder.ticket_id == Ticket.id
        if not sub:
            self._check_op(c, NULL_OPS)
            anyone = exists().where(mine)
            return not_(anyone) if c.op == "IS" else anyone
        if sub == "subject":
            match = self._string(c, Reminder.subject)
        elif sub == "status":
            match = self._string(c, Reminder.status)
        elif sub == "owner":
            match = self._user_column(c, Reminder.owner_id)
        elif sub == "due":
            match = self._date(c, Reminder.due)
        else:
            raise self._err(f"unknown field {c.field!r} (sub-fields: Subject, Owner, Due, Status)", c.column)
        return exists().where(mine, match)

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
        if cf is None or not self._knows_field(cf):  # a field of a hidden queue reads as missing
            names = [f.name for f in known_fields(self.ctx, self.ctx.session.scalars(select(CustomField)))]
            raise self._err(f"unknown custom field {shown(name)}{suggest(name, names)}", c.column)
        has_value = select(CustomFieldValue.id).where(
            CustomFieldValue.ticket_id == Ticket.id, CustomFieldValue.custom_field_id == cf.id
        )
        if c.op in NULL_OPS:
            return not_(exists(has_value)) if c.op == "IS" else exists(has_value)
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL to find tickets without a value", c.value_column)
        text = self._text(c)
        column: SQLColumnExpression[str] = CustomFieldValue.value
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
            match = column.ilike(like_pattern(positive_op, text), escape="\\")
        condition = exists(has_value.where(match))
        # RT: != includes tickets with no value at all.
        return not_(condition) if c.op.startswith("NOT") or c.op == "!=" else condition

    def _cf_date(self, c: Comparison, has_value: Select[int]) -> ColumnElement[bool]:
        """Date fields hold YYYY-MM-DD, which compares as text; `=` is the whole day (or week)."""
        self._check_op(c, ORDER_OPS)
        text = self._text(c)
        span = date_range(text, self.now)
        if span is None:
            raise self._err(
                f"{c.field}: cannot read {shown(text)} as a date (try '2026-12-01', 'today', 'last week')",
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


_COMPARE: dict[str, Callable[[SQLColumnExpression[Any], object], ColumnElement[bool]]] = {
    "=": lambda col, v: col == v,
    "!=": lambda col, v: col != v,
    "<": lambda col, v: col < v,
    "<=": lambda col, v: col <= v,
    ">": lambda col, v: col > v,
    ">=": lambda col, v: col >= v,
}


def _compare(column: SQLColumnExpression[Any], op: str, value: object) -> ColumnElement[bool]:
    return _COMPARE[op](column, value)


def _tsquery(text: str) -> ColumnElement[Any]:
    # The configuration as a literal: the query is then a constant PostgreSQL folds while
    # planning, so the words' statistics choose the plan (GIN for a rare word, a walk in the
    # page's order for a common one).
    return func.websearch_to_tsquery(literal_column("'english'::regconfig"), text)


# The ticket read again by its document's id (made once: a fresh alias per search costs
# milliseconds of SQLAlchemy's column adaptation and defeats its statement cache).
_SUBJECT_OF = aliased(Ticket, name="content_subject")
_QUEUE_OF = aliased(Ticket, name="content_queue")


def _content(ctx: Context, text: str) -> ColumnElement[bool]:
    """Full text: the ticket's subject, or one of its message parts, matches `text`; a comment's
    part counts only in queues where the searcher may read comments.

    Candidates come from the ticket's documents (ticket_search, migrations 0027-0029: the words
    of its subject and parts and their adjacent pairs, and those outside comments), through GIN
    for a rare word or checked ticket by ticket as a common word's plan walks the page's order;
    a phrase's candidates must hold its pairs. For one word (or words joined by `or`, or a
    two-word phrase) the document decides; otherwise (`and`, longer phrases, negations: one part
    must hold them all) the exact rule is checked on each candidate alone."""
    query = _tsquery(text)
    needed = func.tessera_search_prefilter(query)
    allowed = _comment_queues(ctx)
    doc = TicketSearch
    words: ColumnElement[bool]
    if allowed is None:  # comments count everywhere
        words = doc.all_doc.op("@@")(needed)
    elif not allowed:  # nowhere
        words = doc.public_doc.op("@@")(needed)
    else:  # in some queues: all_doc is one GIN lookup with its own statistics, public_doc within it
        words = and_(
            doc.all_doc.op("@@")(needed),
            or_(Ticket.queue_id.in_(sorted(allowed)), doc.public_doc.op("@@")(needed)),
        )
    # The exact rule reads the ticket again by the document's id: PostgreSQL then checks it with
    # the document, on candidates only, and counts its cost there (written on the outer ticket,
    # it was costed on every ticket a plan might read, and a rare word got a scan of them all).
    this = _SUBJECT_OF
    in_subject = exists().where(this.id == doc.ticket_id, this.search_vector.op("@@")(query)).correlate(doc)
    in_part = exists().where(
        Transaction.ticket_id == doc.ticket_id,
        Attachment.transaction_id == Transaction.id,
        Attachment.search_vector.op("@@")(query),
    )
    if allowed is not None:
        readable: ColumnElement[bool] = false()
        if allowed:
            there = _QUEUE_OF
            readable = exists().where(there.id == doc.ticket_id, there.queue_id.in_(sorted(allowed)))
            readable = readable.correlate(doc)
        in_part = in_part.where(or_(Transaction.type != "Comment", readable))
    # One word, words joined by `or`, or a two-word phrase: a document holds exactly its ticket's
    # words and pairs (migrations 0028-0029), so matching it decides, unless it overflowed; other
    # queries need one part to match.
    decided = and_(func.tessera_search_doc_decides(query), not_(doc.overflow))
    exact = or_(decided, in_subject, in_part.correlate(doc))
    # A query of negations only (`-printer`) needs no word: every document passes `words`.
    # An overflowing document is incomplete: its ticket is always a candidate.
    return exists().where(doc.ticket_id == Ticket.id, or_(doc.overflow, words), exact)


def _comment_queues(ctx: Context) -> set[int] | None:
    """Queues where comments count for full text (None: everywhere)."""
    from tessera.core.search.visibility import queues_with_right

    return queues_with_right(ctx, "ShowTicketComments")
