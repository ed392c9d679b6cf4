"""`tessera mailgate` (one message on standard input, for an MTA's pipe) and `tessera lmtp`.

Exit codes are the ones MTAs understand (sysexits.h): 0 when the message was taken (on a ticket,
or recorded as dropped), 65 EX_DATAERR for a message that can never be accepted (it is kept raw
all the same), 75 EX_TEMPFAIL when it could not be taken now (database unreachable, unknown queue,
a misconfiguration): the MTA keeps the message and tries again.
"""

from __future__ import annotations

import sys
import time

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, database, echo, print_json, table
from tessera.core.hostile_text import clean_line
from tessera.core.ids import display_id
from tessera.mail.handoff import EX_TEMPFAIL, deferred


def _fail(code: int, message: str) -> None:
    sys.stderr.write(f"tessera: mailgate: {' '.join(clean_line(message).split())}\n")
    raise typer.Exit(code)


def _defer(as_json: bool, message: str) -> None:
    """Exit 75 (the MTA keeps the message and tries again); with --json the answer says so on
    standard output first, in the keys of every other outcome: action "deferred", no ticket."""
    if as_json:
        print_json(deferred(message))
    _fail(EX_TEMPFAIL, message)


def _read_message(limit: int) -> bytes:
    """Standard input, keeping at most limit + 1 bytes (the rest is read and discarded, so the
    MTA's pipe is drained and the gateway can still record and refuse an oversized message)."""
    stream = sys.stdin.buffer
    kept = bytearray()
    while chunk := stream.read(1 << 20):
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]
    return bytes(kept)


def mailgate(
    queue: str = typer.Option(..., "--queue", "-q", help="Queue for new tickets (RT's --queue)."),
    action: str = typer.Option(
        "correspond",
        "--action",
        "-a",
        help="correspond or comment, chained with take or resolve (take-correspond, correspond-resolve).",
    ),
    extension: str | None = typer.Option(
        None,
        "--extension",
        help="queue, action or ticket: taken from $EXTENSION, the MTA's plus-address (support+take@...).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Read one RFC 5322 message on standard input and file it (for an MTA's pipe transport)."""
    file_piped(queue, action, extension, as_json)


def file_piped(
    queue: str,
    action: str,
    extension: str | None,
    as_json: bool,
    raw: bytes | None = None,
    pending: int | None = None,
) -> None:
    """File a piped message in this process and report it (raises typer.Exit with the MTA's exit
    code). `raw`: the message, already read (else standard input is); `pending`: the id of its
    pending row, recorded by the quick path (tessera.cli.mailgate_pipe), which the decision replaces."""
    import os

    from tessera.core.db import translate_db_errors
    from tessera.core.db_wait import Limits, deadline
    from tessera.core.errors import DatabaseUnavailable, TesseraError
    from tessera.mail.gateway import Settings, deliver, from_extension

    try:
        queue, action, ticket = from_extension(extension, os.environ.get("EXTENSION"), queue, action)
        settings = Settings.from_env()
        if raw is None:
            raw = _read_message(settings.max_bytes)
        # The whole delivery, connecting included, is bounded (TESSERA_DB_TIMEOUT): a frozen
        # database is a temporary failure in time for the MTA, which gives a pipe about a minute.
        with deadline(Limits.from_env().answer_s):
            db = database()
            with db.session() as session:
                # A lost or refused connection becomes DatabaseUnavailable: a temporary failure.
                outcome = translate_db_errors(deliver)(
                    session, raw, queue, action, settings, ticket=ticket, pending=pending
                )
    except DatabaseUnavailable as exc:
        if exc.committed is True:  # the commit's answer was lost, but it was checked: filed
            reason = " ".join(exc.message.split())
            if as_json:
                print_json({"action": "filed", "ticket": None, "reason": reason})
            else:
                echo(f"filed: {reason}")
            return
        _defer(as_json, f"temporary failure: {exc.message}")
        return
    except TesseraError as exc:
        _defer(as_json, f"temporary failure: {exc.message}")
        return
    except Exception as exc:  # never a traceback, never a lost message: the MTA retries
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        _defer(as_json, f"temporary failure: internal error: {type(exc).__name__}: {text[0] if text else ''}")
        return
    if as_json:
        print_json(outcome.as_dict())  # exactly action, ticket, reason
    else:
        target = f" {display_id(outcome.ticket)}" if outcome.ticket else ""
        echo(f"{outcome.action}{target}: {clean_line(outcome.reason)}")  # one line, as the quick path's
    if outcome.exit_code:
        _fail(outcome.exit_code, outcome.reason)


def lmtp(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8024, "--port", help="TCP port to listen on."),
) -> None:
    """Receive mail over LMTP; recipients map to queues by their correspond/comment addresses."""
    from tessera.core.errors import ConfigError
    from tessera.mail.gateway import Settings
    from tessera.mail.lmtp import start

    settings = Settings.from_env()
    db = database()
    try:
        controller = start(db, host, port, settings)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    echo(f"tessera lmtp: listening on {host}:{port}")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


# -- `tessera mail list|show`: what the gateway did with each message, and why ----------------------

mail_app = typer.Typer(
    help="Received mail: what the gateway made of each message (ticket, or why it was dropped).",
    no_args_is_help=True,
)


@mail_app.command("list")
def mail_list(
    queue: str | None = typer.Option(
        None, "--queue", "-q", help="Only mail that came in through this queue."
    ),
    action: str | None = typer.Option(None, "--action", help="create, correspond, comment or dropped."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Received messages, newest first, with the decision taken (needs AdminQueue on the queue)."""
    from tessera.mail.records import list_inbound

    with acting(user) as ctx:
        records = list_inbound(ctx, queue=queue, action=action, limit=limit)
    if as_json:
        print_json([r.as_dict() for r in records])
        return
    if not records:
        echo("no received mail you may see")
        return
    rows = [
        [
            str(r.id),
            r.received.strftime("%Y-%m-%d %H:%M"),
            r.queue or "",
            r.action + (f" {display_id(r.ticket)}" if r.ticket else ""),
            (r.sender or "")[:40],
            " ".join((r.reason or "").split())[:80],
        ]
        for r in records
    ]
    table(rows, ["id", "received", "queue", "outcome", "from", "reason"])


@mail_app.command("show")
def mail_show(
    inbound_id: int = typer.Argument(..., metavar="ID", help="Id from tessera mail list."),
    raw: bool = typer.Option(False, "--raw", help="Print the raw message as received, nothing else."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One received message: the decision, why, and (with --raw) the bytes as received (on a
    terminal, with its control characters shown as \\xNN instead of obeyed)."""
    from tessera.mail.records import get_inbound

    with acting(user) as ctx:
        record, data = get_inbound(ctx, inbound_id)
    if raw:
        if data is None:
            from tessera.core.errors import NotFound

            raise NotFound(f"received message #{inbound_id} was not kept (over the size limit)")
        if sys.stdout.isatty():  # a person's terminal: its escape sequences shown, not obeyed
            from tessera.core.hostile_text import visible

            sys.stdout.write(visible(data))
        else:  # a file or a pipe: the bytes as received
            sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    if as_json:
        print_json(record.as_dict())
        return
    for key, value in record.as_dict().items():
        echo(f"{key + ':':18} {'' if value is None else clean_line(value)}")  # a stranger's line breaks too


# -- `tessera mail outbox|retry`: outgoing mail, recipient by recipient -----------------------------


@mail_app.command("outbox")
def mail_outbox(
    failed: bool = typer.Option(False, "--failed", help="Only messages with a refused recipient."),
    ticket: str | None = typer.Option(None, "--ticket", "-t", help="Only the mail of this ticket."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Outgoing mail not yet delivered (queued, deferred, sending) or failed, each recipient's state
    (needs AdminQueue on the ticket's queue)."""
    from tessera.core.outgoing import list_outbox

    with acting(user) as ctx:
        messages = list_outbox(ctx, failed=failed, ticket=ticket, limit=limit)
    if as_json:
        print_json(messages)
        return
    if not messages:
        echo("no failed mail you may see" if failed else "the outbox is empty (of mail you may see)")
        return
    rows: list[list[str]] = []
    for m in messages:
        subject = " ".join(str(m["subject"] or "").split())[:50]
        where = display_id(m["ticket"]) if m["ticket"] else ""
        for i, r in enumerate(m["recipients"]):
            head = [str(m["id"]), where, m["state"], subject] if i == 0 else ["", "", "", ""]
            said = r["state"]
            if r["state"] == "deferred" and r.get("next_attempt"):
                said += f" until {str(r['next_attempt'])[11:16]}"
            reply = " ".join(str(r.get("reply") or "").split())[:80] if r["state"] != "accepted" else ""
            rows.append([*head, r["address"], said, reply])
    table(rows, ["id", "ticket", "message", "subject", "recipient", "state", "reply"])


@mail_app.command("retry")
def mail_retry(
    outbox_id: int = typer.Argument(..., metavar="ID", help="Message id from tessera mail outbox."),
    recipient: list[str] | None = typer.Option(
        None, "--recipient", "-r", help="Only this refused recipient (repeatable; default: all refused)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue a message's refused recipients again (after their address was fixed); those who
    accepted it are not sent it again."""
    from tessera.core.outgoing import retry

    with acting(user) as ctx:
        done = retry(ctx, outbox_id, recipient)
    if as_json:
        print_json(done)
        return
    echo(f"message #{done['id']} queued again for {', '.join(done['requeued'])}")
