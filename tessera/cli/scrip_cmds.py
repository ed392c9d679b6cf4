"""`tessera scrip`: list, show, enable/disable, export, apply, test and read the trace of scrips."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table
from tessera.core.errors import InvalidInput

app = typer.Typer(help="Scrips: automation on every ticket change (condition + action + template).")


@app.command("list")
def list_(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List scrips in the order they run."""
    from tessera.scrips.catalog_file import list_scrips

    with acting(user) as ctx:
        rows = list_scrips(ctx)
    if as_json:
        print_json(rows)
        return
    table(
        [
            [
                str(r["id"]),
                str(r["order"]),
                "yes" if r["enabled"] else "no",
                r["stage"].removeprefix("Transaction"),
                r.get("queue") or "(global)",
                r["condition"].get("name") or "expression",
                f"{r['action']['name']}({r['action']['argument']})"
                if r["action"]["argument"]
                else r["action"]["name"],
                r["template"] or "",
                r["description"],
            ]
            for r in rows
        ],
        ["ID", "ORDER", "ON", "STAGE", "QUEUE", "CONDITION", "ACTION", "TEMPLATE", "DESCRIPTION"],
    )


@app.command("show")
def show(
    scrip_id: int = typer.Argument(..., help="Scrip id."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one scrip and the template it uses."""
    from tessera.scrips.catalog_file import show_scrip

    with acting(user) as ctx:
        data = show_scrip(ctx, scrip_id)
    if as_json:
        print_json(data)
        return
    for key in ("id", "description", "queue", "stage", "order", "enabled", "condition", "action", "template"):
        if key in data:
            echo(f"{key}: {data[key]}")
    if data.get("template_content") is not None:
        echo("--- template ---")
        echo(data["template_content"].rstrip("\n"))


def _switch(scrip_ids: list[int], enabled: bool, user: str | None, as_json: bool) -> None:
    from tessera.scrips.editing import set_many_enabled

    with acting(user) as ctx:
        rows = set_many_enabled(ctx, scrip_ids, enabled)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        state = "enabled" if enabled else "disabled"
        echo(f"scrip {row['id']} {state}: {row['spec'].get('description', '')}")


@app.command("enable")
def enable(
    scrip_ids: list[int] = typer.Argument(..., help="Scrip ids (tessera scrip list)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Turn scrips on (e.g. a shipped timer), all in one transaction; each is a revision."""
    _switch(scrip_ids, True, user, as_json)


@app.command("disable")
def disable(
    scrip_ids: list[int] = typer.Argument(..., help="Scrip ids (tessera scrip list)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Turn scrips off, all in one transaction; they stay in the list and can be enabled again."""
    _switch(scrip_ids, False, user, as_json)


@app.command("export")
def export(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output."
    ),
    user: str | None = USER_OPTION,
) -> None:
    """Export every scrip and template as YAML (apply it back with `tessera scrip apply`)."""
    from tessera.scrips.catalog_file import export_yaml

    with acting(user) as ctx:
        text = export_yaml(ctx)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@app.command("apply")
def apply(
    file: str = typer.Argument(..., help="YAML file ('-' reads standard input)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or update the scrips and templates a YAML file lists (all or nothing)."""
    from tessera.scrips.catalog_file import apply_file

    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    with acting(user) as ctx:
        summary = apply_file(ctx, text)
    if as_json:
        print_json(summary)
        return
    for kind, counts in summary.items():
        echo(
            f"{kind}: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )


@app.command("test")
def test(
    scrip_id: int = typer.Argument(..., help="Scrip id."),
    ticket: str = typer.Argument(..., help="Ticket id (42 or TKT-0042)."),
    transaction: int | None = typer.Option(
        None, "--transaction", "-t", help="Transaction id (default: the ticket's latest)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Dry-run one scrip on a ticket's transaction: would it fire, and what would it do?"""
    from tessera.scrips.preview import test_on_ticket

    with acting(user) as ctx:
        result = test_on_ticket(ctx, scrip_id, ticket, transaction)
    if as_json:
        print_json(result)
        return
    echo(f"scrip {result['scrip']} ({result['description']}) on {result['ticket']} transaction "
         f"{result['transaction']} ({result['transaction_type']}): {result['outcome']}"
         + (f" - {result['reason']}" if result["reason"] else ""))  # fmt: skip
    message = result.get("message")
    if message:
        echo(f"To: {', '.join(message['to'])}")
        if message["cc"]:
            echo(f"Cc: {', '.join(message['cc'])}")
        if message["bcc"]:
            echo(f"Bcc: {', '.join(message['bcc'])}")
        echo(f"Subject: {message['subject']}")
        echo("")
        echo(message["body"].rstrip("\n"))
    for change in result["changes"]:
        echo(f"{change['field']}: {change['old']} -> {change['new']}")


@app.command("log")
def log(
    scrip_id: int | None = typer.Argument(None, help="Only this scrip."),
    ticket: str | None = typer.Option(None, "--ticket", help="Only this ticket."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many entries, newest first."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The trace: every scrip considered for a transaction and what became of it."""
    from tessera.scrips.engine import scrip_log

    with acting(user) as ctx:
        ctx.require(("ShowScrips", "ModifyScrips"), "read", "the scrip log")
        from tessera.core.tickets import get_ticket

        ticket_id = get_ticket(ctx, ticket).id if ticket else None
        rows = scrip_log(ctx, scrip_id, ticket_id, limit)
    if as_json:
        print_json(rows)
        return
    table(
        [
            [
                str(r["id"]),
                (r["created"] or "")[:19].replace("T", " "),
                r["ticket"],
                str(r["transaction"]),
                str(r["scrip"] or "-"),
                r["outcome"],
                (r["description"] or "") + (f" - {r['reason']}" if r["reason"] else ""),
            ]
            for r in rows
        ],
        ["RUN", "WHEN", "TICKET", "TXN", "SCRIP", "OUTCOME", "SCRIP / REASON"],
    )


@app.command("secret")
def secret(
    scrip_id: int = typer.Argument(..., help="A webhook scrip's id."),
    rotate: bool = typer.Option(False, "--rotate", help="Make a new secret (the old one stops working)."),
    user: str = USER_OPTION,
) -> None:
    """Print a webhook scrip's signing secret, for its receiver to check `Tessera-Signature`."""
    from tessera.scrips.editing import webhook_secret

    with acting(user) as ctx:
        echo(webhook_secret(ctx, scrip_id, rotate=rotate))
