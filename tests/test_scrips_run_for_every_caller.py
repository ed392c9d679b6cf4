"""Scrips belong to core: whoever calls a core operation runs them, with nothing to switch on;
only a bulk load turns them off, explicitly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from tessera.core import queues, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context, scrips_off
from tessera.core.models import OutboxMessage, ScripRun, display_id
from tessera.core.schemas import MessageIn, TicketCreate

# A plain Python script: the public core API only, no CLI, no call that turns anything on.
PLAIN_SCRIPT = textwrap.dedent(
    """
    import sys

    from tessera.core import queues, tickets
    from tessera.core.bootstrap import bootstrap, open_desk
    from tessera.core.context import open_context
    from tessera.core.schemas import MessageIn, TicketCreate

    db = open_desk()
    with db.session() as session:
        bootstrap(session, "root")
        ctx = open_context(session, "root")
        queues.create_queue(ctx, "General", correspond_address="help@desk.example")
        ticket = tickets.create_ticket(
            ctx,
            TicketCreate(
                queue="General",
                subject="Printer on fire",
                requestors=["ann@customer.example"],
                message=MessageIn(body="It is on fire."),
            ),
        )
    print(ticket.id)
    print(",".join(sorted(m for m in sys.modules if m.startswith(("tessera.cli", "tessera.tui")))))
    """
)


def test_a_plain_python_script_that_opens_a_desk_sends_the_autoreply(cli_env, database) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PLAIN_SCRIPT], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    ticket_line, upper_layers = proc.stdout.splitlines()
    assert upper_layers == ""  # neither the CLI nor the TUI was involved
    ticket_id = int(ticket_line)
    with database.session() as s:
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)).all()
        assert [(m.recipients, m.summary["subject"]) for m in mail] == [
            (["ann@customer.example"], f"[{display_id(ticket_id)}] AutoReply: Printer on fire")
        ]
        assert mail[0].status == "pending" and mail[0].mail_from == "help@desk.example"
        traced = s.scalar(select(func.count()).select_from(ScripRun).where(ScripRun.ticket_id == ticket_id))
        assert traced and traced > 0  # every scrip considered left its trace


def test_a_bulk_load_turns_the_scrips_off_for_its_own_units_only(database) -> None:
    with database.session() as s:
        bootstrap(s, "root")
        ctx = open_context(s, "root")
        queues.create_queue(ctx, "General", correspond_address="help@desk.example")

        def create(subject: str) -> int:
            data = TicketCreate(
                queue="General",
                subject=subject,
                requestors=["bob@customer.example"],
                message=MessageIn(body="x"),
            )
            return tickets.create_ticket(ctx, data).id

        with scrips_off(ctx):
            loaded = create("imported")
        live = create("after the load")

        def outbox(ticket_id: int) -> int:
            query = (
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)
            )
            return s.scalar(query) or 0

        def traces(ticket_id: int) -> int:
            return (
                s.scalar(select(func.count()).select_from(ScripRun).where(ScripRun.ticket_id == ticket_id))
                or 0
            )

        assert (outbox(loaded), traces(loaded)) == (0, 0)
        assert outbox(live) == 1 and traces(live) > 0
        assert ctx.scrips


def test_the_demo_seed_is_a_bulk_load_without_scrips(session) -> None:
    from tessera.core.demo import seed

    bootstrap(session, "root")
    ctx = open_context(session, "root")
    assert seed(ctx, 50) == 50
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.scalar(select(func.count()).select_from(ScripRun)) == 0
    assert ctx.scrips and not ctx.system  # the context is as it was
