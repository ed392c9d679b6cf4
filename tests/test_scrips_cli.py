"""`tessera scrip list|show|export|apply|test|log` and one-line errors."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.cli import assert_one_line_error, run


@pytest.fixture
def env(cli_env):
    env = dict(cli_env)
    assert run(["db", "upgrade"], env).code == 0
    root = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    env["TESSERA_USER"] = root
    return env


def test_list_show_export_apply_roundtrip(env, tmp_path) -> None:
    listed = run(["scrip", "list", "--json"], env)
    assert listed.code == 0, listed.err
    scrips = json.loads(listed.out)
    assert [s["description"] for s in scrips][:2] == [
        "On Comment Notify AdminCcs as Comment",
        "On Comment Notify Other Recipients as Comment",
    ]
    shown = json.loads(run(["scrip", "show", str(scrips[0]["id"]), "--json"], env).out)
    assert shown["template"] == "Admin Comment" and "[Comment]" in shown["template_content"]

    exported = run(["scrip", "export"], env)
    assert exported.code == 0, exported.err
    data = yaml.safe_load(exported.out)
    assert {"scrips", "templates"} <= set(data)
    assert "queue" not in data["scrips"][0]  # global
    path = tmp_path / "scrips.yaml"
    path.write_text(exported.out)
    applied = run(["scrip", "apply", str(path), "--json"], env)
    assert applied.code == 0, applied.err
    summary = json.loads(applied.out)
    assert summary["scrips"]["created"] == summary["scrips"]["updated"] == 0
    assert summary["templates"]["created"] == summary["templates"]["updated"] == 0
    assert run(["scrip", "export"], env).out == exported.out

    # A queue scrip with an expression condition and a queue template, applied from a file.
    assert run(["queue", "create", "Ops"], env).code == 0
    extra = {
        "templates": [
            {"name": "Page", "queue": "Ops", "content": "Subject: PAGE {{ ticket.subject }}\n\nUp!"}
        ],
        "scrips": [
            {
                "description": "Page on urgent",
                "queue": "Ops",
                "stage": "TransactionCreate",
                "order": 5,
                "enabled": True,
                "condition": {"expression": "ticket.priority >= 90"},
                "action": {"name": "Notify", "argument": "oncall@example.com"},
                "template": "Page",
            }
        ],
    }
    path.write_text(yaml.safe_dump(extra))
    summary = json.loads(run(["scrip", "apply", str(path), "--json"], env).out)
    assert summary["scrips"]["created"] == 1 and summary["templates"]["created"] == 1
    again = yaml.safe_load(run(["scrip", "export"], env).out)
    page = next(s for s in again["scrips"] if s["description"] == "Page on urgent")
    assert page["queue"] == "Ops" and page["condition"] == {"expression": "ticket.priority >= 90"}

    created = run(["ticket", "create", "--queue", "Ops", "--subject", "Core switch", "--requestor",
                   "ops@example.com", "--body", "dead", "--json"], env)  # fmt: skip
    tid = json.loads(created.out)["id"]
    tested = run(["scrip", "test", str(_id(env, "Page on urgent")), str(tid), "--json"], env)
    assert tested.code == 0, tested.err
    result = json.loads(tested.out)
    assert result["fires"] is False and result["outcome"] == "condition false"
    assert run(["ticket", "set", str(tid), "priority=95"], env).code == 0
    result = json.loads(run(["scrip", "test", str(_id(env, "Page on urgent")), str(tid), "--json"], env).out)
    assert result["fires"] is True and result["outcome"] == "prepared"
    assert result["message"]["to"] == ["oncall@example.com"]
    assert result["message"]["subject"].endswith("PAGE Core switch")

    log = run(["scrip", "log", str(_id(env, "Page on urgent"))], env)
    assert log.code == 0 and "Page on urgent" in log.out
    text = run(["scrip", "list"], env)
    assert text.code == 0 and "Page on urgent" in text.out and "(global)" in text.out


def _id(env, description: str) -> int:
    rows = json.loads(run(["scrip", "list", "--json"], env).out)
    return next(r["id"] for r in rows if r["description"] == description)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (
            "scrips: [{description: x, condition: {name: OnNothing}, action: {name: Notify}}]",
            "unknown condition",
        ),
        (
            "scrips: [{description: x, condition: {name: OnCreate}, action: {name: Explode}}]",
            "unknown action",
        ),
        (
            "scrips: [{description: x, condition: {name: OnCreate}, action: {name: Notify}, template: Nope}]",
            "no template 'Nope'",
        ),
        (
            "scrips: [{description: x, condition: {expression: 'a ==='}, action: {name: SetPriority}}]",
            "parse",
        ),
        ("templates: [{name: T, content: '{% if %}'}]", "templates[0].content"),
        # parses, but does not compile: the editor's check refuses it too
        ("templates: [{name: T, content: '{{ 1|nope }}'}]", "No filter named 'nope'"),
        # inside an `if` Jinja leaves it to the render: found all the same
        ("templates: [{name: T, content: '{% if 1 is nope %}x{% endif %}'}]", "No test named 'nope'"),
        (
            "scrips: [{description: x, stage: Later, condition: {name: OnCreate}, action: {name: Notify}}]",
            "stage",
        ),
        ("scrips: [{description: x}]", "condition"),
        ("scrips: [: bad", "not valid YAML"),
    ],
)
def test_apply_refuses_bad_files(session, content: str, fragment: str) -> None:
    from tessera.core.errors import InvalidInput
    from tessera.scrips.catalog_file import apply_file, export_yaml
    from tests.support.desks import make_desk

    desk = make_desk(session)
    before = export_yaml(desk.root)
    with pytest.raises(InvalidInput) as info:
        apply_file(desk.root, content)
    assert fragment in info.value.message
    assert "\n" not in info.value.message
    assert export_yaml(desk.root) == before


def test_errors_are_one_line(env) -> None:
    assert_one_line_error(run(["scrip", "show", "999"], env), "no scrip 999")
    assert_one_line_error(run(["scrip", "apply", "/nonexistent.yaml"], env), "cannot read")
    assert_one_line_error(
        run(["scrip", "apply", "-"], env, stdin="scrips: [{description: x, condition: {name: Nope}}]"),
        "action",
    )
    assert_one_line_error(run(["ticket", "preview", "999", "status=open"], env), "no ticket")
    bad = {**env, "TESSERA_SMTP_TLS": "maybe"}
    assert_one_line_error(run(["worker", "--once"], bad), "TESSERA_SMTP_TLS")


def test_enable_and_disable_switch_several_scrips_in_one_transaction(env) -> None:
    scrips = {s["description"]: s for s in json.loads(run(["scrip", "list", "--json"], env).out)}
    overdue = scrips["[Timer] On Overdue Escalate Priority"]
    reminder = scrips["[Timer] On Reminder Due Notify Owner"]
    assert not overdue["enabled"] and not reminder["enabled"]
    ids = [str(overdue["id"]), str(reminder["id"])]

    # One unknown id: neither is switched on.
    assert_one_line_error(run(["scrip", "enable", *ids, "999"], env), "no scrip 999")
    after = {s["id"]: s["enabled"] for s in json.loads(run(["scrip", "list", "--json"], env).out)}
    assert after[overdue["id"]] is False and after[reminder["id"]] is False

    enabled = run(["scrip", "enable", *ids], env)
    assert enabled.code == 0, enabled.err
    assert enabled.out.splitlines() == [
        f"scrip {overdue['id']} enabled: [Timer] On Overdue Escalate Priority",
        f"scrip {reminder['id']} enabled: [Timer] On Reminder Due Notify Owner",
    ]
    disabled = json.loads(run(["scrip", "disable", ids[0], "--json"], env).out)
    assert [(d["id"], d["spec"]["enabled"]) for d in disabled] == [(overdue["id"], False)]
    after = {s["id"]: s["enabled"] for s in json.loads(run(["scrip", "list", "--json"], env).out)}
    assert after[overdue["id"]] is False and after[reminder["id"]] is True

    # The shipped auto-close sets `closed`, which RT's default lifecycle lacks: it would fail on
    # every resolved ticket (recording a firing on each), so it is refused, saying why.
    close = scrips["[Timer] Close After 7 Days Resolved"]
    assert_one_line_error(
        run(["scrip", "enable", str(close["id"])], env),
        "'closed' is not a status of lifecycle 'default' (queues General)",
    )
