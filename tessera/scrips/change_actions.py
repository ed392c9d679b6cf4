"""The built-in actions that change the ticket (status, owner, priority, a custom field), add to
it (a comment, a recorded message) or read its subject (RT's Extract Subject Tag). They go through
core's operations as the desk itself: rights bypassed, the lifecycle still checked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from tessera.core import subject_tags
from tessera.core.errors import InvalidInput
from tessera.scrips import compose

if TYPE_CHECKING:
    pass
from tessera.scrips.action_base import ScripAction, Skip

# -- ticket changes ---------------------------------------------------------------------------


class TicketChange(ScripAction):
    changes_ticket = True
    field: ClassVar[str] = ""

    def target(self) -> str:
        if not self.argument:
            raise InvalidInput(f"{type(self).__name__} needs an argument")
        return self.argument

    def current(self) -> Any:
        return getattr(self.sc.ticket, self.field)

    def prepare(self) -> None:
        new = self.target()
        old = self.current()
        if str(old) == str(new):
            raise Skip(f"{self.field} is already {new}")
        self.changes = [{"field": self.field, "old": old, "new": new}]


class SetStatus(TicketChange):
    """Argument: a status, or `initial`/`active`/`inactive` for the first allowed one of that kind."""

    field = "status"

    def target(self) -> str:
        arg = super().target().lower()
        lifecycle = self.sc.lifecycle
        current = self.sc.ticket.status
        if arg in ("active", "inactive", "initial"):
            if lifecycle.category(current) == arg:
                raise Skip(f"status {current} is already {arg}")
            choice = next((s for s in lifecycle.next_statuses(current) if lifecycle.category(s) == arg), None)
            if choice is None:
                raise InvalidInput(f"no {arg} status is reachable from {current}")
            return choice
        if not lifecycle.is_valid(arg):
            raise InvalidInput(f"{arg!r} isn't a status of lifecycle {lifecycle.name!r}")
        if arg != current:
            lifecycle.check_transition(current, arg)
        return arg

    def commit(self) -> None:
        from tessera.core.statuses import change_status

        change_status(self.sc.ctx, self.sc.ticket, self.changes[0]["new"])


class OpenInactive(SetStatus):
    """RT's Open Inactive Tickets: unless the status is in the active list, go to the first active
    status (so a reply opens `new` and `resolved` tickets, and leaves `stalled` alone)."""

    def target(self) -> str:
        lifecycle = self.sc.lifecycle
        current = self.sc.ticket.status
        message = self.sc.txn_view.message
        control = (message.header("RT-Control") or message.header("X-Tessera-Control") or "").lower()
        if "no-autoopen" in control:
            raise Skip("the message asks not to reopen (no-autoopen)")
        if self._status_set_after():
            # RT runs this scrip as the message is recorded, before a status change made with it
            # (the mail gateway's correspond-resolve, a reply-and-resolve): that change stands.
            raise Skip("the status was set after this message, in the same change")
        if lifecycle.in_active_list(current):
            raise Skip(f"status {current} is active")
        first = lifecycle.first_active_status(current)
        if first is None:
            raise Skip(f"no active status is reachable from {current}")
        return first

    def _status_set_after(self) -> bool:
        batch = self.sc.ctx.batch
        at = next((i for i, t in enumerate(batch) if t is self.sc.txn), None)
        if at is None:
            return False
        return any(t.type == "Status" and t.ticket_id == self.sc.ticket.id for t in batch[at + 1 :])


class SetOwner(TicketChange):
    field = "owner"

    def current(self) -> Any:
        owner = self.sc.ticket.owner
        return owner.name if owner is not None else "Nobody"

    def target(self) -> str:
        from tessera.core.ownership import NOBODY
        from tessera.core.users import get_user

        arg = super().target()
        if arg.strip().lower() in NOBODY:
            return "Nobody"
        return get_user(self.sc.ctx, arg).name

    def commit(self) -> None:
        from tessera.core.ownership import set_owner

        set_owner(self.sc.ctx, self.sc.ticket, self.changes[0]["new"])


class SetPriority(TicketChange):
    """Argument: a number, or `+N`/`-N` to add to the current priority."""

    field = "priority"

    def target(self) -> str:
        arg = super().target().replace(" ", "")
        try:
            value = int(arg)
        except ValueError:
            raise InvalidInput(f"SetPriority: {arg!r} is not a whole number") from None
        if arg.startswith(("+", "-")):
            value += self.sc.ticket.priority
        return str(value)

    def current(self) -> Any:
        return str(self.sc.ticket.priority)

    def commit(self) -> None:
        from tessera.core.context import record

        ticket = self.sc.ticket
        old = ticket.priority
        ticket.priority = int(self.changes[0]["new"])
        record(self.sc.ctx, ticket, "Set", field="Priority", old=old, new=ticket.priority)


class SetCustomField(TicketChange):
    """Argument: `NAME=VALUE` (a comma list for multi-value fields; empty clears)."""

    def prepare(self) -> None:
        from tessera.core.customfields import field_for_ticket, normalise_values

        name, sep, raw = self.argument.partition("=")
        if not sep or not name.strip():
            raise InvalidInput("SetCustomField needs NAME=VALUE")
        sc = self.sc
        cf = field_for_ticket(sc.ctx, name.strip(), sc.ticket.queue)
        values = normalise_values(cf, [v.strip() for v in raw.split(",")] if raw.strip() else [])
        old = sc.ticket_view.custom_fields.get(cf.name)
        old_list = old if isinstance(old, list) else ([old] if old else [])
        if old_list == values:
            raise Skip(f"{cf.name} already has that value")
        self.cf_name = cf.name
        self.values = values
        self.changes = [{"field": f"cf.{cf.name}", "old": old, "new": values if cf.multiple else raw.strip()}]

    def commit(self) -> None:
        from tessera.core.tickets import set_custom_field

        set_custom_field(self.sc.ctx, self.sc.ticket, self.cf_name, self.values)


class AddComment(ScripAction):
    """A private comment on the ticket: the template's body, or the argument when no template."""

    changes_ticket = True

    def prepare(self) -> None:
        sc = self.sc
        if sc.txn.type in ("Comment", "Correspond") and sc.txn.data.get("scrip_id"):
            raise Skip("triggered by a scrip's own comment (loop guard)")
        text = sc.render_template() if sc.scrip.template else self.argument
        headers, body = compose.split_template(text)
        if not body.strip():
            raise Skip("nothing to comment")
        self.subject = next((v for k, v in headers if k.lower() == "subject"), None)
        self.body = body
        self.changes = [{"field": "comment", "old": None, "new": body}]

    def commit(self) -> None:
        from tessera.core.schemas import MessageIn
        from tessera.core.tickets import _post

        _post(self.sc.ctx, self.sc.ticket, "Comment", MessageIn(body=self.body, subject=self.subject))


class RecordComment(ScripAction):
    """RT's RecordComment: the template's message recorded as a comment on the ticket (its own
    transaction, which runs its own scrips, so the usual comment notifications follow). RT's loop
    guard: never when the triggering transaction is itself a comment or a reply."""

    uses_template = True
    changes_ticket = True
    kind: ClassVar[str] = "Comment"

    def prepare(self) -> None:
        sc = self.sc
        if sc.txn.type in ("Comment", "Correspond"):
            raise Skip(f"triggered by a {sc.txn.type} transaction (RT's loop guard)")
        headers, body = compose.split_template(sc.render_template())
        if not body.strip():
            raise Skip(f"template {sc.scrip.template!r} has no body")
        self.subject = next((v for k, v in headers if k.lower() == "subject"), None)
        self.body = body
        self.changes = [{"field": self.kind.lower(), "old": None, "new": body}]

    def commit(self) -> None:
        from tessera.core.schemas import MessageIn
        from tessera.core.tickets import _post

        _post(self.sc.ctx, self.sc.ticket, self.kind, MessageIn(body=self.body, subject=self.subject))


class RecordCorrespondence(RecordComment):
    """RT's RecordCorrespondence: as RecordComment, recorded as a reply (so the requestors are
    notified by the reply scrips); the same loop guard."""

    kind = "Correspond"


class ExtractSubjectTag(ScripAction):
    """RT's Extract Subject Tag: another system's tags in the message's subject (`[example #12]`,
    what a vendor's or a partner's desk writes) are copied to the end of the ticket's subject, so
    replies to them keep threading there. This desk's own tags (`[TKT-0042]`, `[<desk name> #N]`,
    `[<a queue's tag> #N]`) and tags the ticket's subject already holds are left out; a subject
    that would grow past the limit is left as it is."""

    changes_ticket = True
    TAG = re.compile(r"\[[^\[\]]+? #\d{1,18}\]")

    def prepare(self) -> None:
        from tessera.core.tickets import MAX_SUBJECT

        sc = self.sc
        incoming = sc.txn_view.message.subject or ""
        if not incoming:
            raise Skip("the transaction carries no message subject")
        found = [m.group(0) for m in self.TAG.finditer(compose.one_line(incoming)[:2000])]
        if not found:  # most messages: no round trip for the queues' tags
            raise Skip("no tag to copy")
        desk, queue_tags = compose.desk_name(), subject_tags.queue_tags(sc.ctx.session)
        subject = current = sc.ticket.subject
        for tag in found:
            if subject_tags.is_ours(tag, desk, queue_tags) or tag.lower() in subject.lower():
                continue
            subject = f"{subject} {tag}".strip()
        if subject == current:
            raise Skip("no tag to copy")
        if len(subject) > MAX_SUBJECT:
            raise Skip(f"the subject would be longer than {MAX_SUBJECT} characters")
        self.changes = [{"field": "subject", "old": current, "new": subject}]

    def commit(self) -> None:
        from tessera.core.context import record

        ticket = self.sc.ticket
        old = ticket.subject
        ticket.subject = self.changes[0]["new"]
        record(self.sc.ctx, ticket, "Set", field="Subject", old=old, new=ticket.subject)


# -- service levels (RT's SLA_SetStarts, SLA_SetDue) -------------------------------------------


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class SLASetStarts(ScripAction):
    """RT's Set starts date according to SLA: Starts by the ticket's level's start rule (from
    Created). Written to the ticket with no transaction of its own."""

    changes_ticket = True
    unrecorded = True

    def prepare(self) -> None:
        from tessera.core.sla import starts_for

        ticket = self.sc.ticket
        new = starts_for(self.sc.ctx, ticket)
        if new is None:
            raise Skip("the ticket has no service level")
        if new == ticket.starts:
            raise Skip(f"Starts is already {_when(new)}")
        self.changes = [{"field": "starts", "old": _when(ticket.starts), "new": _when(new)}]

    def commit(self) -> None:
        from tessera.core.sla import starts_for

        ticket = self.sc.ticket
        new = starts_for(self.sc.ctx, ticket)
        if new is not None and new != ticket.starts:
            self.changes = [{"field": "starts", "old": _when(ticket.starts), "new": _when(new)}]
            ticket.starts = new


class SLASetDue(ScripAction):
    """RT's Set due date according to SLA: Due by the ticket's level as it now stands (response or
    keep-in-loop and resolve deadlines, pauses, an inactive status). Computed again at commit, after
    the scrips before it changed the ticket; the new Due is noted on the transaction that caused it
    (`data.sla_due`), with no transaction of its own. Disabled, Due is no longer kept."""

    changes_ticket = True
    unrecorded = True

    def prepare(self) -> None:
        from tessera.core.sla import due_for, level_of

        sc = self.sc
        level = level_of(sc.ctx, sc.ticket)
        if level is None:
            raise Skip("the ticket has no service level")
        new = due_for(sc.ctx, sc.ticket, level)
        if new != sc.ticket.due:
            self.changes = [{"field": "due", "old": _when(sc.ticket.due), "new": _when(new)}]

    def commit(self) -> None:
        from tessera.core.sla import recompute

        ticket = self.sc.ticket
        old = ticket.due
        recompute(self.sc.ctx, ticket, self.sc.txn)
        self.changes = (
            [{"field": "due", "old": _when(old), "new": _when(ticket.due)}] if ticket.due != old else []
        )
