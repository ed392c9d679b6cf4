"""`tessera lifecycle list|show|export|apply`: lifecycles as config-as-code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table, warn
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.lifecycle import CATEGORIES, CREATE_RIGHT, Lifecycle, LifecycleInvalid

app = typer.Typer(help="Lifecycles: the status machine of each queue (list, show, export, apply).")

NOT_ALLOWED = "."
SAME = "-"


@app.command("list")
def lifecycle_list(user: str = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List lifecycles with their statuses by category and the queues using each."""
    from tessera.core import lifecycle_store

    with acting(user) as ctx:
        found = lifecycle_store.list_lifecycles(ctx)
        if as_json:
            print_json(
                [
                    {
                        "name": s.name,
                        "initial": s.initial,
                        "active": s.active,
                        "inactive": s.inactive,
                        "queues": s.queues,
                        "updated": s.updated,
                    }
                    for s in found
                ]
            )
            return
        table(
            [[s.name, *(", ".join(x) for x in (s.initial, s.active, s.inactive, s.queues))] for s in found],
            ["NAME", "INITIAL", "ACTIVE", "INACTIVE", "QUEUES"],
        )


def _right_codes(rights: list[str]) -> dict[str, str]:
    """Short cell marks for rights, from their initials (M for ModifyTicket), unique by a digit."""
    codes: dict[str, str] = {}
    for right in rights:
        base = "".join(c for c in right if c.isupper())[:1] or right[:1].upper()
        code, n = base, 2
        while code in codes.values() or code in (NOT_ALLOWED, SAME):
            code, n = f"{base}{n}", n + 1
        codes[right] = code
    return codes


def transition_grid(lifecycle: Lifecycle) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """Headers, rows and legend of the readable transitions table: one row per from status (and one
    for creation), one column per to status, each allowed cell marked with the code of its right."""
    statuses = list(lifecycle.statuses)
    used = [CREATE_RIGHT, *lifecycle.rights_used()]
    codes = _right_codes(list(dict.fromkeys(used)))
    rows: list[list[str]] = []
    for from_status in ["", *statuses]:
        allowed = set(lifecycle.next_statuses(from_status))
        cells = [
            SAME
            if to == from_status
            else (codes[lifecycle.right_for(from_status, to)] if to in allowed else NOT_ALLOWED)
            for to in statuses
        ]
        rows.append([lifecycle.display(from_status) if from_status else "(create)", *cells])
    headers = ["FROM \\ TO", *(lifecycle.display(s) for s in statuses)]
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
    user: str = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a lifecycle: statuses by category, the transitions table with rights, actions, maps."""
    from tessera.core import lifecycle_store

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
    legend = ", ".join(f"{code} = {right}" for right, code in codes.items())
    echo(f"({legend}; {NOT_ALLOWED} not allowed; {SAME} same status)")
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
    user: str = USER_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Write the definition as JSON instead of YAML."),
) -> None:
    """Write a lifecycle's canonical definition (YAML) to standard output; apply takes it back."""
    from tessera.core import lifecycle_store

    with acting(user) as ctx:
        lifecycle = lifecycle_store.get_lifecycle(ctx, name)
    if as_json:
        print_json(lifecycle.to_dict())
    else:
        sys.stdout.write(lifecycle.to_yaml())


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidInput(f"{source}: cannot read it: {reason}") from None


@app.command("apply")
def lifecycle_apply(
    source: str = typer.Argument(..., metavar="FILE", help="A YAML or JSON lifecycle file; - reads stdin."),
    user: str = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or replace a lifecycle from a file: validated first, applied atomically (AdminLifecycles)."""
    text = _read(source)
    label = "stdin" if source == "-" else source
    from tessera.core import lifecycle_store

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
