"""Dry-run: what would the scrips do if these fields changed? Writes nothing, sends nothing.

The change and the scrips run for real inside the caller's database transaction, which is then
rolled back: the plan lists which scrips fired and why the others did not, the messages they would
queue, and every field change (the person's and the scrips'). The TUI calls `preview()` directly.
`test_on_ticket` runs one saved scrip's condition and prepare on a transaction already made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tessera.core import fast_sql
from tessera.core.context import Context, rolled_back, savepoint
from tessera.core.errors import NotFound
from tessera.core.forwarding import forward
from tessera.core.models import Scrip, Ticket, Transaction
from tessera.core.schemas import ForwardIn, TicketCreate, message_in
from tessera.core.tickets import comment, correspond, create_ticket, get_ticket, set_fields
from tessera.scrips.engine import COMMITTED, PREPARED, EngineState, run_unit, scrip_by_id, test_scrip

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


def preview(ctx: Context, ref: str | int, changes: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """Apply `changes` (FIELD=VALUE as `tessera ticket set` takes them), run the scrips, roll back."""
    return dry_run(ctx, ref, lambda: set_fields(ctx, ref, changes))


def preview_message(
    ctx: Context, ref: str | int, kind: str, body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()
) -> dict[str, Any]:
    """What a reply (kind "reply") or comment would send, scrips included (to the one-time `cc`
    and `bcc` as well); nothing is recorded."""
    message = message_in(body, cc, bcc)
    if kind == "reply":
        return dry_run(ctx, ref, lambda: correspond(ctx, ref, message))
    return dry_run(ctx, ref, lambda: comment(ctx, ref, message))


def preview_forward(ctx: Context, ref: str | int, data: ForwardIn) -> dict[str, Any]:
    """What forwarding would send (the Send Forward scrips' mail); nothing is recorded."""
    return dry_run(ctx, ref, lambda: forward(ctx, ref, data))


def preview_create(ctx: Context, data: TicketCreate) -> dict[str, Any]:
    """What creating this ticket would do, scrips included (the autoreply, the notifications);
    nothing is recorded, and `ticket` is "new ticket". The dry-run's ticket takes the number the
    next ticket will most likely get, without using it up (a sequence's number is never given
    back, so each review would leave a gap and show a number no ticket ever gets)."""

    made: list[Ticket] = []

    def make() -> str:
        likely = fast_sql.likely_next_ticket_id(ctx.session)
        if likely is not None:
            stale = ctx.session.identity_map.get(ctx.session.identity_key(Ticket, likely))
            if stale is not None:  # an earlier dry-run's ticket, gone with its rollback
                ctx.session.expunge(stale)
            try:
                with savepoint(ctx):
                    made.append(create_ticket(ctx, data, ticket_id=likely))
                return "new ticket"
            except IntegrityError:
                pass  # made by someone else meanwhile: the dry-run takes a number of its own
        made.append(create_ticket(ctx, data))
        return "new ticket"

    try:
        return _dry_run(ctx, make)
    finally:  # the rolled-back ticket must not stand in the session for the one made next
        for ticket in made:
            if ticket in ctx.session:
                ctx.session.expunge(ticket)


def dry_run(ctx: Context, ref: str | int, change: Callable[[], object]) -> dict[str, Any]:
    """Make `change` and run the scrips for real inside a unit of work that is then rolled back."""

    def make() -> str:
        shown = get_ticket(ctx, ref).display_id
        change()
        return shown

    return _dry_run(ctx, make)


def _dry_run(ctx: Context, make: Callable[[], str]) -> dict[str, Any]:
    """`make` the change (it names the ticket), run the scrips, report, roll back."""
    state = EngineState()
    with rolled_back(ctx):
        shown = make()
        ctx.session.flush()
        unit = list(ctx.batch)
        if unit:
            run_unit(ctx, state, unit)
        plan = []
        unrecorded: list[dict[str, Any]] = []  # what the SLA scrips set (Starts, Due): no transaction
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
            action = item["action"]
            if fires and action is not None and action.unrecorded:
                sets = [{**c, "type": "Set", "by_scrip": scrip.id} for c in action.changes]
                plan[-1]["sets"] = sets
                unrecorded.extend(sets)
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
            "changes": [*(_change(t) for t in ctx.batch), *unrecorded],
        }


def test_on_ticket(
    ctx: Context, scrip_id: int, ticket_ref: str, transaction_id: int | None
) -> dict[str, Any]:
    """Dry-run one saved scrip on a ticket's transaction (its latest by default): its condition and
    its prepare phase, as `tessera scrip test` shows them; nothing is kept."""
    ctx.require(("ShowScrips", "ModifyScrips"), "test", "scrips")
    with rolled_back(ctx):
        scrip = scrip_by_id(ctx, scrip_id)
        target = get_ticket(ctx, ticket_ref)
        query = select(Transaction).where(Transaction.ticket_id == target.id)
        if transaction_id is not None:
            query = query.where(Transaction.id == transaction_id)
        txn = ctx.session.scalars(query.order_by(Transaction.id.desc()).limit(1)).first()
        if txn is None:
            raise NotFound(f"no transaction {transaction_id} on {target.display_id}")
        return test_scrip(ctx, scrip, txn)


def preview_set(ctx: Context, ticket_ids: list[int], dry: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """The dry-run of one change made to each ticket of a set (`dry(id)` previews it on one), as
    the set will be changed: each ticket on its own (`tessera.core.bulk`). A ticket the change
    would refuse is named with the reason; the mail is counted and grouped by the scrip that
    would send it, with everyone it would go to."""
    from tessera.core.bulk import Refusal
    from tessera.core.errors import TesseraError
    from tessera.core.ids import display_id

    plans: list[dict[str, Any]] = []
    refused: list[dict[str, str]] = []
    for ticket_id in ticket_ids:
        try:
            plans.append(dry(ticket_id))
        except TesseraError as exc:
            line = Refusal(ticket_id, display_id(ticket_id), exc.message).line()
            refused.append({"ticket": display_id(ticket_id), "reason": exc.message, "line": line})
    return group_plans(plans, refused, len(ticket_ids))


def group_plans(plans: list[dict[str, Any]], refused: list[dict[str, str]], total: int) -> dict[str, Any]:
    """Several tickets' dry-runs as one: how many mails, grouped by scrip, to whom; the field
    changes counted by what they set."""
    groups: dict[str, dict[str, Any]] = {}
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    mails = 0
    for plan in plans:
        names = {s["id"]: s.get("description") or f"scrip {s['id']}" for s in plan.get("scrips", [])}
        for message in plan.get("messages", []):
            mails += 1
            name = names.get(message.get("scrip"), "a scrip")
            group = groups.setdefault(
                name, {"scrip": name, "count": 0, "to": [], "cc": [], "bcc": [], "tickets": []}
            )
            group["count"] += 1
            for label in ("to", "cc", "bcc"):
                for person in message.get(label) or []:
                    if person not in group[label]:
                        group[label].append(person)
            if plan["ticket"] not in group["tickets"]:
                group["tickets"].append(plan["ticket"])
        for change in plan.get("changes", []):
            if change.get("old") is None and change.get("new") is None:
                what = (str(change.get("type") or change.get("field")), "")
            else:
                what = (str(change.get("field")), str(change.get("new") or "-"))
            entry = changes.setdefault(what, {"field": what[0], "new": what[1], "count": 0})
            entry["count"] += 1
    return {
        "set": True,
        "total": total,
        "applies": [p["ticket"] for p in plans],
        "refused": refused,
        "mails": mails,
        "groups": list(groups.values()),
        "changes": list(changes.values()),
    }
