"""`tessera lifecycle list|show|export|apply`: lifecycles as config-as-code."""

from __future__ import annotations

import sys
from typing import Any

import typer

from tessera.cli.common import (
    JSON_OPTION,
    USER_OPTION,
    acting,
    echo,
    print_json,
    read_config_source,
    table,
    warn,
)
from tessera.core.lifecycles import grid
from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.lifecycles.rules import CATEGORIES

app = typer.Typer(help="Lifecycles: the status machine of each queue (list, show, export, apply).")


@app.command("list")
def lifecycle_list(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List lifecycles with their statuses by category and the queues using each."""
    from tessera.core.lifecycles import store as lifecycle_store

    with acting(user) as ctx:
        found = lifecycle_store.list_lifecycles(ctx)
        if as_json:
            from tessera.core.serialize import lifecycle_summary_json

            print_json([lifecycle_summary_json(s) for s in found])
            return
        table(
            [[s.name, *(", ".join(x) for x in (s.initial, s.active, s.inactive, s.queues))] for s in found],
            ["NAME", "INITIAL", "ACTIVE", "INACTIVE", "QUEUES"],
        )


def transition_grid(lifecycle: Lifecycle) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """Headers, rows and codes of the transitions table (`core.lifecycles.grid`), as text."""
    codes = grid.grid_codes(lifecycle)
    rows = [
        [lifecycle.display(from_status) if from_status else grid.CREATION_ROW, *cells]
        for from_status, cells in grid.grid_cells(lifecycle, codes)
    ]
    headers = ["FROM \\ TO", *(lifecycle.display(s) for s in lifecycle.statuses)]
    return headers, rows, codes


def _action_right(lifecycle: Lifecycle, from_status: str, to_status: str) -> str:
    """The right an action asks; for a `*` action, each right it may ask depending on the status."""
    froms = lifecycle.statuses if from_status == "*" else (from_status,)
    rights = [lifecycle.right_for(a, to_status) for a in froms if lifecycle.can_transition(a, to_status)]
    return " or ".join(dict.fromkeys(rights))


def _show_json(lifecycle: Lifecycle, queues: list[str]) -> dict[str, Any]:
    allowed = [
        {"from": a or None, "to": b, "right": lifecycle.right_for(a, b)}
        for a in ["", *lifecycle.statuses]
        for b in lifecycle.next_statuses(a)
    ]
    return {
        **lifecycle.to_dict(),
        "categories": {s: lifecycle.category(s) for s in lifecycle.statuses},
        "allowed": allowed,
        "queues": queues,
    }


@app.command("show")
def lifecycle_show(
    name: str = typer.Argument(..., help="Lifecycle name."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a lifecycle: statuses by category, the transitions table with rights, actions, maps."""
    from tessera.core.lifecycles import store as lifecycle_store

    with acting(user) as ctx:
        lifecycle = lifecycle_store.get_lifecycle(ctx, name)
        queues = lifecycle_store.queues_using(ctx, lifecycle.name)
    if as_json:
        print_json(_show_json(lifecycle, queues))
        return
    echo(f"lifecycle {lifecycle.name}" + (f" (queues: {', '.join(queues)})" if queues else ""))
    for category in CATEGORIES:
        echo(f"  {category + ':':<10}{', '.join(getattr(lifecycle, category)) or '-'}")
    defaults = lifecycle.defaults.model_dump(exclude_none=True)
    echo("  defaults: " + ", ".join(f"{k}={lifecycle.display(v)}" for k, v in defaults.items()))
    echo()
    headers, rows, codes = transition_grid(lifecycle)
    table(rows, headers)
    echo(f"({grid.legend(codes)})")
    if lifecycle.actions:
        echo()
        table(
            [
                [a.from_, lifecycle.display(a.to), a.label, a.update, _action_right(lifecycle, a.from_, a.to)]
                for a in lifecycle.actions
            ],
            ["ACTION FROM", "TO", "LABEL", "UPDATE", "RIGHT"],
        )
    for other, mapping in lifecycle.maps.items():
        echo()
        echo(f"map to {other}: " + ", ".join(f"{a} -> {b}" for a, b in mapping.items()))


@app.command("export")
def lifecycle_export(
    name: str = typer.Argument(..., help="Lifecycle name."),
    user: str | None = USER_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Write the definition as JSON instead of YAML."),
) -> None:
    """Write a lifecycle's canonical definition (YAML) to standard output; apply takes it back."""
    from tessera.core.lifecycles import store as lifecycle_store

    with acting(user) as ctx:
        lifecycle = lifecycle_store.get_lifecycle(ctx, name)
    if as_json:
        print_json(lifecycle.to_dict())
    else:
        sys.stdout.write(lifecycle.to_yaml())


@app.command("apply")
def lifecycle_apply(
    source: str = typer.Argument(..., metavar="FILE", help="A YAML or JSON lifecycle file; - reads stdin."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or replace a lifecycle from a file: validated first, applied atomically (AdminLifecycles)."""
    text, label = read_config_source(source)
    from tessera.core.lifecycles import store as lifecycle_store

    with acting(user) as ctx:
        try:
            applied = lifecycle_store.apply_lifecycle(ctx, text)
        except LifecycleInvalid as exc:
            more = len(exc.problems) - 1
            extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
            raise LifecycleInvalid(f"{label}: {exc.message}{extra}", exc.problems) from None
    for warning in applied.warnings:
        warn(f"{label}: {warning}")
    if as_json:
        print_json({"name": applied.lifecycle.name, "result": applied.result, "warnings": applied.warnings})
    else:
        echo(f"{applied.result} lifecycle {applied.lifecycle.name}")
