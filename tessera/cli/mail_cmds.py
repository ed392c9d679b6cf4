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

from tessera.cli.common import JSON_OPTION, database, echo, print_json

EX_TEMPFAIL = 75


def _fail(code: int, message: str) -> None:
    sys.stderr.write(f"tessera: mailgate: {' '.join(message.split())}\n")
    raise typer.Exit(code)


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
    action: str = typer.Option("correspond", "--action", "-a", help="correspond or comment."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Read one RFC 5322 message on standard input and file it (for an MTA's pipe transport)."""
    from tessera.core.db import translate_db_errors
    from tessera.core.errors import TesseraError
    from tessera.mail.gateway import Settings, deliver

    try:
        settings = Settings.from_env()
        raw = _read_message(settings.max_bytes)
        db = database()
        with db.session() as session:
            # A lost or refused connection becomes DatabaseUnavailable: a temporary failure.
            outcome = translate_db_errors(deliver)(session, raw, queue, action, settings)
    except TesseraError as exc:
        _fail(EX_TEMPFAIL, f"temporary failure: {exc.message}")
        return
    except Exception as exc:  # never a traceback, never a lost message: the MTA retries
        _fail(EX_TEMPFAIL, f"temporary failure: internal error: {type(exc).__name__}: {exc}")
        return
    if as_json:
        print_json({k: v for k, v in outcome.as_dict().items()})
    else:
        target = f" TKT-{outcome.ticket:04d}" if outcome.ticket else ""
        echo(f"{outcome.action}{target}: {outcome.reason}")
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
