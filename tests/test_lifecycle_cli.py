"""`tessera lifecycle ...` end to end: the real program, a fresh database per test.

Lifecycles written by hand (YAML and JSON) are applied, assigned to a queue with `queue set`, and then
obeyed by `ticket create` and `ticket set`; every refusal is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli import Result, assert_one_line_error, run

SUPPORT_YAML = """\
# A small support desk: triage first, customers can be waited on, closing needs CloseTicket.
name: support
initial: [new]
active: [triage, working, waiting]
inactive: [closed, deleted]
defaults:
  on_create: new
transitions:
  '': [new, triage]
  new: [triage]
  triage: [working, closed]
  working: [waiting, closed]
  waiting: [working]
  closed: [working]
  '*': [deleted]
rights:
  '* -> closed': CloseTicket
  '* -> deleted': DeleteTicket
actions:
  - {from: triage, to: working, label: Take it, update: comment}
  - {from: '*', to: closed, label: Close, update: respond}
  - {from: '*', to: deleted, label: Delete}
"""

ORDERS_JSON = """\
{
  "name": "orders",
  "initial": ["ordered"],
  "active": ["on way", "delayed"],
  "inactive": ["delivered"],
  "transitions": {
    "": ["ordered"],
    "ordered": ["on way", "delayed"],
    "on way": ["delivered", "delayed"],
    "delayed": ["on way"]
  },
  "rights": {"delayed -> on way": "AdminQueue"},
  "actions": [{"from": "ordered", "to": "on way", "label": "Ship", "update": "Comment"}]
}
"""


def ok(args: list[str], env: dict[str, str], stdin: str | None = None) -> Result:
    result = run(args, env, stdin=stdin)
    assert result.code == 0, f"{args}: {result.err}"
    return result


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    """A bootstrapped desk: `db upgrade` makes the OS login (root here) its superuser."""
    ok(["db", "upgrade"], cli_env)
    return cli_env


def grid(text: str) -> dict[str, list[str]]:
    """The transitions table of `lifecycle show`: from status -> its cells (header under its own key)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FROM \\ TO"))
    end = next(i for i in range(start, len(lines)) if "not allowed" in lines[i])
    cells = [re.split(r" {2,}", line.rstrip()) for line in lines[start:end]]
    return {row[0]: row[1:] for row in cells}


def new_ticket(env: dict[str, str], queue: str, *extra: str) -> dict:
    return json.loads(
        ok(["ticket", "create", "--queue", queue, "--subject", "Printer", *extra, "--json"], env).out
    )


def test_yaml_lifecycle_written_by_hand_is_enforced_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "support.yaml"
    path.write_text(SUPPORT_YAML)
    applied = ok(["lifecycle", "apply", str(path)], env)
    assert applied.out.strip() == "created lifecycle support"
    assert "'CloseTicket' is not one of Tessera's rights" in applied.err
    ok(["queue", "create", "Support"], env)
    ok(["queue", "set", "Support", "lifecycle=support"], env)

    ticket = new_ticket(env, "Support")
    assert ticket["status"] == "new"
    tid = ticket["display_id"]
    assert_one_line_error(
        run(["ticket", "set", tid, "status=working"], env),
        "lifecycle 'support' does not allow new -> working",
        "from new it allows triage, deleted",
    )
    assert json.loads(ok(["ticket", "show", tid, "--json"], env).out)["status"] == "new"
    ok(["ticket", "set", tid, "status=triage"], env)
    ok(["ticket", "set", tid, "status=Working"], env)
    assert_one_line_error(run(["ticket", "set", tid, "status=open"], env), "'open' is not a status")

    # An agent with ModifyTicket may work the ticket but not close it: CloseTicket replaces it there.
    ok(["user", "add", "alice"], env)
    for right in ("ShowTicket", "ModifyTicket", "CreateTicket"):
        ok(["right", "grant", right, "user:alice", "--queue", "Support"], env)
    ok(["--user", "alice", "ticket", "set", tid, "status=waiting"], env)
    ok(["--user", "alice", "ticket", "set", tid, "status=working"], env)
    refused = run(["--user", "alice", "ticket", "set", tid, "status=closed"], env)
    assert_one_line_error(
        refused, "alice may not change", "from working to closed", "lifecycle 'support'", "CloseTicket"
    )
    assert refused.code == 6
    ok(["ticket", "set", tid, "status=closed"], env)  # root is SuperUser
    shown = json.loads(ok(["ticket", "show", tid, "--json"], env).out)
    assert shown["status"] == "closed" and shown["resolved"] is not None

    assert_one_line_error(
        run(["ticket", "create", "--queue", "Support", "--subject", "x", "--status", "working"], env),
        "lifecycle 'support' does not allow creating a ticket as working",
    )
    created = new_ticket(env, "Support", "--status", "triage")
    assert created["status"] == "triage"


def test_json_lifecycle_from_stdin_show_list_and_export_round_trip(env: dict[str, str]) -> None:
    # Indented with tabs, as many editors write JSON: valid JSON, though YAML refuses tabs.
    tabbed = ORDERS_JSON.replace("  ", "\t")
    applied = json.loads(ok(["lifecycle", "apply", "-", "--json"], env, stdin=tabbed).out)
    assert applied == {"name": "orders", "result": "created", "warnings": []}
    ok(["queue", "create", "Shop", "--lifecycle", "orders"], env)

    listed = {lc["name"]: lc for lc in json.loads(ok(["lifecycle", "list", "--json"], env).out)}
    assert sorted(listed) == ["approvals", "default", "orders"]
    assert listed["orders"]["active"] == ["on way", "delayed"] and listed["orders"]["queues"] == ["Shop"]

    shown = json.loads(ok(["lifecycle", "show", "orders", "--json"], env).out)
    assert shown["categories"] == {
        "ordered": "initial",
        "on way": "active",
        "delayed": "active",
        "delivered": "inactive",
    }
    assert {"from": "delayed", "to": "on way", "right": "AdminQueue"} in shown["allowed"]
    assert {"from": None, "to": "ordered", "right": "CreateTicket"} in shown["allowed"]
    assert shown["actions"] == [{"from": "ordered", "to": "on way", "label": "Ship", "update": "comment"}]

    text = ok(["lifecycle", "show", "orders"], env).out
    assert "lifecycle orders (queues: Shop)" in text
    assert "inactive: delivered" in text
    rows = grid(text)
    assert rows["FROM \\ TO"] == ["ordered", "on way", "delayed", "delivered"]
    assert rows["on way"] == [".", "-", "M", "M"]
    assert rows["delayed"] == [".", "A", "-", "."]
    assert rows["(create)"] == ["C", ".", ".", "."]
    assert "A = AdminQueue" in text and "C = CreateTicket" in text and "M = ModifyTicket" in text

    exported = ok(["lifecycle", "export", "orders"], env).out
    assert exported.startswith("name: orders\n")
    assert ok(["lifecycle", "apply", "-"], env, stdin=exported).out.strip() == "unchanged lifecycle orders"
    as_json = ok(["lifecycle", "export", "orders", "--json"], env).out
    assert ok(["lifecycle", "apply", "-"], env, stdin=as_json).out.strip() == "unchanged lifecycle orders"

    tid = new_ticket(env, "Shop")["display_id"]
    ok(["ticket", "set", tid, "status=on way"], env)
    assert_one_line_error(
        run(["ticket", "set", tid, "status=ordered"], env),
        "lifecycle 'orders' does not allow on way -> ordered",
    )


def test_show_default_has_the_rt_table(env: dict[str, str]) -> None:
    text = ok(["lifecycle", "show", "default"], env).out
    rows = grid(text)
    assert rows["new"] == ["-", "M", "M", "M", "M", "D"]
    assert rows["deleted"] == ["M", "M", "M", "M", "M", "-"]
    assert rows["(create)"] == ["C", "C", ".", "C", ".", "."]
    assert "Open It" in text and "Undelete" in text


def test_refusals_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUPPORT_YAML.replace("waiting: [working]", "waiting: [working, parked]"))
    refused = run(["lifecycle", "apply", str(bad)], env)
    assert_one_line_error(
        refused,
        f"{bad}: transitions.waiting[1]: status 'parked' is in no category (initial, active or inactive)",
    )
    assert refused.code == 5
    two = tmp_path / "two.yaml"
    two.write_text(
        SUPPORT_YAML.replace("initial: [new]", "initial: [new, triage]").replace(
            "closed: [working]", "closed: [gone]"
        )
    )
    assert_one_line_error(
        run(["lifecycle", "apply", str(two)], env), "in two categories", "(and 1 more problem)"
    )
    assert_one_line_error(run(["lifecycle", "apply", "-"], env, stdin="name: [x"), "stdin: line 1")
    # Mistakes people make: a missing comma in JSON, a tab in YAML (more in test_lifecycle4_inputs.py).
    comma = tmp_path / "comma.json"
    comma.write_text(ORDERS_JSON.replace('"inactive": ["delivered"],', '"inactive": ["delivered"]'))
    assert_one_line_error(
        run(["lifecycle", "apply", str(comma)], env),
        f"{comma}: line 6, column 3: not valid JSON: Expecting ',' delimiter",
    )
    tabbed = tmp_path / "tabbed.yaml"
    tabbed.write_text(SUPPORT_YAML.replace("  '': [new, triage]", "\t'': [new, triage]"))
    assert_one_line_error(
        run(["lifecycle", "apply", str(tabbed)], env),
        f"{tabbed}: line 9, column 1: not valid YAML or JSON: a tab character: YAML indents with spaces only",
    )
    assert_one_line_error(
        run(["lifecycle", "apply", str(tmp_path / "none.yaml")], env), "none.yaml: no such file"
    )
    assert_one_line_error(run(["lifecycle", "show", "nope"], env), "unknown lifecycle 'nope'")
    assert "lifecycle support" not in ok(["lifecycle", "list"], env).out

    ok(["user", "add", "bob"], env)
    path = tmp_path / "support.yaml"
    path.write_text(SUPPORT_YAML)
    assert_one_line_error(
        run(["--user", "bob", "lifecycle", "apply", str(path)], env),
        "bob may not apply lifecycles",
        "AdminLifecycles",
    )
    ok(["right", "grant", "AdminLifecycles", "user:bob"], env)
    assert (
        ok(["--user", "bob", "lifecycle", "apply", str(path)], env).out.strip() == "created lifecycle support"
    )


def test_queue_move_between_lifecycles_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "support.yaml"
    path.write_text(
        SUPPORT_YAML
        + "maps:\n  default: {new: new, triage: open, working: open, waiting: stalled, closed: resolved}\n"
    )
    ok(["lifecycle", "apply", str(path)], env)
    ok(["queue", "create", "Support", "--lifecycle", "support"], env)
    # General is shipped with a new desk (RT's initialdata), on the default lifecycle
    moving = new_ticket(env, "Support", "--status", "triage")["display_id"]
    ok(["ticket", "set", moving, "queue=General"], env)
    shown = json.loads(ok(["ticket", "show", moving, "--json"], env).out)
    assert (shown["queue"], shown["status"]) == ("General", "open")
    assert_one_line_error(
        run(["ticket", "set", moving, "queue=Support"], env),
        f"cannot move {moving} from queue General to Support",
        "lifecycle 'default' has no map to 'support'",
    )
    held = new_ticket(env, "Support")["display_id"]
    ok(["ticket", "set", held, "status=deleted"], env)
    assert_one_line_error(
        run(["ticket", "set", held, "queue=General"], env), "the map support -> default has no entry for it"
    )
    new_ticket(env, "Support", "--status", "triage")
    assert_one_line_error(
        run(["queue", "set", "Support", "lifecycle=default"], env),
        "cannot give queue Support lifecycle 'default'",
        "(1 triage)",
    )
