"""One unit of work, kept by core alone: the operation wrapper, the rolled-back dry-run and the
savepoint inside an operation; nothing else commits or sets the unit's state by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tessera.core import tickets
from tessera.core.context import Context, operation, record, rolled_back, savepoint
from tessera.core.lifecycles.check import check_lifecycle
from tessera.core.lifecycles.store import export_lifecycle
from tessera.core.models import OutboxMessage, ScripRun, Ticket, Transaction
from tessera.scrips import draft, preview
from tests.support.desks import Desk

NO_UNIT = (0, [], {}, {}, {})


def unit_state(ctx: Context) -> tuple[Any, ...]:
    """Everything a unit of work keeps on its context."""
    return (
        ctx.depth,
        list(ctx.batch),
        dict(ctx.touched),
        dict(ctx.bumped),
        dict(ctx.rights._ticket_roles),
    )


def rows(desk: Desk) -> dict[str, int]:
    return {
        model.__tablename__: desk.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Ticket, Transaction, OutboxMessage, ScripRun)
    }


def _preview(ctx: Context, ticket_id: int) -> None:
    plan = preview.preview(ctx, ticket_id, {"status": "resolved", "priority": "7"})
    assert plan["messages"], "the dry-run ran the scrips (they would notify the requestor)"


def _draft(ctx: Context, ticket_id: int) -> None:
    spec = {
        "description": "Bump",
        "stage": "TransactionCreate",
        "order": 0,
        "enabled": True,
        "condition": {"name": "OnResolve", "argument": ""},
        "action": {"name": "SetPriority", "argument": "40"},
        "template": "",
    }
    assert draft.dry_run(ctx, spec, None, ticket_id, {"status": "resolved"})["fires"]


def _lifecycle(ctx: Context, ticket_id: int) -> None:
    text = export_lifecycle(ctx, "default").replace(
        "active: [open, stalled]", "active: [open, stalled, waiting]"
    )
    assert check_lifecycle(ctx, text).ok


DRY_RUNS: dict[str, Callable[[Context, int], None]] = {
    "ticket preview": _preview,
    "draft scrip": _draft,
    "lifecycle check": _lifecycle,
}


@pytest.mark.parametrize("dry_run", DRY_RUNS.values(), ids=DRY_RUNS.keys())
def test_a_dry_run_leaves_no_rows_and_no_unit_state_behind(desk: Desk, dry_run) -> None:
    ticket = desk.ticket()
    version, before = ticket.version, rows(desk)
    ctx = desk.root
    dry_run(ctx, ticket.id)
    assert unit_state(ctx) == NO_UNIT
    assert not (desk.session.new or desk.session.dirty or desk.session.deleted)
    assert rows(desk) == before
    # The next unit is its own: one change, one version, the scrips' mail for it alone.
    tickets.set_status(ctx, ticket.id, "resolved")
    assert unit_state(ctx) == NO_UNIT
    after = rows(desk)
    assert after["transactions"] == before["transactions"] + 1
    assert after["outbox"] == before["outbox"] + 1  # the requestor is told it is resolved
    again = desk.session.scalars(select(Ticket).where(Ticket.id == ticket.id)).one()
    assert (again.status, again.version, again.priority) == ("resolved", version + 1, 0)


def test_the_unit_state_is_there_during_a_dry_run(desk: Desk) -> None:
    """(So that the test above proves something: a dry-run does fill what it must then clear.)"""
    ticket = desk.ticket()
    seen: list[tuple[Any, ...]] = []

    with rolled_back(desk.root) as ctx:
        tickets.set_status(ctx, ticket.id, "resolved")
        seen.append(unit_state(ctx))
    depth, batch, touched, bumped, _roles = seen[0]
    assert depth == 1 and [t.type for t in batch] == ["Status"]
    assert set(touched) == {ticket.id} and bumped == {ticket.id: ticket.version + 1}
    assert unit_state(desk.root) == NO_UNIT
    assert desk.session.get(Ticket, ticket.id).status == "new"


def test_a_dry_run_refuses_to_run_inside_an_operation(desk: Desk) -> None:
    ticket = desk.ticket()

    @operation
    def nested(ctx: Context) -> None:
        tickets.set_status(ctx, ticket.id, "open")
        with rolled_back(ctx):
            pass

    with pytest.raises(RuntimeError, match="cannot run inside another operation"):
        nested(desk.root)
    assert desk.session.get(Ticket, ticket.id).status == "new"  # the operation rolled back whole
    assert unit_state(desk.root) == NO_UNIT


def test_a_failing_savepoint_takes_its_own_rows_and_the_operation_commits_the_rest(desk: Desk) -> None:
    first, second = desk.ticket("first"), desk.ticket("second")
    second_version = second.version

    @operation
    def change_both(ctx: Context) -> list[str]:
        mine = tickets.get_ticket(ctx, first.id, for_update=True)
        mine.priority = 5
        record(ctx, mine, "Set", field="Priority", old=0, new=5)
        try:
            with savepoint(ctx):
                other = tickets.get_ticket(ctx, second.id, for_update=True)
                other.priority = 9
                record(ctx, other, "Set", field="Priority", old=0, new=9)
                raise ValueError("this part fails alone")
        except ValueError:
            pass
        return [f"{t.ticket_id}:{t.type}" for t in ctx.batch]

    assert change_both(desk.root) == [f"{first.id}:Set"]
    desk.session.expire_all()
    kept, undone = desk.session.get(Ticket, first.id), desk.session.get(Ticket, second.id)
    assert (kept.priority, undone.priority, undone.version) == (5, 0, second_version)
    assert (
        desk.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.ticket_id == second.id)
        )
        == 1
    )  # its Create only


def test_a_savepoint_is_part_of_an_operation(desk: Desk) -> None:
    with pytest.raises(RuntimeError, match="part of an operation"), savepoint(desk.root):
        pass


# What is allowed to commit by hand outside core's unit of work, and why.
COMMITS_ELSEWHERE = {
    "tessera/core/bootstrap.py": "a new desk's first rows, before there is any user to act as",
    "tessera/mail/delivery.py": "the outbox worker's own bookkeeping of a claimed message (sent, retried)",
    "tessera/mail/webhooks.py": "the same, for webhooks",
}
_BY_HAND = re.compile(
    r"\.commit\(\)|\bctx\.depth\s*=|\.(batch|touched|bumped)\.clear\(\)|del ctx\.(batch|touched)"
)


def test_nothing_but_core_unit_of_work_commits_or_sets_the_unit_state() -> None:
    root = Path(__file__).resolve().parents[1] / "tessera"
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root.parent).as_posix()
        if name in ("tessera/core/context.py", "tessera/core/db_wait.py") or name in COMMITS_ELSEWHERE:
            continue  # the unit of work itself; the driver connection's own commit (faults)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _BY_HAND.search(code) and "action.commit()" not in code:
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []
