"""Actions: what a scrip does, in two phases (RT's Prepare and Commit).

An action is a class; the engine makes one instance per scrip run with `sc` (the ScripContext) and
`argument`. `prepare()` computes everything (renders the template, picks recipients, checks the
new value) and must not change anything; it raises `Skip` when there is nothing to do and any other
exception when it fails. `commit()` applies the effect: mail goes to the outbox, ticket changes go
through core's operations as the desk itself (rights bypassed, lifecycle still checked).
Operators add actions as installed packages under the entry-point group `tessera.scrip_actions`.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

from tessera.core import subject_tags
from tessera.core.errors import InvalidInput
from tessera.core.json_time import json_change, json_time
from tessera.core.models import User
from tessera.scrips import compose
from tessera.scrips.action_base import OutboxRow as OutboxRow
from tessera.scrips.action_base import ScripAction as ScripAction
from tessera.scrips.action_base import Skip as Skip
from tessera.scrips.change_actions import AddComment as AddComment
from tessera.scrips.change_actions import ExtractSubjectTag as ExtractSubjectTag
from tessera.scrips.change_actions import OpenInactive as OpenInactive
from tessera.scrips.change_actions import RecordComment as RecordComment
from tessera.scrips.change_actions import RecordCorrespondence as RecordCorrespondence
from tessera.scrips.change_actions import SetCustomField as SetCustomField
from tessera.scrips.change_actions import SetOwner as SetOwner
from tessera.scrips.change_actions import SetPriority as SetPriority
from tessera.scrips.change_actions import SetStatus as SetStatus
from tessera.scrips.change_actions import SLASetDue as SLASetDue
from tessera.scrips.change_actions import SLASetStarts as SLASetStarts
from tessera.scrips.change_actions import TicketChange as TicketChange

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


NOTIFY_ACTOR_ENV = "TESSERA_NOTIFY_ACTOR"


def notify_actor_default() -> bool:
    """RT's $NotifyActor, the desk's default (off: no one is mailed their own change)."""
    return os.environ.get(NOTIFY_ACTOR_ENV, "").strip().lower() in ("1", "yes", "true", "on")


class SendEmail(ScripAction):
    uses_template = True
    as_comment: ClassVar[bool] = False
    autoreply: ClassVar[bool] = False
    # Recipients that bypass squelching (RT: the one-time Cc/Bcc of Notify Other Recipients).
    unsquelchable: frozenset[str] = frozenset()

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
        if self.autoreply:  # RT's Autoreply: the queue speaks (its description, else its name)
            name = queue.description.strip() or queue.name
        else:
            name = sc.actor.real_name or sc.actor.name
        display = compose.from_name(name)
        message = sc.txn_view.message
        parent_refs: list[str] = []
        if message.headers:
            for name in ("References", "In-Reply-To"):
                refs = message.header(name)
                if refs:
                    parent_refs.extend(v for v in refs.split() if v.startswith("<"))
        self.outgoing = compose.build(
            ticket_id=sc.ticket.id,
            tag=sc.ticket.display_id,
            subject_tag=subject_tags.written(queue.subject_tag, sc.ticket.id),
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
        # RT's NotifyActor: the desk's default, then the actor's own preference, then the scrip's
        # AlwaysNotifyActor / NeverNotifyActor.
        notify_actor = notify_actor_default()
        preferences = (sc.actor_user.preferences or {}) if sc.actor_user else {}
        if preferences.get("notify_actor") is not None:
            notify_actor = bool(preferences["notify_actor"])
        if "alwaysnotifyactor" in flags:
            notify_actor = True
        if "nevernotifyactor" in flags:
            notify_actor = False
        if actor_email and not notify_actor and not self.autoreply:
            drop.add(actor_email)
        squelched = {str(a).strip().lower() for a in (sc.txn.data or {}).get("squelch", [])}
        squelched |= sc.ticket_view._squelched  # the ticket's own list (RT's SquelchMailTo)
        drop |= squelched - self.unsquelchable
        if sc.triggered_by_loop():
            return [], [], []  # our own mail come back and kept: answering it would loop again
        if sc.triggered_by_robot():
            privileged = sc.engine_state.privileged_addresses(sc.ctx)
            for group in lists:
                for addr in group:
                    if addr.lower() not in privileged:
                        drop.add(addr.lower())
        to, cc, bcc = ([a for a in group if a.lower() not in drop] for group in lists)
        return to, cc, bcc

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
            # RT's RT-Send-Cc/RT-Send-Bcc: the one-time recipients an agent gave with this reply or
            # comment, kept on the transaction by core. Never a header of the message: a received
            # message's headers are a stranger's words (the gateway strips those headers too).
            target_data = sc.txn.data or {}
            once = [str(a) for a in target_data.get("cc", [])], [str(a) for a in target_data.get("bcc", [])]
            cc += once[0]
            bcc += once[1]
            self.unsquelchable = frozenset(a.strip().lower() for a in (*once[0], *once[1]))
        to += [w for w in words if "@" in w]
        return to, cc, bcc


class SendForward(SendEmail):
    """RT's SendForward: to exactly the people the agent forwarded to (core keeps them on the
    Forward transaction); the template writes the note and the forwarded messages."""

    def recipients(self) -> tuple[list[str], list[str], list[str]]:
        data = self.sc.txn.data or {}
        to, cc, bcc = ([str(a) for a in data.get(key, [])] for key in ("to", "cc", "bcc"))
        self.unsquelchable = frozenset(a.strip().lower() for a in (*to, *cc, *bcc))
        return to, cc, bcc


class NotifyAsComment(Notify):
    as_comment = True


class AutoReply(SendEmail):
    """To the requestors, from the queue (its description or name), `Auto-Submitted: auto-replied`."""

    autoreply = True

    def recipients(self) -> tuple[list[str], list[str], list[str]]:
        return _emails(self.sc.ticket_view._role_users("Requestor")), [], []


class Webhook(ScripAction):
    """Argument: an http(s) URL. POSTs the transaction and the ticket as JSON, signed with the
    scrip's secret (`tessera scrip secret ID`), through the outbox: sent only if the change commits,
    retried with backoff while the receiver is down."""

    def prepare(self) -> None:
        from urllib.parse import urlsplit

        from tessera.core.ids import display_id
        from tessera.core.serialize import ticket_json

        url = self.argument
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
            raise InvalidInput(f"the webhook URL must be http:// or https://, not {url!r}")
        sc = self.sc
        txn = sc.txn
        self.payload = {
            "event": "transaction",
            "transaction": {
                "id": txn.id,
                "type": txn.type,
                "field": txn.field,
                "old": json_change(txn.field, txn.old_value),
                "new": json_change(txn.field, txn.new_value),
                "actor": sc.ctx.actor.name,
                "created": json_time(txn.created),
            },
            "ticket": ticket_json(sc.ctx, sc.ticket),
            "scrip": sc.scrip.id,
            "display_id": display_id(sc.ticket.id),
        }

    def commit(self) -> None:
        import json
        import uuid

        sc = self.sc
        body = json.dumps(self.payload, sort_keys=True, default=str)
        summary = {"kind": "webhook", "to": [self.argument], "cc": [], "bcc": [], "headers": ""}
        summary.update({"subject": f"POST {self.argument}", "body": body})
        sc.engine_state.outbox.append(
            OutboxRow(
                ticket_id=sc.ticket.id,
                transaction_id=sc.txn.id,
                scrip_id=sc.scrip.id,
                message_id=f"<webhook-{uuid.uuid4()}@tessera>",
                mail_from="",
                recipients=[self.argument],
                summary=summary,
                message=body,
                next_attempt=sc.ctx.now,
                created=sc.ctx.now,
            )
        )


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
    "RecordComment": RecordComment,
    "RecordCorrespondence": RecordCorrespondence,
    "ExtractSubjectTag": ExtractSubjectTag,
    "Webhook": Webhook,
    "SendForward": SendForward,
    "SLASetStarts": SLASetStarts,
    "SLASetDue": SLASetDue,
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
