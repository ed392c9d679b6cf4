"""The validator: RT's `ValidateLifecycle` rules, refusing instead of warning (pure: no database).

`canonical_definition()` checks a definition pydantic has already shaped (names, categories,
transitions, defaults, rights, actions, maps) and returns its canonical form, or raises
`LifecycleInvalid` with every problem found; `validate_maps()` makes the checks across lifecycles a
single file cannot make. It reads definitions through the protocols below, so the model can use it
without the validator depending on the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tessera.core.lifecycles.errors import LifecycleInvalid, key_path
from tessera.core.lifecycles.rules import (
    ANY,
    CATEGORIES,
    CREATION,
    MAX_RIGHT_LENGTH,
    MAX_STATUS_LENGTH,
    allowed_targets,
    creation_targets,
)

_NO_CATEGORY = "is in no category (initial, active or inactive)"
_RIGHT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class RawAction(Protocol):
    """An action as pydantic shaped it, before the rules are checked."""

    @property
    def from_(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def update(self) -> str: ...


class RawDefaults(Protocol):
    @property
    def on_create(self) -> str | None: ...
    def model_dump(self, *, exclude_none: bool) -> dict[str, Any]: ...


class RawDefinition(Protocol):
    """A lifecycle definition as pydantic shaped it, before the rules are checked."""

    @property
    def name(self) -> str: ...
    @property
    def initial(self) -> list[str]: ...
    @property
    def active(self) -> list[str]: ...
    @property
    def inactive(self) -> list[str]: ...
    @property
    def defaults(self) -> RawDefaults: ...
    @property
    def transitions(self) -> dict[str, list[str]]: ...
    @property
    def rights(self) -> dict[str, str]: ...
    @property
    def actions(self) -> Sequence[RawAction]: ...
    @property
    def maps(self) -> dict[str, dict[str, str]]: ...


class MappedLifecycle(Protocol):
    """What `validate_maps` needs of a lifecycle."""

    @property
    def name(self) -> str: ...
    @property
    def maps(self) -> dict[str, dict[str, str]]: ...
    def is_valid(self, status: str | None) -> bool: ...


def canonical_definition(raw: RawDefinition) -> dict[str, Any]:
    """Check every rule on a shaped definition; its canonical form, or `LifecycleInvalid` with all
    the problems found (the first one as the message)."""
    return _Checker(raw).canonical()


def validate_maps(lifecycles: Iterable[MappedLifecycle]) -> list[str]:
    """Cross-lifecycle checks a single file cannot make: each map's target lifecycle and statuses exist."""
    by_name = {lc.name: lc for lc in lifecycles}
    problems: list[str] = []
    for source in by_name.values():
        for other, mapping in source.maps.items():
            where = f"lifecycle '{source.name}': {key_path('maps', other)}"
            target = by_name.get(other)
            if target is None:
                problems.append(f"{where}: there is no lifecycle named '{other}'")
                continue
            problems.extend(
                f"{where}.{status}: '{mapped}' is not a status of lifecycle '{other}'"
                for status, mapped in mapping.items()
                if not target.is_valid(mapped)
            )
    return problems


def _status_name_problem(name: str) -> str | None:
    """Why `name` cannot be a status name (RT: 1-64 ASCII characters), or None."""
    if not name:
        return "a status name cannot be empty"
    if name != name.strip():
        return f"status '{name}' has spaces around it"
    if name == ANY:
        return "'*' cannot be a status name"
    if "->" in name:
        return f"status '{name}' contains '->', which rights and maps use as a separator"
    if not (name.isascii() and name.isprintable()):
        return f"status '{name}' must be printable ASCII"
    if len(name) > MAX_STATUS_LENGTH:
        return f"status '{name}' is longer than {MAX_STATUS_LENGTH} characters"
    return None


def _lifecycle_name_problem(name: str) -> str | None:
    if not name or name != name.strip():
        return "a lifecycle name must be non-empty, without spaces around it"
    if "->" in name or not name.isprintable() or len(name) > MAX_STATUS_LENGTH:
        return (
            f"lifecycle name '{name}' must be at most {MAX_STATUS_LENGTH} printable characters, without '->'"
        )
    return None


def _right_name_problem(right: str) -> str | None:
    if len(right) <= MAX_RIGHT_LENGTH and _RIGHT_NAME.fullmatch(right):
        return None
    return (
        f"right name '{right}' must be 1-{MAX_RIGHT_LENGTH} ASCII letters, digits or underscores, "
        "starting with a letter"
    )


class _Checker:
    """RT's `ValidateLifecycle`, refusing instead of warning; builds the canonical definition."""

    def __init__(self, raw: RawDefinition) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.category: dict[str, str] = {}

    def canonical(self) -> dict[str, Any]:
        """Run every check, then raise the problems found or return the canonical definition."""
        self._check_name()
        self._check_categories()
        transitions = self._check_transitions()
        defaults = self._check_defaults(transitions)
        rights = self._check_rights(transitions)
        actions = self._check_actions(transitions)
        maps = self._check_maps()
        if self.problems:
            raise LifecycleInvalid(self.problems[0], self.problems)
        return {
            "name": self.raw.name,
            "initial": self.raw.initial,
            "active": self.raw.active,
            "inactive": self.raw.inactive,
            "defaults": defaults,
            "transitions": self._in_status_order(transitions),
            "rights": self._rights_in_lookup_order(rights),
            "actions": actions,
            "maps": {other: self._in_status_order(maps[other]) for other in sorted(maps)},
        }

    def _rank(self, key: str) -> int:
        """Position of a from/to key: '' first, then statuses in category order, then '*'."""
        order = self._statuses()
        return -1 if key == CREATION else (len(order) if key == ANY else order.index(key))

    def _in_status_order(self, mapping: dict[str, Any]) -> dict[str, Any]:
        """Keys in one order whatever the input's (or jsonb's, which reorders keys) was."""
        return {key: mapping[key] for key in sorted(mapping, key=self._rank)}

    def _rights_in_lookup_order(self, rights: dict[str, str]) -> dict[str, str]:
        """Rights keys as the look-up tries them: exact, `* -> B`, `A -> *`, `* -> *`."""

        def order(key: str) -> tuple[int, int, int]:
            a, b = key.split(" -> ")
            return ((a == ANY) + 2 * (b == ANY), self._rank(a), self._rank(b))

        return {key: rights[key] for key in sorted(rights, key=order)}

    def _problem(self, path: str, reason: str) -> None:
        self.problems.append(f"{path}: {reason}")

    def _known(self, path: str, status: str) -> str | None:
        """The lower-case status if it is in a category; otherwise record why not."""
        key = status.lower()
        if key in self.category:
            return key
        if status == ANY:
            self._problem(path, "'*' is not allowed here; name a status")
        else:
            self._problem(path, f"status '{status}' {_NO_CATEGORY}")
        return None

    def _check_name(self) -> None:
        problem = _lifecycle_name_problem(self.raw.name)
        if problem:
            self._problem("name", problem)

    def _check_categories(self) -> None:
        for category in CATEGORIES:
            for index, status in enumerate(getattr(self.raw, category)):
                path = f"{category}[{index}]"
                problem = _status_name_problem(status)
                earlier = self.category.get(status.lower())
                if problem:
                    self._problem(path, problem)
                elif earlier == category:
                    self._problem(path, f"status '{status}' is listed twice in {category}")
                elif earlier:
                    self._problem(path, f"status '{status}' is in two categories ({earlier} and {category})")
                else:
                    self.category[status.lower()] = category
        if not self.raw.initial:
            self._problem("initial", "a lifecycle needs at least one initial status")

    def _check_transitions(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        first_spelling: dict[str, str] = {}
        for key, targets in self.raw.transitions.items():
            path = key_path("transitions", key)
            from_key = key if key in (CREATION, ANY) else self._known(path, key)
            if from_key is None:
                continue
            if from_key in first_spelling:
                self._problem(path, f"the same status as {key_path('transitions', first_spelling[from_key])}")
                continue
            first_spelling[from_key] = key
            result[from_key] = self._check_targets(path, from_key, targets)
        return result

    def _check_targets(self, path: str, from_key: str, targets: list[str]) -> list[str]:
        checked: list[str] = []
        for index, target in enumerate(targets):
            where = f"{path}[{index}]"
            to_key = self._known(where, target)
            if to_key is None:
                continue
            if to_key == from_key:
                self._problem(where, f"'{target}' is the status it moves from; staying is not a transition")
            elif to_key in checked:
                self._problem(where, f"status '{target}' is listed twice")
            else:
                checked.append(to_key)
        return checked

    def _statuses(self) -> list[str]:
        return list(self.category)

    def _allowed(self, transitions: dict[str, list[str]], from_key: str, to_key: str) -> bool:
        return to_key in allowed_targets(transitions, from_key)

    def _check_defaults(self, transitions: dict[str, list[str]]) -> dict[str, str]:
        result: dict[str, str] = {}
        for field, value in self.raw.defaults.model_dump(exclude_none=True).items():
            key = self._known(f"defaults.{field}", value)
            if key is not None:
                result[field] = key
        given = self.raw.defaults.on_create
        if given is None and self.raw.initial:
            result["on_create"] = self.raw.initial[0].lower()
        on_create = result.get("on_create")
        creatable = creation_targets(transitions, self._statuses())
        if on_create is not None and on_create not in creatable:
            what = (
                f"status '{given}' is" if given else f"not set, and the first initial status '{on_create}' is"
            )
            allowed = ", ".join(creatable) or "nothing"
            key = key_path("transitions", CREATION)
            rule = (
                f"{key} allows {allowed}"
                if CREATION in transitions
                else f"without a {key} entry creation allows all but deleted: {allowed}"
            )
            self._problem("defaults.on_create", f"{what} not allowed at creation ({rule})")
        return result

    def _check_rights(self, transitions: dict[str, list[str]]) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, right in self.raw.rights.items():
            path = key_path("rights", key)
            parsed = self._parse_right_key(path, key)
            if parsed is None:
                continue
            canonical = f"{parsed[0]} -> {parsed[1]}"
            problem = _right_name_problem(right)
            if problem:
                self._problem(path, problem)
            elif canonical in result:
                self._problem(path, f"the same transitions as an earlier rule ('{canonical}')")
            elif not self._right_matches(transitions, *parsed):
                self._problem(
                    path, f"no allowed transition matches {canonical}, so this right is never asked"
                )
            else:
                result[canonical] = right
        return result

    def _parse_right_key(self, path: str, key: str) -> tuple[str, str] | None:
        parts = [part.strip() for part in key.split("->")]
        if len(parts) != 2 or not all(parts):
            self._problem(path, "a rights key must look like 'FROM -> TO' (a status or * on each side)")
            return None
        ends = [part if part == ANY else self._known(path, part) for part in parts]
        if ends[0] is None or ends[1] is None:
            return None
        return ends[0], ends[1]

    def _right_matches(self, transitions: dict[str, list[str]], from_key: str, to_key: str) -> bool:
        """Whether a rights rule covers at least one allowed change (creation never asks one)."""
        froms = self._statuses() if from_key == ANY else [from_key]
        for a in froms:
            targets = allowed_targets(transitions, a)
            if targets and (to_key == ANY or to_key in targets):
                return True
        return False

    def _check_actions(self, transitions: dict[str, list[str]]) -> list[dict[str, str]]:
        result: list[dict[str, str]] = []
        for index, action in enumerate(self.raw.actions):
            path = f"actions[{index}]"
            from_key = ANY if action.from_ == ANY else self._known(f"{path}.from", action.from_)
            to_key = self._known(f"{path}.to", action.to)
            if not action.label.strip():
                self._problem(f"{path}.label", "an action needs a label")
            elif (
                from_key is not None
                and to_key is not None
                and self._action_allowed(path, transitions, from_key, to_key)
            ):
                result.append(
                    {"from": from_key, "to": to_key, "label": action.label, "update": action.update}
                )
        return result

    def _action_allowed(
        self, path: str, transitions: dict[str, list[str]], from_key: str, to_key: str
    ) -> bool:
        if from_key == ANY:
            if any(self._allowed(transitions, a, to_key) for a in self._statuses()):
                return True
            self._problem(
                path, f"no status may move to {to_key}, so the action * -> {to_key} is never offered"
            )
            return False
        if self._allowed(transitions, from_key, to_key):
            return True
        if from_key == to_key:
            self._problem(path, f"{from_key} -> {to_key} stays in the same status, which is not a transition")
        else:
            self._problem(path, f"the transition {from_key} -> {to_key} is not allowed by transitions")
        return False

    def _check_maps(self) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for other, mapping in self.raw.maps.items():
            path = key_path("maps", other)
            problem = _lifecycle_name_problem(other)
            if problem:
                self._problem(path, problem)
            elif other == self.raw.name:
                self._problem(path, "a lifecycle needs no map to itself")
            elif not mapping:
                self._problem(path, "a map needs at least one status")
            else:
                result[other] = self._check_map_entries(path, mapping)
        return result

    def _check_map_entries(self, path: str, mapping: dict[str, str]) -> dict[str, str]:
        entries: dict[str, str] = {}
        for status, mapped in mapping.items():
            where = key_path(path, status)
            key = self._known(where, status)
            problem = _status_name_problem(mapped)
            if key is None:
                continue
            if problem:
                self._problem(where, problem)
            elif key in entries:
                self._problem(where, f"status '{status}' is mapped twice")
            else:
                entries[key] = mapped.lower()
        return entries
