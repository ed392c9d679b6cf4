"""Completion for the TUI's search bar: what may come next at the end of a query being typed."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tessera.core.context import Context
from tessera.core.models import CustomField, Queue, User
from tessera.core.search.compiler import FIELD_NAMES

_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|!=|<>|<=|>=|[=<>()]|[^\s()=!<>'"]+""")
_OPS = ["=", "!=", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL"]
_JOINERS = ["AND", "OR"]
LIMIT = 20


def _values(ctx: Context, field: str, prefix: str) -> list[str]:
    key = field.lower()
    session = ctx.session
    if key == "queue":
        from tessera.core.queues import list_queues

        options = [q.name for q in list_queues(ctx)]
    elif key == "status":
        from tessera.core.statuses import lifecycle_by_name

        names = {q.lifecycle for q in session.scalars(select(Queue))}
        options = ["__Active__", "__Inactive__"]
        for name in sorted(names):
            options += [s for s in lifecycle_by_name(session, name).statuses if s not in options]
    elif key in ("owner", "creator", "lastupdatedby"):
        options = [
            "Nobody",
            "__CurrentUser__",
            *session.scalars(
                select(User.name)
                .where(User.privileged.is_(True), User.disabled.is_(False))
                .order_by(User.name)
                .limit(200)
            ),
        ]
    elif key.split(".")[0] in ("requestor", "requestors", "cc", "admincc", "watcher"):
        options = [
            "__CurrentUser__",
            *session.scalars(
                select(User.email)
                .where(User.email.is_not(None), func.lower(User.email).startswith(prefix.lower()))
                .order_by(User.email)
                .limit(LIMIT)
            ),
        ]
    elif key.startswith("cf."):
        name = field[3:].strip("{}")
        cf = session.scalars(select(CustomField).where(func.lower(CustomField.name) == name.lower())).first()
        options = [o.value for o in cf.options] if cf else []
    elif key in ("created", "updated", "lastupdated", "resolved", "started", "due", "starts", "told"):
        options = ["today", "yesterday", "this week", "last week", "2 days ago", "this month"]
    else:
        options = []
    return [_quote(o) for o in options if o.lower().startswith(prefix.lower())][:LIMIT]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fields(ctx: Context) -> list[str]:
    cfs = [
        f"CF.{{{name}}}" for name in ctx.session.scalars(select(CustomField.name).order_by(CustomField.name))
    ]
    return [*FIELD_NAMES, *cfs]


def suggestions(ctx: Context, text: str) -> list[str]:
    """Candidates for the word at the end of `text` (an empty list when nothing fits)."""
    tokens = _TOKEN.findall(text)
    partial = "" if (not text or text[-1].isspace() or text[-1] in "()") else (tokens.pop() if tokens else "")
    state, field = "field", ""
    i = 0
    while i < len(tokens):
        word = tokens[i]
        upper = word.upper()
        if state == "field":
            if word == "(":
                pass
            else:
                field, state = word, "op"
        elif state == "op":
            if upper in ("NOT", "IS") and i + 1 < len(tokens) and tokens[i + 1].upper() in ("LIKE", "NOT"):
                i += 1
            state = "value"
            if upper == "IS":
                state = "value"
        elif state == "value":
            state = "joiner"
        elif state == "joiner":
            if word == ")":
                pass
            elif upper in ("AND", "OR"):
                state = "field"
        i += 1
    if state == "field":
        return [f for f in _fields(ctx) if f.lower().startswith(partial.lower())][:LIMIT]
    if state == "op":
        return [o for o in _OPS if o.lower().startswith(partial.lower())]
    if state == "value":
        return _values(ctx, field, partial.strip("'\""))
    return [j for j in _JOINERS if j.lower().startswith(partial.lower())]
