"""The pure lifecycle model: RT's semantics, Tessera's extensions, refusals with exact paths.

No database here: these tests pin down the rules every interface relies on through the core.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.lifecycles.builtin import (
    APPROVALS_DEFINITION,
    builtin_definition,
    builtin_lifecycle,
    builtin_lifecycles,
)
from tessera.core.lifecycles.errors import LifecycleInvalid, TransitionForbidden, TransitionRefused
from tessera.core.lifecycles.load import lifecycle_from_dict, load_lifecycle
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.lifecycles.validate import validate_maps

# RT's test-suite variant of `default` (t/lifecycles/utils.pl): most statuses only lead back to open.
STRICT_YAML = """
name: strict
initial: [new]
active: [open, stalled]
inactive: [resolved, rejected, deleted]
transitions:
  '': [new, open, resolved]
  new: [open, resolved, rejected, deleted]
  open: [stalled, resolved, rejected, deleted]
  stalled: [open]
  resolved: [open]
  rejected: [open]
  deleted: [open]
"""

# Mixed case, no '' key (creation: all but deleted), a '*' key, every kind of rights rule, actions.
WILD_YAML = """
name: wild
initial: [New]
active: [Open, Waiting]
inactive: [Done, deleted]
transitions:
  New: [Open]
  Open: [Waiting, Done]
  Waiting: [Open, Done]
  '*': [deleted, Open]
rights:
  'Open -> Done': ResolveTicket
  '* -> done': CloseTicket
  '  waiting->*  ': NudgeTicket
  '* -> *': WorkTicket
actions:
  - {from: '*', to: deleted, label: Delete}
  - {from: open, to: deleted, label: Trash, update: Comment}
  - {from: '*', to: open, label: Reopen, update: Respond}
  - {from: open, to: done, label: Done, update: comment}
  - {from: open, to: done, label: Quick done}
maps:
  default: {New: new, open: open, waiting: stalled, done: resolved}
"""

DEFAULT = builtin_lifecycle("default")
STRICT, _ = load_lifecycle(STRICT_YAML)
WILD, WILD_WARNINGS = load_lifecycle(WILD_YAML)
NO_RIGHTS = lifecycle_from_dict({"name": "bare", "initial": ["new"], "inactive": ["deleted"]})
LIFECYCLES = {lc.name: lc for lc in (DEFAULT, STRICT, WILD, NO_RIGHTS)}


def minimal(**changes: Any) -> dict[str, Any]:
    """A small valid definition to break one piece at a time."""
    data: dict[str, Any] = {
        "name": "mini",
        "initial": ["new"],
        "active": ["open"],
        "inactive": ["closed"],
        "transitions": {"": ["new"], "new": ["open"], "open": ["closed"], "closed": ["open"]},
    }
    data.update(changes)
    return data


# -- the table -------------------------------------------------------------------------------

TRANSITIONS = [
    # (lifecycle, from, to, allowed)
    ("default", None, "new", True),
    ("default", None, "open", True),
    ("default", None, "resolved", True),
    ("default", None, "stalled", False),
    ("default", "", "deleted", False),
    ("default", "open", "new", True),
    ("default", "deleted", "rejected", True),
    ("default", "open", "open", False),
    ("default", "open", "bogus", False),
    ("default", "bogus", "open", False),
    ("default", "OPEN", "Stalled", True),
    ("strict", "stalled", "resolved", False),
    ("strict", "resolved", "open", True),
    ("strict", "new", "stalled", False),
    ("strict", "open", "new", False),
    ("wild", None, "waiting", True),
    ("wild", None, "done", True),
    ("wild", None, "deleted", False),
    ("wild", "new", "open", True),
    ("wild", "new", "waiting", False),
    ("wild", "done", "deleted", True),
    ("wild", "done", "open", True),
    ("wild", "deleted", "open", True),
    ("wild", "deleted", "deleted", False),
    ("wild", "open", "open", False),
    ("wild", "new", "done", False),
    ("bare", None, "deleted", False),
    ("bare", "new", "deleted", False),
]


@pytest.mark.parametrize(("name", "from_status", "to_status", "allowed"), TRANSITIONS)
def test_can_transition(name: str, from_status: str | None, to_status: str, allowed: bool) -> None:
    lifecycle = LIFECYCLES[name]
    assert lifecycle.can_transition(from_status, to_status) is allowed
    if allowed:
        lifecycle.check_transition(from_status, to_status)
    else:
        with pytest.raises(TransitionRefused, match=f"^lifecycle '{name}' does not allow "):
            lifecycle.check_transition(from_status, to_status)


NEXT_STATUSES = [
    ("default", None, ["new", "open", "resolved"]),
    ("default", "stalled", ["new", "open", "resolved", "rejected", "deleted"]),
    ("strict", "deleted", ["open"]),
    ("wild", None, ["new", "open", "waiting", "done"]),
    ("wild", "new", ["open", "deleted"]),
    ("wild", "Open", ["waiting", "done", "deleted"]),
    ("wild", "deleted", ["open"]),
    ("bare", "new", []),
]


@pytest.mark.parametrize(("name", "from_status", "expected"), NEXT_STATUSES)
def test_next_statuses_keep_their_order(name: str, from_status: str | None, expected: list[str]) -> None:
    assert LIFECYCLES[name].next_statuses(from_status) == expected


RIGHTS = [
    ("default", "open", "deleted", "DeleteTicket"),
    ("default", "open", "resolved", "ModifyTicket"),
    ("default", None, "open", "CreateTicket"),
    ("wild", "open", "done", "ResolveTicket"),  # exact beats * -> B
    ("wild", "OPEN", "Done", "ResolveTicket"),  # case-insensitive
    ("wild", "waiting", "done", "CloseTicket"),  # * -> B beats A -> *
    ("wild", "waiting", "open", "NudgeTicket"),  # A -> * beats * -> *
    ("wild", "new", "open", "WorkTicket"),  # * -> * last
    ("wild", "open", "deleted", "WorkTicket"),  # * -> * also covers deleted
    ("bare", "new", "deleted", "DeleteTicket"),  # no rule: RT's defaults
    ("bare", "deleted", "new", "ModifyTicket"),
]


@pytest.mark.parametrize(("name", "from_status", "to_status", "right"), RIGHTS)
def test_right_lookup_precedence(name: str, from_status: str | None, to_status: str, right: str) -> None:
    assert LIFECYCLES[name].right_for(from_status, to_status) == right


ACTIONS = [
    ("default", "new", ["Open It", "Resolve", "Reject", "Delete"]),
    ("default", "stalled", ["Open It"]),
    ("default", "deleted", ["Undelete"]),
    ("wild", "new", ["Delete", "Reopen"]),
    ("wild", "open", ["Trash", "Done", "Quick done"]),  # explicit open -> deleted hides * -> deleted
    ("wild", "waiting", ["Delete", "Reopen"]),
    ("wild", "deleted", ["Reopen"]),  # * -> deleted is not offered in deleted
    ("wild", "nonsense", []),
]


@pytest.mark.parametrize(("name", "status", "labels"), ACTIONS)
def test_actions_for(name: str, status: str, labels: list[str]) -> None:
    assert [a.label for a in LIFECYCLES[name].actions_for(status)] == labels


MAPS = [
    ("wild", "Waiting", "default", "stalled"),
    ("wild", "new", "default", "new"),
    ("wild", "deleted", "default", None),  # incomplete map
    ("wild", "open", "strict", None),  # no map at all
    ("wild", "open", "wild", "open"),  # same lifecycle
    ("default", "open", "wild", None),  # maps are one-way
]


@pytest.mark.parametrize(("name", "status", "target", "expected"), MAPS)
def test_map_status(name: str, status: str, target: str, expected: str | None) -> None:
    assert LIFECYCLES[name].map_status(status, target) == expected


INVALID = [
    (minimal(initial=[]), "initial: a lifecycle needs at least one initial status"),
    (
        minimal(inactive=["closed", "Open"]),
        "inactive[1]: status 'Open' is in two categories (active and inactive)",
    ),
    (minimal(active=["open", "OPEN"]), "active[1]: status 'OPEN' is listed twice in active"),
    (minimal(active=["*"]), "active[0]: '*' cannot be a status name"),
    (
        minimal(active=["a -> b"]),
        "active[0]: status 'a -> b' contains '->', which rights and maps use as a separator",
    ),
    (minimal(active=[" open"]), "active[0]: status ' open' has spaces around it"),
    (minimal(active=["x" * 65]), f"active[0]: status '{'x' * 65}' is longer than 64 characters"),
    (minimal(active=["öffen"]), "active[0]: status 'öffen' must be printable ASCII"),
    (
        minimal(transitions={"open": ["new", "closd"]}),
        "transitions.open[1]: status 'closd' is in no category (initial, active or inactive)",
    ),
    (
        minimal(transitions={"reopened": ["open"]}),
        "transitions.reopened: status 'reopened' is in no category (initial, active or inactive)",
    ),
    (
        minimal(transitions={"": ["new", "gone"]}),
        "transitions[\"\"][1]: status 'gone' is in no category (initial, active or inactive)",
    ),
    (
        minimal(transitions={"*": ["*"]}),
        "transitions[\"*\"][0]: '*' is not allowed here; name a status",
    ),
    (
        minimal(transitions={"open": ["open"]}),
        "transitions.open[0]: 'open' is the status it moves from; staying is not a transition",
    ),
    (minimal(transitions={"open": ["new", "New"]}), "transitions.open[1]: status 'New' is listed twice"),
    (
        minimal(transitions={"open": ["new"], "Open": ["closed"]}),
        "transitions.Open: the same status as transitions.open",
    ),
    (
        minimal(defaults={"on_create": "opne"}),
        "defaults.on_create: status 'opne' is in no category (initial, active or inactive)",
    ),
    (
        minimal(defaults={"on_create": "open"}),
        "defaults.on_create: status 'open' is not allowed at creation (transitions[\"\"] allows new)",
    ),
    (
        minimal(transitions={"": ["open"]}),
        "defaults.on_create: not set, and the first initial status 'new' is not allowed at creation "
        '(transitions[""] allows open)',
    ),
    (
        minimal(defaults={"on_merge": "closed"}),
        "defaults.on_merge: unknown key (expected one of on_create, approved, denied, reminder_on_open, "
        "reminder_on_resolve)",
    ),
    (
        minimal(rights={"closed -> new": "ModifyTicket"}),
        'rights["closed -> new"]: no allowed transition matches closed -> new, so this right is never asked',
    ),
    (
        minimal(rights={"* -> nope": "X"}),
        "rights[\"* -> nope\"]: status 'nope' is in no category (initial, active or inactive)",
    ),
    (
        minimal(rights={"open": "ModifyTicket"}),
        "rights.open: a rights key must look like 'FROM -> TO' (a status or * on each side)",
    ),
    (
        minimal(rights={"* -> *": "Modify Ticket"}),
        "rights[\"* -> *\"]: right name 'Modify Ticket' must be 1-25 ASCII letters, digits or "
        "underscores, starting with a letter",
    ),
    (
        minimal(rights={"* -> *": "A" * 26}),
        f"rights[\"* -> *\"]: right name '{'A' * 26}' must be 1-25 ASCII letters, digits or "
        "underscores, starting with a letter",
    ),
    (
        minimal(rights={"open -> *": "A", "OPEN->*": "B"}),
        "rights[\"OPEN->*\"]: the same transitions as an earlier rule ('open -> *')",
    ),
    (
        minimal(actions=[{"from": "closed", "to": "new", "label": "Renew"}]),
        "actions[0]: the transition closed -> new is not allowed by transitions",
    ),
    (
        minimal(actions=[{"from": "*", "to": "new", "label": "Renew"}]),
        "actions[0]: no status may move to new, so the action * -> new is never offered",
    ),
    (
        minimal(actions=[{"from": "open", "to": "closed", "label": "Close", "update": "reply"}]),
        "actions[0].update: must be respond, comment or none, not 'reply'",
    ),
    (
        minimal(actions=[{"from": "open", "to": "closed"}]),
        "actions[0].label: required key is missing",
    ),
    (
        minimal(actions=[{"from": "open", "to": "closed", "label": "Close", "when": "now"}]),
        "actions[0].when: unknown key (expected one of from, to, label, update)",
    ),
    (
        minimal(actions=[{"from": "open", "to": "*", "label": "Anything"}]),
        "actions[0].to: '*' is not allowed here; name a status",
    ),
    (
        minimal(on_merge="closed"),
        "on_merge: unknown key (expected one of name, initial, active, inactive, defaults, transitions, "
        "rights, actions, maps)",
    ),
    (
        minimal(active=[True]),
        "active[0]: expected a string, got the boolean true (YAML reads bare "
        "yes/no/on/off/true/false so: quote it)",
    ),
    (minimal(transitions=["new"]), "transitions: expected a mapping, got a list"),
    (minimal(name=""), "name: a lifecycle name must be non-empty, without spaces around it"),
    (minimal(maps={"other": {}}), "maps.other: a map needs at least one status"),
    (minimal(maps={"mini": {"new": "new"}}), "maps.mini: a lifecycle needs no map to itself"),
    (
        minimal(maps={"other": {"neu": "new"}}),
        "maps.other.neu: status 'neu' is in no category (initial, active or inactive)",
    ),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_invalid_definitions_are_refused_with_path_and_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(LifecycleInvalid) as refused:
        lifecycle_from_dict(data)
    assert refused.value.message == message
    assert isinstance(refused.value, InvalidInput)


# -- loading, messages, warnings --------------------------------------------------------------


def test_every_problem_is_listed_not_only_the_first() -> None:
    data = minimal(transitions={"open": ["nope"], "gone": []}, rights={"x": "Y"})
    with pytest.raises(LifecycleInvalid) as refused:
        lifecycle_from_dict(data)
    assert len(refused.value.problems) == 3
    assert refused.value.message == refused.value.problems[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ninitial: [new]\ninitial: [open]\n", "line 3: key 'initial' appears twice in one mapping"),
        ("", "(top level): the document is empty; expected a lifecycle mapping"),
        ("- new\n- open\n", "(top level): expected a mapping of lifecycle keys, got a list"),
        (
            "name: [x\n",
            "line 2, column 1: not valid YAML or JSON: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_unreadable_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(LifecycleInvalid) as refused:
        load_lifecycle(text)
    assert refused.value.message == message


def test_json_is_accepted() -> None:
    lifecycle, warnings = load_lifecycle(json.dumps(minimal()))
    assert lifecycle.name == "mini" and warnings == []


def test_unreachable_status_is_a_warning_not_an_error() -> None:
    data = minimal(inactive=["closed", "archived"])
    lifecycle, warnings = load_lifecycle(json.dumps(data))
    assert lifecycle.is_valid("archived")
    assert warnings == [
        "inactive[1]: status 'archived' cannot be reached: no allowed transition leads to it from creation"
    ]


def test_shadowed_rights_rule_is_a_warning() -> None:
    rules = {"new -> open": "OpenTicket", "closed -> open": "ReopenTicket", "* -> open": "MoveTicket"}
    data = minimal(rights=rules)
    _, warnings = load_lifecycle(json.dumps(data))
    assert warnings == ['rights["* -> open"]: never asked: more specific rules decide every change it covers']


def test_incomplete_map_is_a_warning() -> None:
    assert WILD_WARNINGS == [
        "maps.default: no entry for deleted; tickets in that status cannot move to lifecycle 'default'"
    ]


REFUSALS = [
    (
        STRICT,
        "stalled",
        "resolved",
        "lifecycle 'strict' does not allow stalled -> resolved: from stalled it allows open",
    ),
    (
        DEFAULT,
        None,
        "stalled",
        "lifecycle 'default' does not allow creating a ticket as stalled: "
        "at creation it allows new, open, resolved",
    ),
    (DEFAULT, "open", "open", "lifecycle 'default' does not allow open -> open: the ticket is already open"),
    (
        DEFAULT,
        "open",
        "closed",
        "lifecycle 'default' does not allow open -> closed: 'closed' is not a status of this lifecycle",
    ),
    (
        DEFAULT,
        "gone",
        "open",
        "lifecycle 'default' does not allow gone -> open: the current status 'gone' is not a status of this "
        "lifecycle",
    ),
    (NO_RIGHTS, "new", "deleted", "lifecycle 'bare' does not allow new -> deleted: nothing may follow new"),
    (
        WILD,
        "new",
        "waiting",
        "lifecycle 'wild' does not allow New -> Waiting: from New it allows Open, deleted",
    ),
]


@pytest.mark.parametrize(("lifecycle", "from_status", "to_status", "message"), REFUSALS)
def test_refusal_messages_name_lifecycle_from_to_and_why(
    lifecycle: Lifecycle, from_status: str | None, to_status: str, message: str
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.check_transition(from_status, to_status)
    assert refused.value.message == message


def test_the_table_is_big_enough() -> None:
    tables = (TRANSITIONS, NEXT_STATUSES, RIGHTS, ACTIONS, MAPS, INVALID, REFUSALS)
    assert sum(len(t) for t in tables) >= 40


def test_missing_right_is_a_permission_error() -> None:
    with pytest.raises(TransitionForbidden) as refused:
        DEFAULT.check_transition("open", "deleted", can=lambda right: right == "ModifyTicket")
    assert isinstance(refused.value, PermissionDenied)
    assert refused.value.message == "lifecycle 'default' requires the DeleteTicket right for open -> deleted"
    DEFAULT.check_transition("open", "resolved", can=lambda right: right == "ModifyTicket")


def test_rights_used_are_those_some_change_asks() -> None:
    assert DEFAULT.rights_used() == ["ModifyTicket", "DeleteTicket"]
    assert WILD.rights_used() == ["WorkTicket", "ResolveTicket", "NudgeTicket", "CloseTicket"]
    assert NO_RIGHTS.rights_used() == []


def test_actor_filters_next_statuses_and_actions() -> None:
    def only_modify(right: str) -> bool:
        return right == "ModifyTicket"

    assert DEFAULT.next_statuses("open", only_modify) == ["new", "stalled", "resolved", "rejected"]
    assert [a.label for a in DEFAULT.actions_for("new", only_modify)] == ["Open It", "Resolve", "Reject"]
    assert DEFAULT.next_statuses(None, only_modify) == []  # creation needs CreateTicket


def test_categories_and_status_sets() -> None:
    assert [DEFAULT.category(s) for s in ("New", "open", "resolved", "gone", None)] == [
        "initial",
        "active",
        "inactive",
        None,
        None,
    ]
    assert DEFAULT.active_set() == {"new", "open", "stalled"}
    assert DEFAULT.inactive_set() == {"resolved", "rejected", "deleted"}
    assert DEFAULT.is_active_status("new") and not DEFAULT.in_active_list("new")
    assert DEFAULT.in_active_list("stalled") and DEFAULT.is_inactive("deleted")
    assert WILD.statuses == ("new", "open", "waiting", "done", "deleted")
    assert WILD.display("WAITING") == "Waiting" and WILD.normalize("DONE") == "done"
    assert WILD.normalize("gone") is None


def test_on_create_defaults_to_the_first_initial_status() -> None:
    assert WILD.on_create == "new"
    assert WILD.defaults.on_create == "new"
    assert lifecycle_from_dict(minimal(defaults={"on_create": "NEW"})).on_create == "new"


def test_first_active_and_inactive_status() -> None:
    assert DEFAULT.first_active_status("new") == "open"
    assert DEFAULT.first_active_status("open") is None  # already the first active status
    assert DEFAULT.first_active_status("stalled") == "open"
    assert DEFAULT.first_inactive_status("open") == "resolved"
    assert STRICT.first_inactive_status("stalled") is None


def test_require_mapped_status_explains_refusals() -> None:
    assert WILD.require_mapped_status("Waiting", DEFAULT) == "stalled"
    with pytest.raises(TransitionRefused) as refused:
        WILD.require_mapped_status("open", STRICT)
    assert refused.value.message == (
        "cannot move a ticket in status 'open' from lifecycle 'wild' to 'strict': "
        "lifecycle 'wild' has no map to 'strict'"
    )
    with pytest.raises(TransitionRefused) as refused:
        WILD.require_mapped_status("deleted", DEFAULT)
    assert refused.value.message.endswith(": the map wild -> default has no entry for it")


def test_validate_maps_checks_targets_across_lifecycles() -> None:
    odd = lifecycle_from_dict(
        minimal(name="odd", maps={"default": {"new": "fresh"}, "ghost": {"new": "new"}})
    )
    assert validate_maps([DEFAULT, WILD, odd]) == [
        "lifecycle 'odd': maps.default.new: 'fresh' is not a status of lifecycle 'default'",
        "lifecycle 'odd': maps.ghost: there is no lifecycle named 'ghost'",
    ]


# -- shipped lifecycles and the canonical form -------------------------------------------------


def test_builtins_validate_without_warnings() -> None:
    shipped = builtin_lifecycles()
    assert [lc.name for lc in shipped] == ["default", "approvals"]
    for lifecycle in shipped:
        assert lifecycle.warnings() == []
        assert lifecycle.statuses == ("new", "open", "stalled", "resolved", "rejected", "deleted")
    assert validate_maps(shipped) == []


def test_default_matches_rt() -> None:
    assert DEFAULT.creation_statuses() == ["new", "open", "resolved"]
    assert DEFAULT.rights == {"* -> deleted": "DeleteTicket", "* -> *": "ModifyTicket"}
    assert [(a.from_, a.to, a.label, a.update) for a in DEFAULT.actions][:4] == [
        ("new", "open", "Open It", "respond"),
        ("new", "resolved", "Resolve", "comment"),
        ("new", "rejected", "Reject", "respond"),
        ("new", "deleted", "Delete", "none"),
    ]
    assert DEFAULT.defaults.approved == "open" and DEFAULT.defaults.denied == "rejected"
    assert builtin_lifecycle("approvals").right_for("new", "rejected") == "ModifyTicket"
    assert builtin_lifecycle("approvals").defaults.approved is None
    assert builtin_lifecycle("nope") is None


def test_builtin_definitions_are_copies() -> None:
    copy_ = builtin_definition("approvals")
    copy_["initial"].append("x")
    assert APPROVALS_DEFINITION["initial"] == ["new"]


@pytest.mark.parametrize(
    "lifecycle", [*builtin_lifecycles(), STRICT, WILD, NO_RIGHTS], ids=lambda lc: lc.name
)
def test_export_then_load_round_trips_exactly(lifecycle: Lifecycle) -> None:
    text = lifecycle.to_yaml()
    again, _ = load_lifecycle(text)
    assert again == lifecycle
    assert again.to_yaml() == text
    assert lifecycle_from_dict(json.loads(json.dumps(lifecycle.to_dict()))) == lifecycle


def test_canonical_form() -> None:
    exported = WILD.to_dict()
    assert list(exported["transitions"]) == ["new", "open", "waiting", "*"]
    assert list(exported["rights"]) == ["open -> done", "* -> done", "waiting -> *", "* -> *"]
    assert exported["actions"][1] == {"from": "open", "to": "deleted", "label": "Trash", "update": "comment"}
    assert exported["initial"] == ["New"]
    assert "'': [new, open, resolved]" in DEFAULT.to_yaml()


def test_model_is_immutable_and_hashable() -> None:
    with pytest.raises(Exception, match="frozen"):
        DEFAULT.name = "other"
    assert hash(DEFAULT) == hash(lifecycle_from_dict(DEFAULT.to_dict()))
    assert len({DEFAULT, STRICT, lifecycle_from_dict(STRICT.to_dict())}) == 2


# -- property: no sequence of attempts leaves an unreachable status ---------------------------

NAMES = ["new", "open", "stalled", "resolved", "rejected", "deleted", "triage", "waiting"]
RIGHTS_HELD = st.sets(st.sampled_from(["ModifyTicket", "DeleteTicket", "CreateTicket"]))


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    """Random valid definitions: any split into categories, random transitions, '' and '*' or not."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES), unique=True))
    lists: dict[str, list[str]] = {"initial": [names[0]], "active": [], "inactive": []}
    for name in names[1:]:
        lists[draw(st.sampled_from(["initial", "active", "inactive"]))].append(name)
    transitions: dict[str, list[str]] = {}
    for name in names:
        others = [n for n in names if n != name]
        if others and draw(st.booleans()):
            transitions[name] = draw(st.lists(st.sampled_from(others), unique=True))
    if draw(st.booleans()):
        transitions["*"] = draw(st.lists(st.sampled_from(names), unique=True))
    if names[0] == "deleted" or draw(st.booleans()):
        rest = draw(st.lists(st.sampled_from(names[1:] or names), unique=True))
        transitions[""] = list(dict.fromkeys([names[0], *rest]))
    return {"name": "random", **lists, "transitions": transitions}


def independent_allowed(data: dict[str, Any], current: str | None, target: str) -> bool:
    """The rules restated from the documentation, without the model's code."""
    transitions = data["transitions"]
    statuses = data["initial"] + data["active"] + data["inactive"]
    if target not in statuses:
        return False
    if current is None:
        return target in transitions[""] if "" in transitions else target != "deleted"
    return target != current and (
        target in transitions.get(current, []) or target in transitions.get("*", [])
    )


def independent_reachable(data: dict[str, Any]) -> set[str]:
    statuses = data["initial"] + data["active"] + data["inactive"]
    seen = {s for s in statuses if independent_allowed(data, None, s)}
    frontier = list(seen)
    while frontier:
        current = frontier.pop()
        for target in statuses:
            if target not in seen and independent_allowed(data, current, target):
                seen.add(target)
                frontier.append(target)
    return seen


@settings(max_examples=300, deadline=None)
@given(
    data=definitions(),
    attempts=st.lists(
        st.tuples(st.sampled_from([*NAMES, "NEW", "Open", "bogus", ""]), RIGHTS_HELD), max_size=30
    ),
)
def test_no_sequence_of_attempts_leaves_a_legally_unreachable_status(
    data: dict[str, Any], attempts: list[tuple[str, set[str]]]
) -> None:
    lifecycle, _ = load_lifecycle(json.dumps(copy.deepcopy(data)))
    reachable = independent_reachable(data)
    assert lifecycle.reachable_statuses() == reachable
    lifecycle.check_transition(None, lifecycle.on_create)
    current = lifecycle.on_create
    for target, held in attempts:
        expected = (
            bool(target)
            and independent_allowed(data, current, target.lower())
            and lifecycle.right_for(current, target) in held
        )
        try:
            lifecycle.check_transition(current, target, can=held.__contains__)
        except (TransitionRefused, TransitionForbidden):
            assert not expected
        else:
            assert expected
            current = lifecycle.normalize(target)
        assert current in reachable


def test_canonical_order_does_not_depend_on_the_input_order() -> None:
    """The database's jsonb reorders keys; export must not: '' first, statuses in category order, '*'
    last; rights in look-up order; maps by name."""
    data = WILD.to_dict()
    shuffled = {
        **data,
        "transitions": dict(reversed(list(data["transitions"].items()))),
        "rights": dict(reversed(list(data["rights"].items()))),
        "maps": {
            "zeta": {"new": "a"},
            **{k: dict(reversed(list(v.items()))) for k, v in data["maps"].items()},
        },
    }
    again = lifecycle_from_dict(shuffled).to_dict()
    assert list(again["transitions"]) == list(data["transitions"])
    assert list(again["rights"]) == list(data["rights"])
    assert list(again["maps"]) == ["default", "zeta"]
    assert list(again["maps"]["default"]) == ["new", "open", "waiting", "done"]
    assert list(DEFAULT.to_dict()["transitions"]) == [
        "",
        "new",
        "open",
        "stalled",
        "resolved",
        "rejected",
        "deleted",
    ]
