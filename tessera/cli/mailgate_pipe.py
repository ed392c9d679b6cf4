"""`tessera mailgate`'s quick path: psycopg and the standard library only, before typer and
SQLAlchemy are imported (an MTA runs one process per message, and those imports were most of it).

When a warm filer is alive (`tessera worker`, tessera.mail.filer), the message is recorded in
`inbound_mail` as pending and the filers are told, in one statement; the filer files it and
answers with a NOTIFY, and this process prints and exits exactly as the in-process path would
(the decision is read back from the row). When no filer is alive, or it does not answer in time
(`TESSERA_MAILGATE_WAIT`, 10 s), or it dies meanwhile, or it asks to (settings that are not its
own), the message is filed here as it always was (`mail_cmds.file_piped`), replacing its pending
row: whoever files it first, the other finds it filed (see `gateway._record`).

Anything this path does not read plainly (`--help`, an option it does not know, a setting it
cannot parse, a database only the full path can reach) is left to typer: `run` returns None
before standard input is read.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from tessera.core.hostile_text import clean_line
from tessera.mail.handoff import (
    DEFAULT_WAIT_S,
    EX_TEMPFAIL,
    WAIT_ENV,
    HandOff,
    HandOffFailed,
    deferred,
    desk_env,
    exit_code,
)

_VALUED = {
    "--queue": "queue",
    "-q": "queue",
    "--action": "action",
    "-a": "action",
    "--extension": "extension",
}
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # tessera.mail.gateway_settings.DEFAULT_MAX_BYTES


def _options(args: list[str]) -> dict[str, Any] | None:
    """mailgate's options, when given plainly (else None: typer reads them and says what is wrong)."""
    options: dict[str, Any] = {"queue": None, "action": "correspond", "extension": None, "json": False}
    i = 0
    while i < len(args):
        arg = args[i]
        name, has_value, value = arg.partition("=")
        if arg == "--json":
            options["json"] = True
        elif has_value and name.startswith("--") and name in _VALUED:
            options[_VALUED[name]] = value
        elif arg in _VALUED and i + 1 < len(args) and not args[i + 1].startswith("-"):
            options[_VALUED[arg]] = args[i + 1]
            i += 1
        else:
            return None
        i += 1
    return options if options["queue"] is not None else None


def _max_bytes() -> int | None:
    raw = os.environ.get("TESSERA_MAIL_MAX_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    return int(raw) if raw.isdigit() and int(raw) > 0 else None  # else the full path's message


def _wait_s(answer_s: float | None) -> float | None:
    raw = os.environ.get(WAIT_ENV, "").strip()
    try:
        wait = float(raw) if raw else DEFAULT_WAIT_S
    except ValueError:
        return None
    if not 0 <= wait < 3600:
        return None
    return wait if answer_s is None else min(wait, answer_s / 2)


def _read(limit: int) -> bytes:
    """Standard input, at most limit + 1 bytes kept (the rest drained), as `mail_cmds` reads it."""
    stream = sys.stdin.buffer
    kept = bytearray()
    while chunk := stream.read(1 << 20):
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]
    return bytes(kept)


def _in_process(options: dict[str, Any], raw: bytes, pending: int | None) -> int:
    import typer

    from tessera.cli.mail_cmds import file_piped

    try:
        file_piped(options["queue"], options["action"], options["extension"], options["json"], raw, pending)
    except typer.Exit as exc:
        return int(exc.exit_code)
    return 0


def _report(options: dict[str, Any], row: tuple[str, int | None, str, str | None]) -> int:
    """Print the filer's decision as the in-process path prints an outcome; the exit code."""
    action, ticket, reason, classification = row
    if options["json"]:
        data = {"action": action, "ticket": ticket, "reason": reason}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        from tessera.core.ids import display_id

        target = f" {display_id(ticket)}" if ticket else ""
        sys.stdout.write(f"{action}{target}: {clean_line(reason)}\n")
    code = exit_code(action, classification)
    if code:
        sys.stdout.flush()
        sys.stderr.write(f"tessera: mailgate: {' '.join(clean_line(reason).split())}\n")
    return code


def run(args: list[str]) -> int | None:
    """The exit code of `tessera mailgate ARGS`, or None when typer must read the command line."""
    options = _options(args)
    limit = _max_bytes()
    if options is None or limit is None:
        return None
    handed = HandOff.from_env()
    wait_s = None if handed is None else _wait_s(handed.limits.answer_s)
    if handed is None or wait_s is None:
        return None
    raw = _read(limit)
    if not raw.strip() or len(raw) > limit or wait_s == 0:
        return _in_process(options, raw, None)  # recorded and refused there, without the hand-off
    meta = {
        "pending": {
            "queue": options["queue"],
            "action": options["action"],
            "extension": options["extension"],
            "EXTENSION": os.environ.get("EXTENSION"),
            "env": desk_env(),
        }
    }
    try:
        decided = handed.record_and_wait(raw, options["action"][:64], meta, wait_s)
    except HandOffFailed as failed:
        reason = f"temporary failure: {clean_line(failed.text)}"
        if options["json"]:
            sys.stdout.write(json.dumps(deferred(reason), indent=2, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        sys.stderr.write(f"tessera: mailgate: {reason}\n")
        return EX_TEMPFAIL
    if decided is not None:
        return _report(options, decided)
    code = _in_process(options, raw, handed.pending)
    if code == EX_TEMPFAIL:
        handed.forget()
    return code
