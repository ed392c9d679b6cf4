"""The lifecycle model: a validated lifecycle in canonical form and its look-ups (pure).

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
from collections.abc import Mapping
from typing import Any

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

from tessera.core.lifecycles import dump
from tessera.core.lifecycles.errors import (
    LifecycleInvalid,
    TransitionForbidden,
    TransitionRefused,
    describe_value,
    key_path,
)
from tessera.core.lifecycles.rules import (
    ANY,
    CATEGORIES,
    CREATE_RIGHT,
    DELETE_RIGHT,
    DELETED,
    MODIFY_RIGHT,
    Category,
    RightCheck,
    UpdateType,
    allowed_targets,
    creation_targets,
)
from tessera.core.lifecycles.validate import canonical_definition
from tessera.core.spelling import did_you_mean


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
        return handler(canonical_definition(handler(data)))

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
                f"(top level): expected a mapping of lifecycle keys, got {describe_value(data)}"
            )
        odd = [key for key in data if not isinstance(key, str)]
        if odd:
            raise LifecycleInvalid(f"(top level): a key must be a string, got {describe_value(odd[0])}")
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
        return creation_targets(self.transitions, self.statuses)

    def can_transition(self, from_status: str | None, to_status: str) -> bool:
        """Whether the lifecycle allows the change; None or '' as from means creation."""
        to_key = self.normalize(to_status)
        if to_key is None:
            return False
        if not from_status:
            return to_key in self.creation_statuses()
        from_key = self.normalize(from_status)
        return from_key is not None and to_key in allowed_targets(self.transitions, from_key)

    def next_statuses(self, from_status: str | None, can: RightCheck | None = None) -> list[str]:
        """The statuses a ticket may move to, in menu order; with `can`, only those the actor may use."""
        if not from_status:
            targets = self.creation_statuses()
        else:
            from_key = self.normalize(from_status)
            targets = allowed_targets(self.transitions, from_key) if from_key else []
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
        if not to_status.strip():
            return self._no_status(from_status)
        valid = self.is_valid(to_status) and not (from_status and not self.is_valid(from_status))
        if valid and self.can_transition(from_status, to_status):
            return None  # (the commonest answer: no words made for it)
        head = f"lifecycle '{self.name}' does not allow {self._change_words(from_status, to_status)}"
        if not self.is_valid(to_status):
            hint = did_you_mean(to_status, [self.display(s) for s in self.statuses])
            return f"{head}: '{to_status}' is not a status of this lifecycle{hint}"
        if from_status and not self.is_valid(from_status):
            return f"{head}: the current status '{from_status}' is not a status of this lifecycle"
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
            f"{key_path('rights', rule)}: never asked: more specific rules decide every change it covers"
            for rule in self.rights
            if rule not in deciding
        )
        for other, mapping in self.maps.items():
            missing = [self.display(s) for s in self.statuses if s not in mapping]
            if missing:
                found.append(
                    f"{key_path('maps', other)}: no entry for {', '.join(missing)}; "
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
        return dump.to_yaml(self.to_dict())


# -- pydantic's shape errors, in words ---------------------------------------------------


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
            path = key_path(path, part) if path else part
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
        return f"{parent}: a key must be a string, got {describe_value(value)}{hint}"
    path = _loc_path(loc)
    if kind == "extra_forbidden":
        where = "" if len(loc) == 1 else str(loc[0])
        return f"{path}: unknown key (expected one of {', '.join(_KEYS_AT.get(where, []))})"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "literal_error":
        return f"{path}: must be respond, comment or none, not {describe_value(value)}"
    expected = {
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
    }.get(kind)
    if expected:
        return f"{path}: expected {expected}, got {describe_value(value)}"
    return f"{path}: {error['msg']}"
