"""Messages: correspondence and comments, stored as a MIME tree of attachments (as RT does)."""

from __future__ import annotations

import uuid
from datetime import datetime

from tessera.core import fast_sql
from tessera.core.context import Context
from tessera.core.models import Attachment, Queue, Transaction
from tessera.core.schemas import MessageIn, MimePartIn

# Transactions only those who hold ShowTicketComments may read (their message, recipients and
# data): comments, and forwards (an agent's note to someone outside the ticket).
PRIVATE_TYPES = frozenset({"Comment", "Forward Transaction", "Forward Ticket"})


def new_message_id(queue: Queue) -> str:
    domain = "tessera.localhost"
    address = queue.correspond_address or queue.comment_address
    if address and "@" in address:
        domain = address.rsplit("@", 1)[1]
    return f"<tessera.{uuid.uuid4().hex}@{domain}>"


def plain_message_part(
    transaction_id: int | None, message: MessageIn, message_id: str, now: datetime
) -> Attachment:
    """The one row of a plain message (no files, no MIME tree of its own): the message itself."""
    return Attachment(
        transaction_id=transaction_id,
        message_id=message_id,
        subject=message.subject,
        headers=message.headers,
        content_type=message.content_type,
        content=message.body,
        size=len(message.body.encode()),
        created=now,
    )


def store_message(ctx: Context, txn: Transaction, queue: Queue, message: MessageIn) -> Attachment:
    """The root part is the message; with attachments it is multipart/mixed over body and files.
    Mail brings its own MIME tree (`message.mime`), stored as received."""
    message_id = message.message_id or new_message_id(queue)
    # Set before the flush that inserts the transaction: one INSERT, no follow-up UPDATE.
    txn.data = {**txn.data, "message_id": message_id}
    if message.mime is not None:
        parts, parents = _tree(ctx, message.mime, message_id=message_id, subject=message.subject)
    else:
        parts, parents = _parts(ctx, message, message_id)
    return _write(ctx, txn, parts, parents)


def _parts(ctx: Context, message: MessageIn, message_id: str) -> tuple[list[Attachment], list[int | None]]:
    """A composed message's rows: one part, or multipart/mixed over the body and the files."""
    if not message.attachments:
        return [plain_message_part(None, message, message_id, ctx.now)], [None]
    root = Attachment(
        message_id=message_id,
        subject=message.subject,
        headers=message.headers,
        content_type="multipart/mixed",
        content=None,
        size=0,
        created=ctx.now,
    )
    body = Attachment(
        content_type=message.content_type,
        content=message.body,
        size=len(message.body.encode()),
        created=ctx.now,
    )
    files = []
    for part in message.attachments:
        text: str | None = None
        if part.content_type.startswith("text/") and b"\x00" not in part.data:  # no text holds a NUL:
            try:  # such a file is kept as its bytes, as one that is not UTF-8
                text = part.data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        files.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                content=text,
                binary_content=None if text is not None else part.data,
                size=len(part.data),
                created=ctx.now,
            )
        )
    return [root, body, *files], [None, 0, *(0 for _ in files)]


def _tree(
    ctx: Context, top: MimePartIn, *, message_id: str, subject: str | None
) -> tuple[list[Attachment], list[int | None]]:
    """A received MIME tree's rows in document order, each with its parent's index (iteratively:
    trees can be deep)."""
    parts: list[Attachment] = []
    parents: list[int | None] = []
    stack: list[tuple[MimePartIn, int | None]] = [(top, None)]
    while stack:
        part, above = stack.pop()
        first = not parts
        size = len(part.data) if part.data is not None else len((part.text or "").encode())
        parts.append(
            Attachment(
                message_id=message_id if first else None,
                subject=subject if first else None,
                filename=part.filename,
                headers=part.headers,
                content_type=part.content_type[:255],
                content=part.text,
                binary_content=part.data if part.text is None else None,
                size=size,
                created=ctx.now,
            )
        )
        parents.append(above)
        at = len(parts) - 1
        stack.extend((child, at) for child in reversed(part.children))
    return parts, parents


def _write(ctx: Context, txn: Transaction, parts: list[Attachment], parents: list[int | None]) -> Attachment:
    """The parts written with the transaction and the ticket's update in one statement when that is
    all there is to write (`fast_sql.write_message`); else as the ORM's flushes write them, a part
    with children before them. The root part."""
    if fast_sql.write_message(ctx.session, txn, parts, parents):
        return parts[0]
    ctx.session.flush()  # the transaction needs its id
    has_children = {parent for parent in parents if parent is not None}
    for at, (part, parent) in enumerate(zip(parts, parents, strict=True)):
        part.transaction_id = txn.id
        part.parent_id = parts[parent].id if parent is not None else None
        ctx.session.add(part)
        if at in has_children:
            ctx.session.flush()  # children need the id
    return parts[0]
