"""A received message as core stores it on a ticket: its MIME tree kept (each part's content
headers), HTML-only mail with a text rendering beside it, and a subject that fits the ticket."""

from __future__ import annotations

from tessera.core.schemas import MessageIn, MimePartIn
from tessera.core.tickets import MAX_SUBJECT
from tessera.mail.decoding import html_to_text
from tessera.mail.inbound import ParsedMail, Part

# -- building the message -------------------------------------------------------------------------


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
            headers=node.headers,
            filename=node.filename,
            text=node.text,
            data=node.data if node.text is None else None,
            children=children,
        )

    if not part.children and part.role == "body" and part.content_type == "text/html":
        # HTML-only mail: kept as received, next to a derived plain-text rendering.
        html = convert(part)
        html.headers = _content_headers(part.headers)
        root = MimePartIn(
            content_type="multipart/alternative",
            headers=part.headers,
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
        text=html_to_text(html_part.text or ""),
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
        body=parsed.body,
        content_type="text/plain",
        subject=parsed.subject,
        headers=parsed.headers,
        message_id=parsed.message_id[:998] if parsed.message_id else None,
        mime=_to_mime(parsed.tree, extra),
    )
