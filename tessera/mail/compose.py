"""Outgoing messages: RT-style headers, a subject tag, and threading a mail client follows.

* Subject: the template's, else the triggering message's, else the ticket's; whitespace collapsed;
  `[TKT-0042] ` prefixed unless the ticket's tag is already in it.
* From and Reply-To: the queue's correspond address (the comment address for "as comment"
  notifications), with "<actor> via <desk>" (autoreplies: the queue's description or name) as name.
* Message-ID is new and unique; In-Reply-To is the triggering message's Message-ID; References
  start with the ticket's pseudo id `<tessera-ticket-N@domain>`, then the triggering message's
  References, In-Reply-To and Message-ID (at most 10 entries, as RT).
* Always: `X-Tessera-Ticket`, `X-Tessera-Loop-Prevention`, `Precedence: bulk` (unless the template set
  one); autoreplies `Auto-Submitted: auto-replied` (RFC 3834), other notifications
  `Auto-Submitted: auto-generated` so that other robots do not answer them.
"""

from __future__ import annotations

import os
import quopri
import re
import uuid
from dataclasses import dataclass, field
from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr, getaddresses
from functools import lru_cache

DESK_NAME_ENV = "TESSERA_DESK_NAME"
MAIL_FROM_ENV = "TESSERA_MAIL_FROM"
DEFAULT_DOMAIN = "tessera.localhost"
MAX_REFERENCES = 10
RECIPIENT_HEADERS = ("to", "cc", "bcc")


def desk_name() -> str:
    return os.environ.get(DESK_NAME_ENV) or "Tessera"


def fallback_address() -> str:
    return os.environ.get(MAIL_FROM_ENV) or f"tessera@{DEFAULT_DOMAIN}"


def domain_of(address: str | None) -> str:
    if address and "@" in address:
        return address.rsplit("@", 1)[1].strip(">").lower()
    return fallback_address().rsplit("@", 1)[1]


def new_message_id(domain: str, ticket_id: int, scrip_id: int | None) -> str:
    return f"<tessera.{ticket_id}.{scrip_id or 0}.{uuid.uuid4().hex}@{domain}>"


def ticket_reference(ticket_id: int, domain: str) -> str:
    return f"<tessera-ticket-{ticket_id}@{domain}>"


def tag_subject(subject: str, tag: str) -> str:
    subject = " ".join(subject.split())
    if subject.isascii() and tag.isascii():  # ASCII: the same test as the pattern's, without compiling it
        found = f"[{tag.lower()}]" in subject.lower()
    else:
        found = re.search(rf"\[{re.escape(tag)}\]", subject, re.I) is not None
    if found:
        return subject
    return f"[{tag}] {subject}".rstrip()


def split_template(text: str) -> tuple[list[tuple[str, str]], str]:
    """RT's template shape: `Name: value` lines (with continuations), a blank line, the body.

    If the first line is not a header, the whole text is the body.
    """
    lines = text.split("\n")
    headers: list[tuple[str, str]] = []
    first = lines[0] if lines else ""
    if not re.match(r"^[A-Za-z][A-Za-z0-9-]*:", first):
        return [], text
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "":
            i += 1
            break
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
        else:
            match = re.match(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$", line)
            if not match:  # not a header line: the rest is body
                break
            headers.append((match.group(1), match.group(2).strip()))
        i += 1
    return headers, "\n".join(lines[i:])


def addresses(value: str) -> list[str]:
    return [addr.strip() for _, addr in getaddresses([value]) if addr and "@" in addr]


@dataclass
class Outgoing:
    """A message ready for the outbox: envelope and rendered RFC 5322 text (Bcc not in the text)."""

    message_id: str
    mail_from: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]

    def summary(self) -> dict[str, object]:
        return {
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "body": self.body,
            "headers": self.headers,
        }

    def as_text(self) -> str:
        """RFC 5322 text: headers RFC 2047-encoded where not ASCII, a UTF-8 body (7bit when it can
        be, else quoted-printable). Written directly: `email.message` costs more than the rest of
        a notification put together."""
        lines = []
        content_type = "text/plain"
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                content_type = "text/html" if "html" in value.lower() else "text/plain"
                continue
            lines.append(f"{name}: {_encode_header(name, value)}")
        lines.append("MIME-Version: 1.0")
        lines.append(f'Content-Type: {content_type}; charset="utf-8"')
        body = self.body.replace("\r\n", "\n")
        if not body.endswith("\n"):
            body += "\n"
        if body.isascii() and all(len(line) <= 900 for line in body.split("\n")):
            lines.append("Content-Transfer-Encoding: 7bit")
            encoded = body
        else:
            lines.append("Content-Transfer-Encoding: quoted-printable")
            encoded = quopri.encodestring(body.encode("utf-8")).decode("ascii")
            if not encoded.endswith("\n"):
                encoded += "\n"
        return "\r\n".join(lines) + "\r\n\r\n" + encoded.replace("\n", "\r\n")


_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender")


def _encode_header(name: str, value: str) -> str:
    value = " ".join(value.split())
    if value.isascii():
        return value
    if name.lower() in _ADDRESS_HEADERS:
        return ", ".join(
            formataddr((display, addr), charset="utf-8") for display, addr in getaddresses([value])
        )
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


@lru_cache(maxsize=1024)
def format_from(display: str, address: str) -> str:
    try:
        return str(Address(display_name=display, addr_spec=address))
    except (ValueError, IndexError):
        return formataddr((display, address))


def build(
    *,
    ticket_id: int,
    tag: str,
    scrip_id: int | None,
    template_headers: list[tuple[str, str]],
    body: str,
    default_subject: str,
    from_address: str,
    from_display: str,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    in_reply_to: str | None,
    parent_references: list[str],
    auto_submitted: str,
    actor_email: str | None,
) -> Outgoing:
    domain = domain_of(from_address)
    message_id = new_message_id(domain, ticket_id, scrip_id)
    extra = {k: v for k, v in template_headers if k.lower() not in (*RECIPIENT_HEADERS, "subject")}
    subject = next((v for k, v in template_headers if k.lower() == "subject"), "") or default_subject
    subject = tag_subject(subject, tag)
    refs = [ticket_reference(ticket_id, domain)]
    for ref in [*parent_references, in_reply_to]:
        if ref and ref not in refs:
            refs.append(ref)
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    headers: dict[str, str] = {}
    headers["Message-ID"] = message_id
    headers["Date"] = _now_header()
    headers["Subject"] = subject
    headers["From"] = format_from(from_display, from_address)
    headers["Reply-To"] = from_address
    if to:
        headers["To"] = ", ".join(to)
    elif not cc:
        headers["To"] = "undisclosed-recipients:;"
    if cc:
        headers["Cc"] = ", ".join(cc)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    headers["References"] = " ".join(refs)
    headers["X-Tessera-Ticket"] = tag
    headers["X-Tessera-Loop-Prevention"] = desk_name()
    if actor_email:
        headers["X-Tessera-Originator"] = actor_email
    headers["Auto-Submitted"] = auto_submitted
    for name, value in extra.items():
        canonical = "-".join(part.capitalize() for part in name.split("-"))
        if canonical in ("Message-Id", "Message-ID", "References", "In-Reply-To", "X-Tessera-Ticket"):
            continue
        headers[canonical] = value
    headers.setdefault("Precedence", "bulk")
    return Outgoing(
        message_id=message_id,
        mail_from=from_address,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        body=body,
        headers=headers,
    )


def _now_header() -> str:
    from email.utils import formatdate

    return formatdate(localtime=False, usegmt=True)
