"""The core through the real `tessera` program, as a user (or a script) would drive it."""

from __future__ import annotations

import getpass
import json

import pytest

from tessera.core import grants, queues
from tessera.core.ids import display_id
from tests.support.cli import assert_one_line_error, run


@pytest.fixture
def cli(cli_env):
    first = run(["db", "upgrade"], cli_env)
    assert first.code == 0, first.err
    assert f"created superuser {getpass.getuser()!r} (your login name)" in first.out

    def tessera(*args: str, stdin: str | None = None, ok: bool = True):
        result = run(list(args), cli_env, stdin=stdin)
        if ok:
            assert result.code == 0, f"tessera {' '.join(args)}: {result.err}"
        return result

    return tessera


def test_a_ticket_from_creation_to_merge(cli, tmp_path) -> None:
    cli(
        "queue",
        "create",
        "Support",
        "--description",
        "Front line",
        "--correspond-address",
        "help@desk.example",
    )
    cli("user", "add", "alice", "--email", "alice@desk.example", "--real-name", "Alice Martin")
    cli("right", "grant", "OwnTicket", "role:Privileged")
    cli("right", "grant", "ShowTicket", "role:Privileged")
    cli("cf", "create", "Severity", "--type", "select", "--value", "Low", "--value", "High")
    attachment = tmp_path / "log.txt"
    attachment.write_text("boot failed\n")
    created = json.loads(
        cli(
            "ticket",
            "create",
            "--queue",
            "support",
            "--subject",
            "VPN down",
            "--requestor",
            "ann@customer.example",
            "--cc",
            "cc@customer.example",
            "--admincc",
            "alice@desk.example",
            "--priority",
            "30",
            "--owner",
            "alice",
            "--cf",
            "Severity=High",
            "--attach",
            str(attachment),
            "--body",
            "-",
            "--json",
            stdin="It dropped.\n",
        ).out
    )
    assert created["display_id"] == "TKT-0001" and created["owner"] == "alice" and created["priority"] == 30
    assert created["custom_fields"] == {"Severity": "High"}
    assert created["requestors"] == ["ann@customer.example"]
    cli("ticket", "reply", "TKT-0001", "--body", "Looking now.")
    cli("ticket", "comment", "1", "--body", "-", stdin="Internal: router flapping\n")
    out = cli("ticket", "set", "1", "status=stalled", "priority=40", "due=2026-12-24", "cf.Severity=Low").out
    assert "Status open -> stalled" in out  # the reply opened it (RT's default scrip)
    cli("ticket", "watcher", "add", "1", "Cc", "bob@customer.example")
    cli("ticket", "watcher", "remove", "1", "Cc", "bob@customer.example")
    cli("queue", "create", "Triage")
    cli("ticket", "create", "-q", "Triage", "-s", "VPN down again", "-r", "ann@customer.example")
    moved = cli("ticket", "set", "TKT-0002", "queue=Support", "owner=alice", "subject=VPN down, again").out
    assert "Queue Triage -> Support" in moved and "Subject VPN down again -> VPN down, again" in moved
    # Tickets are named as everywhere else, however they were typed.
    assert cli("ticket", "link", "2", "RefersTo", "#1").out.strip() == "linked TKT-0002 RefersTo TKT-0001"
    assert cli("ticket", "unlink", "2", "RefersTo", "1").out.strip() == "unlinked TKT-0002 RefersTo TKT-0001"
    cli("ticket", "untake", "1", "--user", "alice")
    cli("ticket", "take", "1")
    cli("ticket", "give", "1", "alice")
    cli("ticket", "steal", "1")
    assert cli("ticket", "merge", "2", "1").out.strip() == "merged TKT-0002 into TKT-0001"
    shown = json.loads(cli("ticket", "show", "TKT-0002", "--history", "--json").out)
    assert shown["id"] == 1  # the merged id resolves to the survivor
    types = [h["type"] for h in shown["history"]]
    for expected in (
        "Create",
        "Correspond",
        "Comment",
        "Status",
        "Set",
        "CustomField",
        "AddWatcher",
        "DelWatcher",
        "AddLink",
        "DeleteLink",
        "Untake",
        "Take",
        "Give",
        "Steal",
        "Merged",
    ):
        assert expected in types, f"{expected} missing from {types}"
    create = shown["history"][0]
    assert create["message"]["content"] == "It dropped.\n"
    assert create["message"]["attachments"][0]["filename"] == "log.txt"
    comment = next(h for h in shown["history"] if h["type"] == "Comment")
    assert comment["message"]["content"] == "Internal: router flapping\n"
    assert shown["merged_from"] == ["TKT-0002"]
    fields = {(h["type"], h["field"]) for h in shown["history"]}
    assert {("Set", "Queue"), ("Set", "Subject"), ("Give", "Owner")} <= fields, fields
    text = cli("ticket", "show", "1", "--history").out
    assert "TKT-0001  VPN down" in text and "Looking now." in text


def test_lists_in_json(cli) -> None:
    cli("queue", "create", "Support")
    cli("queue", "set", "Support", "description=Help", "comment_address=help-comment@desk.example")
    cli("group", "add", "Helpers")
    cli("user", "add", "bob")
    cli("group", "member", "Helpers", "bob")
    cli("right", "grant", "ShowTicket", "group:Helpers", "--queue", "Support")
    cli("cf", "create", "Tags", "--multiple")
    listed = {q["name"]: q for q in json.loads(cli("queue", "list", "--json").out)}
    assert listed["Support"]["comment_address"] == "help-comment@desk.example"
    assert listed["General"]["description"] == "The default queue"  # shipped with a new desk, as RT
    assert json.loads(cli("group", "list", "--json").out) == [
        {"id": 1, "name": "Helpers", "description": "", "members": ["bob"]}
    ]
    assert {"right": "ShowTicket", "principal": "group:Helpers", "queue": "Support"} in json.loads(
        cli("right", "list", "--json").out
    )
    assert [u["name"] for u in json.loads(cli("user", "list", "--json").out)] == ["bob", "root"]
    assert json.loads(cli("cf", "list", "--json").out)[0]["multiple"] is True
    cli("user", "set", "bob", "disabled=yes")
    assert_one_line_error(cli("ticket", "show", "1", "--user", "bob", ok=False), "disabled")


def test_cf_set_disable_and_enable_change_a_field_as_the_tui_admin_does(cli) -> None:
    """A field made with `cf create` is changed (renamed, its values, scope, pattern), disabled and
    enabled again from the CLI, through core's `customfield_admin`; a bad change is one line and
    changes nothing; each change needs AdminCustomField."""
    cli("queue", "create", "Support")
    cli("cf", "create", "Severity", "--type", "select", "--value", "low", "--value", "high")
    cli("ticket", "create", "--queue", "Support", "--subject", "printer")
    cli("ticket", "set", "1", "cf.Severity=high")
    changed = json.loads(
        cli(
            "cf", "set", "severity", "name=Impact", "description=How bad", "queue=Support",
            "--value", "high", "--value", "medium", "--value", "low", "--json",
        ).out
    )  # fmt: skip
    assert {k: changed[k] for k in ("name", "values", "queue", "description", "disabled")} == {
        "name": "Impact",
        "values": ["high", "medium", "low"],
        "queue": "Support",
        "description": "How bad",
        "disabled": False,
    }
    assert json.loads(cli("ticket", "show", "1", "--json").out)["custom_fields"] == {"Impact": "high"}
    assert_one_line_error(cli("cf", "set", "Impact", "type=integer", ok=False), "not a setting", "type")
    assert_one_line_error(cli("cf", "set", "Impact", "multiple=maybe", ok=False), "multiple", "yes or no")
    assert_one_line_error(cli("cf", "set", "Impact", "pattern=[", ok=False), "pattern")
    assert_one_line_error(cli("cf", "set", "Nope", "description=x", ok=False), "Nope")
    assert json.loads(cli("cf", "list", "--json").out)[0]["pattern"] is None  # nothing of it was kept
    cli("user", "add", "bob")
    assert_one_line_error(cli("cf", "disable", "Impact", "--user", "bob", ok=False), "AdminCustomField")
    disabled = json.loads(cli("cf", "disable", "Impact", "--json").out)
    assert [(f["name"], f["disabled"]) for f in disabled] == [("Impact", True)]
    assert json.loads(cli("ticket", "show", "1", "--json").out)["custom_fields"] == {"Impact": "high"}
    assert_one_line_error(cli("ticket", "set", "1", "cf.Impact=low", ok=False), "Impact")
    assert "custom field Impact enabled" in cli("cf", "enable", "Impact").out
    cli("ticket", "set", "1", "cf.Impact=low")
    assert json.loads(cli("ticket", "show", "1", "--json").out)["custom_fields"] == {"Impact": "low"}


def test_a_changed_due_date_reads_as_every_other_time_in_the_text_output(cli) -> None:
    """`ticket set 1 due=...` and `ticket show --history` wrote the Due change as stored ISO text
    (`2026-12-08T00:00:00+00:00 -> ...`), while every other time there reads `2026-12-08 00:00 UTC`;
    a subject that looks like a time is left as it is."""
    cli("queue", "create", "Support")
    cli("ticket", "create", "--queue", "Support", "--subject", "printer")
    cli("ticket", "set", "1", "due=2026-12-08 09:30")
    changed = cli("ticket", "set", "1", "due=2026-12-09", "starts=2026-12-01T08:00").out.splitlines()
    assert changed == [
        "TKT-0001: Due 2026-12-08 09:30 UTC -> 2026-12-09 00:00 UTC",
        "TKT-0001: Starts  -> 2026-12-01 08:00 UTC",  # no old value
    ]
    subject = cli("ticket", "set", "1", "subject=2026-12-07T00:00:00+00:00").out
    assert subject.strip() == "TKT-0001: Subject printer -> 2026-12-07T00:00:00+00:00"
    history = cli("ticket", "show", "1", "--history").out
    assert "Set Due 2026-12-08 09:30 UTC -> 2026-12-09 00:00 UTC" in history
    assert "Set Starts  -> 2026-12-01 08:00 UTC" in history
    assert "+00:00 ->" not in history and "Z ->" not in history


def test_select_values_differing_only_in_case_are_refused(cli) -> None:
    """A value is chosen in any case, the last of `Low`/`low` winning: with both allowed, `Low`
    could never be set (`cf.Severity=Low` set `low`). `cf create` and `cf set` refuse the pair."""
    cli("cf", "create", "Severity", "--type", "select", "--value", "Low", "--value", "High")
    for args in (
        ["cf", "create", "Impact", "--type", "select", "--value", "Low", "--value", "low"],
        ["cf", "set", "Severity", "--value", "Low", "--value", "High", "--value", "low"],
    ):
        assert_one_line_error(cli(*args, ok=False), "'Low' and 'low' differ only in case")
    fields = json.loads(cli("cf", "list", "--json").out)
    assert [(f["name"], f["values"]) for f in fields] == [("Severity", ["Low", "High"])]
    cli("cf", "set", "Severity", "--value", "Low", "--value", "Low", "--value", "High")  # the same twice: one


def test_cf_list_says_which_fields_are_disabled(cli) -> None:
    """`cf list` (text) listed a disabled field as any other: only its --json said `disabled`."""
    cli("cf", "create", "Ref")
    cli("cf", "create", "Old")
    cli("cf", "disable", "Old")
    lines = cli("cf", "list").out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "VALUES", "SCOPE", "STATE"]
    assert [line.split() for line in lines[1:]] == [
        ["Ref", "freeform", "global"],
        ["Old", "freeform", "global", "disabled"],
    ]
    cli("cf", "enable", "Old")
    assert "disabled" not in cli("cf", "list").out


def test_setting_a_disabled_field_says_it_is_disabled(cli) -> None:
    """`ticket set 1 cf.Old=x` on a disabled field answered 'unknown custom field', though
    `cf list` shows the field; it names it disabled, and how it comes back, in one line."""
    cli("cf", "create", "Old")
    cli("ticket", "create", "--queue", "General", "--subject", "printer")
    cli("cf", "disable", "Old")
    for args in (
        ["ticket", "set", "1", "cf.old=x"],
        ["ticket", "create", "-q", "General", "-s", "y", "--cf", "Old=x"],
    ):
        refused = cli(*args, ok=False)
        assert refused.code == 5
        assert_one_line_error(refused, "custom field 'Old' is disabled", "tessera cf enable 'Old'")
    assert_one_line_error(cli("ticket", "set", "1", "cf.Olde=x", ok=False), "unknown custom field 'Olde'")


def test_a_misspelt_field_in_cf_set_or_disable_is_answered_with_the_nearest(cli) -> None:
    """`cf set Severty ...` said only 'unknown custom field' where every other typo is answered
    with the nearest name (README: a typo in a custom field)."""
    cli("cf", "create", "Severity", "--type", "select", "--value", "Low")
    for args in (
        ["cf", "set", "Severty", "description=x"],
        ["cf", "disable", "Severty"],
        ["cf", "enable", "Severty"],
    ):
        assert_one_line_error(cli(*args, ok=False), "unknown custom field 'Severty' - did you mean Severity?")


def test_a_custom_field_value_with_a_line_break_stays_on_its_line_in_ticket_show(cli) -> None:
    """A freeform value may hold a line break; `ticket show` printed it as is, so its second line
    read as one of the ticket's own (`  requestors: evil@x.example`), in the set's answer and the
    history too. Each stays one line; --json keeps the value whole."""
    cli("cf", "create", "Notes")
    cli("ticket", "create", "--queue", "General", "--subject", "printer", "--requestor", "ann@x.example")
    value = "line1\n  requestors: evil@x.example"
    changed = cli("ticket", "set", "1", f"cf.Notes={value}").out
    shown = cli("ticket", "show", "1", "--history").out
    for out in (changed, shown):
        forged = [line for line in out.splitlines() if line.lstrip().startswith("requestors: evil")]
        assert forged == [], out
    assert "  cf.Notes: line1   requestors: evil@x.example" in shown.splitlines()
    assert json.loads(cli("ticket", "show", "1", "--json").out)["custom_fields"]["Notes"] == value


def test_cf_disable_naming_a_field_twice_answers_it_once(cli) -> None:
    """`cf disable Old old` said 'custom field Old disabled' twice (and listed it twice in --json)."""
    cli("cf", "create", "Old")
    assert cli("cf", "disable", "Old", "old").out.splitlines() == ["custom field Old disabled"]
    assert [f["name"] for f in json.loads(cli("cf", "enable", "old", "OLD", "--json").out)] == ["Old"]


def test_cf_names_and_allowed_values_with_control_characters_are_refused(cli) -> None:
    """A custom field's name and its select values are shown on every ticket (`ticket show`, the
    TUI's form): like a queue's name, one holding a line break or an escape is refused in one line
    by `cf create` and `cf set`, and nothing is kept."""
    cli("cf", "create", "Severity", "--type", "select", "--value", "Low")
    for args, fragment in (
        (["cf", "create", "Bad\r\nName"], "a custom field name may not contain control characters"),
        (["cf", "create", "Esc\x1b[31mName"], "a custom field name may not contain control characters"),
        (["cf", "set", "Severity", "name=Sev\nBcc: x"], "a custom field name may not contain"),
        (["cf", "set", "Severity", "--value", "Lo\nw"], "a custom field value may not contain"),
        (["cf", "create", "Tag", "--type", "select", "--value", "a\tb"], "a custom field value may not"),
    ):
        assert_one_line_error(cli(*args, ok=False), fragment)
    fields = json.loads(cli("cf", "list", "--json").out)
    assert [(f["name"], f["values"]) for f in fields] == [("Severity", ["Low"])]
    cli("cf", "set", "Severity", "name=[bold]Impact[/bold]", "--value", "[red]Low[/red]")  # markup is text
    assert json.loads(cli("cf", "list", "--json").out)[0]["values"] == ["[red]Low[/red]"]


@pytest.fixture(scope="module")
def error_desk(pg_server, template_db, tmp_path_factory):
    """One desk for the whole error table: every case is refused, so they can share it."""
    import os

    from tests.support import pg

    url = pg.clone(pg_server, template_db)
    env = dict(os.environ)
    env["TESSERA_DATABASE_URL"] = url.render_as_string(hide_password=False)
    env["TESSERA_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    env.pop("TESSERA_USER", None)
    for args in (
        ["db", "upgrade"],
        ["queue", "create", "Support"],
        ["cf", "create", "Severity", "--type", "select", "--value", "Low"],
        ["cf", "create", "Code", "--pattern", "(|[A-Z]{3}-\\d+)"],  # optional, with a format
        ["cf", "create", "Tag", "--pattern", "(|(a|aa)+)"],  # backtracks without end on aaa...!
        ["user", "add", "viewer", "--email", "viewer@desk.example"],
        ["right", "grant", "ShowTicket", "user:viewer"],
        ["ticket", "create", "-q", "Support", "-s", "existing"],
    ):
        result = run(args, env)
        assert result.code == 0, result.err
    yield env
    pg.drop(url)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["ticket", "show", "99"], "no ticket TKT-0099"),
        (["ticket", "show", "abc"], "not a ticket id"),
        (["ticket", "show", "\u0661"], "not a ticket id"),  # an Arabic-Indic 1 is no id 1
        (["ticket", "create", "-q", "Nope", "-s", "x"], "unknown queue 'Nope'"),
        (["ticket", "create", "-q", "Support", "-s", "x", "-r", "not-an-email"], "malformed email address"),
        (["ticket", "create", "-q", "Support", "-s", "x", "--cf", "Nope=1"], "unknown custom field 'Nope'"),
        (["ticket", "create", "-q", "Support", "-s", "x", "--cf", "Severity=Urgent"], "not allowed"),
        (["ticket", "create", "-q", "Support", "-s", "x", "--attach", "/no/such/file"], "cannot attach"),
        (["ticket", "set", "1", "status=bogus"], "'bogus'"),
        (["ticket", "set", "1", "priority=high"], "not a whole number"),
        (["ticket", "set", "1", "colour=red"], "unknown field 'colour'"),
        # a typo names the nearest status or field, as search does
        (
            ["ticket", "set", "1", "status=stalld"],
            "'stalld' is not a status of this lifecycle - did you mean stalled?",
        ),
        (["ticket", "set", "1", "subjet=Hello"], "unknown field 'subjet' - did you mean subject?"),
        (["ticket", "set", "1", "status"], "expected FIELD=VALUE"),
        (["ticket", "reply", "1", "--body", ""], "no message"),
        (["ticket", "set", "1", "subject=x", "--if-version", "99"], "changed since you loaded it"),
        (["ticket", "show", "1", "--user", "ghost"], "unknown user 'ghost'"),
        (["ticket", "reply", "1", "--body", "hi", "--user", "viewer"], "viewer may not reply to TKT-0001"),
        (["right", "grant", "ShowTickt", "user:viewer"], "did you mean ShowTicket"),
        (["queue", "create", "Support"], "already exists"),
        (["user", "add", "viewer2", "--email", "VIEWER@desk.example"], "already exists"),
        (["cf", "create", "Kind", "--type", "select"], "needs at least one allowed value"),
        (["queue", "set", "Support", "lifecycle=nope"], "unknown lifecycle 'nope'"),
        (
            ["ticket", "create", "-q", "Support", "-s", "x", "--priority", "abc"],
            "priority: 'abc' is not a whole",
        ),
        (
            ["ticket", "set", "1", "priority=99999999999", "cf.Code=ABC-1"],
            "priority: 99999999999 is out of range",
        ),
        (["ticket", "set", "1", "cf.Code=abc"], "does not match"),
        # `re` would spin on it for hours, holding the ticket's row lock: the match has a time limit.
        (["ticket", "set", "1", "cf.Tag=" + "a" * 60 + "!"], "its pattern '(|(a|aa)+)' took over 0.25 s"),
        (["ticket", "reply", "1", "--body", "x", "--time-taken", "99999999999"], "time_taken"),
        (["user", "add", "u" * 201], "at most 200 characters"),
        (["ticket", "watchers", "add", "1", "Owner", "viewer"], "unknown watcher role 'Owner'"),
        (["ticket", "merge", "TKT-0001", "1"], "cannot merge TKT-0001 into itself"),
        # Usage errors too: one line naming the problem and where the help is, not click's panel.
        (["ticket", "show"], "Missing argument"),
        (["ticket", "create", "-s", "x"], "Missing option '--queue'"),
        (["search", "Status = 'open'", "--limit", "many"], "'tessera search --help'"),
        (["tickets"], "No such command 'tickets'"),
    ],
)
def test_errors_are_one_line(error_desk, args, fragment) -> None:
    result = run(args, error_desk)
    assert_one_line_error(result, fragment)
    assert result.out == ""


def test_errors_left_nothing_half_written(error_desk) -> None:
    """Runs after the error table (same module database): every refusal changed nothing."""
    shown = json.loads(run(["ticket", "show", "1", "--history", "--json"], error_desk).out)
    assert len(shown["history"]) == 1 and shown["subject"] == "existing" and shown["status"] == "new"
    users = json.loads(run(["user", "list", "--json"], error_desk).out)
    assert [u["name"] for u in users] == ["root", "viewer"]


def test_environment_names_the_actor(cli, cli_env) -> None:
    cli("queue", "create", "Support")
    cli("user", "add", "carol")
    cli("right", "grant", "CreateTicket", "user:carol")
    env = dict(cli_env, TESSERA_USER="carol")
    result = run(["ticket", "create", "-q", "Support", "-s", "mine", "--json"], env)
    assert result.code == 0, result.err
    history = json.loads(run(["ticket", "show", "1", "--history", "--json"], cli_env).out)["history"]
    assert history[0]["actor"] == "carol"


def test_demo_seeds_then_adds(cli) -> None:
    first = cli("demo", "--tickets", "120")
    assert "120 tickets added" in first.out
    again = cli("demo", "--tickets", "30")
    assert "30 tickets added" in again.out
    assert len(json.loads(cli("queue", "list", "--json").out)) == 5
    assert json.loads(cli("ticket", "show", "150", "--json").out)["id"] == 150
    assert_one_line_error(cli("demo", "--tickets", "5", "--user", "alice", ok=False), "needs SuperUser")


def test_moving_a_ticket_to_a_queue_you_may_not_see_says_it_moved(cli, cli_env) -> None:
    """The move is made: the command says so (exit 0), and that the ticket is out of sight now,
    instead of 'no ticket TKT-0001' (exit 4) after a change that was committed."""
    cli("queue", "create", "Support")
    cli("queue", "create", "Secret")
    cli("user", "add", "quinn")
    for right in ("ShowTicket", "ModifyTicket"):
        cli("right", "grant", right, "user:quinn", "--queue", "Support")
    cli("right", "grant", "CreateTicket", "user:quinn")
    cli("ticket", "create", "--queue", "Support", "--subject", "payroll")
    moved = run(["ticket", "set", "1", "queue=Secret"], {**cli_env, "TESSERA_USER": "quinn"})
    assert moved.code == 0, moved.err
    assert moved.out.splitlines() == [
        "TKT-0001: Queue Support -> Secret",
        "TKT-0001 is now out of your sight (you may no longer see it)",
    ]
    assert json.loads(cli("ticket", "show", "1", "--json").out)["queue"] == "Secret"


def test_ticket_set_json_moving_a_ticket_out_of_sight_answers_that_it_moved(cli, cli_env) -> None:
    """--json too: exit 0 with the ticket named and `visible: false` (nothing of where it went),
    not 'no ticket' (exit 4) after the committed move."""
    cli("queue", "create", "Support")
    cli("queue", "create", "Secret")
    cli("user", "add", "quinn")
    for right in ("ShowTicket", "ModifyTicket"):
        cli("right", "grant", right, "user:quinn", "--queue", "Support")
    cli("right", "grant", "CreateTicket", "user:quinn")  # may put tickets in Secret, not see them
    cli("ticket", "create", "--queue", "Support", "--subject", "payroll")
    moved = run(["ticket", "set", "TKT-0001", "queue=Secret", "--json"], {**cli_env, "TESSERA_USER": "quinn"})
    assert moved.code == 0, moved.err
    assert json.loads(moved.out) == {
        "id": 1,
        "display_id": "TKT-0001",
        "visible": False,
        "note": "TKT-0001 is now out of your sight (you may no longer see it)",
    }
    assert json.loads(cli("ticket", "show", "1", "--json").out)["queue"] == "Secret"
    # A change that leaves it in sight answers the ticket, as always.
    stays = run(["ticket", "set", "1", "priority=3", "--json"], cli_env)
    assert json.loads(stays.out)["priority"] == 3 and json.loads(stays.out)["queue"] == "Secret"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["reply", "{t}", "--body", "done"], "replied on {t}"),
        (["comment", "{t}", "--body", "noted"], "commented on {t}"),
        (["action", "{t}", "Resolve"], "{t}: Resolve: status new -> resolved"),
        (["watcher", "add", "{t}", "Cc", "pat@customer.example"], "added pat@customer.example as Cc"),
        (["watcher", "remove", "{t}", "Requestor", "customer@example.com"], "removed customer@example.com"),
        (["squelch", "{t}", "customer@example.com"], "squelched customer@example.com on {t}"),
        (["untake", "{t}"], "released {t}"),  # the change itself, no scrip needed
    ],
    ids=["reply", "comment", "action", "watcher-add", "watcher-remove", "squelch", "untake"],
)
def test_a_change_whose_scrip_takes_the_ticket_out_of_sight_says_it_was_made(
    committed_desk, cli_env, args, said
) -> None:
    """olga sees General's tickets only as their owner, and a scrip gives every changed ticket
    back to Nobody: each command's change commits, so it answers as made (exit 0), the text
    with a line saying the ticket is out of sight, --json with `visible: false`; it answered
    'no ticket' (exit 4) after the committed change."""
    desk = committed_desk
    desk.agent("olga", "ModifyTicket", "ReplyToTicket", "CommentOnTicket", "OwnTicket", queue="General")
    grants.grant(desk.root, "ShowTicket", "role:Owner", "General")
    plain, as_json = (desk.ticket(owner="olga").id for _ in range(2))
    general = queues.get_queue(desk.root, "General").id
    desk.add_scrip("give it back", action="SetOwner", action_argument="Nobody", queue_id=general)
    olga = {**cli_env, "TESSERA_USER": "olga"}

    def command(ticket_id: int) -> list[str]:
        return ["ticket", *(a.format(t=display_id(ticket_id)) for a in args)]

    done = run(command(plain), olga)
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith(said.format(t=display_id(plain))), done.out
    assert lines[-1] == f"{display_id(plain)} is now out of your sight (you may no longer see it)"
    done = run([*command(as_json), "--json"], olga)
    assert done.code == 0, done.err
    shown = display_id(as_json)
    assert json.loads(done.out) == {
        "id": as_json,
        "display_id": shown,
        "visible": False,
        "note": f"{shown} is now out of your sight (you may no longer see it)",
    }
    assert_one_line_error(run(["ticket", "show", str(as_json)], olga), f"no ticket {shown}")
