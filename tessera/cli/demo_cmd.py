"""`tessera demo`: seed a realistic desk to try Tessera on."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tessera.cli.common import USER_OPTION, acting, echo


def demo(
    tickets: int = typer.Option(
        10_000, "--tickets", "-n", min=0, max=1_000_000, help="How many tickets to add."
    ),
    user: str = USER_OPTION,
) -> None:
    """Seed a realistic demo desk (queues, agents, requestors, rights, custom fields, tickets with history).

    Run again, it adds more tickets and reuses everything else.
    """
    from tessera.core.demo import seed

    started = time.perf_counter()
    with acting(user) as ctx:
        ctx.require("SuperUser", "seed demo data", "on this desk")
        # On standard error, and only on a terminal: standard output stays the one summary line.
        console = Console(stderr=True)
        with Progress(
            TextColumn("seeding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("tickets", total=tickets)
            added = seed(ctx, tickets, progress=lambda done, total: bar.update(task, completed=done))
    echo(
        f"demo desk ready: {added} tickets added in {time.perf_counter() - started:.1f}s "
        "(agents: alice, bob, carol, dave, erin, farid; try `tessera --user alice ticket show 1`)"
    )
