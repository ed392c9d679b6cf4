"""`tessera mail show` on a stranger's message: no line of its output is forged, no escape sequence
reaches a terminal. A subject that decodes to `Hi\\r\\nBcc: ...` was printed on two lines (the second
one looking like a field of the record), and `--raw` wrote the message's ESC sequences to the
admin's terminal (a title change here; a clipboard write with OSC 52). On a terminal `--raw` now
shows each control character as `\\xNN`; in a pipe it is still the bytes as received.

The real program: the message filed by `tessera mailgate`, shown by `tessera mail show`, `--raw`
once into a pipe and once on a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess

from tessera.core import grants
from tests.support.cli import run, run_bytes, tessera_cmd
from tests.support.desks import make_desk
from tests.support.wait import wait_until

HOSTILE = (
    b"From: Mallory <mallory@evil.example>\r\nTo: help@desk.example\r\n"
    b"Subject: =?utf-8?q?Hi=0D=0Areason:_approved_by_root?= \x1b[31mred\x1b]0;pwned\x07\r\n"
    b"Message-ID: <h1@evil.example>\r\n\r\nIt is \x1b]52;c;ZWNobyBwd25lZA==\x07 on fire.\r\n"
)


def _filed(database, cli_env) -> tuple[dict[str, str], int]:
    with database.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        session.commit()
    env = {**cli_env, "TESSERA_USER": "root", "TESSERA_MAILGATE_WAIT": "0"}
    filed = run_bytes(["mailgate", "--queue", "General", "--json"], env, stdin=HOSTILE)
    assert filed.returncode == 0, filed
    (record,) = json.loads(run(["mail", "list", "--json"], env).out)
    return env, record["id"]


def test_mail_show_prints_a_strangers_subject_on_its_one_line(database, cli_env) -> None:
    env, inbound_id = _filed(database, cli_env)
    shown = run(["mail", "show", str(inbound_id)], env)
    assert shown.code == 0, shown
    lines = shown.out.splitlines()
    keys = [line.split(":", 1)[0] for line in lines]
    assert "reason" in keys and keys.count("reason") == 1, lines  # the stranger's "reason:" is no line
    (subject,) = [line for line in lines if line.startswith("subject:")]
    assert subject.split(":", 1)[1].strip() == "Hi reason: approved by root red", subject
    assert "\x1b" not in shown.out and "\x07" not in shown.out


def test_mail_show_raw_is_the_bytes_in_a_pipe_and_shows_escapes_on_a_terminal(database, cli_env) -> None:
    env, inbound_id = _filed(database, cli_env)
    piped = run_bytes(["mail", "show", str(inbound_id), "--raw"], env, stdin=b"")
    assert piped.returncode == 0 and piped.stdout == HOSTILE  # a pipe: exactly as received

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*tessera_cmd(), "mail", "show", str(inbound_id), "--raw"],
            env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        seen = bytearray()

        def read_all() -> bool:
            if not select.select([leader], [], [], 0.05)[0]:
                return False
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the program exited and the terminal closed
                return True
            seen.extend(chunk)
            return not chunk

        wait_until(read_all, timeout=60, what="the program to write the message and exit")
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    shown = bytes(seen).decode("utf-8")
    assert b"\x1b" not in seen and b"\x07" not in seen, seen
    assert "\\x1b[31mred\\x1b]0;pwned\\x07" in shown, shown
    assert "It is \\x1b]52;c;ZWNobyBwd25lZA==\\x07 on fire." in shown, shown
