"""Templates and expressions run in a sandbox: escapes are refused, and only that scrip fails."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tessera.core import tickets
from tessera.core.models import ScripRun, Transaction
from tessera.scrips import sandbox
from tests.test_scrips_support import ScripDesk, engine_on, make_scrip_desk

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
def test_template_escapes_are_refused(session, source: str) -> None:  # type: ignore[no-untyped-def]
    with engine_on():
        desk = make_scrip_desk(session)
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
def test_expression_escapes_are_refused(session, source: str) -> None:  # type: ignore[no-untyped-def]
    with engine_on():
        desk = make_scrip_desk(session)
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


def test_bad_template_fails_only_that_scrip(session) -> None:  # type: ignore[no-untyped-def]
    with engine_on():
        desk: ScripDesk = make_scrip_desk(session)
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
