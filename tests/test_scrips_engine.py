"""The scrip engine: conditions, actions, templates, two phases, trace, batch stage, depth bound."""

from __future__ import annotations

from sqlalchemy import select

from tessera.core import ownership, tickets, watchers
from tessera.core.models import OutboxMessage, QueueWatcher, ScripRun, Transaction, User, Watcher
from tessera.core.queues import get_queue
from tessera.core.schemas import MessageIn
from tessera.core.serialize import history
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS


def outcomes(desk: Desk, txn_id: int) -> dict[str, str]:
    rows = desk.session.execute(
        select(ScripRun).where(ScripRun.transaction_id == txn_id).order_by(ScripRun.id)
    ).scalars()
    from tessera.core.models import Scrip

    return {(desk.session.get(Scrip, r.scrip_id).description if r.scrip_id else "-"): r.outcome for r in rows}


def test_defaults_are_seeded_once(desk: Desk) -> None:
    from tessera.core.bootstrap import bootstrap
    from tessera.core.models import Scrip

    count = len(desk.session.scalars(select(Scrip)).all())
    # all 17 of RT's, On Delivery Failure Notify Owner and the five timers (disabled)
    assert count == 23
    bootstrap(desk.session, "root")
    assert len(desk.session.scalars(select(Scrip)).all()) == count


def test_create_autoreplies_to_requestor_with_auto_submitted(desk: Desk) -> None:
    ticket = desk.ticket(requestors=["Customer@Example.com"])
    mails = desk.outbox()
    assert len(mails) == 1
    mail = mails[0]
    assert mail.recipients == ["Customer@example.com"]
    assert mail.summary["subject"] == f"[{ticket.display_id}] AutoReply: Printer on fire"
    assert "Auto-Submitted: auto-replied" in mail.message
    assert "From: General help via Tessera <help@desk.example>" in mail.message
    assert "It is on fire." in mail.summary["body"]
    create = desk.session.scalars(select(Transaction).where(Transaction.ticket_id == ticket.id)).one()
    got = outcomes(desk, create.id)
    assert got["On Create Autoreply To Requestors"] == "committed"
    assert got["On Create Notify Owner and AdminCcs"] == "skipped"  # nobody to tell
    assert "On Correspond Notify Requestors and Ccs" not in got  # not considered for a Create


def test_notify_rules_dedupe_actor_and_desk_addresses(desk: Desk) -> None:
    agent = desk.agent("alice", *AGENT_RIGHTS)
    ticket = desk.ticket(
        requestors=["customer@example.com"],
        cc=["customer@example.com", "boss@example.com"],
        admincc=["alice@staff.example", "boss@example.com", "audit@example.com"],
    )
    # Core refuses the desk's own address as a watcher; one from before that (or a queue address
    # changed later) is still never mailed.
    own = User(name="help@desk.example", email="help@desk.example", privileged=False)
    desk.session.add(own)
    desk.session.flush()
    desk.session.add(Watcher(ticket_id=ticket.id, role="Requestor", user_id=own.id))
    desk.session.commit()
    before = len(desk.outbox())
    tickets.correspond(agent, ticket.id, MessageIn(body="We are on it."))
    mails = desk.outbox()[before:]
    by_scrip = {m.summary["subject"]: m for m in mails}
    assert len(mails) == 2
    public = next(m for m in mails if "We are on it." in m.summary["body"] and m.summary["to"])
    # Requestors To, Ccs Cc; each address once; the desk's own address never.
    requestor_mail = [m for m in mails if m.summary["to"] == ["customer@example.com"]]
    assert requestor_mail, by_scrip
    assert requestor_mail[0].summary["cc"] == ["boss@example.com"]
    admin = next(m for m in mails if m is not requestor_mail[0])
    # The actor (alice, an AdminCc) is not told about her own reply.
    assert sorted(admin.summary["bcc"]) == ["audit@example.com", "boss@example.com"]
    assert "alice@staff.example" not in admin.recipients
    assert all("help@desk.example" not in m.recipients for m in mails)
    assert public is not None


def test_queue_watchers_and_owner(desk: Desk) -> None:
    agent = desk.agent("bob", *AGENT_RIGHTS)
    queue = get_queue(desk.root, "General")
    observer = desk.agent("carol", *AGENT_RIGHTS)
    desk.session.add(QueueWatcher(queue_id=queue.id, role="AdminCc", user_id=observer.actor.id))
    desk.session.commit()
    ticket = desk.ticket()
    mails = desk.outbox()
    admin = [m for m in mails if "carol@staff.example" in m.recipients]
    # Unowned: AdminCcs (the queue's too) are told in Bcc, as in RT.
    assert len(admin) == 1 and admin[0].summary["bcc"] == ["carol@staff.example"]
    ownership.give(desk.root, ticket.id, "bob")
    owner_mail = desk.outbox()[-1]
    assert owner_mail.summary["to"] == ["bob@staff.example"]
    assert agent is not None


def test_resolve_notifies_requestors_and_reply_reopens(desk: Desk) -> None:
    agent = desk.agent("dave", *AGENT_RIGHTS)
    ticket = desk.ticket()
    tickets.set_status(agent, ticket.id, "resolved")
    resolved = desk.outbox()[-1]
    assert resolved.summary["subject"] == f"[{ticket.display_id}] Resolved: Printer on fire"
    assert resolved.summary["to"] == ["customer@example.com"]
    tickets.correspond(agent, ticket.id, MessageIn(body="One more thing."))
    desk.session.refresh(ticket)
    assert ticket.status == "open"
    txns = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id).order_by(Transaction.id)
    ).all()
    reopen = txns[-1]
    assert (reopen.type, reopen.old_value, reopen.new_value) == ("Status", "resolved", "open")
    assert reopen.data["scrip"] == "On Correspond Open Inactive Tickets"
    assert reopen.actor_id == agent.actor.id  # the human who caused it, with the scrip recorded


def test_stalled_is_left_alone_by_open_inactive(desk: Desk) -> None:
    ticket = desk.ticket()
    tickets.set_status(desk.root, ticket.id, "open")
    tickets.set_status(desk.root, ticket.id, "stalled")
    tickets.correspond(desk.root, ticket.id, MessageIn(body="ping"))
    desk.session.refresh(ticket)
    assert ticket.status == "stalled"


def test_scrip_order_is_shared_by_global_and_queue_scrips(desk: Desk) -> None:
    desk.disable_defaults()
    queue = get_queue(desk.root, "General")
    desk.add_scrip("third", action="SetPriority", action_argument="+1", order=30, condition="OnCreate")
    desk.add_scrip("first", action="SetPriority", action_argument="+1", order=10, condition="OnCreate",
                   queue_id=queue.id)  # fmt: skip
    desk.add_scrip("second", action="SetPriority", action_argument="+1", order=20, condition="OnCreate")
    desk.add_scrip("other queue", action="SetPriority", action_argument="+1", order=15, condition="OnCreate",
                   queue_id=get_queue(desk.root, "Network").id)  # fmt: skip
    ticket = desk.ticket()
    create = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "Create")
    ).one()
    runs = desk.session.scalars(
        select(ScripRun).where(ScripRun.transaction_id == create.id).order_by(ScripRun.id)
    ).all()
    names = [desk.session.get(type(desk.scrip("first")), r.scrip_id).description for r in runs]
    assert names == ["first", "second", "third"]
    # All three prepared against the same ticket (priority 0), so each set it to 1.
    desk.session.refresh(ticket)
    assert ticket.priority == 1


def test_two_phases_templates_see_the_ticket_before_commits(desk: Desk) -> None:
    desk.disable_defaults()
    desk.add_template("Prio", "Subject: prio {{ ticket.priority }}\n\nprio was {{ ticket.priority }}")
    desk.add_scrip("bump", condition="OnCreate", action="SetPriority", action_argument="7", order=1)
    desk.add_scrip("tell", condition="OnCreate", action="Notify", action_argument="Requestor",
                   template="Prio", order=2)  # fmt: skip
    desk.ticket()
    mail = desk.outbox()[-1]
    assert mail.summary["body"].strip() == "prio was 0"


def test_batch_stage_runs_once_per_unit_and_picks_the_matching_transaction(desk: Desk) -> None:
    desk.disable_defaults()
    desk.add_template("Batch", "Subject: batch {{ transaction.type }} {{ transaction.new }}\n\nbatch")
    desk.add_scrip("batch any", stage="TransactionBatch", condition="OnTransaction", action="Notify",
                   action_argument="Requestor", template="Batch")  # fmt: skip
    desk.add_scrip("batch status", stage="TransactionBatch", condition="OnStatusChange",
                   argument="new -> open", action="Notify", action_argument="Requestor",
                   template="Batch")  # fmt: skip
    ticket = desk.ticket()
    first = len(desk.outbox())
    assert first == 1  # the batch of the create unit: one Create
    tickets.set_fields(desk.root, ticket.id, {"priority": "5", "subject": "Now smoking", "status": "open"})
    mails = desk.outbox()[first:]
    subjects = sorted(m.summary["subject"].split("] ", 1)[1] for m in mails)
    # One mail per batch scrip although three transactions were recorded; the first matching one is used.
    assert subjects == ["batch Status open", "batch Status open"]


def test_recursion_is_bounded_and_recorded(desk: Desk, monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_SCRIP_MAX_DEPTH", "3")
    desk.disable_defaults()
    desk.add_scrip("loop", condition="OnPriorityChange", action="SetPriority", action_argument="+1")
    ticket = desk.ticket()
    tickets.set_fields(desk.root, ticket.id, {"priority": "10"})
    desk.session.refresh(ticket)
    # The person's change plus three levels of scrip changes, then the bound.
    assert ticket.priority == 13
    limits = [r for r in desk.runs(ticket.id) if r.outcome == "depth limit"]
    assert len(limits) == 1 and "depth bound (3)" in limits[0].reason


def test_failing_scrips_never_lose_the_change(desk: Desk) -> None:
    desk.add_template("Broken", "Subject: {{ no_such_thing }}\n\nx")
    desk.add_scrip("broken template", condition="OnStatusChange", action="Notify",
                   action_argument="Requestor", template="Broken", order=1)  # fmt: skip
    desk.add_scrip("broken argument", condition="OnStatusChange", action="SetStatus",
                   action_argument="no-such-status", order=2)  # fmt: skip
    ticket = desk.ticket()
    blocker = desk.ticket(subject="blocker")
    from tessera.core.links import add_link

    add_link(desk.root, ticket.id, "depends-on", blocker.id)
    # Its commit fails (unresolved dependency): the savepoint rolls back, the trace says why.
    desk.add_scrip("resolve on open", condition="OnStatusChange", argument="new -> open",
                   action="SetStatus", action_argument="resolved", order=3)  # fmt: skip
    tickets.set_status(desk.root, ticket.id, "open")
    desk.session.refresh(ticket)
    assert ticket.status == "open"
    status_txn = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "Status")
    ).one()
    got = outcomes(desk, status_txn.id)
    assert got["broken template"] == "prepare failed"
    assert got["broken argument"] == "prepare failed"
    assert got["resolve on open"] == "commit failed"
    reasons = {
        desk.session.get(type(desk.scrip("broken template")), r.scrip_id).description: r.reason
        for r in desk.runs(ticket.id)
        if r.transaction_id == status_txn.id and r.scrip_id
    }
    assert "no_such_thing" in reasons["broken template"]
    assert "no-such-status" in reasons["broken argument"]
    assert "unresolved" in reasons["resolve on open"]


def test_queue_template_overrides_global_and_empty_disables(desk: Desk) -> None:
    queue = get_queue(desk.root, "General")
    desk.add_template("Autoreply", "", queue_id=queue.id)
    desk.ticket()
    assert desk.outbox() == []
    desk.ticket(queue="Network")
    assert len(desk.outbox()) == 1
    skipped = [r for r in desk.runs() if r.outcome == "skipped" and "empty" in r.reason]
    assert skipped


def test_expression_conditions(desk: Desk) -> None:
    desk.disable_defaults()
    desk.add_scrip("urgent", expression="transaction.type == 'Set' and ticket.priority >= 50 "
                   "and 'urgent' in ticket.subject", action="AddComment",
                   action_argument="Escalated automatically")  # fmt: skip
    ticket = desk.ticket(subject="urgent: all down")
    tickets.set_fields(desk.root, ticket.id, {"priority": "10"})
    assert not [r for r in desk.runs(ticket.id) if r.outcome == "committed"]
    tickets.set_fields(desk.root, ticket.id, {"priority": "60"})
    comments = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id, Transaction.type == "Comment")
    ).all()
    assert len(comments) == 1 and comments[0].data["scrip"] == "urgent"


def test_set_actions_and_custom_field_condition(desk: Desk) -> None:
    from tessera.core.customfields import create_field

    desk.disable_defaults()
    desk.agent("erin", *AGENT_RIGHTS)
    create_field(desk.root, "Severity", queue="General")
    desk.add_scrip("sev", condition="OnCustomFieldChange", argument="Severity", action="SetOwner",
                   action_argument="erin")  # fmt: skip
    desk.add_scrip(
        "own", condition="OnOwnerChange", action="SetCustomField", action_argument="Severity=handled"
    )
    ticket = desk.ticket()
    tickets.set_custom_field_values(desk.root, ticket.id, "Severity", ["high"])
    desk.session.refresh(ticket)
    assert ticket.owner is not None and ticket.owner.name == "erin"
    from tessera.core.serialize import custom_fields_of

    assert custom_fields_of(desk.root, ticket)["Severity"] == "handled"


def test_history_json_carries_the_trace(desk: Desk) -> None:
    ticket = desk.ticket()
    entries = history(desk.root, ticket)
    create = entries[0]
    assert create["type"] == "Create"
    got = {s["description"]: s["outcome"] for s in create["scrips"]}
    assert got["On Create Autoreply To Requestors"] == "committed"
    assert all({"fired", "reason", "stage"} <= set(s) for s in create["scrips"])


def test_mail_from_a_robot_is_not_redistributed(desk: Desk) -> None:
    ticket = desk.ticket()
    before = len(desk.outbox())
    watchers.add_watcher(desk.root, ticket.id, "Cc", "friend@example.com")
    tickets.correspond(
        desk.root,
        ticket.id,
        MessageIn(body="Out of office", headers="Auto-Submitted: auto-replied\nPrecedence: bulk\n"),
    )
    assert len(desk.session.scalars(select(OutboxMessage)).all()) == before


def test_preview_plans_and_writes_nothing(desk: Desk) -> None:
    from tessera.scrips.preview import preview

    ticket = desk.ticket()
    outbox = len(desk.outbox())
    runs = len(desk.runs())
    txns = len(desk.session.scalars(select(Transaction)).all())
    plan = preview(desk.root, ticket.id, {"status": "resolved", "priority": "3"})
    fired = {(s["description"], s["transaction_type"]): s["fires"] for s in plan["scrips"]}
    assert fired[("On Resolve Notify Requestors", "Status")] is True
    assert fired[("On Resolve Notify Requestors", "Set")] is False
    assert {c["field"] for c in plan["changes"]} == {"status", "priority"}
    message = next(m for m in plan["messages"] if "Resolved" in m["subject"])
    assert message["to"] == ["customer@example.com"] and "resolved" in message["body"]
    assert set(plan["scrips"][0]) >= {"id", "description", "fires", "reason"}
    desk.session.refresh(ticket)
    assert ticket.status == "new" and ticket.priority == 0
    assert len(desk.outbox()) == outbox
    assert len(desk.runs()) == runs
    assert len(desk.session.scalars(select(Transaction)).all()) == txns


def test_operator_actions_and_conditions_from_installed_packages(desk: Desk, tmp_path, monkeypatch) -> None:
    """Entry points `tessera.scrip_conditions` / `tessera.scrip_actions` of an installed distribution."""
    import sys

    from tessera.scrips import actions, conditions

    (tmp_path / "desk_extras.py").write_text(
        "from tessera.scrips.actions import ScripAction\n"
        "def on_vip(sc, argument):\n"
        "    return 'vip' in sc.ticket.subject.lower()\n"
        "on_vip.transaction_types = ('Create',)\n"
        "class Shout(ScripAction):\n"
        "    changes_ticket = True\n"
        "    def prepare(self):\n"
        "        self.changes = [{'field': 'subject', 'old': self.sc.ticket.subject, 'new': 'VIP!'}]\n"
        "    def commit(self):\n"
        "        from tessera.core.tickets import set_fields\n"
        "        set_fields(self.sc.ctx, self.sc.ticket.id, {'subject': self.sc.ticket.subject.upper()})\n"
    )
    dist = tmp_path / "desk_extras-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: desk-extras\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tessera.scrip_conditions]\nOnVip = desk_extras:on_vip\n\n"
        "[tessera.scrip_actions]\nShout = desk_extras:Shout\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    conditions.registry.cache_clear()
    actions.registry.cache_clear()
    try:
        desk.disable_defaults()
        desk.add_scrip("vip", condition="OnVip", action="Shout")
        plain = desk.ticket(subject="normal")
        vip = desk.ticket(subject="vip customer")
        desk.session.refresh(plain)
        desk.session.refresh(vip)
        assert (plain.subject, vip.subject) == ("normal", "VIP CUSTOMER")
    finally:
        sys.modules.pop("desk_extras", None)
        conditions.registry.cache_clear()
        actions.registry.cache_clear()


def test_a_status_change_reads_the_scrips_inputs_with_its_write(desk: Desk, monkeypatch) -> None:
    """The prefetch rides in the statement that writes the change: lock, write, scrip results."""
    import psycopg

    agent = desk.agent("erin", *AGENT_RIGHTS)
    ticket = desk.ticket()
    desk.session.add(Watcher(ticket_id=ticket.id, role="Requestor", user_id=agent.actor.id))
    desk.session.commit()
    statements: list[str] = []
    real = psycopg.Cursor.execute

    def counting(self, query, params=None, **kw):
        if "SAVEPOINT" not in str(query):  # the test session's, not the operation's
            statements.append(" ".join(str(query).split())[:40])
        return real(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    tickets.set_status(desk.root, ticket.id, "resolved")
    monkeypatch.undo()
    assert len(statements) == 3, statements
    assert statements[1].startswith("WITH u AS (UPDATE tickets")
    # What rode along was current: a requestor added just before is told too.
    resolved = desk.outbox()[-1]
    assert sorted(resolved.summary["to"]) == ["customer@example.com", "erin@staff.example"]
