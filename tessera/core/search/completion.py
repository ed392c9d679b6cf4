"""Completion for the TUI's search bar: what may come next at the end of a query being typed."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from tessera.core.context import Context
from tessera.core.knowable import known_fields, may_know_field
from tessera.core.models import CustomField, CustomFieldValue, Queue, Ticket, User
from tessera.core.search.fields import FIELD_NAMES
from tessera.core.search.ordering import ORDER_KEYS
from tessera.core.search.visibility import visible_filter

_TOKEN = re.compile(
    r"""(?:CF|CustomField)\.\{[^}]*\}?|'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|!=|<>|<=|>=|[=<>(),]"""
    r"""|[^\s()=!<>'",]+""",
    re.I,
)
_OPS = ["=", "!=", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL"]
_JOINERS = ["AND", "OR", "ORDER BY"]
_DATES = ["today", "yesterday", "tomorrow", "this week", "last week", "2 days ago", "this month"]
_DATE_FIELDS = ("created", "updated", "lastupdated", "resolved", "started", "due", "starts", "told")
LIMIT = 20


def _users(ctx: Context, column: Any, prefix: str, agents_only: bool) -> list[str]:
    """Names or addresses starting with `prefix`; a requestor is offered only themselves."""
    if not ctx.actor.privileged and not ctx.system:
        own = getattr(ctx.actor, "email" if column is User.email else "name", None)
        return [own] if own else []
    query = select(column).where(column.is_not(None), func.lower(column).startswith(prefix.lower()))
    if agents_only:
        query = query.where(User.privileged.is_(True), User.disabled.is_(False))
    return list(ctx.session.scalars(query.order_by(column).limit(LIMIT)))


def _custom_field_values(ctx: Context, field: str, prefix: str) -> list[str]:
    """A select field's options; a freeform field's values in use (a bounded index range)."""
    name = field.partition(".")[2].strip("{}")
    cf = ctx.session.scalars(select(CustomField).where(func.lower(CustomField.name) == name.lower())).first()
    if cf is None or not may_know_field(ctx, cf):
        return []
    if cf.type == "select":
        return [o.value for o in cf.options]
    if cf.type == "date":
        return _DATES
    if cf.type != "freeform":
        return []
    lowered = func.lower(CustomFieldValue.value)
    rows = ctx.session.scalars(
        select(CustomFieldValue.value)
        .join(Ticket, Ticket.id == CustomFieldValue.ticket_id)
        # Values in use on tickets the actor may see: a value is as private as its ticket.
        .where(CustomFieldValue.custom_field_id == cf.id, lowered >= prefix.lower(), visible_filter(ctx))
        .order_by(lowered)
        .limit(500)
    )
    return list(dict.fromkeys(rows))


def _values(ctx: Context, field: str, prefix: str) -> list[str]:
    key = field.strip("'\"").lower()
    base, _, sub = key.partition(".")
    session = ctx.session
    if key == "queue":
        from tessera.core.queues import list_queues

        options = [q.name for q in list_queues(ctx)]
    elif key == "status":
        from tessera.core.lifecycles.desk import lifecycle_by_name

        names = {q.lifecycle for q in session.scalars(select(Queue))}
        options = ["__Active__", "__Inactive__"]
        for name in sorted(names):
            options += [s for s in lifecycle_by_name(session, name).statuses if s not in options]
    elif base in ("owner", "creator", "lastupdatedby"):
        column = User.email if sub == "emailaddress" else User.real_name if sub == "realname" else User.name
        options = [*(["Nobody", "__CurrentUser__"] if not sub else []), *_users(ctx, column, prefix, True)]
    elif base in ("requestor", "requestors", "cc", "admincc", "watcher"):
        column = User.name if sub == "name" else User.real_name if sub == "realname" else User.email
        options = ["__CurrentUser__", *_users(ctx, column, prefix, False)]
    elif base in ("cf", "customfield"):
        options = _custom_field_values(ctx, field.strip("'\""), prefix)
    elif key in _DATE_FIELDS:
        options = _DATES
    elif key in ("priority", "initialpriority", "finalpriority"):
        from tessera.core import priorities

        options = [name for name, _ in priorities.names()]
    elif key == "id":
        options = ["__Bookmarked__"]
    else:
        options = []
    return [_quote(o) for o in options if o.lower().startswith(prefix.lower())][:LIMIT]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fields(ctx: Context) -> list[str]:
    """The fields, and the custom fields the actor may know (none of a queue they may not)."""
    fields = known_fields(ctx, ctx.session.scalars(select(CustomField).order_by(CustomField.name)))
    return [*FIELD_NAMES, *(f"CF.{{{cf.name}}}" for cf in fields)]


def partial_start(text: str) -> int:
    """Where the word being completed starts: a suggestion replaces `text[partial_start(text):]`.

    The word is TicketSQL's token, not the last run of non-spaces: `CF.{Asset T` and `'last we`
    hold spaces, and a bar that cut at the last space would duplicate their beginning."""
    if not text or text[-1].isspace() or text[-1] in "()":
        return len(text)
    starts = [match.start() for match in _TOKEN.finditer(text)]
    return starts[-1] if starts else len(text)


def suggestions(ctx: Context, text: str) -> list[str]:
    """Candidates for the word at the end of `text` (an empty list when nothing fits)."""
    tokens = _TOKEN.findall(text)
    partial = "" if (not text or text[-1].isspace() or text[-1] in "()") else (tokens.pop() if tokens else "")
    state, field, op = "field", "", ""
    for word in tokens:
        upper = word.upper()
        if state == "order":
            continue
        if state == "field":
            if word != "(":
                field, state, op = word, "op", ""
        elif state == "op":
            if op in ("IS", "IS NOT") and upper == "NULL":
                state = "joiner"  # IS NULL is the whole test
                continue
            op = f"{op} {upper}".strip()
            if op not in ("NOT", "IS", "IS NOT"):
                state = "value"
        elif state == "value":
            state = "joiner"
        elif state == "joiner":
            if upper in ("AND", "OR"):
                state = "field"
            elif upper == "ORDER":
                state = "order"
    if state == "order":
        keys = ["Queue", "Owner", *(k for k in FIELD_NAMES if k.lower() in ORDER_KEYS)]
        last = partial.upper() if partial else (tokens[-1].upper() if tokens else "")
        if last == "ORDER":
            return ["BY"]
        return [k for k in keys if k.lower().startswith(partial.lower())][:LIMIT]
    if state == "field":
        return [f for f in _fields(ctx) if f.lower().startswith(partial.lower())][:LIMIT]
    if state == "op":
        # After NOT: LIKE; after IS: NULL or NOT NULL; after IS NOT: NULL.
        rest = {"": _OPS, "NOT": ["LIKE"], "IS": ["NULL", "NOT NULL"], "IS NOT": ["NULL"]}[op]
        return [o for o in rest if o.lower().startswith(partial.lower())]
    if state == "value":
        if op in ("IS", "IS NOT"):
            return []
        return _values(ctx, field, partial.strip("'\""))
    return [j for j in _JOINERS if j.lower().startswith(partial.lower())]
