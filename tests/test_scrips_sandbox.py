"""Templates and expressions run in a sandbox: escapes are refused, and only that scrip fails."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tessera.core import tickets
from tessera.core.models import ScripRun, Transaction
from tessera.scrips import sandbox
from tests.support.desks import Desk, make_desk

TEMPLATE_ESCAPES = [
    "{{ ticket.__class__ }}",
    "{{ ticket.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ticket.__init__.__globals__ }}",
    "{{ history.__globals__['os'] }}",
    "{{ quote.__globals__ }}",
    "{{ display_id.__self__ }}",
    "{{ transaction.message.__class__.mro() }}",
    "{{ ticket.queue.__class__.mro }}",
    "{{ ticket._ctx.session }}",
    "{{ ticket._role_users('Requestor') }}",
    "{{ ticket._ticket.registry }}",
    "{{ range.__globals__ }}",
    "{{ '{0.__class__}'.format(ticket) }}",
    "{{ lipsum.__globals__.os }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ config }}",
    "{{ self._TemplateReference__context }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}{{ os.system('id') }}",
    "{% extends '/etc/hostname' %}",
    "{% from 'subprocess' import run %}",
    "{{ open('/etc/passwd').read() }}",
    "{{ __import__('os').system('id') }}",
    "{{ ticket.requestors.append('x') }}",
    "{{ ticket.custom_fields.update({'a': 1}) }}",
    "{{ range(10**9) | list }}",
]

EXPRESSION_ESCAPES = [
    "ticket.__class__",
    "ticket.__class__.__mro__[1].__subclasses__()",
    "history.__globals__",
    "''.__class__.mro()",
    "__import__('os')",
    "open('/etc/passwd')",
    "ticket._ctx",
    "ticket.requestors.append('x') or true",
    "lipsum.__globals__",
]


@pytest.mark.parametrize("source", TEMPLATE_ESCAPES)
def test_template_escapes_are_refused(session, source: str) -> None:
    desk = make_desk(session)
    desk.disable_defaults()
    desk.add_template("Evil", f"Subject: x\n\n{source}\n")
    scrip = desk.add_scrip("evil", condition="OnCreate", action="Notify", action_argument="Requestor",
                           template="Evil")  # fmt: skip
    ticket = desk.ticket()
    run = session.scalars(select(ScripRun).where(ScripRun.scrip_id == scrip.id)).one()
    assert run.outcome == "prepare failed", run.reason
    assert run.reason
    assert desk.outbox() == []
    assert ticket.id is not None  # the change that triggered the scrip is kept


@pytest.mark.parametrize("source", EXPRESSION_ESCAPES)
def test_expression_escapes_are_refused(session, source: str) -> None:
    desk = make_desk(session)
    desk.disable_defaults()
    scrip = desk.add_scrip("evil", expression=source, action="SetPriority", action_argument="99")
    ticket = desk.ticket()
    runs = session.scalars(select(ScripRun).where(ScripRun.scrip_id == scrip.id)).all()
    assert runs and all(r.outcome in ("condition failed", "condition false") for r in runs), [
        (r.outcome, r.reason) for r in runs
    ]
    session.refresh(ticket)
    assert ticket.priority == 0


def test_sandbox_errors_are_one_line_reasons() -> None:
    with pytest.raises(Exception) as info:
        sandbox.render("{{ ''.__class__ }}", {})
    assert "sandbox" in sandbox.reason(info.value) or "undefined" in sandbox.reason(info.value).lower()
    with pytest.raises(Exception) as info:
        sandbox.render("{{ missing }}", {})
    assert "missing" in sandbox.reason(info.value)


def test_bad_template_fails_only_that_scrip(session) -> None:
    desk: Desk = make_desk(session)
    desk.add_template("Broken", "Subject: {% if %}\n\nbody")
    desk.add_scrip("broken", condition="OnCreate", action="Notify", action_argument="Requestor",
                   template="Broken", order=1)  # fmt: skip
    ticket = desk.ticket()
    tickets.set_status(desk.root, ticket.id, "open")
    create = session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "Create")
    ).one()
    by_outcome = {
        r.outcome for r in session.scalars(select(ScripRun).where(ScripRun.transaction_id == create.id))
    }
    assert {"prepare failed", "committed"} <= by_outcome
    assert len(desk.outbox()) == 1  # the autoreply still went to the outbox


@pytest.mark.fault
def test_every_escape_payload_at_once_on_one_ticket_is_refused_and_the_change_commits(session) -> None:
    """The figure: every payload above as a scrip of its own on one desk, triggered by one create."""
    desk = make_desk(session)
    desk.disable_defaults()
    scrips = {}
    for number, source in enumerate(TEMPLATE_ESCAPES):
        desk.add_template(f"Evil {number}", f"Subject: x\n\n{source}\n")
        scrips[source] = desk.add_scrip(f"evil template {number}", condition="OnCreate", action="Notify",
                                        action_argument="Requestor", template=f"Evil {number}")  # fmt: skip
    for number, source in enumerate(EXPRESSION_ESCAPES):
        scrips[source] = desk.add_scrip(
            f"evil expression {number}", expression=source, action="SetPriority", action_argument="99"
        )
    ticket = desk.ticket()
    runs = session.scalars(select(ScripRun).where(ScripRun.ticket_id == ticket.id)).all()
    outcomes = {
        source: {r.outcome for r in runs if r.scrip_id == scrip.id} for source, scrip in scrips.items()
    }
    refused = {
        s for s, o in outcomes.items() if o and o <= {"prepare failed", "condition failed", "condition false"}
    }
    assert refused == set(scrips), {s: o for s, o in outcomes.items() if s not in refused}
    assert all(r.reason and "\n" not in r.reason for r in runs if r.outcome.endswith("failed"))
    assert desk.outbox() == []
    session.refresh(ticket)
    assert ticket.priority == 0
    print(
        f"\nfault: Jinja sandbox, {len(scrips)} escape payloads ({len(TEMPLATE_ESCAPES)} templates, "
        f"{len(EXPRESSION_ESCAPES)} condition expressions) as scrips on one create: {len(refused)} refused "
        f"with a one-line reason in the trace, 0 mails sent, 0 fields changed, the ticket created"
    )
