"""`tessera sla list|export|apply`: service levels and each queue's default level, as config-as-code."""

from __future__ import annotations

import sys

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, read_config_source, table
from tessera.core.service_levels import SlaInvalid

app = typer.Typer(help="Service levels: deadlines per level, each queue's default (list, export, apply).")


def _deadline(data: object) -> str:
    if data is None:
        return "-"
    if isinstance(data, str):
        return f"{data} business"
    assert isinstance(data, dict)
    return " + ".join(f"{v} {k}" for k, v in data.items())


def _levels_of(rule: object) -> set[str]:
    if isinstance(rule, str):
        return {rule}
    assert isinstance(rule, dict)
    found = {rule["default"]} if rule.get("default") else set()
    found.update(rule.get("requestor_groups", {}).values())
    found.update((rule.get("custom_field") or {}).get("values", {}).values())
    return found


@app.command("list")
def sla_list(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List levels (calendar, start rule, deadlines, pause statuses) and the queues using each."""
    from tessera.core import sla

    with acting(user) as ctx:
        config = sla.load_config(ctx).to_data()
    if as_json:
        print_json(config)
        return
    rows = []
    for name, level in config["levels"].items():
        queues = [q for q, rule in config["queues"].items() if name in _levels_of(rule)]
        rows.append(
            [
                name,
                level.get("calendar") or "24x7",
                level["starts"],
                _deadline(level.get("response")),
                _deadline(level.get("resolve")),
                ", ".join(level.get("pause_on", [])) or "-",
                ", ".join(queues) or "-",
            ]
        )
    table(rows, ["LEVEL", "CALENDAR", "STARTS", "RESPONSE", "RESOLVE", "PAUSED ON", "DEFAULT IN"])


@app.command("export")
def sla_export(
    user: str | None = USER_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Write JSON instead of YAML."),
) -> None:
    """Write the service-level file (levels, queue defaults) to standard output; apply takes it back."""
    from tessera.core import sla

    with acting(user) as ctx:
        if as_json:
            print_json(sla.load_config(ctx).to_data())
        else:
            sys.stdout.write(sla.export_text(ctx))


@app.command("apply")
def sla_apply(
    source: str = typer.Argument(..., metavar="FILE", help="A YAML or JSON service-level file; - is stdin."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace the desk's service levels from a file: checked, applied atomically (AdminServiceLevels)."""
    text, label = read_config_source(source)
    from tessera.core import sla

    with acting(user) as ctx:
        try:
            applied = sla.apply_service_levels(ctx, text)
        except SlaInvalid as exc:
            raise SlaInvalid(f"{label}: {exc}") from None
    if as_json:
        print_json({"result": applied.result, "levels": list(applied.config.levels)})
    else:
        echo(f"{applied.result} service levels: {', '.join(applied.config.levels) or 'none'}")
