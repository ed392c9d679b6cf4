"""`tessera worker`: deliver the outbox over SMTP, and run the timers (scrips on the clock)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer

from tessera.cli.common import JSON_OPTION, database, echo, print_json

if TYPE_CHECKING:
    from tessera.mail.delivery import RunResult, SmtpSettings


def worker(
    once: bool = typer.Option(False, "--once", help="Send everything due, then exit."),
    timers_once: bool = typer.Option(
        False, "--timers-once", help="Run one sweep of the timers, then exit (with --once: then send)."
    ),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between looks at the outbox."),
    timers_every: float = typer.Option(
        30.0, "--timers-every", help="Seconds between sweeps of the timers (0: no timers in this worker)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Deliver queued mail by SMTP (TESSERA_SMTP_HOST/PORT/USER/PASSWORD/TLS), retrying with backoff,
    file the messages `tessera mailgate` hands over (its processes then need not import the gateway),
    and fire the timers that are due (scrips with a time condition), each once per ticket and deadline."""
    from tessera.mail.delivery import SmtpSettings, deliver_due, pending_count, run_worker

    settings = SmtpSettings.from_env()
    db = database()
    if timers_once:
        from tessera.scrips.timers import sweep

        swept = sweep(db)
        result = deliver_due(db, settings) if once else None
        if as_json:
            out: dict[str, object] = {"timers": swept.as_dict()}
            if result is not None:
                out.update({**result.as_dict(), "pending": pending_count(db)})
            print_json(out)
            return
        echo(
            f"timers: fired {len(swept.fired)}" + (f", {len(swept.errors)} error(s)" if swept.errors else "")
        )
        for fired in swept.fired:
            echo(f"  {fired['ticket']}: {fired['description']} ({fired['reason']})")
        for error in swept.errors:
            where = f" on {error['ticket']}" if error.get("ticket") else ""
            echo(f"  scrip {error['timer']} {error['description']}{where}: {error['error']}")
        if result is not None:
            echo(f"sent {result.sent}, failed {result.failed}, retrying {result.retried}")
        return
    if once:
        result = deliver_due(db, settings)
        waiting = pending_count(db)
        if as_json:
            print_json({**result.as_dict(), "pending": waiting})
        else:
            echo(
                f"sent {result.sent}, failed {result.failed}, retrying {result.retried}, "
                f"still queued {waiting}" + (f"; {_smtp_down(settings, result)}" if result.smtp_error else "")
            )
        return

    smtp_down: list[str] = []  # the outage being reported (one line for it, not one a round)

    def report(result: RunResult) -> None:
        if result.smtp_error:
            if not smtp_down:
                echo(_smtp_down(settings, result) + "; the mail waits in the outbox, retried with backoff")
            smtp_down[:] = [result.smtp_error]
            if not (result.sent or result.failed):
                return
        elif smtp_down:
            smtp_down.clear()
            echo(f"SMTP {settings.host}:{settings.port} answers again")
        echo(f"sent {result.sent}, failed {result.failed}, retrying {result.retried}")

    def database_trouble(reason: str | None) -> None:
        if reason is None:
            echo("the database answers again; delivering")
        else:
            echo(f"{reason}; the worker tries again every {poll:g} s")

    from tessera.mail.filer import FilerThread

    filer = FilerThread(db, poll=poll)  # files what `tessera mailgate` hands over (see its docs)
    filer.start()
    stopping = threading.Event()
    if timers_every > 0:
        from tessera.scrips.timers import SweepResult, run_timers

        def told(swept: SweepResult) -> None:
            echo(f"timers: fired {len(swept.fired)}")

        threading.Thread(
            target=run_timers,
            kwargs={"db": db, "every": timers_every, "should_stop": stopping.is_set, "wait": stopping.wait,
                    "report": told},
            name="tessera-timers",
            daemon=True,
        ).start()  # fmt: skip
    try:
        run_worker(db, settings, poll=poll, report=report, database_trouble=database_trouble)
    finally:
        filer.stopping.set()
        stopping.set()


def _smtp_down(settings: SmtpSettings, result: RunResult) -> str:
    from tessera.core.hostile_text import clean_line

    return f"SMTP {settings.host}:{settings.port} unavailable: {clean_line(result.smtp_error or '')}"
