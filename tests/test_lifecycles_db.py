"""Lifecycles in the database: apply/export as config-as-code, and enforcement in the core.

Real PostgreSQL through the `session` fixture (every commit is a savepoint, rolled back after the
test). The property test at the end drives status changes and queue moves by actors with different
rights and checks the database against the transitions written in this file.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core import grants, links, queues, statuses, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import Context, open_context
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied, TesseraError
from tessera.core.lifecycles import desk as lifecycle_desk
from tessera.core.lifecycles import store as lifecycle_store
from tessera.core.lifecycles.builtin import builtin_definition, builtin_lifecycles
from tessera.core.lifecycles.errors import LifecycleInvalid, TransitionForbidden, TransitionRefused
from tessera.core.models import LifecycleRecord, Ticket, Transaction
from tessera.core.schemas import TicketCreate
from tests.support.desks import Desk

# A hand-written lifecycle with Tessera's '*' from-key and a custom right (RejectTicket).
TRIAGE: dict = {
    "name": "triage",
    "initial": ["new", "triage"],
    "active": ["working"],
    "inactive": ["done", "rejected", "deleted"],
    "defaults": {"on_create": "triage"},
    "transitions": {
        "": ["new", "triage"],
        "new": ["triage"],
        "triage": ["working", "rejected"],
        "working": ["done", "triage"],
        "done": ["working"],
        "*": ["deleted"],
    },
    "rights": {"* -> rejected": "RejectTicket", "* -> deleted": "DeleteTicket"},
    "actions": [
        {"from": "triage", "to": "working", "label": "Start", "update": "comment"},
        {"from": "triage", "to": "rejected", "label": "Reject", "update": "respond"},
        {"from": "*", "to": "deleted", "label": "Delete"},
    ],
    "maps": {
        "default": {
            "new": "new",
            "triage": "new",
            "working": "open",
            "done": "resolved",
            "rejected": "rejected",
            "deleted": "deleted",
        }
    },
}
# RT's default, plus a partial map to triage: stalled tickets cannot move there.
DEFAULT_MAPPED: dict = {
    **builtin_definition("default"),
    "maps": {
        "triage": {
            "new": "new",
            "open": "working",
            "resolved": "done",
            "rejected": "rejected",
            "deleted": "deleted",
        }
    },
}
STAFF = ("SeeQueue", "ShowTicket", "CreateTicket", "ModifyTicket")


def as_yaml(definition: dict) -> str:
    return yaml.safe_dump(definition, sort_keys=False)


def bare_ticket(desk: Desk, queue: str, status: str | None = None, ctx: Context | None = None) -> Ticket:
    """A ticket with no requestor and no message: only its lifecycle is under test."""
    return tickets.create_ticket(
        ctx or desk.root, TicketCreate(queue=queue, subject="Printer on fire", status=status)
    )


@pytest.fixture
def triage_desk(desk: Desk) -> Desk:
    lifecycle_store.apply_lifecycle(desk.root, as_yaml(TRIAGE))
    queues.create_queue(desk.root, "Intake", lifecycle="triage")
    return desk


def stored(session: Session, name: str) -> dict | None:
    row = session.get(LifecycleRecord, name)
    return None if row is None else row.definition


def status_txns(session: Session, ticket: Ticket) -> list[tuple[str | None, str | None]]:
    rows = session.scalars(
        select(Transaction)
        .where(Transaction.ticket_id == ticket.id, Transaction.type == "Status")
        .order_by(Transaction.id)
    )
    return [(t.old_value, t.new_value) for t in rows]


# -- store: list, export, apply ---------------------------------------------------------------


def test_builtins_are_stored_and_their_export_applies_as_a_no_op(desk: Desk) -> None:
    names = [s.name for s in lifecycle_store.list_lifecycles(desk.root)]
    assert names == sorted(lc.name for lc in builtin_lifecycles())
    for name in names:
        applied = lifecycle_store.apply_lifecycle(
            desk.root, lifecycle_store.export_lifecycle(desk.root, name)
        )
        assert applied.result == "unchanged"
        assert applied.warnings == []


def test_list_shows_categories_and_queues(triage_desk: Desk) -> None:
    summary = {s.name: s for s in lifecycle_store.list_lifecycles(triage_desk.root)}
    assert summary["triage"].initial == ["new", "triage"]
    assert summary["triage"].inactive == ["done", "rejected", "deleted"]
    assert summary["triage"].queues == ["Intake"]
    assert summary["default"].queues == ["General", "Network"]
    assert summary["approvals"].queues == []


def test_apply_creates_exports_round_trips_and_replaces(desk: Desk) -> None:
    applied = lifecycle_store.apply_lifecycle(desk.root, as_yaml(TRIAGE))
    assert applied.result == "created"
    assert applied.warnings == [
        "rights: 'RejectTicket' is not one of Tessera's rights; only users granted 'RejectTicket' "
        "(or SuperUser) may make the transitions that ask it"
    ]
    desk.session.expire_all()  # read the row back from PostgreSQL
    exported = lifecycle_store.export_lifecycle(desk.root, "triage")
    # Stored as jsonb (which reorders keys), exported in the canonical order all the same.
    assert list(yaml.safe_load(exported)["transitions"]) == ["", "new", "triage", "working", "done", "*"]
    assert lifecycle_store.apply_lifecycle(desk.root, exported).result == "unchanged"
    assert lifecycle_store.get_lifecycle(desk.root, "TRIAGE").name == "triage"

    changed = {**TRIAGE, "active": ["working", "waiting"]}
    changed["transitions"] = {**TRIAGE["transitions"], "working": ["done", "triage", "waiting"]}
    changed["transitions"]["waiting"] = ["working"]
    replaced = lifecycle_store.apply_lifecycle(desk.root, as_yaml(changed))
    assert replaced.result == "replaced"
    assert stored(desk.session, "triage")["active"] == ["working", "waiting"]
    row = desk.session.get(LifecycleRecord, "triage")
    assert row is not None and row.updated_by_id == desk.root.actor.id
    # The session's parsed copy was dropped: enforcement sees the new version at once.
    assert lifecycle_desk.lifecycle_by_name(desk.session, "triage").is_valid("waiting")


def test_apply_accepts_json(desk: Desk) -> None:
    import json

    assert lifecycle_store.apply_lifecycle(desk.root, json.dumps(TRIAGE)).result == "created"
    assert lifecycle_store.get_lifecycle(desk.root, "triage").on_create == "triage"


def test_invalid_definition_is_refused_with_its_path_and_nothing_is_stored(desk: Desk) -> None:
    bad = {**TRIAGE, "transitions": {**TRIAGE["transitions"], "working": ["done", "shipped"]}}
    with pytest.raises(LifecycleInvalid) as refused:
        lifecycle_store.apply_lifecycle(desk.root, as_yaml(bad))
    assert (
        refused.value.message
        == "transitions.working[1]: status 'shipped' is in no category (initial, active or inactive)"
    )
    assert stored(desk.session, "triage") is None


def test_apply_needs_admin_lifecycles(desk: Desk) -> None:
    agent = desk.agent("alice", *STAFF)
    with pytest.raises(PermissionDenied, match=r"alice may not apply lifecycles.*AdminLifecycles"):
        lifecycle_store.apply_lifecycle(agent, as_yaml(TRIAGE))
    assert stored(desk.session, "triage") is None
    grants.grant(desk.root, "AdminLifecycles", "user:alice")
    assert lifecycle_store.apply_lifecycle(desk.as_("alice"), as_yaml(TRIAGE)).result == "created"


def test_replacing_may_not_drop_a_status_tickets_have(triage_desk: Desk) -> None:
    ticket = bare_ticket(triage_desk, "Intake")
    tickets.set_status(triage_desk.root, ticket.id, "working")
    bare_ticket(triage_desk, "Intake")
    shrunk = {
        **TRIAGE,
        "initial": ["new"],
        "defaults": {"on_create": "new"},
        "transitions": {"": ["new"], "new": ["done"], "done": ["new"], "*": ["deleted"]},
        "active": [],
        "rights": {"* -> deleted": "DeleteTicket"},
        "actions": [],
        "maps": {},
    }
    before = stored(triage_desk.session, "triage")
    with pytest.raises(InvalidInput) as refused:
        lifecycle_store.apply_lifecycle(triage_desk.root, as_yaml(shrunk))
    message = refused.value.message
    assert "lifecycle 'triage' would drop statuses that tickets still have" in message
    assert "1 in 'triage' (Intake: 1)" in message and "1 in 'working' (Intake: 1)" in message
    assert stored(triage_desk.session, "triage") == before


def test_maps_are_checked_against_the_other_lifecycles(desk: Desk) -> None:
    wrong = {**TRIAGE, "maps": {"default": {**TRIAGE["maps"]["default"], "done": "closed"}}}
    with pytest.raises(
        LifecycleInvalid, match=r"^maps.default.done: 'closed' is not a status of lifecycle 'default'"
    ):
        lifecycle_store.apply_lifecycle(desk.root, as_yaml(wrong))
    miscased = {**TRIAGE, "maps": {"Default": TRIAGE["maps"]["default"]}}
    with pytest.raises(LifecycleInvalid, match=r"^maps\.Default: the lifecycle is named 'default'"):
        lifecycle_store.apply_lifecycle(desk.root, as_yaml(miscased))
    ahead = {**TRIAGE, "maps": {"later": {"new": "new"}}}
    applied = lifecycle_store.apply_lifecycle(desk.root, as_yaml(ahead))
    assert any(w.startswith("maps.later: there is no lifecycle named 'later' yet") for w in applied.warnings)
    lifecycle_store.apply_lifecycle(desk.root, as_yaml(TRIAGE))
    lifecycle_store.apply_lifecycle(desk.root, as_yaml(DEFAULT_MAPPED))
    # Triage may not drop 'working' while default's map sends open tickets there.
    narrower = {**TRIAGE, "transitions": {**TRIAGE["transitions"]}}
    narrower["active"] = ["doing"]
    narrower["transitions"]["triage"] = ["doing", "rejected"]
    narrower["transitions"]["working"] = []
    del narrower["transitions"]["working"]
    narrower["transitions"]["doing"] = ["done", "triage"]
    narrower["transitions"]["done"] = ["doing"]
    narrower["actions"] = TRIAGE["actions"][1:]
    narrower["maps"] = {"default": {**TRIAGE["maps"]["default"], "doing": "open"}}
    del narrower["maps"]["default"]["working"]
    with pytest.raises(
        LifecycleInvalid, match=r"lifecycle 'default' maps\.triage\.open sends tickets to 'working'"
    ):
        lifecycle_store.apply_lifecycle(desk.root, as_yaml(narrower))


def test_a_name_differing_only_in_case_is_refused(desk: Desk) -> None:
    with pytest.raises(LifecycleInvalid, match=r"^name: lifecycle 'default' already exists"):
        lifecycle_store.apply_lifecycle(
            desk.root, as_yaml({**builtin_definition("default"), "name": "Default"})
        )


def test_rights_are_spelled_as_tessera_spells_them_and_custom_ones_warned(desk: Desk) -> None:
    spelled = {**TRIAGE, "rights": {"* -> rejected": "RejectTicket", "* -> deleted": "deleteticket"}}
    applied = lifecycle_store.apply_lifecycle(desk.root, as_yaml(spelled))
    assert applied.lifecycle.rights["* -> deleted"] == "DeleteTicket"
    assert any("'RejectTicket' is not one of Tessera's rights" in w for w in applied.warnings)
    assert lifecycle_store.lifecycle_rights(desk.root) == ["RejectTicket"]


def test_unknown_lifecycle_is_not_found(desk: Desk) -> None:
    with pytest.raises(NotFound, match="unknown lifecycle 'nope'"):
        lifecycle_store.get_lifecycle(desk.root, "nope")
    with pytest.raises(InvalidInput, match="unknown lifecycle 'nope'"):
        queues.update_queue(desk.root, "General", {"lifecycle": "nope"})


# -- enforcement -------------------------------------------------------------------------------


def test_creation_status_follows_the_creation_transitions(triage_desk: Desk) -> None:
    assert bare_ticket(triage_desk, "Intake").status == "triage"  # defaults.on_create
    assert bare_ticket(triage_desk, "Intake", status="NEW").status == "new"
    with pytest.raises(TransitionRefused) as refused:
        bare_ticket(triage_desk, "Intake", status="working")
    assert refused.value.message == (
        "cannot create a ticket in queue Intake: lifecycle 'triage' does not allow creating a ticket as "
        "working: at creation it allows new, triage"
    )
    with pytest.raises(TransitionRefused, match="'closed' is not a status of this lifecycle"):
        bare_ticket(triage_desk, "Intake", status="closed")
    # RT's default: creation in new, open or resolved, never deleted.
    assert bare_ticket(triage_desk, "General", status="resolved").status == "resolved"
    with pytest.raises(TransitionRefused, match="does not allow creating a ticket as deleted"):
        bare_ticket(triage_desk, "General", status="deleted")


def test_refused_transition_names_lifecycle_from_to_and_changes_nothing(triage_desk: Desk) -> None:
    ticket = bare_ticket(triage_desk, "Intake")
    version = ticket.version
    with pytest.raises(TransitionRefused) as refused:
        tickets.set_status(triage_desk.root, ticket.id, "done")
    assert refused.value.message == (
        f"{ticket.display_id}: lifecycle 'triage' does not allow triage -> done: "
        "from triage it allows working, rejected, deleted"
    )
    triage_desk.session.refresh(ticket)
    assert (ticket.status, ticket.version, ticket.started) == ("triage", version, None)
    assert status_txns(triage_desk.session, ticket) == []
    with pytest.raises(TransitionRefused, match="'shipped' is not a status of this lifecycle"):
        tickets.set_fields(triage_desk.root, ticket.id, {"status": "shipped", "subject": "changed"})
    triage_desk.session.refresh(ticket)
    assert ticket.subject == "Printer on fire"


def test_star_transition_and_default_delete_right(triage_desk: Desk) -> None:
    agent = triage_desk.agent("alice", *STAFF)
    ticket = bare_ticket(triage_desk, "Intake")
    tickets.set_status(agent, ticket.id, "working")
    with pytest.raises(TransitionForbidden) as refused:
        tickets.set_status(agent, ticket.id, "deleted")
    assert refused.value.message == (
        f"alice may not change {ticket.display_id} from working to deleted: "
        "lifecycle 'triage' requires the DeleteTicket right for working -> deleted"
    )
    grants.grant(triage_desk.root, "DeleteTicket", "user:alice", "Intake")
    tickets.set_status(triage_desk.as_("alice"), ticket.id, "deleted")  # '*' -> deleted, from working
    triage_desk.session.refresh(ticket)
    assert ticket.status == "deleted"
    with pytest.raises(TransitionRefused, match="nothing may follow deleted"):
        tickets.set_status(triage_desk.root, ticket.id, "working")


def test_custom_right_is_enforced_and_replaces_modify_ticket(triage_desk: Desk) -> None:
    agent = triage_desk.agent("alice", *STAFF)
    ticket = bare_ticket(triage_desk, "Intake")
    with pytest.raises(TransitionForbidden, match="requires the RejectTicket right for triage -> rejected"):
        tickets.set_status(agent, ticket.id, "rejected")
    steps = statuses.next_steps(agent, triage_desk.session.get(Ticket, ticket.id))
    assert (steps.lifecycle, steps.current, steps.statuses) == ("triage", "triage", ["working"])
    assert [a.label for a in steps.actions] == ["Start"]

    # RejectTicket alone suffices: the lifecycle's right replaces ModifyTicket for that transition.
    triage_desk.agent("bob", "ShowTicket")
    triage_desk.grant_custom("RejectTicket", "bob", "Intake")
    bob = triage_desk.as_("bob")
    steps = statuses.next_steps(bob, triage_desk.session.get(Ticket, ticket.id))
    assert steps.statuses == ["rejected"] and [a.label for a in steps.actions] == ["Reject"]
    tickets.set_status(bob, ticket.id, "rejected")
    with pytest.raises(TransitionForbidden, match="requires the ModifyTicket right"):
        tickets.set_status(bob, bare_ticket(triage_desk, "Intake").id, "working")


def test_root_menu_and_status_sets(triage_desk: Desk) -> None:
    ticket = bare_ticket(triage_desk, "Intake")
    steps = statuses.next_steps(triage_desk.root, ticket)
    assert steps.statuses == ["working", "rejected", "deleted"]
    assert [a.label for a in steps.actions] == ["Start", "Reject", "Delete"]
    intake = queues.get_queue(triage_desk.root, "Intake")
    sets = statuses.status_sets(triage_desk.session, intake)
    assert sets.active == {"new", "triage", "working"}
    assert sets.inactive == {"done", "rejected", "deleted"}
    assert statuses.status_category(triage_desk.session, intake, "Working") == "active"
    assert statuses.status_category(triage_desk.session, intake, "open") is None


def test_started_once_resolved_on_each_inactive_entry_and_kept(desk: Desk) -> None:
    ticket = bare_ticket(desk, "General")
    assert (ticket.status, ticket.started, ticket.resolved) == ("new", None, None)
    tickets.set_status(desk.root, ticket.id, "open")
    started = ticket.started
    assert started is not None and ticket.resolved is None
    tickets.set_status(desk.root, ticket.id, "new")
    tickets.set_status(desk.root, ticket.id, "stalled")
    assert ticket.started == started  # set once only
    tickets.set_status(desk.root, ticket.id, "resolved")
    first_resolved = ticket.resolved
    assert first_resolved is not None
    tickets.set_status(desk.root, ticket.id, "open")
    assert ticket.resolved == first_resolved  # kept on reopen
    tickets.set_status(desk.root, ticket.id, "rejected")
    assert ticket.resolved is not None and ticket.resolved > first_resolved
    second = ticket.resolved
    tickets.set_status(desk.root, ticket.id, "deleted")  # inactive -> inactive sets it again
    assert ticket.resolved > second
    assert status_txns(desk.session, ticket) == [
        ("new", "open"),
        ("open", "new"),
        ("new", "stalled"),
        ("stalled", "resolved"),
        ("resolved", "open"),
        ("open", "rejected"),
        ("rejected", "deleted"),
    ]


def test_created_in_an_inactive_status_gets_both_dates(desk: Desk) -> None:
    ticket = bare_ticket(desk, "General", status="resolved")
    assert ticket.started == ticket.created and ticket.resolved == ticket.created
    opened = bare_ticket(desk, "General", status="open")
    assert opened.started == opened.created and opened.resolved is None


def test_dependency_gate_names_lifecycle(desk: Desk) -> None:
    blocked, blocker = bare_ticket(desk, "General"), bare_ticket(desk, "General")
    links.add_link(desk.root, blocked.id, "DependsOn", blocker.id)
    with pytest.raises(TransitionRefused) as refused:
        tickets.set_status(desk.root, blocked.id, "resolved")
    assert refused.value.message == (
        f"{blocked.display_id}: lifecycle 'default' does not allow new -> resolved yet: "
        f"it depends on unresolved {blocker.display_id}; resolve them first (or force it, with the "
        "ForceStatus right)"
    )
    tickets.set_status(desk.root, blocker.id, "resolved")
    tickets.set_status(desk.root, blocked.id, "resolved")


def test_queue_move_maps_status_both_ways_or_is_refused(triage_desk: Desk) -> None:
    ticket = bare_ticket(triage_desk, "Intake")
    tickets.set_status(triage_desk.root, ticket.id, "working")
    with_no_map_back = bare_ticket(triage_desk, "General", status="open")
    with pytest.raises(TransitionRefused) as refused:
        tickets.set_fields(triage_desk.root, with_no_map_back.id, {"queue": "Intake"})
    assert refused.value.message == (
        f"cannot move {with_no_map_back.display_id} from queue General to Intake: cannot move a ticket "
        "in status 'open' from lifecycle 'default' to 'triage': lifecycle 'default' has no map to 'triage'"
    )
    triage_desk.session.refresh(with_no_map_back)
    assert with_no_map_back.queue.name == "General"

    tickets.set_fields(triage_desk.root, ticket.id, {"queue": "General"})
    triage_desk.session.refresh(ticket)
    assert (ticket.queue.name, ticket.status) == ("General", "open")
    assert status_txns(triage_desk.session, ticket)[-1] == ("working", "open")

    lifecycle_store.apply_lifecycle(triage_desk.root, as_yaml(DEFAULT_MAPPED))
    tickets.set_fields(triage_desk.root, ticket.id, {"queue": "Intake"})
    triage_desk.session.refresh(ticket)
    assert (ticket.queue.name, ticket.status) == ("Intake", "working")

    stalled = bare_ticket(triage_desk, "General", status="open")
    tickets.set_status(triage_desk.root, stalled.id, "stalled")
    with pytest.raises(TransitionRefused, match="the map default -> triage has no entry for it"):
        tickets.set_fields(triage_desk.root, stalled.id, {"queue": "Intake", "status": "open"})
    triage_desk.session.refresh(stalled)
    assert (stalled.queue.name, stalled.status) == ("General", "stalled")


def test_queue_move_sets_started_when_the_map_leaves_the_initial_statuses(triage_desk: Desk) -> None:
    ticket = bare_ticket(triage_desk, "Intake")  # triage: initial
    assert ticket.started is None
    lifecycle_store.apply_lifecycle(
        triage_desk.root,
        as_yaml({**TRIAGE, "maps": {"default": {**TRIAGE["maps"]["default"], "triage": "open"}}}),
    )
    tickets.set_fields(triage_desk.root, ticket.id, {"queue": "General"})
    triage_desk.session.refresh(ticket)
    assert ticket.status == "open" and ticket.started is not None


def test_queue_lifecycle_change_refused_while_tickets_have_unknown_statuses(triage_desk: Desk) -> None:
    bare_ticket(triage_desk, "Intake")
    with pytest.raises(TransitionRefused) as refused:
        queues.update_queue(triage_desk.root, "Intake", {"lifecycle": "default"})
    assert refused.value.message == (
        "cannot give queue Intake lifecycle 'default': it has tickets in statuses 'default' does not "
        "have (1 triage); change their status or move them first"
    )
    queues.create_queue(triage_desk.root, "Empty")
    assert queues.update_queue(triage_desk.root, "Empty", {"lifecycle": "TRIAGE"}).lifecycle == "triage"


# -- property: no sequence of operations reaches a status illegally -----------------------------

ACTORS = ("root", "full", "agent", "intake", "viewer")
# Grants of the property test, written out so the oracle does not read them back from the code.
GRANTS: dict[str, set[tuple[str, str | None]]] = {
    "full": {(r, None) for r in (*STAFF, "DeleteTicket", "RejectTicket")},
    "agent": {(r, None) for r in STAFF},
    "intake": {("ShowTicket", None), ("RejectTicket", "Intake")}
    | {(r, "Intake") for r in ("CreateTicket", "ModifyTicket")},
    "viewer": {("ShowTicket", None)},
}
QUEUES = {"General": DEFAULT_MAPPED, "Intake": TRIAGE}
ALL_STATUSES = sorted({s for d in QUEUES.values() for c in ("initial", "active", "inactive") for s in d[c]})


def _holds(actor: str, right: str, queue: str) -> bool:
    return actor == "root" or (right, None) in GRANTS[actor] or (right, queue) in GRANTS[actor]


def _written_next(definition: dict, status: str | None) -> list[str]:
    """Allowed next statuses straight from the dicts above (creation: '' or all but deleted)."""
    moves = definition["transitions"]
    if status is None:
        every = [s for c in ("initial", "active", "inactive") for s in definition[c]]
        return moves.get("", [s for s in every if s != "deleted"])
    return [s for s in [*moves.get(status, []), *moves.get("*", [])] if s != status]


def _written_right(definition: dict, old: str, new: str) -> str:
    rules = definition.get("rights", {})
    for key in (f"{old} -> {new}", f"* -> {new}", f"{old} -> *", "* -> *"):
        if key in rules:
            return rules[key]
    return "DeleteTicket" if new == "deleted" else "ModifyTicket"


def _category(definition: dict, status: str) -> str:
    return next(c for c in ("initial", "active", "inactive") if status in definition[c])


def _property_desk(session: Session) -> dict[str, Context]:
    """Built once per test run (the session outlives the examples): lifecycles, queues, actors."""
    if "lifecycle_property" in session.info:
        return session.info["lifecycle_property"]
    bootstrap(session, "root")
    root = open_context(session, "root")
    lifecycle_store.apply_lifecycle(root, as_yaml(TRIAGE))
    lifecycle_store.apply_lifecycle(root, as_yaml(DEFAULT_MAPPED))
    queues.create_queue(root, "General")
    queues.create_queue(root, "Intake", lifecycle="triage")
    desk = Desk(session=session, root=root)
    for name, held in GRANTS.items():
        desk.agent(name)
        for right, queue in sorted(held, key=str):
            if right == "RejectTicket":  # a right only the triage lifecycle knows
                desk.grant_custom(right, name, queue)
            else:
                grants.grant(root, right, f"user:{name}", queue)
    contexts = {name: open_context(session, name) for name in ACTORS}
    session.info["lifecycle_property"] = contexts
    return contexts


operations = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.sampled_from(ACTORS), st.sampled_from(ALL_STATUSES)),
        st.tuples(st.just("queue"), st.sampled_from(ACTORS), st.sampled_from(sorted(QUEUES))),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    queue=st.sampled_from(sorted(QUEUES)),
    created_as=st.one_of(st.none(), st.sampled_from(ALL_STATUSES)),
    ops=operations,
)
def test_no_sequence_of_operations_reaches_a_status_illegally(
    session: Session, queue: str, created_as: str | None, ops: list[tuple[str, str, str]]
) -> None:
    """Each example works on a ticket of its own, so examples cannot disturb each other; the outer
    transaction of the `session` fixture throws them all away at the end."""
    contexts = _property_desk(session)
    definition = QUEUES[queue]
    wanted = created_as or definition["defaults"]["on_create"]
    if wanted not in _written_next(definition, None):
        with pytest.raises(TransitionRefused):
            tickets.create_ticket(contexts["root"], TicketCreate(queue=queue, subject="p", status=created_as))
        return
    ticket_id = tickets.create_ticket(
        contexts["root"], TicketCreate(queue=queue, subject="p", status=created_as)
    ).id
    status, left_initial, was_inactive = wanted, False, False
    left_initial = _category(definition, status) != "initial"
    was_inactive = _category(definition, status) == "inactive"
    for kind, actor, target in ops:
        here = QUEUES[queue]
        if kind == "status":
            legal = target == status or (
                target in _written_next(here, status)
                and _holds(actor, _written_right(here, status, target), queue)
            )
            expected = (queue, target if legal else status)
            change = {"status": target}
        else:
            to_lifecycle = QUEUES[target]["name"]
            mapped = status if target == queue else here.get("maps", {}).get(to_lifecycle, {}).get(status)
            legal = target == queue or (
                mapped is not None
                and _holds(actor, "ModifyTicket", queue)
                and _holds(actor, "CreateTicket", target)
            )
            expected = (target, mapped) if legal else (queue, status)
            change = {"queue": target}
        try:
            tickets.set_fields(contexts[actor], ticket_id, change)
            accepted = True
        except (TransitionRefused, TransitionForbidden, PermissionDenied) as exc:
            accepted = False
            assert "lifecycle" in exc.message or "may not" in exc.message
        except TesseraError as exc:  # anything else is a bug in the enforcement, not a refusal
            pytest.fail(f"{kind} {target} by {actor}: unexpected {type(exc).__name__}: {exc}")
        assert accepted == legal, (kind, actor, target, queue, status)
        event(f"{kind} {'accepted' if accepted else 'refused'}")
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.queue.name, ticket.status) == expected
        queue, status = expected
        left_initial = left_initial or _category(QUEUES[queue], status) != "initial"
        was_inactive = was_inactive or _category(QUEUES[queue], status) == "inactive"
        assert status in [s for c in ("initial", "active", "inactive") for s in QUEUES[queue][c]]
        assert (ticket.started is not None) == left_initial
        assert (ticket.resolved is not None) == was_inactive
