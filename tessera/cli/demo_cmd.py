"""`tessera demo`: seed a realistic desk to try Tessera on."""

from __future__ import annotations

import time

import typer

from tessera.cli.common import USER_OPTION, acting, echo, progress_bar


def demo(
    tickets: int = typer.Option(
        10_000, "--tickets", "-n", min=0, max=1_000_000, help="How many tickets to add."
    ),
    user: str | None = USER_OPTION,
) -> None:
    """Seed a realistic demo desk (queues, agents, requestors, rights, custom fields, tickets with history).

    Run again, it adds more tickets and reuses everything else.
    """
    from tessera.core.demo import seed

    started = time.perf_counter()
    with acting(user) as ctx:
        ctx.require("SuperUser", "seed demo data", "on this desk")
        with progress_bar("seeding", tickets) as progress:
            added = seed(ctx, tickets, progress=progress)
    echo(
        f"demo desk ready: {added} tickets added in {time.perf_counter() - started:.1f}s "
        "(agents: alice, bob, carol, dave, erin, farid; try `tessera --user alice ticket show 1`)"
    )
