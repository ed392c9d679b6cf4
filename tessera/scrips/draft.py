"""Dry-run of an unsaved scrip: what would this draft do on that ticket, with the text as it stands?

Like `preview.preview`, the change runs for real inside the caller's database transaction, which is
then rolled back: the draft scrip (and the draft template text) are written into that transaction,
the engine runs on the change with only the draft scrip in its catalog, and the plan is collected —
condition result, rendered headers and body, recipients, field changes. Nothing is kept and nothing
is sent: no ticket, transaction, trace row or outbox message survives the rollback.

With no change, the draft runs on the ticket's latest transaction (its creation, its last reply...).
A timer (a draft with a time condition) runs on the clock instead: at a moment (`at`; default now),
the ticket's deadlines are checked as the worker would, and the draft fires on the `Timer`
transaction the firing would record (`tessera.scrips.timers`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tessera.core.context import Context, rolled_back
from tessera.core.errors import InvalidInput
from tessera.core.models import Scrip, ScripTemplate, Transaction
from tessera.core.tickets import get_ticket, set_fields
from tessera.scrips import access, checks, conditions, specs
from tessera.scrips.engine import COMMITTED, PREPARED, EngineState, run_unit
from tessera.scrips.specs import scrip_values, validate_scrip

DRAFT_DESCRIPTION = "(draft)"


class DraftState(EngineState):
    """The engine's state with a catalog of one scrip: the draft."""

    def __init__(self, draft_id: int) -> None:
        super().__init__()
        self.draft_id = draft_id

    def scrips_for(self, ctx: Context, stage: str, queue_id: int) -> list[Any]:
        return [s for s in super().scrips_for(ctx, stage, queue_id) if s.id == self.draft_id]


def _outcome_text(outcome: str) -> str:
    return "would commit" if outcome == COMMITTED else outcome


def dry_run(
    ctx: Context,
    spec: dict[str, Any],
    template: dict[str, Any] | None,
    ticket_ref: str | int,
    changes: dict[str, str] | None = None,
    *,
    scrip_id: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Run the draft `spec` (an export entry; it replaces scrip `scrip_id` when given) with the
    draft `template` text (an export entry, or None for the stored one) on `ticket_ref` after
    `changes` (FIELD=VALUE as `tessera ticket set` takes them); roll everything back. A timer
    runs at the moment `at` (default now); `at` on a scrip that is no timer is refused."""
    session = ctx.session
    queues = specs.queue_names(ctx)
    spec = dict(spec)
    if not str(spec.get("description") or "").strip():
        spec["description"] = DRAFT_DESCRIPTION
    parsed = specs.parse_scrip_spec(spec)
    qid = specs.queue_id_named(ctx, parsed.queue, queues)
    ctx.require(access.SHOW_SCRIPS, "dry-run", "scrips", queue_id=qid)
    with rolled_back(ctx):  # operations join this unit, which is then rolled back
        ticket = get_ticket(ctx, ticket_ref)
        shown = ticket.display_id
        notes: list[str] = []
        # The draft template, at the scope being edited (a queue's template shadows the global one).
        if template is not None:
            tqid = specs.queue_id_named(ctx, template.get("queue"), queues)
            name = str(template.get("name") or parsed.template or "")
            if not name:
                raise InvalidInput("the draft template has no name")
            kind = str(template.get("type") or "jinja").lower()
            problems = [
                p
                for p in checks.check_template_text(template.get("content") or "", kind=kind)
                if p.severity == "error"
            ]
            if problems:
                raise InvalidInput(f"template: {problems[0].text()}")
            row = session.scalars(
                select(ScripTemplate).where(
                    func.lower(ScripTemplate.name) == name.lower(),
                    ScripTemplate.queue_id.is_(None) if tqid is None else ScripTemplate.queue_id == tqid,
                )
            ).first()
            if row is None:
                row = ScripTemplate(name=name, queue_id=tqid, content="")
                session.add(row)
            row.content = str(template.get("content") or "")
            row.type = "simple" if kind == "simple" else "jinja"
            if tqid is None and ticket.queue_id != tqid:
                shadow = session.scalars(
                    select(ScripTemplate).where(
                        func.lower(ScripTemplate.name) == name.lower(),
                        ScripTemplate.queue_id == ticket.queue_id,
                    )
                ).first()
                if shadow is not None:
                    notes.append(
                        f"queue {queues[ticket.queue_id]} has its own template {name!r}: "
                        "that one is used for this ticket, not the global one you are editing"
                    )
            session.flush()
        template_names = {(t.name.lower(), t.queue_id) for t in session.scalars(select(ScripTemplate))}
        condition_name, action_name = validate_scrip(parsed, "scrip", template_names, qid)
        values = scrip_values(parsed, condition_name, action_name)
        values["enabled"] = True  # a disabled draft is tried as if enabled (and says so)
        if not parsed.enabled:
            notes.append("the scrip is disabled: saved as it is, it would not run")
        draft = session.get(Scrip, scrip_id) if scrip_id is not None else None
        if draft is None:
            draft = Scrip(description=parsed.description, queue_id=qid, **values)
            session.add(draft)
        else:
            draft.description, draft.queue_id = parsed.description, qid
            for key, value in values.items():
                setattr(draft, key, value)
        session.flush()
        if qid is not None and qid != ticket.queue_id:
            notes.append(
                f"this scrip applies to queue {queues.get(qid)}; {shown} is in {queues.get(ticket.queue_id)}"
            )
        state = DraftState(draft.id)
        if changes:
            # The change is hypothetical: made as the desk (the lifecycle still decides), so an admin
            # may try any change on a ticket they can see; the scrips still see the admin as actor.
            was_system, ctx.system = ctx.system, True
            try:
                set_fields(ctx, ticket.id, changes)
            finally:
                ctx.system = was_system
            session.flush()
            unit = list(ctx.batch)
            if not unit:
                notes.append("that change changes nothing on this ticket")
            trigger = "change " + ", ".join(f"{k}={v}" for k, v in changes.items())
        else:
            latest = session.scalars(
                select(Transaction)
                .where(Transaction.ticket_id == ticket.id)
                .order_by(Transaction.id.desc())
                .limit(1)
            ).first()
            unit = [latest] if latest is not None else []
            trigger = f"latest transaction ({latest.type})" if latest is not None else "no transaction"
        if conditions.is_time_condition(condition_name):
            unit, trigger = _on_the_clock(ctx, draft, ticket, at, changes, notes, saved=scrip_id is not None)
        elif at is not None:
            raise InvalidInput(
                f"at: a moment is for a timer (a scrip with a time condition: "
                f"{', '.join(conditions.TIME_CONDITIONS)}); {condition_name or 'this scrip'} runs on changes"
            )
        if unit:
            run_unit(ctx, state, unit)
        cond = spec.get("condition") or {}
        label = "expression" if cond.get("expression") else str(cond.get("name") or condition_name)
        plan = _collect(ctx, state, draft.id, shown, trigger, notes)
        for run in plan["runs"]:
            run["condition_name"] = label  # the scrip's condition (OnResolve), not the txn type
        return plan


def _on_the_clock(
    ctx: Context,
    draft: Scrip,
    ticket: Any,
    at: datetime | None,
    changes: dict[str, str] | None,
    notes: list[str],
    *,
    saved: bool,
) -> tuple[list[Transaction], str]:
    """The draft timer at `at` (default now), after the hypothetical `changes`: the Timer
    transactions the worker would record on the ticket (none: not due, and the note says why)."""
    from tessera.core.ticket_read import get_ticket as load
    from tessera.core.timers import record_firing
    from tessera.scrips.timers import as_timer, evaluator, fired_already, shown

    moment = at or ctx.now
    ctx.now = moment
    timer = as_timer(draft)
    current = load(ctx, ticket.id)
    found = evaluator(timer)(ctx, current)
    if not found:
        notes.append(f"{timer.label} is not due on {current.display_id} at {shown(moment)}")
    for due in found:
        if saved and fired_already(ctx.session, draft.id, current.id, due):
            notes.append(
                f"this timer already fired for that deadline ({due.reason}): saved, it would not again"
            )
        record_firing(ctx, current, draft.id, draft.description, timer.condition, due, once=False)
    ctx.session.flush()
    trigger = f"the clock at {shown(moment)}" + (
        " after " + ", ".join(f"{k}={v}" for k, v in changes.items()) if changes else ""
    )
    return list(ctx.batch), trigger


def _collect(
    ctx: Context, state: EngineState, draft_id: int, shown: str, trigger: str, notes: list[str]
) -> dict[str, Any]:
    types = {t.id: t.type for t in ctx.batch}
    runs = []
    for item in state.plans:
        run = item["run"]
        action = item.get("action")
        fires = run.outcome in (COMMITTED, PREPARED)
        runs.append(
            {
                "transaction_type": types.get(run.transaction_id) or _txn_type(ctx, run.transaction_id),
                "stage": run.stage,
                "depth": run.depth,
                "condition": "true"
                if run.fired
                else ("failed" if run.outcome == "condition failed" else "false"),
                "fires": fires,
                "outcome": _outcome_text(run.outcome),
                "reason": run.reason,
                "changes": list(getattr(action, "changes", []) or []),
            }
        )
    messages = [
        {
            "to": row.summary["to"],
            "cc": row.summary["cc"],
            "bcc": row.summary["bcc"],
            "subject": row.summary["subject"],
            "body": row.summary["body"],
            "headers": row.summary["headers"],
            "from": row.mail_from,
        }
        for row in state.outbox
        if row.scrip_id == draft_id
    ]
    by_scrip = [
        {"field": t.field or t.type, "old": t.old_value, "new": t.new_value, "type": t.type}
        for t in ctx.batch
        if (t.data or {}).get("scrip_id") == draft_id
    ]
    if not runs:
        notes.append("the scrip was not considered: its condition does not look at these transactions")
    return {
        "ticket": shown,
        "trigger": trigger,
        "fires": any(r["fires"] for r in runs),
        "runs": runs,
        "messages": messages,
        "changes": by_scrip,
        "notes": notes,
    }


def _txn_type(ctx: Context, transaction_id: int) -> str | None:
    txn = ctx.session.get(Transaction, transaction_id)
    return txn.type if txn is not None else None
