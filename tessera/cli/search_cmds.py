"""`tessera search`: TicketSQL from the command line, and saved searches."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table


class _QueryByDefault(TyperGroup):
    """`tessera search 'QUERY'` runs a query; `save`, `list`, `run`, `delete` are subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_QueryByDefault,
    help=(
        "Search tickets with TicketSQL (RT's query language): tessera search 'QUERY' [--order-by KEYS]"
        " [--limit N] [--offset N] [--count] [--json]. Saved searches (views): save, list, run, delete."
    ),
    no_args_is_help=True,
)


def _print_results(ctx: Any, tickets: list[Any], as_json: bool) -> None:
    from tessera.core.serialize import ticket_json

    if as_json:
        print_json([ticket_json(ctx, t) for t in tickets])
        return
    rows = [
        [
            t.display_id,
            t.queue.name,
            t.status,
            t.owner.name if t.owner else "Nobody",
            str(t.priority),
            t.subject,
        ]
        for t in tickets
    ]
    table(rows, ["ID", "QUEUE", "STATUS", "OWNER", "PRI", "SUBJECT"])


QUERY_HELP = "TicketSQL, e.g. \"Queue = 'General' AND Status = '__Active__' AND Owner = 'Nobody'\"."
ORDER_OPTION = typer.Option(
    [],
    "--order-by",
    "-o",
    help="Sort keys: 'Priority DESC, Created', '-Priority|Created' (RT), or the option again per key.",
)
LIMIT_OPTION = typer.Option(50, "--limit", "-n", help="At most this many tickets (1-10000).")


@app.command("query", hidden=True)
def query(
    text: str = typer.Argument(..., help=QUERY_HELP),
    order_by: list[str] = ORDER_OPTION,
    limit: int = LIMIT_OPTION,
    offset: int = typer.Option(0, "--offset", help="Skip this many tickets (paging)."),
    count: bool = typer.Option(False, "--count", help="Print only how many tickets match."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a TicketSQL query."""
    from tessera.core.search import service

    with acting(user) as ctx:
        if count:
            n = service.count(ctx, text)
            if as_json:
                print_json({"count": n})
            else:
                echo(str(n))
            return
        _print_results(ctx, service.search(ctx, text, ", ".join(order_by), limit, offset), as_json)


@app.command("save")
def save(
    name: str = typer.Argument(..., help="Name of the saved search."),
    text: str = typer.Argument(..., help=QUERY_HELP),
    order_by: list[str] = ORDER_OPTION,
    shared: bool = typer.Option(False, "--shared", help="Share with every agent (default: yours only)."),
    user: str | None = USER_OPTION,
) -> None:
    """Save a search (checked first); saving under an existing name replaces it."""
    from tessera.core.search import service

    with acting(user) as ctx:
        saved = service.save_search(ctx, name, text, ", ".join(order_by), shared=shared)
        echo(f"saved {'shared ' if saved.shared else ''}search {saved.name!r}")


@app.command("list")
def list_(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List your saved searches and the shared ones."""
    from tessera.core.search import service

    with acting(user) as ctx:
        found = service.list_saved(ctx)
        if as_json:
            print_json(
                [
                    {"name": s.name, "query": s.query, "order_by": s.order_by, "shared": s.shared}
                    for s in found
                ]
            )
            return
        table(
            [[s.name, "shared" if s.shared else "mine", s.query, s.order_by] for s in found],
            ["NAME", "SCOPE", "QUERY", "ORDER BY"],
        )


@app.command("run")
def run_saved(
    name: str = typer.Argument(..., help="Name of the saved search."),
    limit: int = LIMIT_OPTION,
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a saved search."""
    from tessera.core.search import service

    with acting(user) as ctx:
        saved = service.get_saved(ctx, name)
        _print_results(ctx, service.search(ctx, saved.query, saved.order_by, limit), as_json)


@app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Name of your saved search."),
    shared: bool = typer.Option(False, "--shared", help="Delete the shared search of that name (agents)."),
    user: str | None = USER_OPTION,
) -> None:
    """Delete one of your saved searches (or, with --shared, a shared one)."""
    from tessera.core.search import service

    with acting(user) as ctx:
        service.delete_saved(ctx, name, shared=shared)
        echo(f"deleted {'shared' if shared else 'saved'} search {name!r}")
