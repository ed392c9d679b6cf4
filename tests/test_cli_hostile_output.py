"""The CLI's text output is a terminal's input: what a ticket, a mail or a file carries (OSC 52
clipboard writes, OSC 8 links, CSI, C1 controls, bare CRs) is taken out at the CLI's one boundary
(`tessera.core.hostile_text` through `cli.common.echo`/`table`/`print_json` and the error line)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import assert_one_line_error, run

HOSTILE = (
    "CR\rLF\nesc \x1b[31mRED\x1b[0m osc \x1b]52;c;SGVsbG8=\x07 "
    "link \x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\ c1 \x9b2J end"
)
TERMINAL_ACTORS = ("\x1b", "\x07", "\x9b", "\r")


@pytest.fixture
def env(cli_env):
    env = dict(cli_env)
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    return env


def _inert(text: str) -> None:
    for actor in TERMINAL_ACTORS:
        assert actor not in text, f"{actor!r} reached the terminal in {text!r}"


def test_bidi_overrides_do_not_reach_the_terminal(env) -> None:
    """U+202E (and the other embeddings, overrides, isolates) would show the rest of a line
    reversed: `invoice\u202efdp.exe` reads as `invoiceexe.pdf`."""
    subject = "invoice\u202efdp.exe \u2066iso\u2069 \u202aemb\u202c done"
    made = run(["ticket", "create", "-q", "General", "-s", subject, "--json"], env)
    assert made.code == 0, made.err
    number = str(json.loads(made.out)["id"])
    for args in (["ticket", "show", number], ["search", f"id = {number}"]):
        shown = run(args, env)
        assert shown.code == 0, shown.err
        assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown.out)
        assert "invoicefdp.exe" in shown.out, shown.out  # the characters around them stay


def test_ticket_text_reaches_the_terminal_without_escape_sequences(env) -> None:
    made = run(
        [
            "ticket",
            "create",
            "-q",
            "General",
            "-s",
            HOSTILE,
            "-r",
            "x@example.com",
            "--body",
            HOSTILE,
            "--json",
        ],
        env,
    )
    assert made.code == 0, made.err
    number = str(json.loads(made.out)["id"])
    shown = run(["ticket", "show", number, "--history"], env)
    assert shown.code == 0, shown.err
    _inert(shown.out)
    assert "esc RED osc  link x c1  end" in shown.out
    found = run(["search", f"id = {number}"], env)
    _inert(found.out)
    assert "end" in found.out
    as_json = run(["search", f"id = {number}", "--json"], env)
    _inert(as_json.out)  # JSON escapes what is left instead: the same data, inert on a terminal
    assert json.loads(as_json.out)[0]["subject"].endswith("end")


def test_names_with_line_breaks_or_escapes_are_refused_in_one_line(env) -> None:
    refused = run(["queue", "create", "Evil\r\nQueue\x1b]52;c;SGVsbG8=\x07"], env)
    assert_one_line_error(refused, "a queue name may not contain control characters", "column 5")
    _inert(refused.err)
    assert_one_line_error(run(["user", "add", "bad\x1b[2Jname"], env), "a user name may not contain")


def test_an_error_quoting_a_hostile_file_is_one_clean_line(env, tmp_path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text('name: "office\\r\\nInjected: \\e]52;c;SGVsbG8=\\a"\ntimezone: Europe/Paris\n')
    refused = run(["calendar", "apply", str(path)], env)
    assert_one_line_error(refused, "not a calendar name")
    _inert(refused.err)
