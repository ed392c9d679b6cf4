"""Dry-run of `apply_lifecycle`: every check `tessera lifecycle apply` makes, nothing saved.

The TUI's lifecycle editor validates as the admin types. Running the real `apply_lifecycle` inside a
transaction that is then rolled back gives exactly its refusals and warnings (the same words as the
CLI), including the checks that need the database (maps, statuses tickets still have, names).

A refusal's message names a path (`transitions.open[2]: ...`) or, for YAML syntax, a line; `line`
is the 1-based line of the text the problem is on, when it can be found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from tessera.core.context import Context, rolled_back
from tessera.core.errors import TesseraError
from tessera.core.lifecycles.desk import forget_lifecycles
from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.store import ApplyResult, apply_lifecycle


@dataclass(frozen=True)
class LifecycleCheck:
    """What applying `text` would do: `result` when it would be accepted, else `message`."""

    name: str | None = None
    result: ApplyResult | None = None
    message: str | None = None
    problems: list[str] = field(default_factory=list)
    line: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.message is None


def refusal_line(exc: TesseraError) -> str:
    """The one-line refusal `tessera lifecycle apply` prints, without its file label."""
    problems = getattr(exc, "problems", None) or [exc.message]
    more = len(problems) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return f"{exc.message}{extra}"


def check_lifecycle(ctx: Context, text: str) -> LifecycleCheck:
    """Run `apply_lifecycle(ctx, text)` in a transaction that is rolled back; report what it said.

    Only TesseraErrors become a refusal (a permission refusal too); anything else propagates."""
    session = ctx.session
    try:
        with rolled_back(ctx):
            applied = apply_lifecycle(ctx, text)
    except TesseraError as exc:
        return LifecycleCheck(
            message=refusal_line(exc),
            problems=list(getattr(exc, "problems", None) or [exc.message]),
            line=error_line(text, exc.message) if isinstance(exc, LifecycleInvalid) else None,
        )
    finally:
        forget_lifecycles(session)  # the session's cache may hold what was rolled back
    return LifecycleCheck(name=applied.lifecycle.name, result=applied.result, warnings=list(applied.warnings))


# -- where in the text a problem is --------------------------------------------------------------

_LINE = re.compile(r"line (\d+)\b")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _path_parts(path: str) -> list[str | int] | None:
    """`transitions.open[2]` -> ['transitions', 'open', 2]; `rights["* -> *"]` -> ['rights', '* -> *']."""
    path = path.removesuffix(" (the key)")
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None or match.end() == pos:
            return None
        name, index, quoted = match.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(json.loads(quoted))
        pos = match.end()
    return parts


def _find(node: yaml.Node, parts: list[str | int]) -> int | None:
    """The line (0-based) of the deepest node of `parts` found in a composed YAML tree."""
    line = node.start_mark.line
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value).lower() == str(part).lower():
                    line = key.start_mark.line
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            return line
    return line


def error_line(text: str, message: str) -> int | None:
    """The 1-based line of `text` a refusal is about: the one it names, or where its path is."""
    head = message.split(": ", 1)[0]
    named = _LINE.match(head)
    if named:
        return int(named.group(1))
    parts = _path_parts(head)
    if not parts:
        return None
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if tree is None:
        return None
    found = _find(tree, parts)
    return None if found is None else found + 1
