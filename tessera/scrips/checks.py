"""Checks of a scrip draft as the admin types it (pure: no database): does the template compile in
the sandbox, does it name only what exists, are the condition, action and argument known. Also the
list of conditions and actions the editor offers.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from tessera.core.errors import InvalidInput
from tessera.scrips import actions, conditions, helpers, limits, sandbox, simple
from tessera.scrips.engine import STAGES

# The names templates and expressions see (scrip_context.SharedViews.variables) and the sandbox's globals.
# Both from one registry (tessera.scrips.helpers), so the check and the dry-run agree on each name.
KNOWN_NAMES = frozenset(helpers.BY_NAME) | frozenset(sandbox.ENV.globals)
_USER = frozenset({"id", "name", "email", "real_name", "privileged"})
ATTRIBUTES: dict[str, frozenset[str]] = {
    "ticket": frozenset(
        [
            "id",
            "display_id",
            "subject",
            "status",
            "priority",
            "initial_priority",
            "final_priority",
            "time_worked",
            "time_estimated",
            "time_left",
            "created",
            "updated",
            "started",
            "resolved",
            "due",
            "starts",
            "told",
            "queue",
            "owner",
            "requestors",
            "cc",
            "admincc",
            "requestor",
            "custom_fields",
        ]
    ),
    "transaction": frozenset(
        [
            "id",
            "type",
            "field",
            "old",
            "new",
            "data",
            "created",
            "actor",
            "time_taken",
            "message",
            "content",
            "subject",
            "message_id",
            "description",
        ]
    ),
    "queue": frozenset(["id", "name", "description", "correspond_address", "comment_address", "lifecycle"]),
    "actor": _USER,
    "scrip": frozenset({"id", "description"}),
}
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a draft: where (field, 1-based line of that field's text), and what."""

    field: str
    message: str
    line: int | None = None
    severity: str = "error"

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _syntax_message(exc: TemplateSyntaxError) -> str:
    return (exc.message or str(exc)).strip().splitlines()[0]


def _names(tree: nodes.Template, field: str) -> list[Problem]:
    problems = []
    unknown = meta.find_undeclared_variables(tree) - KNOWN_NAMES
    reported: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in unknown and node.name not in reported:
            reported.add(node.name)
            known = ", ".join(sorted(n for n in KNOWN_NAMES if n != "range"))
            close = difflib.get_close_matches(node.name, KNOWN_NAMES, n=1)
            hint = f" - did you mean {close[0]}?" if close else f" (known: {known})"
            problems.append(Problem(field, f"unknown name {node.name!r}{hint}", node.lineno))
    for call in tree.find_all(nodes.Call):  # a helper called as the dry-run would refuse it
        target = call.node
        if isinstance(target, nodes.Name) and target.name in helpers.BY_NAME:
            spread = call.dyn_args is not None or call.dyn_kwargs is not None  # *args: not countable
            why = helpers.misuse(target.name, len(call.args) + len(call.kwargs))
            if why is not None and (not spread or not helpers.BY_NAME[target.name].helper):
                problems.append(Problem(field, why, call.lineno))
    for attr in tree.find_all(nodes.Getattr):
        target = attr.node
        if isinstance(target, nodes.Name) and target.name in ATTRIBUTES and target.name not in unknown:
            allowed = ATTRIBUTES[target.name]
            if attr.attr not in allowed:
                close = difflib.get_close_matches(attr.attr, allowed, n=1)
                hint = f" - did you mean {close[0]}?" if close else ""
                problems.append(
                    Problem(
                        field, f"{target.name} has no attribute {attr.attr!r}{hint}", attr.lineno, "warning"
                    )
                )
    return problems


def check_template_text(source: str, field: str = "template", kind: str = "jinja") -> list[Problem]:
    """Does it compile in the sandbox, and does it use only names that exist? Lines are 1-based.
    A Simple template (`kind`) always renders: only placeholders that are no variable are warned of
    (they would be sent as written)."""
    if str(kind).lower() == "simple":
        return [
            Problem(field, f"{{${name}}} is no Simple template variable: sent as written", line, "warning")
            for line, name in simple.unknown_placeholders(source)
        ]
    try:
        tree = sandbox.ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [Problem(field, _syntax_message(exc), exc.lineno)]
    try:
        problems = _names(tree, field)
    except TemplateSyntaxError as exc:  # found while compiling: a filter or test that does not exist
        return [Problem(field, _syntax_message(exc), exc.lineno)]
    problems.extend(Problem(field, why, line) for line, why in limits.static_problems(tree))
    problems.extend(Problem(field, why, line) for line, why in sandbox.unknown_filters_and_tests(tree))
    first = source.split("\n", 1)[0]
    if first.strip() and "{" not in first and not _HEADER.match(first):
        problems.append(
            Problem(
                field,
                "not a header line, so the whole text is the body (start with e.g. 'Subject: ...' "
                "and a blank line)",
                1,
                "warning",
            )
        )
    return sorted(problems, key=lambda p: (p.line or 0, p.severity != "error"))


def check_expression_text(source: str, field: str = "expression") -> list[Problem]:
    if not source.strip():
        return [Problem(field, "the expression is empty", 1)]
    try:
        sandbox.ENV.compile_expression(source)
    except TemplateSyntaxError as exc:
        return [Problem(field, _syntax_message(exc), exc.lineno)]
    try:
        tree = sandbox.ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError:
        return []
    bombs = [Problem(field, why, 1) for _, why in limits.static_problems(tree)]
    unknown = [Problem(field, why, 1) for _, why in sandbox.unknown_filters_and_tests(tree)]
    return _names(tree, field) + bombs + unknown


def check_draft(spec: dict[str, Any], template: dict[str, Any] | None = None) -> list[Problem]:
    """Everything the editor can tell without the database, as you type."""
    problems: list[Problem] = []
    if not str(spec.get("description") or "").strip():
        problems.append(Problem("description", "a scrip needs a description"))
    if spec.get("stage", "TransactionCreate") not in STAGES:
        problems.append(Problem("stage", f"{spec.get('stage')!r} is not a stage ({', '.join(STAGES)})"))
    condition = spec.get("condition") or {}
    if condition.get("expression") is not None and not condition.get("name"):
        problems.extend(check_expression_text(condition.get("expression") or ""))
    else:
        try:
            name = conditions.canonical_name(condition.get("name") or "")
            conditions.check_argument(name, condition.get("argument") or "")
        except InvalidInput as exc:
            problems.append(Problem("condition", exc.message))
    action = spec.get("action") or {}
    try:
        action_cls = actions.lookup(action.get("name") or "")
        problems.extend(_check_action_argument(action_cls, action.get("argument") or ""))
        if action_cls.uses_template and not spec.get("template"):
            problems.append(Problem("template", f"action {action.get('name')} needs a template"))
    except InvalidInput as exc:
        problems.append(Problem("action", exc.message))
    if template is not None:
        kind = template.get("type") or "jinja"
        problems.extend(check_template_text(template.get("content") or "", kind=kind))
    return problems


def _check_action_argument(action_cls: type[actions.ScripAction], argument: str) -> list[Problem]:
    field = "action.argument"
    if issubclass(action_cls, actions.Notify):
        words = [w.strip() for w in argument.split(",") if w.strip()]
        roles = {actions._norm_role(w) for w in words if "@" not in w}
        unknown = roles - actions.NOTIFY_ROLES - {"alwaysnotifyactor", "nevernotifyactor"}
        if unknown:
            return [
                Problem(
                    field,
                    f"unknown role(s) {', '.join(sorted(unknown))} "
                    "(Requestor, Cc, AdminCc, Owner, All, OtherRecipients)",
                )
            ]
        if not words:
            return [Problem(field, "Notify needs roles or addresses, e.g. Requestor,Cc")]
    elif action_cls is actions.SetPriority:
        try:
            int(argument.replace(" ", ""))
        except ValueError:
            return [Problem(field, f"SetPriority needs a whole number or +N/-N, not {argument!r}")]
    elif action_cls is actions.SetCustomField and "=" not in argument:
        return [Problem(field, "SetCustomField needs NAME=VALUE")]
    elif (
        issubclass(action_cls, actions.TicketChange)
        and action_cls is not actions.OpenInactive
        and not argument.strip()
    ):
        return [Problem(field, f"{action_cls.__name__} needs an argument")]
    return []


def choices() -> dict[str, list[dict[str, str]]]:
    """Built-in (and installed) conditions and actions, with what their argument means."""

    def doc(obj: Any) -> str:
        text = (getattr(obj, "__doc__", None) or "").strip()
        return " ".join(text.split())

    return {
        "conditions": [
            {"name": name, "types": ", ".join(conditions.types_of(fn)), "help": doc(fn)}
            for name, fn in conditions.registry().items()
        ],
        "actions": [
            {"name": name, "help": doc(cls), "template": "yes" if cls.uses_template else "optional"}
            for name, cls in actions.registry().items()
        ],
        "stages": [{"name": s} for s in STAGES],
    }
