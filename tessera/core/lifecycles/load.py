"""The loader: a lifecycle read from YAML or JSON text, or from a stored definition.

Duplicate keys are refused (YAML and json would keep the last one silently), JSON is read as JSON
first so its errors are explained by the JSON parser, and every refusal is `LifecycleInvalid` naming
a line or a path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.model import Lifecycle


def load_lifecycle(text: str) -> tuple[Lifecycle, list[str]]:
    """Parse and validate a YAML or JSON lifecycle; returns it with its warnings, or raises
    `LifecycleInvalid` naming the path and reason of the first problem."""
    lifecycle = Lifecycle.from_data(_parse_yaml(text))
    return lifecycle, lifecycle.warnings()


def lifecycle_from_dict(data: Mapping[str, Any]) -> Lifecycle:
    """Rebuild a lifecycle from a stored definition (e.g. the database's jsonb), validating it again."""
    return Lifecycle.from_data(data)


class StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping_once(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            raise LifecycleInvalid(
                f"line {key_node.start_mark.line + 1}: key '{key}' appears twice in one mapping"
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_once)


def json_object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json keeps the last one silently)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise LifecycleInvalid(f"(document): key '{key}' appears twice in one JSON object")
        found[key] = value
    return found


def _json_problem(exc: json.JSONDecodeError) -> LifecycleInvalid:
    after_comma = exc.doc[: exc.pos].rstrip().endswith(",")
    hint = " (check the comma before it: JSON allows none after the last item)" if after_comma else ""
    return LifecycleInvalid(f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}{hint}")


def _parse_yaml(text: str) -> Any:
    """YAML, or JSON read as JSON first: valid JSON may be indented with tabs, which YAML refuses, and
    a broken JSON file is better explained by the JSON parser."""
    text = text.removeprefix("\ufeff")
    json_error: json.JSONDecodeError | None = None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=json_object_once)
        except json.JSONDecodeError as exc:
            json_error = exc  # maybe YAML flow style ({name: x, ...}); YAML decides
    try:
        data = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        if json_error is not None:
            raise _json_problem(json_error) from None
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        reason = getattr(exc, "problem", None) or str(exc)
        if "'\\t'" in reason:
            reason = "a tab character: YAML indents with spaces only"
        raise LifecycleInvalid(f"{where}: not valid YAML or JSON: {reason}") from None
    if data is None:
        raise LifecycleInvalid("(top level): the document is empty; expected a lifecycle mapping")
    return data
