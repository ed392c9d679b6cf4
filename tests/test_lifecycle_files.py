"""Lifecycle files as people really write them: tab-indented JSON, stray BOMs, YAML's surprises.

Each case is a whole file's text and the exact outcome: accepted (with the lifecycle's name) or the
one-line refusal `tessera lifecycle apply` prints after the file name.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from tessera.core import queues, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.lifecycles.builtin import builtin_lifecycle
from tessera.core.lifecycles.errors import LifecycleInvalid, TransitionRefused
from tessera.core.lifecycles.load import load_lifecycle
from tessera.core.schemas import TicketCreate

SMALL = {"name": "small", "initial": ["new"], "active": ["open"], "transitions": {"new": ["open"]}}

ACCEPTED = [
    ("tab-indented JSON", json.dumps(SMALL, indent="\t")),
    ("JSON with a byte-order mark", "\ufeff" + json.dumps(SMALL)),
    ("YAML with a byte-order mark", "\ufeffname: small\ninitial: [new]\n"),
    ("YAML flow style, which looks like JSON", "{name: small, initial: [new]}"),
    ("a trailing comma YAML's flow style forgives", '{"name": "small", "initial": ["new"],}'),
]


@pytest.mark.parametrize(("case", "text"), ACCEPTED, ids=[c for c, _ in ACCEPTED])
def test_files_people_write_are_accepted(case: str, text: str) -> None:
    lifecycle, _ = load_lifecycle(text)
    assert lifecycle.name == "small"


REFUSED = [
    (
        "a missing comma in JSON",
        '{\n  "name": "small"\n  "initial": ["new"]\n}',
        "line 3, column 3: not valid JSON: Expecting ',' delimiter",
    ),
    (
        "a doubled comma in JSON",
        '{"name": "small",, "initial": ["new"]}',
        "line 1, column 18: not valid JSON: Expecting property name enclosed in double quotes "
        "(check the comma before it: JSON allows none after the last item)",
    ),
    (
        "a key given twice in JSON",
        '{"name": "small", "initial": ["new"], "name": "other"}',
        "(document): key 'name' appears twice in one JSON object",
    ),
    (
        "a tab indenting YAML",
        "name: small\ninitial:\n\t- new\n",
        "line 3, column 1: not valid YAML or JSON: a tab character: YAML indents with spaces only",
    ),
    ("only a comment", "# nothing yet\n", "(top level): the document is empty; expected a lifecycle mapping"),
    (
        "YAML's null as the creation key",
        "name: small\ninitial: [new]\ntransitions:\n  ~: [new]\n",
        "transitions: a key must be a string, got nothing (the creation key is written '')",
    ),
    (
        "YAML's bare yes as a status key",
        "name: small\ninitial: [new]\ntransitions:\n  yes: [new]\n",
        "transitions: a key must be a string, got the boolean true (YAML reads bare "
        "yes/no/on/off/true/false so: quote it)",
    ),
    (
        "a bare number as a top-level key",
        "1: x\nname: small\ninitial: [new]\n",
        "(top level): a key must be a string, got the number 1",
    ),
    (
        "deleted as the only creatable status, without a '' entry",
        "name: small\ninitial: [deleted]\n",
        "defaults.on_create: not set, and the first initial status 'deleted' is not allowed at creation "
        '(without a transitions[""] entry creation allows all but deleted: nothing)',
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_mistakes_are_refused_with_where_and_why(case: str, text: str, message: str) -> None:
    with pytest.raises(LifecycleInvalid) as refused:
        load_lifecycle(text)
    assert refused.value.message == message


def test_an_empty_target_status_says_what_is_allowed() -> None:
    default = builtin_lifecycle("default")
    assert default is not None
    with pytest.raises(TransitionRefused) as refused:
        default.check_transition("open", " ")
    assert refused.value.message == (
        "lifecycle 'default': no status given; from open it allows new, stalled, resolved, rejected, deleted"
    )


def test_status_set_to_nothing_is_refused_and_changes_nothing(session: Session) -> None:
    bootstrap(session, "root")
    root = open_context(session, "root")
    queues.create_queue(root, "General")
    ticket = tickets.create_ticket(root, TicketCreate(queue="General", subject="x", status=""))
    assert ticket.status == "new"  # an empty status at creation means on_create
    with pytest.raises(TransitionRefused) as refused:
        tickets.set_fields(root, ticket.id, {"status": "", "subject": "changed"})
    assert refused.value.message == (
        f"{ticket.display_id}: lifecycle 'default': no status given; "
        "from new it allows open, stalled, resolved, rejected, deleted"
    )
    session.refresh(ticket)
    assert (ticket.status, ticket.subject) == ("new", "x")
