"""Actions: what a scrip does, in two phases (RT's Prepare and Commit).

An action is a class; the engine makes one instance per scrip run with `sc` (the ScripContext) and
`argument`. `prepare()` computes everything (renders the template, picks recipients, checks the
new value) and must not change anything; it raises `Skip` when there is nothing to do and any other
exception when it fails. `commit()` applies the effect: mail goes to the outbox, ticket changes go
through core's operations as the desk itself (rights bypassed, lifecycle still checked).
Operators add actions as installed packages under the entry-point group `tessera.scrip_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from tessera.core.errors import InvalidInput
from tessera.core.models import User
from tessera.mail import compose

if TYPE_CHECKING:
    from tessera.scrips.engine import ScripContext


@dataclass(slots=True, eq=False)
class OutboxRow:
    """One `outbox` row being built: the attributes of `OutboxMessage` that the engine writes
    (with the unit's trace, in one statement)."""

    ticket_id: int | None
    transaction_id: int | None
    scrip_id: int | None
    message_id: str
    mail_from: str
    recipients: list[str]
    summary: dict[str, Any]
    message: str
    next_attempt: datetime
    created: datetime
    id: int | None = None


class Skip(Exception):
    """Prepare found nothing to do (no recipients, empty template, already in that status)."""


class ScripAction:
    uses_template: ClassVar[bool] = False
    changes_ticket: ClassVar[bool] = False

    def __init__(self, sc: ScripContext, argument: str) -> None:
        self.sc = sc
        self.argument = argument.strip()
        self.outgoing: compose.Outgoing | None = None
        self.changes: list[dict[str, Any]] = []

    def prepare(self) -> None:
        raise Skip("this action does nothing")

    def commit(self) -> None:
        return None


# -- mail -------------------------------------------------------------------------------------

NOTIFY_ROLES = {
    "requestor",
    "requestors",
    "cc",
    "ccs",
    "admincc",
    "adminccs",
    "owner",
    "all",
    "otherrecipients",
}


def _norm_role(word: str) -> str:
    w = word.strip().lower().replace(" ", "")
    return {"requestors": "requestor", "ccs": "cc", "adminccs": "admincc"}.get(w, w)


class SendEmail(ScripAction):
    uses_template = True
    as_comment: ClassVar[bool] = False
    autoreply: ClassVar[bool] = False

    def recipients(self) -> tuple[list[str], list[str], list[str]]:
        return [], [], []

    def prepare(self) -> None:
        sc = self.sc
        text = sc.render_template()
        if not text.strip():
            raise Skip(f"template {sc.scrip.template!r} is empty")
        headers, body = compose.split_template(text)
        to, cc, bcc = self.recipients()
        for name, value in headers:
            key = name.lower()
            if key in compose.RECIPIENT_HEADERS:
                {"to": to, "cc": cc, "bcc": bcc}[key].extend(compose.addresses(value))
        to, cc, bcc = self.filter(to, cc, bcc)
        if not (to or cc or bcc):
            raise Skip("no recipients left")
        queue = sc.ticket.queue
        address = (queue.comment_address if self.as_comment else queue.correspond_address) or (
            queue.correspond_address or compose.fallback_address()
        )
        if self.autoreply:
            display = queue.description.strip() or queue.name
        else:
            display = f"{sc.actor.real_name or sc.actor.name} via {compose.desk_name()}"
        message = sc.txn_view.message
        parent_refs: list[str] = []
        if message.headers:
            for name in ("References", "In-Reply-To"):
                value = message.header(name)
                if value:
                    parent_refs.extend(v for v in value.split() if v.startswith("<"))
        self.outgoing = compose.build(
            ticket_id=sc.ticket.id,
            tag=sc.ticket.display_id,
            scrip_id=sc.scrip.id,
            template_headers=headers,
            body=body,
            default_subject=message.subject or sc.ticket.subject,
            from_address=address,
            from_display=display,
            to=to,
            cc=cc,
            bcc=bcc,
            in_reply_to=message.message_id,
            parent_references=parent_refs,
            auto_submitted="auto-replied" if self.autoreply else "auto-generated",
            actor_email=sc.actor.email,
        )

    def filter(self, to: list[str], cc: list[str], bcc: list[str]) -> tuple[list[str], list[str], list[str]]:
        """RT's order: de-duplicate (To, then Cc, then Bcc), drop the actor, the desk's own addresses,
        and, when the triggering message was auto-generated, everyone who is not privileged."""
        sc = self.sc
        seen: set[str] = set()
        lists: list[list[str]] = []
        for group in (to, cc, bcc):
            kept = []
            for addr in group:
                key = addr.strip().lower()
                if key and "@" in key and key not in seen:
                    seen.add(key)
                    kept.append(addr.strip())
            lists.append(kept)
        drop: set[str] = set(sc.engine_state.desk_addresses(sc.ctx))
        actor_email = (sc.actor.email or "").lower()
        flags = {w.strip().lower() for w in self.argument.split(",")}
        notify_actor = bool(sc.actor_user.preferences.get("notify_actor")) if sc.actor_user else False
        if "alwaysnotifyactor" in flags:
            notify_actor = True
        if "nevernotifyactor" in flags:
            notify_actor = False
        if actor_email and not notify_actor and not self.autoreply:
            drop.add(actor_email)
        if sc.triggered_by_robot():
            privileged = sc.engine_state.privileged_addresses(sc.ctx)
            for group in lists:
                for addr in group:
                    if addr.lower() not in privileged:
                        drop.add(addr.lower())
        return tuple([a for a in group if a.lower() not in drop] for group in lists)  # type: ignore[return-value]

    def commit(self) -> None:
        out = self.outgoing
        assert out is not None
        sc = self.sc
        row = OutboxRow(
            ticket_id=sc.ticket.id,
            transaction_id=sc.txn.id,
            scrip_id=sc.scrip.id,
            message_id=out.message_id,
            mail_from=out.mail_from,
            recipients=out.recipients,
            summary=out.summary(),
            message=out.as_text(),
            next_attempt=sc.ctx.now,
            created=sc.ctx.now,
        )
        sc.engine_state.outbox.append(row)  # the engine adds it with the trace, in this transaction


def _emails(users: list[User]) -> list[str]:
    return [u.email for u in users if u.email and not u.disabled]


class Notify(SendEmail):
    """Argument: roles (Requestor, Cc, AdminCc, Owner, All, OtherRecipients) and/or addresses,
    comma separated, plus AlwaysNotifyActor or NeverNotifyActor."""

    def recipients(self) -> tuple[list[str], list[str], list[str]]:
        sc = self.sc
        words = [w.strip() for w in self.argument.split(",") if w.strip()]
        roles = {_norm_role(w) for w in words if "@" not in w}
        if "all" in roles:
            roles |= {"requestor", "cc", "admincc", "owner"}
        unknown = roles - NOTIFY_ROLES - {"alwaysnotifyactor", "nevernotifyactor"}
        if unknown:
            raise InvalidInput(f"Notify: unknown role(s) {', '.join(sorted(unknown))}")
        to: list[str] = []
        cc: list[str] = []
        bcc: list[str] = []
        view = sc.ticket_view
        if "requestor" in roles:
            to += _emails(view._role_users("Requestor"))
        if "cc" in roles:
            if to:
                cc += _emails(view._role_users("Cc")) + _emails(view._queue_users("Cc"))
            else:
                cc += _emails(view._role_users("Cc"))
                to += _emails(view._queue_users("Cc"))
        if "owner" in roles:
            owner = sc.ticket.owner
            if owner is not None and owner.email and not owner.disabled:
                (bcc if to else to).append(owner.email)
        if "admincc" in roles:
            bcc += _emails(view._role_users("AdminCc")) + _emails(view._queue_users("AdminCc"))
        if "otherrecipients" in roles:
            message = sc.txn_view.message
            for name, target in (("RT-Send-Cc", cc), ("RT-Send-Bcc", bcc)):
                value = message.header(name)
                if value:
                    target.extend(compose.addresses(value))
            target_data = sc.txn.data or {}
            cc += [str(a) for a in target_data.get("cc", [])]
            bcc += [str(a) for a in target_data.get("bcc", [])]
        to += [w for w in words if "@" in w]
        return to, cc, bcc


class NotifyAsComment(Notify):
    as_comment = True


class AutoReply(SendEmail):
    """To the requestors, from the queue (its description or name), `Auto-Submitted: auto-replied`."""

    autoreply = True

    def recipients(self) -> tuple[list[str], list[str], list[str]]:
        return _emails(self.sc.ticket_view._role_users("Requestor")), [], []


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
        if lifecycle.in_active_list(current):
            raise Skip(f"status {current} is active")
        first = lifecycle.first_active_status(current)
        if first is None:
            raise Skip(f"no active status is reachable from {current}")
        return first


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


BUILTIN: dict[str, type[ScripAction]] = {
    "Notify": Notify,
    "NotifyAsComment": NotifyAsComment,
    "AutoReply": AutoReply,
    "SetStatus": SetStatus,
    "OpenInactive": OpenInactive,
    "SetOwner": SetOwner,
    "SetPriority": SetPriority,
    "SetCustomField": SetCustomField,
    "AddComment": AddComment,
}


@cache
def registry() -> dict[str, type[ScripAction]]:
    found: dict[str, type[ScripAction]] = dict(BUILTIN)
    for ep in entry_points(group="tessera.scrip_actions"):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def lookup(name: str) -> type[ScripAction]:
    table = registry()
    cls = table.get(name)
    if cls is None:
        lowered = {k.lower().replace(" ", ""): v for k, v in table.items()}
        cls = lowered.get(name.lower().replace(" ", ""))
    if cls is None:
        raise InvalidInput(f"unknown action {name!r} (actions: {', '.join(sorted(table))})")
    return cls


def canonical_name(name: str) -> str:
    cls = lookup(name)
    return next(k for k, v in registry().items() if v is cls)
