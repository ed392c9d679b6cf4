"""Every time in every JSON answer has one form, the ticket's: RFC 3339 in UTC ending in `Z`.

A ticket's `--json` said `...Z` while its transactions, reminders, outbox mail and the scrips'
records said `...+00:00`: a script comparing them as text, or parsing with a strict RFC 3339
profile, met two forms. Through the real program and the real API server, a desk with a history
(a Set Due, a reply mailed, a reminder, scrip runs, received mail) is read by every command and
endpoint that prints times, and every value that reads as a time is walked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.support.api import Api
from tests.support.api import api as api  # the fixture
from tests.support.cli import run
from tests.support.mail import mail

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
JSON_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


def _times(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in `value` that begins as a date and time."""
    if isinstance(value, str):
        if TIME.match(value):
            yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _times(item, f"{where}[{i}]")


def test_every_time_in_the_clis_json_and_the_apis_answers_is_utc_with_a_z(api: Api, cli_env) -> None:
    env = {**cli_env, "TESSERA_USER": "root"}

    def cli(*args: str) -> Any:
        result = run([*args, "--json"], env)
        assert result.code == 0, (args, result)
        return json.loads(result.out)

    made = cli(
        "ticket", "create", "--queue", "General", "--subject", "printer", "--requestor", "ann@x.example"
    )
    tid = str(made["id"])
    cli("ticket", "set", tid, "due=2030-01-02 10:00")  # a Set Due: old and new kept as text
    assert run(["ticket", "reply", tid, "--body", "on it"], env).code == 0  # mail in the outbox
    cli("ticket", "reminder", "add", tid, "--subject", "call back", "--due", "2030-01-01")
    filed = run(
        ["mailgate", "--queue", "General", "--json"], {**env, "TESSERA_MAILGATE_WAIT": "0"}, mail().decode()
    )
    assert filed.code == 0, filed
    outputs: dict[str, Any] = {
        "ticket show": cli("ticket", "show", tid),
        "ticket show --history": cli("ticket", "show", tid, "--history"),
        "ticket reminder list": cli("ticket", "reminder", "list", tid),
        "search": cli("search", "Queue = 'General'"),
        "mail outbox": cli("mail", "outbox"),
        "mail list": cli("mail", "list"),
        "scrip log": cli("scrip", "log", "--ticket", tid),
        "scrip show": cli("scrip", "show", "1"),
        "timers preview": cli("timers", "preview"),
    }
    with api.client(api.root) as client:
        for path in (
            f"/tickets/{tid}",
            f"/tickets/{tid}/transactions",
            f"/tickets/{tid}/reminders",
            "/tickets?query=Queue%20%3D%20%27General%27",
            "/scrips/1",
        ):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            outputs[f"GET {path}"] = answer.json()
    found = {name: list(_times(value)) for name, value in outputs.items()}
    wrong = [
        (name, where, text)
        for name, got in found.items()
        for where, text in got
        if not JSON_TIME.fullmatch(text)
    ]
    assert wrong == [], wrong
    # Each kind of record was there to be walked: the ticket's times, its transactions' (and the
    # Set Due's old and new), the reminder's, the outbox's, the received mail's, the scrip log's.
    history = found["ticket show --history"]
    assert any(where.endswith(".new") for where, _ in history), history
    for name in (
        "ticket show",
        "ticket reminder list",
        "mail outbox",
        "mail list",
        "scrip log",
        "GET /scrips/1",
    ):
        assert found[name], name
    assert found[f"GET /tickets/{tid}/transactions"] and found["timers preview"]


def test_a_subject_or_field_value_that_reads_like_a_time_is_written_as_it_is(cli_env) -> None:
    """Only a time field's change (Due, Starts...) is rewritten to end in Z: a subject or a custom
    field value that happens to read `2026-12-07T00:00:00+00:00` was shown as `...Z` in the
    ticket's history, the API and the event stream, a text that was never set."""
    env = cli_env
    assert run(["db", "upgrade"], env).code == 0  # your login name is its superuser
    assert run(["cf", "create", "Ref"], env).code == 0
    made = run(["ticket", "create", "--queue", "General", "--subject", "x", "--json"], env)
    tid = str(json.loads(made.out)["id"])
    text = "2026-12-07T00:00:00+00:00"
    assert run(["ticket", "set", tid, f"subject={text}", f"cf.Ref={text}", "due=2030-01-02"], env).code == 0
    shown = json.loads(run(["ticket", "show", tid, "--history", "--json"], env).out)
    changes = {t["field"]: t["new"] for t in shown["history"] if t["type"] in ("Set", "CustomField")}
    assert shown["subject"] == text and shown["custom_fields"]["Ref"] == text
    assert changes["Subject"] == text and changes["Ref"] == text
    assert changes["Due"] == "2030-01-02T00:00:00Z"
