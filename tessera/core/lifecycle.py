"""Lifecycles: RT's per-queue status machine, as validated data (pure: no database here).

A lifecycle is a YAML (hence also JSON) mapping with RT's keys; anything else is refused:

```yaml
name: default
initial: [new]                       # ordered; at least one
active: [open, stalled]              # ordered
inactive: [resolved, rejected, deleted]
defaults: {on_create: new, approved: open, denied: rejected,
           reminder_on_open: open, reminder_on_resolve: resolved}
transitions:                         # from -> ordered list of to
  '': [new, open, resolved]          # '' = at creation
  new: [open, stalled, resolved, rejected, deleted]
  '*': [deleted]                     # '*' = from any status (a Tessera extension)
rights:                              # "FROM -> TO" with * wildcards
  '* -> deleted': DeleteTicket
  '* -> *': ModifyTicket
actions:                             # what menus offer, in this order
  - {from: new, to: open, label: Open It, update: respond}
  - {from: '*', to: deleted, label: Delete, update: none}
maps:                                # one-way: from THIS lifecycle to the one named
  approvals: {new: new, open: open}
```

Semantics, as in RT (`lib/RT/Lifecycle.pm`) unless marked as a Tessera choice:

* Status names are 1-64 printable ASCII characters, compared case-insensitively. The category lists
  keep the spelling given (for display); everywhere else, and in every answer of this module, a
  status is its lower-case form, which is also what the database stores.
* "Active" for search and conditions (`__Active__`, RT's `IsActiveStatus`) is initial ∪ active:
  `active_set()`, `is_active_status()`. The lifecycle's own narrow "in the active list" is
  `in_active_list()`.
* Transitions: same-status is never a transition. Without a `''` key, creation allows every status
  but `deleted`. A `'*'` key (Tessera) lists statuses reachable from every status: A -> B is allowed
  when B is in `transitions[A]` or in `transitions['*']` (and B != A); `'*'` never covers creation.
* Rights: for A -> B the first of `A -> B`, `* -> B`, `A -> *`, `* -> *` wins; no hit means
  `DeleteTicket` for `-> deleted`, else `ModifyTicket`. Creation asks no transition right (RT checks
  `CreateTicket` on the queue instead), so `right_for(None, B)` is `CreateTicket`.
* Actions: for status S, entries from S plus `* -> X` entries (X != S) unless an `S -> X` entry
  exists, each only if S -> X is allowed (RT's MenuBuilder).
* Maps (Tessera's shape of RT's `__maps__`): `maps.<other>` in lifecycle A maps A's statuses to
  statuses of lifecycle `<other>`, one way; B needs its own `maps.A` for the way back. A map that
  misses some of A's statuses is a warning (tickets in those statuses cannot move); the target
  statuses are checked against the other lifecycle by `validate_maps()`.

RT only warns about a bad definition and then silently drops the bad entry; Tessera refuses it with
`LifecycleInvalid`, whose message starts with the exact path (`transitions.open[2]: ...`). A status
that cannot be reached from creation is only a warning. A valid lifecycle is held in canonical form
(status references lower-case, `on_create` filled in, `update` lower-case, rights keys as
`from -> to`), so `to_dict()`/`to_yaml()` and loading them back round-trip exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tessera.core.errors import InvalidInput, PermissionDenied

Category = Literal["initial", "active", "inactive"]
UpdateType = Literal["respond", "comment", "none"]
RightCheck = Callable[[str], bool]
"""Answers "does the actor hold this right (on this ticket)?"; lets the pure model filter per actor."""

CATEGORIES: tuple[Category, ...] = ("initial", "active", "inactive")
CREATION = ""
ANY = "*"
DELETED = "deleted"
MODIFY_RIGHT = "ModifyTicket"
DELETE_RIGHT = "DeleteTicket"
CREATE_RIGHT = "CreateTicket"
MAX_STATUS_LENGTH = 64
MAX_RIGHT_LENGTH = 25

_NO_CATEGORY = "is in no category (initial, active or inactive)"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RIGHT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class LifecycleInvalid(InvalidInput):
    """A lifecycle definition is refused; `message` is the first problem, `problems` lists them all."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class TransitionRefused(InvalidInput):
    """The lifecycle does not allow a status change (or a queue move) at all, whoever asks."""


class TransitionForbidden(PermissionDenied):
    """The lifecycle allows the status change, but the actor lacks the right it requires."""


class Action(BaseModel):
    """A named status change offered in menus; `update` says whether it opens a reply or a comment."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    label: str
    update: UpdateType = "none"

    @field_validator("update", mode="before")
    @classmethod
    def _update_any_case(cls, value: Any) -> Any:
        """RT writes `Respond`/`Comment` and leaves quick actions without one; accept all of those."""
        if value is None:
            return "none"
        return value.lower() if isinstance(value, str) else value


class Defaults(BaseModel):
    """RT's per-lifecycle default statuses (`on_merge` no longer exists in RT, so neither here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_create: str | None = None
    approved: str | None = None
    denied: str | None = None
    reminder_on_open: str | None = None
    reminder_on_resolve: str | None = None


class Lifecycle(BaseModel):
    """A validated lifecycle in canonical form, with the look-ups tickets, menus and search need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    initial: list[str] = Field(default_factory=list)
    active: list[str] = Field(default_factory=list)
    inactive: list[str] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    transitions: dict[str, list[str]] = Field(default_factory=dict)
    rights: dict[str, str] = Field(default_factory=dict)
    actions: list[Action] = Field(default_factory=list)
    maps: dict[str, dict[str, str]] = Field(default_factory=dict)

    _category: dict[str, Category] = PrivateAttr(default_factory=dict)
    _display: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _validate_and_canonicalise(
        cls, data: Any, handler: ModelWrapValidatorHandler[Lifecycle]
    ) -> Lifecycle:
        """Check shapes with pydantic, then RT's rules (raising `LifecycleInvalid`), then canonicalise."""
        if isinstance(data, Lifecycle):
            return data
        return handler(_Checker(handler(data)).canonical())

    def model_post_init(self, context: Any, /) -> None:
        """Index the categories once, lower-cased, so look-ups are case-insensitive and cheap."""
        for category in CATEGORIES:
            for status in getattr(self, category):
                self._category.setdefault(status.lower(), category)
                self._display.setdefault(status.lower(), status)

    def __hash__(self) -> int:
        """Frozen, so hashable (e.g. as a cache key): by its canonical form, consistent with `==`."""
        return hash(json.dumps(self.to_dict()))

    @classmethod
    def from_data(cls, data: Any) -> Lifecycle:
        """Validate parsed data (from YAML, JSON or the database); every refusal is `LifecycleInvalid`."""
        if not isinstance(data, Mapping):
            raise LifecycleInvalid(
                f"(top level): expected a mapping of lifecycle keys, got {_describe(data)}"
            )
        odd = [key for key in data if not isinstance(key, str)]
        if odd:
            raise LifecycleInvalid(f"(top level): a key must be a string, got {_describe(odd[0])}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = [_format_error(error) for error in exc.errors()]
            raise LifecycleInvalid(problems[0], problems) from None

    # -- statuses and categories -------------------------------------------------------------

    @property
    def statuses(self) -> tuple[str, ...]:
        """Every status, lower-case, in category order (initial, active, inactive) then list order."""
        return tuple(self._category)

    def normalize(self, status: str | None) -> str | None:
        """The stored (lower-case) form of a status typed in any case, or None if it is not one."""
        if not status:
            return None
        key = status.lower()
        return key if key in self._category else None

    def display(self, status: str) -> str:
        """The spelling the lifecycle gives a status, for people; unknown statuses come back as given."""
        return self._display.get(status.lower(), status)

    def category(self, status: str | None) -> Category | None:
        """Which list the status is in, or None when it is not a status of this lifecycle."""
        return self._category.get(status.lower()) if status else None

    def is_valid(self, status: str | None) -> bool:
        return self.category(status) is not None

    def is_initial(self, status: str | None) -> bool:
        return self.category(status) == "initial"

    def in_active_list(self, status: str | None) -> bool:
        """RT's narrow `Lifecycle::IsActive`: in the `active` list only (initial statuses excluded)."""
        return self.category(status) == "active"

    def is_active_status(self, status: str | None) -> bool:
        """RT's `IsActiveStatus` (`__Active__`, On Close, dependencies): initial or active."""
        return self.category(status) in ("initial", "active")

    def is_inactive(self, status: str | None) -> bool:
        return self.category(status) == "inactive"

    def active_set(self) -> frozenset[str]:
        """What `Status = '__Active__'` expands to for this lifecycle: initial ∪ active."""
        return frozenset(s for s, c in self._category.items() if c != "inactive")

    def inactive_set(self) -> frozenset[str]:
        """What `Status = '__Inactive__'` expands to for this lifecycle."""
        return frozenset(s for s, c in self._category.items() if c == "inactive")

    @property
    def on_create(self) -> str:
        """The status of a new ticket when none is asked for (validated to be allowed at creation)."""
        return self.defaults.on_create or self.statuses[0]

    # -- transitions and rights --------------------------------------------------------------

    def creation_statuses(self) -> list[str]:
        """Statuses a ticket may be created in: `transitions['']`, else all but `deleted`."""
        return _creation_targets(self.transitions, self.statuses)

    def can_transition(self, from_status: str | None, to_status: str) -> bool:
        """Whether the lifecycle allows the change; None or '' as from means creation."""
        to_key = self.normalize(to_status)
        if to_key is None:
            return False
        if not from_status:
            return to_key in self.creation_statuses()
        from_key = self.normalize(from_status)
        return from_key is not None and to_key in _targets(self.transitions, from_key)

    def next_statuses(self, from_status: str | None, can: RightCheck | None = None) -> list[str]:
        """The statuses a ticket may move to, in menu order; with `can`, only those the actor may use."""
        if not from_status:
            targets = self.creation_statuses()
        else:
            from_key = self.normalize(from_status)
            targets = _targets(self.transitions, from_key) if from_key else []
        if can is None:
            return targets
        return [to for to in targets if can(self.right_for(from_status, to))]

    def right_for(self, from_status: str | None, to_status: str) -> str:
        """The right a change needs: first of exact, `* -> B`, `A -> *`, `* -> *`; else RT's default."""
        if not from_status:
            return CREATE_RIGHT
        rule = self._rights_rule(from_status, to_status)
        if rule is not None:
            return self.rights[rule]
        return DELETE_RIGHT if to_status.lower() == DELETED else MODIFY_RIGHT

    def _rights_rule(self, from_status: str, to_status: str) -> str | None:
        """The `rights` key that decides A -> B, most specific first, or None."""
        a, b = from_status.lower(), to_status.lower()
        for key in (f"{a} -> {b}", f"{ANY} -> {b}", f"{a} -> {ANY}", f"{ANY} -> {ANY}"):
            if key in self.rights:
                return key
        return None

    def rights_used(self) -> list[str]:
        """The rights some allowed change asks, in first-use order: RT registers lifecycle-named rights
        (e.g. a custom `RejectTicket`) so they can be granted; the rights system can do the same."""
        used = (self.right_for(a, b) for a in self.statuses for b in self.next_statuses(a))
        return list(dict.fromkeys(used))

    def check_transition(
        self, from_status: str | None, to_status: str, can: RightCheck | None = None
    ) -> None:
        """Refuse a change the lifecycle does not allow (`TransitionRefused`), or, given `can`, one the
        actor lacks the right for (`TransitionForbidden`); the message names lifecycle, from, to, why."""
        refusal = self._refusal(from_status, to_status)
        if refusal:
            raise TransitionRefused(refusal)
        if can is not None:
            right = self.right_for(from_status, to_status)
            if not can(right):
                raise TransitionForbidden(
                    f"lifecycle '{self.name}' requires the {right} right for "
                    f"{self._change_words(from_status, to_status)}"
                )

    def _change_words(self, from_status: str | None, to_status: str) -> str:
        if not from_status:
            return f"creating a ticket as {self.display(to_status)}"
        return f"{self.display(from_status)} -> {self.display(to_status)}"

    def _refusal(self, from_status: str | None, to_status: str) -> str | None:
        """Why the lifecycle refuses the change, or None when it allows it."""
        head = f"lifecycle '{self.name}' does not allow {self._change_words(from_status, to_status)}"
        if not to_status.strip():
            return self._no_status(from_status)
        if not self.is_valid(to_status):
            return f"{head}: '{to_status}' is not a status of this lifecycle"
        if from_status and not self.is_valid(from_status):
            return f"{head}: the current status '{from_status}' is not a status of this lifecycle"
        if self.can_transition(from_status, to_status):
            return None
        if from_status and from_status.lower() == to_status.lower():
            return f"{head}: the ticket is already {self.display(to_status)}"
        allowed = ", ".join(self.display(s) for s in self.next_statuses(from_status))
        if not from_status:
            return f"{head}: at creation it allows {allowed or 'nothing'}"
        if not allowed:
            return f"{head}: nothing may follow {self.display(from_status)}"
        return f"{head}: from {self.display(from_status)} it allows {allowed}"

    def _no_status(self, from_status: str | None) -> str:
        """The refusal of an empty target (`status=`), with what the lifecycle would accept."""
        allowed = ", ".join(self.display(s) for s in self.next_statuses(from_status)) or "nothing"
        where = f"from {self.display(from_status)}" if from_status else "at creation"
        return f"lifecycle '{self.name}': no status given; {where} it allows {allowed}"

    def first_active_status(self, current: str) -> str | None:
        """RT's FirstActiveStatus (auto-open on reply): first allowed next status in the active list;
        None when there is none or the ticket already is in the first active status."""
        return self._first_next_in(current, "active")

    def first_inactive_status(self, current: str) -> str | None:
        """RT's FirstInactiveStatus (the mail `resolve` action): like `first_active_status`, inactive."""
        return self._first_next_in(current, "inactive")

    def _first_next_in(self, current: str, category: Category) -> str | None:
        members = [s.lower() for s in getattr(self, category)]
        if not members or current.lower() == members[0]:
            return None
        return next((s for s in self.next_statuses(current) if s in members), None)

    # -- actions -----------------------------------------------------------------------------

    def actions_for(self, from_status: str, can: RightCheck | None = None) -> list[Action]:
        """Menu actions for a ticket in `from_status` (RT's MenuBuilder rules); with `can`, per actor."""
        current = self.normalize(from_status)
        if current is None:
            return []
        explicit = {a.to for a in self.actions if a.from_ == current}
        offered = [
            a
            for a in self.actions
            if a.from_ == current or (a.from_ == ANY and a.to != current and a.to not in explicit)
        ]
        return [
            a
            for a in offered
            if self.can_transition(current, a.to) and (can is None or can(self.right_for(current, a.to)))
        ]

    # -- reachability and warnings -----------------------------------------------------------

    def reachable_statuses(self) -> set[str]:
        """Statuses a ticket can ever be in: reachable from creation through allowed transitions."""
        seen = set(self.creation_statuses())
        todo = list(seen)
        while todo:
            for target in self.next_statuses(todo.pop()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def warnings(self) -> list[str]:
        """Problems that do not make the lifecycle unusable: unreachable statuses, rights rules that
        more specific ones shadow, incomplete maps."""
        found: list[str] = []
        reachable = self.reachable_statuses()
        for category in CATEGORIES:
            for index, status in enumerate(getattr(self, category)):
                if status.lower() not in reachable:
                    found.append(
                        f"{category}[{index}]: status '{status}' cannot be reached: "
                        "no allowed transition leads to it from creation"
                    )
        deciding = {self._rights_rule(a, b) for a in self.statuses for b in self.next_statuses(a)}
        found.extend(
            f"{_path('rights', rule)}: never asked: more specific rules decide every change it covers"
            for rule in self.rights
            if rule not in deciding
        )
        for other, mapping in self.maps.items():
            missing = [self.display(s) for s in self.statuses if s not in mapping]
            if missing:
                found.append(
                    f"{_path('maps', other)}: no entry for {', '.join(missing)}; "
                    f"tickets in {'that status' if len(missing) == 1 else 'those statuses'} "
                    f"cannot move to lifecycle '{other}'"
                )
        return found

    # -- maps --------------------------------------------------------------------------------

    def map_status(self, status: str, to_lifecycle_name: str) -> str | None:
        """The status a ticket in `status` gets when moved to a queue of `to_lifecycle_name`, or None
        without a (complete enough) map; the same lifecycle maps every status to itself."""
        key = self.normalize(status)
        if key is None:
            return None
        if to_lifecycle_name == self.name:
            return key
        return self.maps.get(to_lifecycle_name, {}).get(key)

    def require_mapped_status(self, status: str, target: Lifecycle) -> str:
        """Like `map_status`, checked against the target lifecycle; refuses with the reason."""
        head = f"cannot move a ticket in status '{status}' from lifecycle '{self.name}' to '{target.name}'"
        if target.name == self.name:
            if not self.is_valid(status):
                raise TransitionRefused(f"{head}: '{status}' is not a status of '{self.name}'")
            return status.lower()
        if target.name not in self.maps:
            raise TransitionRefused(f"{head}: lifecycle '{self.name}' has no map to '{target.name}'")
        mapped = self.map_status(status, target.name)
        if mapped is None:
            raise TransitionRefused(f"{head}: the map {self.name} -> {target.name} has no entry for it")
        if not target.is_valid(mapped):
            raise TransitionRefused(
                f"{head}: the map sends it to '{mapped}', which '{target.name}' does not have"
            )
        return mapped

    # -- export ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-ready definition: loading it gives back an equal lifecycle."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_yaml(self) -> str:
        """The canonical definition as YAML, for `lifecycle export` and config-as-code files."""
        return yaml.dump(
            self.to_dict(), Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True, width=100
        )


class _FlowMapping(dict[str, Any]):
    """A mapping written on one line (each action), where a block would only add height."""


class _ReadableDumper(yaml.SafeDumper):
    """Block mappings, one-line lists and actions, and `'': [...]` rather than YAML's `? ''` form."""

    def check_simple_key(self) -> bool:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.value == "":
            return True
        return super().check_simple_key()

    def represent_list(self, data: Any) -> yaml.Node:
        items = [_FlowMapping(item) if isinstance(item, dict) else item for item in data]
        flow = all(not isinstance(item, dict | list) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)

    def represent_flow_mapping(self, data: Any) -> yaml.Node:
        return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_ReadableDumper.add_representer(list, _ReadableDumper.represent_list)
_ReadableDumper.add_representer(_FlowMapping, _ReadableDumper.represent_flow_mapping)


# -- loading ---------------------------------------------------------------------------------


def load_lifecycle(text: str) -> tuple[Lifecycle, list[str]]:
    """Parse and validate a YAML or JSON lifecycle; returns it with its warnings, or raises
    `LifecycleInvalid` naming the path and reason of the first problem."""
    return _with_warnings(Lifecycle.from_data(_parse_yaml(text)))


def lifecycle_from_dict(data: Mapping[str, Any]) -> Lifecycle:
    """Rebuild a lifecycle from a stored definition (e.g. the database's jsonb), validating it again."""
    return Lifecycle.from_data(data)


def validate_maps(lifecycles: Iterable[Lifecycle]) -> list[str]:
    """Cross-lifecycle checks a single file cannot make: each map's target lifecycle and statuses exist."""
    by_name = {lc.name: lc for lc in lifecycles}
    problems: list[str] = []
    for source in by_name.values():
        for other, mapping in source.maps.items():
            where = f"lifecycle '{source.name}': {_path('maps', other)}"
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


def _with_warnings(lifecycle: Lifecycle) -> tuple[Lifecycle, list[str]]:
    return lifecycle, lifecycle.warnings()


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping_once(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
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


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_once)


def _json_object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
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
            return json.loads(text, object_pairs_hook=_json_object_once)
        except json.JSONDecodeError as exc:
            json_error = exc  # maybe YAML flow style ({name: x, ...}); YAML decides
    try:
        data = yaml.load(text, Loader=_StrictLoader)
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


# -- paths and messages ----------------------------------------------------------------------


def _path(base: str, key: str) -> str:
    """`transitions.open` for plain keys, `transitions[""]` or `rights["* -> *"]` for the rest."""
    return f"{base}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{base}[{json.dumps(key)}]"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()} (YAML reads bare yes/no/on/off/true/false so: quote it)"
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{type(value).__name__} {value!r}"


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, bool):
            path += f"[{json.dumps(part)}]"
        elif isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (the key)"
        else:
            path = _path(path, part) if path else part
    return path or "(top level)"


_KEYS_AT = {
    "": list(Lifecycle.model_fields),
    "defaults": list(Defaults.model_fields),
    "actions": ["from", "to", "label", "update"],
}


def _format_error(error: ErrorDetails) -> str:
    """One pydantic error as `path: reason`, in words a person editing the file can act on."""
    loc, kind, value = error["loc"], error["type"], error.get("input")
    if loc and loc[-1] == "[key]":
        parent = _loc_path(loc[:-2])
        hint = " (the creation key is written '')" if value is None and parent == "transitions" else ""
        return f"{parent}: a key must be a string, got {_describe(value)}{hint}"
    path = _loc_path(loc)
    if kind == "extra_forbidden":
        where = "" if len(loc) == 1 else str(loc[0])
        return f"{path}: unknown key (expected one of {', '.join(_KEYS_AT.get(where, []))})"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "literal_error":
        return f"{path}: must be respond, comment or none, not {_describe(value)}"
    expected = {
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
    }.get(kind)
    if expected:
        return f"{path}: expected {expected}, got {_describe(value)}"
    return f"{path}: {error['msg']}"


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


def _targets(transitions: Mapping[str, list[str]], from_key: str) -> list[str]:
    """Allowed next statuses of an existing status: its own list, then the `'*'` list; never itself."""
    merged = dict.fromkeys([*transitions.get(from_key, []), *transitions.get(ANY, [])])
    merged.pop(from_key, None)
    return list(merged)


def _creation_targets(transitions: Mapping[str, list[str]], statuses: Iterable[str]) -> list[str]:
    if CREATION in transitions:
        return list(transitions[CREATION])
    return [s for s in statuses if s != DELETED]


# -- the semantic checks ---------------------------------------------------------------------


class _Checker:
    """RT's `ValidateLifecycle`, refusing instead of warning; builds the canonical definition."""

    def __init__(self, raw: Lifecycle) -> None:
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
            path = _path("transitions", key)
            from_key = key if key in (CREATION, ANY) else self._known(path, key)
            if from_key is None:
                continue
            if from_key in first_spelling:
                self._problem(path, f"the same status as {_path('transitions', first_spelling[from_key])}")
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
        return to_key in _targets(transitions, from_key)

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
        creatable = _creation_targets(transitions, self._statuses())
        if on_create is not None and on_create not in creatable:
            what = (
                f"status '{given}' is" if given else f"not set, and the first initial status '{on_create}' is"
            )
            allowed = ", ".join(creatable) or "nothing"
            key = _path("transitions", CREATION)
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
            path = _path("rights", key)
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
            targets = _targets(transitions, a)
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
            path = _path("maps", other)
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
            where = _path(path, status)
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
