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
        return _store_tree(ctx, txn, message.mime, message_id=message_id, subject=message.subject)
    if not message.attachments:
        plain = plain_message_part(None, message, message_id, ctx.now)
        if fast_sql.write_message(ctx.session, txn, plain):  # with the transaction, in one statement
            return plain
    ctx.session.flush()  # the transaction needs its id
    has_files = bool(message.attachments)
    if has_files:
        root = Attachment(
            transaction_id=txn.id,
            message_id=message_id,
            subject=message.subject,
            headers=message.headers,
            content_type="multipart/mixed",
            content=None,
            size=0,
            created=ctx.now,
        )
    else:
        root = plain_message_part(txn.id, message, message_id, ctx.now)
    ctx.session.add(root)
    if has_files:
        ctx.session.flush()
        ctx.session.add(
            Attachment(
                transaction_id=txn.id,
                parent_id=root.id,
                content_type=message.content_type,
                content=message.body,
                size=len(message.body.encode()),
                created=ctx.now,
            )
        )
        for part in message.attachments:
            is_text = part.content_type.startswith("text/")
            text: str | None = None
            if is_text:
                try:
                    text = part.data.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            ctx.session.add(
                Attachment(
                    transaction_id=txn.id,
                    parent_id=root.id,
                    filename=part.filename,
                    content_type=part.content_type,
                    content=text,
                    binary_content=None if text is not None else part.data,
                    size=len(part.data),
                    created=ctx.now,
                )
            )
    return root


def _store_tree(
    ctx: Context,
    txn: Transaction,
    top: MimePartIn,
    *,
    message_id: str,
    subject: str | None,
) -> Attachment:
    """A received MIME tree, node by node in document order (iteratively: trees can be deep)."""
    if not top.children:  # one part: written with the transaction, in one statement
        node = _node(ctx, txn, top, None, message_id, subject)  # (its transaction_id: None yet)
        if fast_sql.write_message(ctx.session, txn, node):
            return node
    ctx.session.flush()  # the transaction needs its id
    root: Attachment | None = None
    stack: list[tuple[MimePartIn, Attachment | None]] = [(top, None)]
    while stack:
        part, above = stack.pop()
        node = _node(
            ctx, txn, part, above, message_id if root is None else None, subject if root is None else None
        )
        ctx.session.add(node)
        if part.children:
            ctx.session.flush()  # children need the id
        if root is None:
            root = node
        stack.extend((child, node) for child in reversed(part.children))
    assert root is not None
    return root


def _node(
    ctx: Context,
    txn: Transaction,
    part: MimePartIn,
    above: Attachment | None,
    message_id: str | None,
    subject: str | None,
) -> Attachment:
    """The row of one received part (the root's: with the message's Message-ID and subject)."""
    size = len(part.data) if part.data is not None else len((part.text or "").encode())
    return Attachment(
        transaction_id=txn.id,
        parent_id=above.id if above is not None else None,
        message_id=message_id,
        subject=subject,
        filename=part.filename,
        headers=part.headers,
        content_type=part.content_type[:255],
        content=part.text,
        binary_content=part.data if part.text is None else None,
        size=size,
        created=ctx.now,
    )
