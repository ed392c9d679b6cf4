"""`tessera import FILE.jsonl`: tickets from RT or another desk with their original times, actors
and transactions; past times only with the Import right (checked in core); one database
transaction per file (a bad line names itself and nothing is written); no scrip and no mail for
imported history; progress for long imports; the demo seed on the same path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tessera.core.demo import seed
from tessera.core.errors import PermissionDenied
from tessera.core.import_records import parse_lines
from tessera.core.importing import import_records
from tessera.core.models import OutboxMessage, ScripRun, Ticket, Transaction
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS

RT_TICKET = {
    "queue": "General",
    "subject": "VPN drops every hour",
    "status": "resolved",
    "owner": "alice",
    "creator": "ann@customer.example",
    "requestors": ["ann@customer.example"],
    "cc": ["boss@customer.example"],
    "priority": 20,
    "created": "2024-03-01T09:00:00Z",
    "origin": "rt.example.com#1234",
    "custom_fields": {"Severity": "High"},
    "reminders": [{"subject": "Check it held", "owner": "alice", "due": "2024-03-09T00:00:00Z"}],
    "transactions": [
        {"type": "Create", "actor": "ann@customer.example", "created": "2024-03-01T09:00:00Z",
         "body": "The VPN drops every hour."},
        {"type": "Take", "actor": "alice", "created": "2024-03-01T09:20:00Z", "field": "Owner",
         "old": "Nobody", "new": "alice"},
        {"type": "Correspond", "actor": "alice", "created": "2024-03-01T09:30:00Z", "body": "Looking."},
        {"type": "Status", "actor": "alice", "created": "2024-03-01T09:30:00Z", "old": "new", "new": "open"},
        {"type": "Comment", "actor": "alice", "created": "2024-03-02T08:00:00Z", "body": "MTU issue."},
        {"type": "Status", "actor": "alice", "created": "2024-03-02T10:00:00Z", "old": "open",
         "new": "resolved"},
    ],
}  # fmt: skip


@pytest.fixture
def cli(cli_env):
    assert run(["db", "upgrade"], cli_env).code == 0

    def tessera(*args: str, stdin: str | None = None, ok: bool = True):
        result = run(list(args), cli_env, stdin=stdin)
        if ok:
            assert result.code == 0, f"tessera {' '.join(args)}: {result.err}"
        return result

    tessera("queue", "set", "General", "correspond_address=help@desk.example")  # shipped with the desk
    tessera("cf", "create", "Severity", "--type", "select", "--value", "Low", "--value", "High")
    for name in ("alice", "bob"):
        tessera("user", "add", name, "--email", f"{name}@desk.example")
        for right in AGENT_RIGHTS:
            tessera("right", "grant", right, f"user:{name}")
    return tessera


def _file(tmp_path, *records: dict | str) -> str:
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return str(path)


def _count(cli) -> int:
    return int(cli("search", "id > 0", "--count").out.strip())


def test_an_rt_ticket_keeps_its_times_actors_and_history(cli, tmp_path) -> None:
    done = json.loads(cli("import", _file(tmp_path, RT_TICKET), "--json").out)
    assert set(done) == {"dry_run", "count", "seconds", "tickets"} and done["count"] == 1
    entry = done["tickets"][0]
    assert set(entry) == {"line", "id", "display_id", "origin"} and entry["origin"] == "rt.example.com#1234"
    shown = json.loads(cli("ticket", "show", entry["display_id"], "--history", "--json").out)
    assert shown["created"].startswith("2024-03-01T09:00:00")
    assert shown["updated"].startswith("2024-03-02T10:00:00")
    assert shown["started"].startswith("2024-03-01T09:30:00")  # RT: first left the initial status
    assert shown["resolved"].startswith("2024-03-02T10:00:00")
    assert shown["owner"] == "alice" and shown["status"] == "resolved" and shown["priority"] == 20
    assert shown["requestors"] == ["ann@customer.example"] and shown["cc"] == ["boss@customer.example"]
    assert shown["custom_fields"]["Severity"] == "High"
    assert shown["reminders"][0]["subject"] == "Check it held" and shown["reminders"][0]["owner"] == "alice"
    history = shown["history"]
    assert [(t["type"], t["actor"], t["created"][:16]) for t in history] == [
        ("Create", "ann@customer.example", "2024-03-01T09:00"),
        ("Take", "alice", "2024-03-01T09:20"),
        ("Correspond", "alice", "2024-03-01T09:30"),
        ("Status", "alice", "2024-03-01T09:30"),
        ("Comment", "alice", "2024-03-02T08:00"),
        ("Status", "alice", "2024-03-02T10:00"),
    ]
    assert history[2]["message"]["content"] == "Looking."
    assert (
        all(t["data"]["imported"] for t in history) and history[0]["data"]["origin"] == "rt.example.com#1234"
    )
    # no scrip saw the history: no autoreply, no notification, nothing traced
    assert all(not t.get("outgoing") for t in history)
    assert "Severity" in cli("search", "Created < '2024-04-01' AND Owner = 'alice'", "--json").out


def test_past_times_and_other_actors_need_the_import_right(cli, tmp_path) -> None:
    refused = cli("--user", "bob", "import", _file(tmp_path, {"queue": "General", "subject": "x"}, RT_TICKET),
                  ok=False)  # fmt: skip
    assert_one_line_error(refused, "line 2:", "Import right")
    txns = [{"type": "Create", "body": "It jams"}, {"type": "Comment", "body": "toner"}]
    plain = {"queue": "General", "subject": "Printer", "requestors": ["carl@customer.example"]}
    plain["transactions"] = txns
    done = json.loads(cli("--user", "bob", "import", _file(tmp_path, plain), "--json").out)
    shown = json.loads(cli("ticket", "show", done["tickets"][0]["display_id"], "--history", "--json").out)
    assert {t["actor"] for t in shown["history"]} == {"bob"}  # by the importer, now
    created = datetime.fromisoformat(shown["created"])
    assert datetime.now(UTC) - created < timedelta(minutes=5)
    cli("right", "grant", "Import", "user:bob")
    assert json.loads(cli("--user", "bob", "import", _file(tmp_path, RT_TICKET), "--json").out)["count"] == 1


def test_a_bad_line_names_itself_and_nothing_of_the_file_is_written(cli, tmp_path) -> None:
    good = {"queue": "General", "subject": "fine"}
    before = _count(cli)
    cases = [
        ((good, "{not json", good), "line 2: not JSON"),
        ((good, good, {"queue": "Nowhere"}), "line 3:"),
        ((good, {"queue": "General", "status": "closed"}), "line 2: status: 'closed' is no status"),
        ((good, {"queue": "General", "created": "2999-01-01T00:00:00Z"}), "line 2: created", "in the future"),
        ((good, {"queue": "General", "transactions": [{"type": "Frobnicate"}]}), "line 2:", "unknown type"),
        ((good, {"queue": "General", "owner": "ghost"}), "line 2: owner: unknown user 'ghost'"),
        ((good, {"queue": "General", "subjct": "typo"}), "line 2:", "subjct"),
        (
            (good, {"queue": "General", "requestors": ["help@desk.example"]}),
            "line 2:",
            "desk's own addresses",
        ),
    ]
    for lines, *fragments in cases:
        assert_one_line_error(cli("import", _file(tmp_path, *lines), ok=False), *fragments)
    assert _count(cli) == before


def test_a_nul_in_any_text_is_its_lines_error_not_an_internal_one(cli, tmp_path) -> None:
    """PostgreSQL holds no NUL; written with COPY, its refusal was `internal error: DataError`
    (exit 70) naming no line. Now the line and the place are named (exit 5), nothing written."""
    good = {"queue": "General", "subject": "fine"}
    before = _count(cli)
    cases = [
        ({"queue": "General", "subject": "a\x00b"}, "line 2: subject: a NUL"),
        (
            {"queue": "General", "transactions": [{"type": "Create", "body": "x\x00"}]},
            "line 2: transactions.0.body: a NUL",
        ),
        ({"queue": "General", "custom_fields": {"Severity\x00": "Low"}}, "line 2: custom_fields.", "a NUL"),
    ]
    for bad, *fragments in cases:
        result = cli("import", _file(tmp_path, good, bad), ok=False)
        assert result.code == 5, result.err
        assert_one_line_error(result, *fragments)
    assert _count(cli) == before


def test_dry_run_checks_everything_and_writes_nothing(cli, tmp_path) -> None:
    before = _count(cli)
    done = json.loads(cli("import", _file(tmp_path, RT_TICKET, RT_TICKET), "--dry-run", "--json").out)
    assert done["dry_run"] is True and done["count"] == 2 and done["tickets"][0]["id"] is None
    assert "nothing was written" in cli("import", _file(tmp_path, RT_TICKET), "--dry-run").out
    assert _count(cli) == before
    bad = cli(
        "import", _file(tmp_path, RT_TICKET, {"queue": "General", "owner": "ghost"}), "--dry-run", ok=False
    )
    assert_one_line_error(bad, "line 2:")


def test_a_long_import_reports_progress_and_reads_stdin(cli) -> None:
    lines = "\n".join(json.dumps({"queue": "General", "subject": f"bulk {n}"}) for n in range(1200))
    result = cli("import", "-", stdin=lines)
    assert "imported 1200 tickets" in result.out
    progress = [line for line in result.err.splitlines() if line.startswith("import:")]
    assert progress == ["import: 500/1200 tickets written", "import: 1000/1200 tickets written"]


def test_core_checks_the_import_right_and_runs_no_scrips(desk: Desk) -> None:
    agent = desk.agent("bob", *AGENT_RIGHTS)
    line = RT_TICKET | {"owner": None, "reminders": [], "custom_fields": {}}
    line["transactions"] = RT_TICKET["transactions"][:1]
    records = list(parse_lines([json.dumps(line)]))
    with pytest.raises(PermissionDenied, match=r"line 1: .*Import right"):
        import_records(agent, records)
    runs, mails = (
        desk.session.scalar(select(func.count()).select_from(m)) for m in (ScripRun, OutboxMessage)
    )
    done = import_records(desk.root, records)
    ticket = desk.session.get(Ticket, done[0].id)
    assert ticket is not None and ticket.created == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert desk.session.scalar(select(func.count()).select_from(ScripRun)) == runs
    assert desk.session.scalar(select(func.count()).select_from(OutboxMessage)) == mails


def test_the_demo_seed_takes_the_import_path(desk: Desk) -> None:
    seed(desk.root, 30)
    data = desk.session.scalars(select(Transaction.data).order_by(Transaction.id.desc()).limit(50)).all()
    assert data and all(d.get("imported") for d in data)
