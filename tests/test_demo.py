"""The demo seeder: a realistic desk, seeded twice without duplicates, in one transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.demo import seed
from tessera.core.models import CustomFieldValue, Grant, Queue, Ticket, Transaction, User, Watcher
from tessera.core.serialize import history, ticket_json
from tessera.core.tickets import get_ticket


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_seed_twice_adds_tickets_and_nothing_else(session) -> None:
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


def test_seeded_tickets_read_like_real_ones(session) -> None:
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


def test_seed_on_a_desk_with_its_own_definitions_writes_nothing_they_refuse(session) -> None:
    """A desk used before the demo: its own "Severity" allows fewer values, its "carol" is a
    requestor, its "Network" queue runs another lifecycle. The demo adds tickets all the same and
    every row it writes obeys the desk's rules."""
    from tessera.core import customfields, queues, users
    from tessera.core.customfields import normalise_values
    from tessera.core.models import CustomField

    bootstrap(session, "root")
    ctx = open_context(session, "root")
    customfields.create_field(ctx, "Severity", type_="select", values=["low", "High"])
    customfields.create_field(ctx, "Category", type_="select", values=["Bug", "Other"])  # single value
    users.add_user(ctx, "carol", email="carol@customer.example", privileged=False)
    from tessera.core.lifecycles.store import apply_lifecycle

    apply_lifecycle(
        ctx,
        "name: short\ninitial: [new]\nactive: [doing]\ninactive: [done]\n"
        "transitions: {'': [new], new: [doing], doing: [done]}\n",
    )
    queues.create_queue(ctx, "Network", lifecycle="short")
    assert seed(ctx, 300) == 300
    carol = session.scalars(select(User).where(User.name == "carol")).one()
    assert not session.scalar(select(func.count()).where(Ticket.owner_id == carol.id))
    network = session.scalars(select(Queue).where(Queue.name == "Network")).one()
    assert not session.scalar(select(func.count()).where(Ticket.queue_id == network.id))
    fields = {cf.id: cf for cf in session.scalars(select(CustomField))}
    rows = session.execute(
        select(CustomFieldValue.ticket_id, CustomFieldValue.custom_field_id, CustomFieldValue.value)
    ).all()
    assert {fields[f].name for _, f, _ in rows} >= {"Severity", "Category"}
    per_ticket: dict[tuple[int, int], list[str]] = {}
    for ticket_id, field_id, value in rows:
        per_ticket.setdefault((ticket_id, field_id), []).append(value)
    for (_, field_id), values in per_ticket.items():
        assert normalise_values(fields[field_id], values) == values  # allowed, and one where one is due
