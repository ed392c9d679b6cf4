"""The mail gateway: one received message -> a new ticket, a reply, a comment, or a recorded drop.

Every message is recorded in `inbound_mail` with its raw bytes and the decision taken, whatever
happens to it. The order of decisions:

1. Size limit (`TESSERA_MAIL_MAX_BYTES`): over it, recorded without the bytes, permanent failure.
2. Parse (never fails; see `inbound.parse`).
3. Our own mail coming back (`X-Tessera-Loop-Prevention` is this desk's, or From is one of our
   addresses): dropped.
4. Robots: bounces and delivery reports, read receipts, abuse reports, auto-replies
   (`Auto-Submitted`, vacation headers and subjects), null senders, `Precedence: bulk/junk/list`
   and list mail. They never create a ticket and are never answered. With
   `TESSERA_MAIL_ROBOTS=comment` (the default) one that answers a ticket is added to it as a
   comment when it quotes a Message-ID Tessera sent or stored (those cannot be guessed) or when
   its sender may comment; otherwise, and with `TESSERA_MAIL_ROBOTS=drop`, it is dropped.
5. No originator (no usable From or Sender): quarantined (kept raw), permanent failure.
6. Threading: In-Reply-To/References matching a Message-ID in the outbox (mail Tessera sent),
   then the subject tag `[TKT-0042]`, then `<tessera-ticket-N@our-domain>`, then Message-IDs of
   messages stored on tickets. Another desk's tag (`[example #12]`) is not ours. A merged ticket
   resolves to the ticket it was merged into.
7. Rights, for the sender (who is the actor): reply needs ReplyToTicket (or ModifyTicket), comment
   CommentOnTicket (or ModifyTicket), on the ticket (roles such as Requestor count). A sender who
   may not add to the ticket found gets a new ticket instead, and the reason is recorded. A new
   ticket needs CreateTicket on the gateway's queue (RT: grant it to Everyone); without it the
   message is dropped and recorded, and an unknown sender is not created.
8. A new ticket: the sender is the requestor (created as an unprivileged user when unknown), To/Cc
   addresses other than the desk's own become Cc watchers (`TESSERA_MAIL_CC_WATCHERS=0` turns this
   off). Scrips run on the transactions, so autoreplies and notifications go through the outbox.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core.context import Context, find_user, open_context, operation
from tessera.core.errors import DatabaseUnavailable, InvalidInput, SchemaOutOfDate, TesseraError
from tessera.core.models import (
    Attachment,
    InboundMail,
    OutboxMessage,
    Queue,
    Ticket,
    Transaction,
    User,
    Watcher,
)
from tessera.core.queues import get_queue
from tessera.core.rights import RightsCache
from tessera.core.schemas import MessageIn, MimePartIn, TicketCreate, normalise_email
from tessera.core.tickets import MAX_SUBJECT, comment, correspond, create_ticket, get_ticket
from tessera.mail import compose
from tessera.mail.inbound import ParsedMail, Part, html_to_text, parse

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75

MAX_BYTES_ENV = "TESSERA_MAIL_MAX_BYTES"
ROBOTS_ENV = "TESSERA_MAIL_ROBOTS"
CC_ENV = "TESSERA_MAIL_CC_WATCHERS"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_CC_WATCHERS = 25
ACTIONS = ("correspond", "comment")

_TAG = re.compile(r"\[\s*TKT-0*(\d{1,9})\s*\]", re.I)
_TICKET_REF = re.compile(r"^<tessera-ticket-(\d{1,9})@([^>]+)>$", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto reply|auto-reply|autoreply|autorespons|out of (the )?office|"
    r"abwesenheitsnotiz|r[ée]ponse automatique|risposta automatica)\b",
    re.I,
)
_BOUNCE_LOCALS = ("mailer-daemon", "postmaster")


@dataclass
class Settings:
    max_bytes: int = DEFAULT_MAX_BYTES
    robots: str = "comment"  # comment | drop
    cc_watchers: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        settings = cls()
        raw = env.get(MAX_BYTES_ENV, "").strip()
        if raw:
            try:
                settings.max_bytes = int(raw)
            except ValueError:
                raise InvalidInput(f"{MAX_BYTES_ENV}={raw!r} is not a number of bytes") from None
            if settings.max_bytes <= 0:
                raise InvalidInput(f"{MAX_BYTES_ENV}={raw!r}: the limit must be a positive number of bytes")
        robots = env.get(ROBOTS_ENV, "").strip().lower()
        if robots:
            if robots not in ("comment", "drop"):
                raise InvalidInput(f"{ROBOTS_ENV}={robots!r}: use comment or drop")
            settings.robots = robots
        cc = env.get(CC_ENV, "").strip().lower()
        if cc:
            settings.cc_watchers = cc not in ("0", "no", "false", "off")
        return settings


@dataclass
class Outcome:
    action: str  # create | correspond | comment | dropped
    ticket: int | None
    reason: str
    classification: str | None = None
    inbound_id: int | None = None
    exit_code: int = EX_OK

    def as_dict(self) -> dict[str, Any]:
        """The CLI contract of `tessera mailgate --json`: exactly these three keys."""
        return {"action": self.action, "ticket": self.ticket, "reason": self.reason}


# -- classification -------------------------------------------------------------------------------


def _report_type(parsed: ParsedMail) -> str | None:
    for line in parsed.tree.headers.splitlines()[:400]:
        if line.lower().startswith("content-type:") and "multipart/report" in line.lower():
            match = re.search(r"report-type\s*=\s*\"?([\w-]+)", parsed.header("content-type") or "", re.I)
            return match.group(1).lower() if match else "report"
    return None


def _leaf_types(part: Part) -> set[str]:
    types: set[str] = set()
    stack = [part]
    while stack:
        node = stack.pop()
        types.add(node.content_type)
        stack.extend(node.children)
    return types


def _null_from(values: list[str]) -> bool:
    """A From with no usable address is a robot's only when it says so (`<>`, MAILER-DAEMON);
    anything else unusable (empty, a bare name) is a message with no originator: quarantined."""
    for value in values:
        flat = value.replace(" ", "").lower()
        if "<>" in flat or any(local in flat for local in _BOUNCE_LOCALS):
            return True
    return False


def classify(parsed: ParsedMail, own: set[str]) -> tuple[str, str] | None:
    """(classification, why) for mail from robots and our own loops; None for mail from people."""
    loop = parsed.header("x-tessera-loop-prevention")
    if loop is not None and loop.strip().lower() == compose.desk_name().lower():
        return "loop", f"X-Tessera-Loop-Prevention: {loop.strip()} is this desk's own mail"
    origin = parsed.originator
    if origin is not None and origin.address.lower() in own:
        return "loop", f"sent from this desk's own address {origin.address}"
    report = _report_type(parsed)
    types = _leaf_types(parsed.tree)
    if report == "delivery-status" or "message/delivery-status" in types:
        return "bounce", "delivery status report (multipart/report; report-type=delivery-status)"
    if report == "disposition-notification" or "message/disposition-notification" in types:
        return "receipt", "read receipt (report-type=disposition-notification)"
    if report == "feedback-report" or "message/feedback-report" in types:
        return "abuse-report", "abuse feedback report (report-type=feedback-report)"
    auto = parsed.header("auto-submitted")
    if auto is not None and auto.strip().lower().split(";")[0].strip() not in ("no", ""):
        kind = "auto-reply" if "auto-replied" in auto.lower() else "auto-generated"
        return kind, f"Auto-Submitted: {auto.strip()} (RFC 3834)"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if parsed.header(name) is not None:
            return "auto-reply", f"{name} header"
    apple = parsed.header("x-apple-action")
    if apple is not None and "vacation" in apple.lower():
        return "auto-reply", "X-Apple-Action: VACATION"
    if _AUTO_SUBJECT.match(parsed.subject):
        return "auto-reply", f"auto-reply subject {parsed.subject[:60]!r}"
    machine = parsed.header("x-fc-machinegenerated")
    if machine is not None and machine.strip().lower() == "true":
        return "auto-generated", "X-FC-Machinegenerated: true"
    return_path = parsed.all("return-path")
    if return_path and return_path[-1].replace(" ", "") == "<>":
        return "bounce", "null sender (Return-Path: <>)"
    if origin is None and _null_from(parsed.all("from")):
        return "bounce", "null From address (<> or a mail daemon)"
    if origin is not None and origin.address.split("@")[0].lower() in _BOUNCE_LOCALS:
        return "bounce", f"sent by {origin.address}"
    precedence = (parsed.header("precedence") or "").strip().lower()
    if precedence.startswith(("bulk", "junk", "list")):
        return "list", f"Precedence: {precedence}"
    if parsed.header("list-id") is not None or parsed.header("x-mailman-version") is not None:
        return "list", "mailing-list mail (List-Id / Mailman headers)"
    return None


# -- threading ------------------------------------------------------------------------------------


@dataclass
class Thread:
    ticket: Ticket
    how: str  # outbox, tag, reference, stored
    evidence: str

    @property
    def unguessable(self) -> bool:
        return self.how in ("outbox", "stored")


def own_addresses(session: Session) -> tuple[set[str], set[str]]:
    """The desk's own addresses and mail domains (queue addresses and the fallback sender)."""
    addresses = {compose.fallback_address().lower()}
    for correspond_address, comment_address in session.execute(
        select(Queue.correspond_address, Queue.comment_address)
    ).all():
        for address in (correspond_address, comment_address):
            if address:
                addresses.add(address.lower())
    domains = {a.rsplit("@", 1)[1] for a in addresses if "@" in a}
    return addresses, domains


def find_thread(ctx: Context, parsed: ParsedMail, domains: set[str]) -> Thread | None:
    session = ctx.session
    refs = [*parsed.in_reply_to, *reversed(parsed.references)]
    refs = list(dict.fromkeys(r[:998] for r in refs))[:60]

    def load(ticket_id: int) -> Ticket | None:
        try:
            return get_ticket(ctx, ticket_id, check=False)
        except TesseraError:
            return None

    if refs:
        rows = session.execute(
            select(OutboxMessage.message_id, OutboxMessage.ticket_id).where(
                OutboxMessage.message_id.in_(refs), OutboxMessage.ticket_id.is_not(None)
            )
        ).all()
        found = {mid: tid for mid, tid in rows}
        for ref in refs:
            if ref in found and (ticket := load(found[ref])) is not None:
                return Thread(ticket, "outbox", f"{ref} is a message Tessera sent")
    match = _TAG.search(parsed.subject)
    if match and (ticket := load(int(match.group(1)))) is not None:
        return Thread(ticket, "tag", f"subject tag [{match.group(0).strip('[] ')}]")
    for ref in refs:
        pseudo = _TICKET_REF.match(ref)
        if pseudo and pseudo.group(2).lower() in domains and (ticket := load(int(pseudo.group(1)))):
            return Thread(ticket, "reference", f"References {ref}")
    if refs:
        rows = session.execute(
            select(Attachment.message_id, Transaction.ticket_id)
            .join(Transaction, Transaction.id == Attachment.transaction_id)
            .where(Attachment.message_id.in_(refs))
        ).all()
        found = {mid: tid for mid, tid in rows}
        for ref in refs:
            if ref in found and (ticket := load(found[ref])) is not None:
                return Thread(ticket, "stored", f"{ref} is a message stored on {ticket.display_id}")
    return None


# -- building the message -------------------------------------------------------------------------

_NUL = re.compile("[\x00\ud800-\udfff]")


def _safe(text: str | None) -> str | None:
    return None if text is None else _NUL.sub("\ufffd", text)


def _content_headers(headers: str) -> str:
    keep, current = [], False
    for line in headers.splitlines():
        if line[:1] in (" ", "\t"):
            if current:
                keep.append(line)
            continue
        current = line.lower().startswith(("content-", "mime-version"))
        if current:
            keep.append(line)
    return "\n".join(keep)


def _to_mime(part: Part, extra_headers: str = "") -> MimePartIn:
    def convert(node: Part) -> MimePartIn:
        children: list[MimePartIn] = []
        for child in node.children:
            if child.role == "body" and child.content_type == "text/html":
                children.append(_derived(child))
            children.append(convert(child))
        return MimePartIn(
            content_type=node.content_type,
            headers=_safe(node.headers) or "",
            filename=_safe(node.filename),
            text=_safe(node.text),
            data=node.data if node.text is None else None,
            children=children,
        )

    if not part.children and part.role == "body" and part.content_type == "text/html":
        # HTML-only mail: kept as received, next to a derived plain-text rendering.
        html = convert(part)
        html.headers = _content_headers(part.headers)
        root = MimePartIn(
            content_type="multipart/alternative",
            headers=_safe(part.headers) or "",
            children=[_derived(part), html],
        )
    else:
        root = convert(part)
    if extra_headers:
        root.headers = extra_headers + ("\n" + root.headers if root.headers else "")
    return root


def _derived(html_part: Part) -> MimePartIn:
    return MimePartIn(
        content_type="text/plain",
        headers="Content-Type: text/plain; charset=utf-8\nX-Tessera-Derived: rendering of the text/html part",
        text=_safe(html_to_text(html_part.text or "")),
    )


def ticket_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1].rstrip() + "…"
    return subject or "(no subject)"


def message_for(parsed: ParsedMail, robot: tuple[str, str] | None = None) -> MessageIn:
    extra = ""
    if robot is not None:
        extra = f"X-Tessera-Mail-Classification: {robot[0]}"
        if parsed.header("auto-submitted") is None:
            extra += f"\nAuto-Submitted: auto-generated (detected by Tessera: {robot[0]})"
    return MessageIn(
        body=_safe(parsed.body) or "",
        content_type="text/plain",
        subject=_safe(parsed.subject) or "",
        headers=_safe(parsed.headers) or "",
        message_id=parsed.message_id[:998] if parsed.message_id else None,
        mime=_to_mime(parsed.tree, extra),
    )


# -- the gateway ----------------------------------------------------------------------------------


def _address(raw: str) -> str | None:
    try:
        return normalise_email(raw)
    except TesseraError:
        address = raw.strip().lower()
        return address if re.fullmatch(r"[^\s@<>]+@[^\s@<>]+", address) and len(address) <= 320 else None


def _record(session: Session, row: InboundMail) -> InboundMail:
    session.add(row)
    session.flush()
    return row


def _row(parsed: ParsedMail | None, raw: bytes, queue: Queue, requested: str, **kw: Any) -> InboundMail:
    sender = parsed.originator.address if parsed and parsed.originator else None
    return InboundMail(
        queue_id=queue.id,
        requested_action=requested,
        message_id=(parsed.message_id[:998] if parsed and parsed.message_id else None),
        sender=_safe(sender[:320]) if sender else None,
        subject=_safe(parsed.subject[:2000]) if parsed else None,
        size=len(raw),
        raw=raw,
        **kw,
    )


def drop(
    session: Session,
    parsed: ParsedMail | None,
    raw: bytes,
    queue: Queue,
    requested: str,
    reason: str,
    classification: str | None,
    *,
    exit_code: int = EX_OK,
    keep_raw: bool = True,
    ticket_id: int | None = None,
) -> Outcome:
    row = _row(parsed, raw, queue, requested, action="dropped", classification=classification, reason=reason)
    row.ticket_id = ticket_id  # a duplicate points at the ticket the first delivery reached
    if not keep_raw:
        row.raw = None
    _record(session, row)
    session.commit()
    return Outcome("dropped", ticket_id, reason, classification, row.id, exit_code)


def deliver(
    session: Session,
    raw: bytes,
    queue_name: str,
    action: str = "correspond",
    settings: Settings | None = None,
) -> Outcome:
    """Process one message end to end. Unknown queue and database trouble raise (temporary failure)."""
    settings = settings or Settings.from_env()
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r} (use {' or '.join(ACTIONS)})")
    # Lookups before the sender is known need no actor: a transient one, with system rights.
    system = Context(session=session, actor=_GATEWAY, rights=RightsCache(user=_GATEWAY), system=True)
    queue = get_queue(system, queue_name)
    if len(raw) > settings.max_bytes:
        reason = f"message is over the size limit of {settings.max_bytes} bytes ({MAX_BYTES_ENV})"
        return drop(
            session, None, raw, queue, action, reason, "too-large", exit_code=EX_DATAERR, keep_raw=False
        )
    if not raw.strip():
        return drop(session, None, raw, queue, action, "empty message", "unparseable", exit_code=EX_DATAERR)
    try:
        parsed = parse(raw)
    except Exception as exc:  # parse() is built not to raise; the raw bytes are kept if it does
        reason = f"cannot parse the message ({type(exc).__name__}); kept raw"
        return drop(session, None, raw, queue, action, reason, "unparseable", exit_code=EX_DATAERR)
    earlier = _same_delivery(session, parsed, raw, queue)
    if earlier is not None:
        reason = f"duplicate delivery of inbound message #{earlier.id} ({earlier.action}); not recorded twice"
        return drop(session, parsed, raw, queue, action, reason, "duplicate", ticket_id=earlier.ticket_id)
    own, domains = own_addresses(session)
    robot = classify(parsed, own)
    if robot is not None and robot[0] == "loop":
        return drop(session, parsed, raw, queue, action, f"mail loop: {robot[1]}", "loop")
    origin = parsed.originator
    sender_address = _address(origin.address) if origin is not None else None
    thread = find_thread(system, parsed, domains)
    if robot is not None:
        return _robot(session, parsed, raw, queue, action, robot, thread, sender_address, settings)
    if sender_address is None:
        reason = "quarantined: no originator (no usable From or Sender address); kept raw"
        return drop(session, parsed, raw, queue, action, reason, "quarantine", exit_code=EX_DATAERR)
    return _from_person(session, parsed, raw, queue, action, thread, sender_address, origin, settings, own)


def _same_delivery(session: Session, parsed: ParsedMail, raw: bytes, queue: Queue) -> InboundMail | None:
    """The same bytes already filed through this queue: an MTA retrying a delivery that had in
    fact succeeded (a timeout after the commit), or one message sent to both the queue's
    correspond and comment addresses (one LMTP transaction, two recipients), must not open a
    second ticket nor add the same text twice. The first delivery's action stands."""
    if not parsed.message_id:
        return None
    return session.scalars(
        select(InboundMail)
        .where(
            InboundMail.message_id == parsed.message_id[:998],
            InboundMail.queue_id == queue.id,
            InboundMail.action.in_(("create", "correspond", "comment")),
            InboundMail.size == len(raw),
            InboundMail.raw == raw,
        )
        .limit(1)
    ).first()


_GATEWAY = User(name="mail-gateway", privileged=False)
NULL_SENDER_USER = "mailer-daemon"


def _null_sender(session: Session) -> User:
    """The actor for robot notices with no sender address (RT would say RT_System)."""
    user = find_user(session, NULL_SENDER_USER)
    if user is None:
        user = User(name=NULL_SENDER_USER, real_name="Mail delivery system (null sender)", privileged=False)
        session.add(user)
        session.flush()
    return user


def _sender(session: Session, address: str, display: str | None) -> tuple[User, bool]:
    user = find_user(session, address)
    if user is not None:
        return user, False
    user = User(name=address, email=address, real_name=(display or None) and display[:200], privileged=False)
    session.add(user)
    session.flush()
    return user, True


def _robot(
    session: Session,
    parsed: ParsedMail,
    raw: bytes,
    queue: Queue,
    action: str,
    robot: tuple[str, str],
    thread: Thread | None,
    sender_address: str | None,
    settings: Settings,
) -> Outcome:
    kind, why = robot
    if thread is None or settings.robots == "drop":
        where = "no ticket referenced" if thread is None else f"{ROBOTS_ENV}=drop"
        return drop(session, parsed, raw, queue, action, f"{kind}: {why}; {where}", kind)
    if sender_address is None and not thread.unguessable:
        return drop(session, parsed, raw, queue, action, f"{kind}: {why}; no sender to check", kind)
    if sender_address is None:
        actor = _null_sender(session)
    else:
        actor, _ = _sender(session, sender_address, parsed.originator.name if parsed.originator else None)
    ctx = open_context(session, actor)
    ticket = get_ticket(ctx, thread.ticket.id, check=False)
    allowed = thread.unguessable or ctx.can_any(("CommentOnTicket", "ModifyTicket"), ticket.queue_id, ticket)
    if not allowed:
        session.rollback()
        reason = f"{kind}: {why}; {thread.evidence}, but the sender may not comment on {ticket.display_id}"
        return drop(session, parsed, raw, queue, action, reason, kind)
    reason = f"{kind}: {why}; added as a comment on {ticket.display_id} ({thread.evidence}), not answered"
    return _apply(ctx, parsed, raw, queue, action, "comment", ticket, reason, kind, robot=robot)


def _from_person(
    session: Session,
    parsed: ParsedMail,
    raw: bytes,
    queue: Queue,
    action: str,
    thread: Thread | None,
    sender_address: str,
    origin: Any,
    settings: Settings,
    own: set[str],
) -> Outcome:
    user, created = _sender(session, sender_address, origin.name if origin else None)
    if user.disabled:
        session.rollback()
        return drop(session, parsed, raw, queue, action, f"sender {user.name} is disabled", "refused")
    ctx = open_context(session, user)
    note = ""
    if thread is not None:
        ticket = get_ticket(ctx, thread.ticket.id, check=False)
        rights = (
            ("ReplyToTicket", "ModifyTicket")
            if action == "correspond"
            else ("CommentOnTicket", "ModifyTicket")
        )
        if ctx.can_any(rights, ticket.queue_id, ticket):
            reason = f"{action} on {ticket.display_id} ({thread.evidence})"
            return _apply(ctx, parsed, raw, queue, action, action, ticket, reason, None)
        note = (
            f"{thread.evidence} points at {ticket.display_id}, but {user.name} may not {action} there "
            f"(needs {' or '.join(rights)}); "
        )
    if not ctx.can("CreateTicket", queue.id):
        session.rollback()  # an unknown sender is only created when the mail is accepted
        reason = (
            f"{note}{sender_address} may not create tickets in queue {queue.name} (needs CreateTicket; "
            f"to accept anyone's mail: tessera right grant CreateTicket role:Everyone --queue {queue.name})"
        )
        return drop(session, parsed, raw, queue, action, reason, "refused")
    cc: list[str] = []
    if settings.cc_watchers:
        for addr in [*parsed.to, *parsed.cc]:
            checked = _valid(addr.address)
            if checked and checked != sender_address and checked not in own and checked not in cc:
                cc.append(checked)
            if len(cc) >= MAX_CC_WATCHERS:
                break
    if thread is None and (tag := _TAG.search(parsed.subject)):
        # A tag of the right shape for no ticket here (a guess, or a ticket since deleted).
        note = f"subject tag {tag.group(0)} names no ticket on this desk; "
    reason = f"{note}new ticket in {queue.name}"
    return _apply(ctx, parsed, raw, queue, action, "create", None, reason, None, cc=cc, created_user=created)


def _valid(address: str) -> str | None:
    try:
        return normalise_email(address)
    except TesseraError:
        return None


def _apply(
    ctx: Context,
    parsed: ParsedMail,
    raw: bytes,
    queue: Queue,
    requested: str,
    kind: str,
    ticket: Ticket | None,
    reason: str,
    classification: str | None,
    *,
    cc: list[str] | None = None,
    created_user: bool = False,
    robot: tuple[str, str] | None = None,
) -> Outcome:
    try:
        row = _write(
            ctx, parsed, raw, queue, requested, kind, ticket, reason, classification, cc or [], robot
        )
    except TesseraError as exc:
        if isinstance(exc, _TEMPORARY):
            raise
        session = ctx.session
        reason = f"not recorded on a ticket: {exc.message}; kept raw"
        return drop(session, parsed, raw, queue, requested, reason, "error", exit_code=EX_DATAERR)
    return Outcome(kind, row.ticket_id, reason, classification, row.id)


@operation
def _write(
    ctx: Context,
    parsed: ParsedMail,
    raw: bytes,
    queue: Queue,
    requested: str,
    kind: str,
    ticket: Ticket | None,
    reason: str,
    classification: str | None,
    cc: list[str],
    robot: tuple[str, str] | None,
) -> InboundMail:
    """The ticket change and its inbound record: one database transaction, scrips included."""
    message = message_for(parsed, robot)
    was_system = ctx.system
    # Rights were checked above for the sender, as RT's gateway does (ShowTicket is not needed to
    # write in); the core operations then record the sender as the actor.
    ctx.system = True
    try:
        if kind == "create":
            made = create_ticket(
                ctx,
                TicketCreate(
                    queue=queue.name, subject=ticket_subject(parsed.subject), cc=cc, message=message
                ),
            )
            ctx.session.add(Watcher(ticket_id=made.id, role="Requestor", user_id=ctx.actor.id))
            ticket_id = made.id
            txn = next(t for t in ctx.batch if t.ticket_id == made.id and t.type == "Create")
        else:
            assert ticket is not None
            operation_fn = correspond if kind == "correspond" else comment
            txn = operation_fn(ctx, ticket.id, message)
            ticket_id = txn.ticket_id
    finally:
        ctx.system = was_system
    txn.data = {**(txn.data or {}), "via": "email", "mail": reason}
    row = _row(parsed, raw, queue, requested, action=kind, classification=classification, reason=reason)
    row.ticket_id = ticket_id
    row.transaction_id = txn.id
    row.data = {"defects": parsed.defects[:20], "notes": parsed.notes}
    return _record(ctx.session, row)


_TEMPORARY = (DatabaseUnavailable, SchemaOutOfDate)


__all__ = [
    "EX_DATAERR",
    "EX_OK",
    "EX_TEMPFAIL",
    "Outcome",
    "Settings",
    "classify",
    "deliver",
    "find_thread",
    "message_for",
]
