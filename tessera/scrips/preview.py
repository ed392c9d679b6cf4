"""Dry-run: what would the scrips do if these fields changed? Writes nothing, sends nothing.

The change and the scrips run for real inside the caller's database transaction, which is then
rolled back: the plan lists which scrips fired and why the others did not, the messages they would
queue, and every field change (the person's and the scrips'). The TUI calls `preview()` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tessera.core.context import Context
from tessera.core.models import Scrip, Transaction
from tessera.core.schemas import MessageIn
from tessera.core.tickets import comment, correspond, get_ticket, set_fields
from tessera.scrips.engine import COMMITTED, PREPARED, STATE_KEY, EngineState, run_unit

FIRED = (COMMITTED, PREPARED)


def _change(txn: Transaction) -> dict[str, Any]:
    field = txn.field or txn.type
    if txn.type == "CustomField":
        field = f"cf.{txn.field}"
    elif txn.type in ("Take", "Steal", "Untake", "Give"):
        field = "Owner"
    return {
        "field": field.lower(),
        "old": txn.old_value,
        "new": txn.new_value,
        "type": txn.type,
        "by_scrip": (txn.data or {}).get("scrip_id"),
    }


def preview(ctx: Context, ref: str | int, changes: dict[str, str]) -> dict[str, Any]:
    """Apply `changes` (FIELD=VALUE as `tessera ticket set` takes them), run the scrips, roll back."""
    return dry_run(ctx, ref, lambda: set_fields(ctx, ref, changes))


def preview_message(ctx: Context, ref: str | int, kind: str, body: str) -> dict[str, Any]:
    """What a reply (kind "reply") or comment would send, scrips included; nothing is recorded."""
    message = MessageIn(body=body)
    if kind == "reply":
        return dry_run(ctx, ref, lambda: correspond(ctx, ref, message))
    return dry_run(ctx, ref, lambda: comment(ctx, ref, message))


def dry_run(ctx: Context, ref: str | int, change: Callable[[], object]) -> dict[str, Any]:
    """Make `change` and run the scrips for real inside the caller's transaction, then roll it back."""
    session = ctx.session
    if ctx.depth:
        raise RuntimeError("preview() must not run inside another operation")
    state = EngineState()
    ctx.depth = 1  # operations join this unit instead of committing
    ctx.now = datetime.now(UTC)
    try:
        ticket = get_ticket(ctx, ref)
        shown = ticket.display_id
        change()
        session.flush()
        unit = list(ctx.batch)
        if unit:
            run_unit(ctx, state, unit)
        plan = []
        for item in state.plans:
            run = item["run"]
            scrip: Scrip = item["scrip"]
            fires = run.outcome in FIRED
            if fires:
                why = f"{scrip.condition or 'expression'} is true; would commit"
            elif run.outcome == "condition false":
                why = f"condition {scrip.condition or scrip.condition_expression} is false"
            else:
                why = f"{run.outcome}: {run.reason}"
            plan.append(
                {
                    "id": scrip.id,
                    "description": scrip.description,
                    "fires": fires,
                    "reason": why,
                    "outcome": "would commit" if run.outcome == COMMITTED else run.outcome,
                    "stage": run.stage,
                    "depth": run.depth,
                    "transaction_type": next((t.type for t in ctx.batch if t.id == run.transaction_id), None),
                }
            )
        messages = [
            {
                "scrip": row.scrip_id,
                "to": row.summary["to"],
                "cc": row.summary["cc"],
                "bcc": row.summary["bcc"],
                "subject": row.summary["subject"],
                "body": row.summary["body"],
                "headers": row.summary["headers"],
            }
            for row in state.outbox
        ]
        return {
            "ticket": shown,
            "scrips": plan,
            "messages": messages,
            "changes": [_change(t) for t in ctx.batch],
        }
    finally:
        session.rollback()
        ctx.depth = 0
        ctx.batch.clear()
        ctx.extras.pop(STATE_KEY, None)
