"""`tessera worker`: deliver the outbox over SMTP."""

from __future__ import annotations

import typer

from tessera.cli.common import JSON_OPTION, database, echo, print_json


def worker(
    once: bool = typer.Option(False, "--once", help="Send everything due, then exit."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between looks at the outbox."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Deliver queued mail by SMTP (TESSERA_SMTP_HOST/PORT/USER/PASSWORD/TLS), retrying with backoff,
    and file the messages `tessera mailgate` hands over (its processes then need not import the gateway)."""
    from tessera.mail.delivery import RunResult, SmtpSettings, deliver_due, pending_count, run_worker

    settings = SmtpSettings.from_env()
    db = database()
    if once:
        result = deliver_due(db, settings)
        waiting = pending_count(db)
        if as_json:
            print_json({**result.as_dict(), "pending": waiting})
        else:
            echo(
                f"sent {result.sent}, failed {result.failed}, retrying {result.retried}, "
                f"still queued {waiting}"
            )
        return

    def report(result: RunResult) -> None:
        echo(f"sent {result.sent}, failed {result.failed}, retrying {result.retried}")

    from tessera.mail.filer import FilerThread

    filer = FilerThread(db, poll=poll)  # files what `tessera mailgate` hands over (see its docs)
    filer.start()
    try:
        run_worker(db, settings, poll=poll, report=report)
    finally:
        filer.stopping.set()
