"""The demo seeder: a realistic desk, seeded twice without duplicates, in one transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.demo import seed
from tessera.core.models import CustomFieldValue, Grant, Queue, Ticket, Transaction, User, Watcher
from tessera.core.serialize import history, ticket_json
from tessera.core.tickets import get_ticket


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_seed_twice_adds_tickets_and_nothing_else(session) -> None:  # type: ignore[no-untyped-def]
    bootstrap(session, "root")
    ctx = open_context(session, "root")
    progress: list[tuple[int, int]] = []
    assert seed(ctx, 600, progress=lambda done, total: progress.append((done, total))) == 600
    assert progress[-1] == (600, 600) and len(progress) >= 2
    first = {m: _count(session, m) for m in (Queue, User, Grant)}
    statuses = set(session.scalars(select(Ticket.status).distinct()))
    assert statuses == {"new", "open", "stalled", "resolved", "rejected", "deleted"}
    assert _count(session, Watcher) >= 600 and _count(session, CustomFieldValue) >= 600
    assert _count(session, Transaction) > 2 * 600  # conversations, not bare tickets
    seed(ctx, 100)
    assert _count(session, Ticket) == 700
    assert {m: _count(session, m) for m in (Queue, User, Grant)} == first


def test_seeded_tickets_read_like_real_ones(session) -> None:  # type: ignore[no-untyped-def]
    bootstrap(session, "root")
    ctx = open_context(session, "root")
    seed(ctx, 200)
    resolved = session.scalars(select(Ticket.id).where(Ticket.status == "resolved").limit(1)).one()
    ticket = get_ticket(ctx, resolved)
    data = ticket_json(ctx, ticket)
    assert data["requestors"] and data["owner"] and data["resolved"] and data["custom_fields"]["Severity"]
    kinds = [h["type"] for h in history(ctx, ticket)]
    assert kinds[0] == "Create" and "Correspond" in kinds and kinds[-1] == "Status"
    alice = open_context(session, "alice")  # agents can work the seeded desk under the seeded rights
    assert get_ticket(alice, resolved).id == resolved
