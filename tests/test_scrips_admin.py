"""Core scrip administration: rights enforced, revisions written, revert, reorder, validation, and a
dry-run of an unsaved draft that writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core import grants
from tessera.core.context import Context, open_context
from tessera.core.errors import Conflict, InvalidInput, PermissionDenied
from tessera.core.models import (
    OutboxMessage,
    Scrip,
    ScripRevision,
    ScripRun,
    ScripTemplate,
    Ticket,
    Transaction,
)
from tessera.core.tickets import set_status
from tessera.scrips import access, catalog_file, checks, editing, revisions, specs
from tessera.scrips.draft import dry_run
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS

TEMPLATE = (
    "Subject: Closed: {{ ticket.subject }}\n\n"
    "Hello {{ ticket.requestor }},\n{{ ticket.display_id }} is done.\n"
)


def spec(description: str = "Tell requestor it is closed", **kw) -> dict:
    out = {
        "description": description,
        "stage": "TransactionCreate",
        "order": 0,
        "enabled": True,
        "condition": {"name": "OnResolve", "argument": ""},
        "action": {"name": "Notify", "argument": "Requestor"},
        "template": "Closed note",
    }
    out.update(kw)
    return out


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Ticket, Transaction, OutboxMessage, ScripRun, Scrip, ScripTemplate, ScripRevision)
    }


def new(desk: Desk, ctx: Context | None = None, **kw) -> dict:
    return editing.save_scrip(
        ctx or desk.root, None, spec(**kw), {"name": "Closed note", "content": TEMPLATE}
    )


# -- rights ---------------------------------------------------------------------------------------


def test_rights_are_enforced_in_core(desk: Desk) -> None:
    alice = desk.agent("alice", *AGENT_RIGHTS)
    with pytest.raises(PermissionDenied, match="may not open the admin area"):
        access.access(alice)
    for call in (
        lambda: editing.list_scrips(alice),
        lambda: editing.list_templates(alice),
        lambda: new(desk, alice),
        lambda: revisions.revisions(alice, "scrip", 1),
    ):
        with pytest.raises(PermissionDenied):
            call()
    saved = new(desk)
    for call in (
        lambda: editing.set_enabled(alice, saved["id"], False),
        lambda: editing.move_scrip(alice, saved["id"], -1),
        lambda: editing.delete_scrip(alice, saved["id"]),
        lambda: editing.get_scrip(alice, saved["id"]),
    ):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(PermissionDenied):
        dry_run(alice, spec(), None, 1, {"status": "resolved"})

    grants.grant(desk.root, "ShowScrips", "user:alice")
    alice = open_context(desk.session, "alice")
    assert access.access(alice)["show_scrips"] and not access.access(alice)["modify_scrips"]
    assert any(s["id"] == saved["id"] for s in editing.list_scrips(alice))
    with pytest.raises(PermissionDenied, match="needs ModifyScrips"):
        editing.set_enabled(alice, saved["id"], False)

    # ModifyScrips on one queue: that queue's scrips, not the global ones.
    grants.grant(desk.root, "ModifyScrips", "user:alice", "Network")
    grants.grant(desk.root, "ModifyTemplate", "user:alice", "Network")
    alice = open_context(desk.session, "alice")
    mine = editing.save_scrip(
        alice,
        None,
        spec("Network only", queue="Network"),
        {"name": "Closed note", "queue": "Network", "content": TEMPLATE},
    )
    assert mine["spec"]["queue"] == "Network"
    with pytest.raises(PermissionDenied, match="global scrips"):
        editing.save_scrip(alice, saved["id"], {**saved["spec"], "description": "mine now"})
    with pytest.raises(PermissionDenied, match="global templates"):
        editing.save_scrip(alice, mine["id"], mine["spec"], {"name": "Closed note", "content": "x"})


# -- revisions, export, revert --------------------------------------------------------------------


def test_save_writes_revisions_that_agree_with_export(desk: Desk) -> None:
    saved = new(desk)
    exported = catalog_file.export_data(desk.root)
    entry = next(s for s in exported["scrips"] if s["description"] == "Tell requestor it is closed")
    assert entry == saved["spec"]
    template = next(t for t in exported["templates"] if t["name"] == "Closed note")
    assert template["content"] == TEMPLATE

    history = revisions.revisions(desk.root, "scrip", saved["id"])
    assert len(history) == 1
    assert history[0]["change"] == "create" and history[0]["actor"] == "root"
    assert history[0]["after"] == entry and history[0]["before"] is None
    assert specs.dump_yaml([history[0]["after"]]) in catalog_file.export_yaml(desk.root)
    template_history = revisions.revisions(desk.root, "template", saved["template"]["id"])
    assert [r["change"] for r in template_history] == ["create"]

    # Saving unchanged writes no revision; a change writes one with a readable diff.
    editing.save_scrip(desk.root, saved["id"], saved["spec"], {"name": "Closed note", "content": TEMPLATE})
    assert len(revisions.revisions(desk.root, "scrip", saved["id"])) == 1
    changed = editing.save_scrip(
        desk.root,
        saved["id"],
        {**saved["spec"], "action": {"name": "Notify", "argument": "Requestor,Cc"}},
        {"name": "Closed note", "content": TEMPLATE.replace("done", "resolved")},
        expected_updated=saved["updated"],
    )
    history = revisions.revisions(desk.root, "scrip", saved["id"])
    assert [r["change"] for r in history] == ["update", "create"]
    assert history[0]["summary"] == "action"
    assert "-  argument: Requestor\n+  argument: Requestor,Cc" in history[0]["diff"]
    template_history = revisions.revisions(desk.root, "template", saved["template"]["id"])
    assert template_history[0]["summary"] == "content (+1 -1 lines)"
    assert "+  is resolved." in template_history[0]["diff"] or "resolved" in template_history[0]["diff"]

    # A stale editor is refused, nothing lost.
    with pytest.raises(Conflict, match="changed since you opened it"):
        editing.save_scrip(desk.root, saved["id"], saved["spec"], expected_updated=saved["updated"])

    # Revert to the first revision: back as it was, and the revert is itself a revision.
    reverted = editing.revert(desk.root, history[-1]["id"])
    assert reverted["spec"] == saved["spec"]
    assert changed["spec"] != saved["spec"]
    history = revisions.revisions(desk.root, "scrip", saved["id"])
    assert history[0]["change"] == "revert" and "reverted to revision" in history[0]["summary"]
    entry = next(
        s
        for s in catalog_file.export_data(desk.root)["scrips"]
        if s["description"] == saved["spec"]["description"]
    )
    assert entry == reverted["spec"] == history[0]["after"]


def test_delete_then_revert_brings_the_scrip_back_with_its_id(desk: Desk) -> None:
    saved = new(desk)
    editing.delete_scrip(desk.root, saved["id"])
    assert desk.session.get(Scrip, saved["id"]) is None
    gone = revisions.deleted_scrips(desk.root)
    assert gone[0]["object_id"] == saved["id"] and gone[0]["after"] is None
    back = editing.revert(desk.root, gone[0]["id"])
    assert back["id"] == saved["id"] and back["spec"] == saved["spec"]
    assert [r["change"] for r in revisions.revisions(desk.root, "scrip", saved["id"])] == [
        "revert",
        "delete",
        "create",
    ]
    assert revisions.deleted_scrips(desk.root) == []


def test_enable_reorder_and_queue_run_order(desk: Desk) -> None:
    first = new(desk, description="First")
    second = new(desk, description="Second")
    network = editing.save_scrip(desk.root, None, spec("Network one", queue="Network"))
    ids = [s["id"] for s in editing.list_scrips(desk.root)]
    assert ids.index(first["id"]) < ids.index(second["id"]) < ids.index(network["id"])  # new ones go last

    editing.move_scrip(desk.root, second["id"], -1)
    ids = [s["id"] for s in editing.list_scrips(desk.root)]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert revisions.revisions(desk.root, "scrip", second["id"])[0]["change"] == "reorder"
    with pytest.raises(InvalidInput, match="already last"):
        editing.move_scrip(desk.root, network["id"], 1)

    editing.set_enabled(desk.root, first["id"], False)
    general = editing.list_scrips(desk.root, "General")
    assert network["id"] not in [s["id"] for s in general]
    by_id = {s["id"]: s for s in general}
    assert by_id[first["id"]]["position"] is None and not by_id[first["id"]]["enabled"]
    positions = [s["position"] for s in general if s["enabled"]]
    assert positions == list(range(1, len(positions) + 1))
    assert revisions.revisions(desk.root, "scrip", first["id"])[0]["change"] == "disable"
    assert [s["id"] for s in editing.list_scrips(desk.root, "Network")][-1] == network["id"]


def test_apply_file_records_revisions(desk: Desk) -> None:
    text = specs.dump_yaml(
        {
            "templates": [{"name": "Closed note", "content": TEMPLATE}],
            "scrips": [spec("From a file", order=500)],
        }
    )
    catalog_file.apply_file(desk.root, text)
    scrip = desk.scrip("From a file")
    assert [r["change"] for r in revisions.revisions(desk.root, "scrip", scrip.id)] == ["apply"]
    catalog_file.apply_file(desk.root, text.replace("order: 500", "order: 600"))
    history = revisions.revisions(desk.root, "scrip", scrip.id)
    assert [r["change"] for r in history] == ["apply", "apply"] and history[0]["summary"] == "order"


# -- the draft dry-run ----------------------------------------------------------------------------


def test_draft_dry_run_renders_the_unsaved_text_and_writes_nothing(desk: Desk) -> None:
    ticket = desk.ticket("Printer on fire")
    desk.session.commit()
    before = counts(desk.session)
    draft_text = "Subject: Draft says {{ ticket.subject | upper }}\n\nBody for {{ ticket.display_id }}\n"
    plan = dry_run(
        desk.root,
        spec(),
        {"name": "Closed note", "content": draft_text},
        ticket.display_id,
        {"status": "resolved"},
    )
    assert plan["fires"] and plan["ticket"] == ticket.display_id
    assert plan["runs"][0]["condition"] == "true" and plan["runs"][0]["outcome"] == "would commit"
    (message,) = plan["messages"]
    assert message["to"] == ["customer@example.com"]
    assert "Draft says PRINTER ON FIRE" in message["subject"]
    assert message["body"].strip() == f"Body for {ticket.display_id}"
    assert counts(desk.session) == before
    assert desk.session.get(Ticket, ticket.id).status != "resolved"

    # The condition is false for another change, and says so.
    plan = dry_run(
        desk.root, spec(), {"name": "Closed note", "content": draft_text}, ticket.id, {"status": "open"}
    )
    assert not plan["fires"] and plan["runs"][0]["condition"] == "false" and not plan["messages"]

    # A ticket change by the draft, on the latest transaction (no change given).
    plan = dry_run(
        desk.root,
        spec(
            "Bump",
            condition={"name": "OnCreate", "argument": ""},
            action={"name": "SetPriority", "argument": "40"},
            template="",
        ),
        None,
        ticket.id,
    )
    assert plan["trigger"] == "latest transaction (Create)"
    assert plan["changes"] == [{"field": "Priority", "old": "0", "new": "40", "type": "Set"}]
    # An existing scrip edited in the draft: only the draft runs, under the scrip's own id.
    saved = new(desk)
    desk.session.commit()
    before = counts(desk.session)
    plan = dry_run(
        desk.root,
        {**saved["spec"], "enabled": False},
        None,
        ticket.id,
        {"status": "resolved"},
        scrip_id=saved["id"],
    )
    assert plan["fires"] and "disabled" in plan["notes"][0]
    assert counts(desk.session) == before
    assert desk.session.get(Scrip, saved["id"]).enabled


def test_draft_dry_run_refuses_a_broken_template(desk: Desk) -> None:
    ticket = desk.ticket()
    with pytest.raises(InvalidInput, match="line 3"):
        dry_run(
            desk.root,
            spec(),
            {"name": "Closed note", "content": "Subject: x\n\n{{ ticket.subject }\n"},
            ticket.id,
            {},
        )


def test_saved_scrip_fires_on_the_next_change(desk: Desk) -> None:
    ticket = desk.ticket()
    new(desk)
    before = len(desk.outbox())
    set_status(desk.root, ticket.id, "resolved")
    mails = desk.outbox()[before:]
    assert any(m.summary["subject"].endswith(f"Closed: {ticket.subject}") for m in mails)


# -- validation as you type -----------------------------------------------------------------------


def test_template_errors_come_with_their_line() -> None:
    (problem,) = checks.check_template_text("Subject: hi\n\n{{ ticket.subject }\nmore\n")
    assert problem.line == 3 and problem.severity == "error"
    assert problem.text().startswith("line 3: unexpected '}'")
    (problem,) = checks.check_template_text("Subject: hi\n\n{{ tiket.subject }}\n")
    assert problem.line == 3 and "unknown name 'tiket' - did you mean ticket?" in problem.message
    (problem,) = checks.check_template_text("Subject: {{ ticket.subjct }}\n\nx\n")
    assert problem.severity == "warning" and "did you mean subject?" in problem.message
    assert (
        checks.check_template_text(
            "{% set s = ticket.subject %}Subject: {{ s }}\n\n{{ quote(transaction.content) }}\n"
        )
        == []
    )
    assert checks.check_template_text("Hello there\n")[0].severity == "warning"
    assert checks.check_expression_text("ticket.priority > 50 and actor.name != 'root'") == []
    assert checks.check_expression_text("ticket.priority >")[0].line == 1
    assert "unknown name 'prio'" in checks.check_expression_text("prio > 3")[0].message


def test_an_unknown_filter_or_test_is_a_problem_at_its_line_not_an_exception() -> None:
    """`{{ x|nope }}` parses but does not compile: the as-you-type check raised (and the TUI's
    scrip editor exited with a traceback on the keystroke that finished the word)."""
    (problem,) = checks.check_template_text("Subject: hi\n\n{{ ticket.subject|nope }}\n")
    assert problem.line == 3 and problem.severity == "error" and "No filter named 'nope'" in problem.message
    (problem,) = checks.check_template_text("Subject: hi\n\n{{ ticket is nope }}\n")
    assert problem.line == 3 and "No test named 'nope'" in problem.message
    (problem,) = checks.check_expression_text("ticket.subject|nope")
    assert "No filter named 'nope'" in problem.message
    problems = checks.check_draft(spec(), {"name": "Closed note", "content": "Subject: {{ 1|nope }}\n\nx\n"})
    assert [p.field for p in problems] == ["template"]


def test_an_unknown_filter_or_test_inside_an_if_is_found_before_the_first_ticket() -> None:
    """Jinja defers a filter or test inside an `if` to the render (`x is defined and x is nope`),
    so `{% if ticket is nope %}` passed the editor's check and `scrip apply`, then failed on the
    first ticket it ran for."""
    from tessera.core.errors import InvalidInput
    from tessera.scrips import sandbox

    (problem,) = checks.check_template_text("Subject: hi\n\n{% if ticket is nope %}x{% endif %}\n")
    assert problem.line == 3 and problem.severity == "error" and "No test named 'nope'" in problem.message
    inside = "Subject: hi\n\n{% if ticket %}\n{{ ticket.subject|nope }}\n{% endif %}\n"
    (problem,) = checks.check_template_text(inside)
    assert problem.line == 4 and "No filter named 'nope'" in problem.message
    (problem,) = checks.check_expression_text("1 if ticket is nope else 2")
    assert "No test named 'nope'" in problem.message
    guarded = "1 if ticket is nope else 2"
    for check, source in ((sandbox.check_template, inside), (sandbox.check_expression, guarded)):
        with pytest.raises(InvalidInput, match="named 'nope'"):
            check(source)
    # what exists still passes, guarded or not
    fine = "{% if ticket is defined %}{{ ticket.subject|upper }}{% endif %}\n"
    assert checks.check_template_text(fine) == []
    sandbox.check_template("{% for t in history %}{{ t.type|lower }}{% endfor %}")


def test_a_filter_or_test_named_by_map_or_select_that_does_not_exist_is_found_before_rendering() -> None:
    """`map("nope")`, `select("nope")` and `selectattr("x", "nope")` name a filter or test that
    Jinja looks up only as it renders: they passed the editor's check and `scrip apply`, then
    failed on the first ticket ('No filter named ...')."""
    from tessera.core.errors import InvalidInput
    from tessera.scrips import sandbox

    for source, kind in (
        ('{{ history|map("nope")|list }}', "filter"),
        ('{{ history|select("nope")|list }}', "test"),
        ('{{ history|reject("nope")|list }}', "test"),
        ('{{ history|selectattr("type", "nope")|list }}', "test"),
        ('{{ history|rejectattr("type", "nope")|list }}', "test"),
    ):
        (problem,) = checks.check_template_text(f"Subject: hi\n\n{source}\n")
        assert problem.line == 3 and f"No {kind} named 'nope'" in problem.message, source
        with pytest.raises(InvalidInput, match=f"No {kind} named 'nope'"):
            sandbox.check_template(source)
    (problem,) = checks.check_expression_text('history|map("nope")|list')
    assert "No filter named 'nope'" in problem.message
    for fine in (
        '{{ history|map(attribute="type")|list }}',
        '{{ history|map("lower")|list }}',
        '{{ history|selectattr("type", "equalto", "Comment")|list }}',
        "{{ history|select|list }}",
    ):
        assert checks.check_template_text(f"Subject: hi\n\n{fine}\n") == [], fine


def test_check_draft_covers_condition_action_and_template() -> None:
    problems = checks.check_draft(
        {
            "description": "",
            "condition": {"name": "OnNothing"},
            "action": {"name": "Notify", "argument": "Requestor,Boss"},
            "template": "",
        }
    )
    fields = {p.field for p in problems}
    assert {"description", "condition", "action.argument", "template"} <= fields
    assert checks.check_draft(spec(), {"name": "Closed note", "content": TEMPLATE}) == []
    assert {c["name"] for c in checks.choices()["conditions"]} >= {"OnCreate", "OnResolve", "OnStatusChange"}


def test_templates_in_use_cannot_be_deleted_or_renamed(desk: Desk) -> None:
    saved = new(desk)
    template_id = saved["template"]["id"]
    with pytest.raises(InvalidInput, match="cannot delete template 'Closed note': 1 scrip"):
        editing.delete_template(desk.root, template_id)
    entry = editing.get_template(desk.root, template_id)["entry"]
    with pytest.raises(InvalidInput, match="cannot rename"):
        editing.save_template(desk.root, template_id, {**entry, "name": "Other"})
    with pytest.raises(InvalidInput, match="line 1"):
        editing.save_template(desk.root, template_id, {**entry, "content": "{% if %}"})
    editing.delete_scrip(desk.root, saved["id"])
    editing.delete_template(desk.root, template_id)
    history = revisions.revisions(desk.root, "template", template_id)
    assert [r["change"] for r in history] == ["delete", "create"]
    back = editing.revert(desk.root, history[0]["id"])
    assert back["id"] == template_id and back["entry"]["content"] == TEMPLATE
