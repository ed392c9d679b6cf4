"""Outgoing messages: RT-style headers, a subject tag, and threading a mail client follows.

* Subject: the template's, else the triggering message's, else the ticket's; whitespace collapsed;
  `[TKT-0042] ` (or the queue's own tag, `[Acme #42] `: `core.subject_tags`) prefixed unless the
  ticket's tag is already in it.
* From and Reply-To: the queue's correspond address (the comment address for "as comment"
  notifications), with "<actor> via <desk>" (autoreplies: the queue's description or name) as name.
* Message-ID is new and unique; In-Reply-To is the triggering message's Message-ID; References
  start with the ticket's pseudo id `<tessera-ticket-N@domain>`, then the triggering message's
  References, In-Reply-To and Message-ID (at most 10 entries, as RT).
* Always: `X-Tessera-Ticket`, `X-Tessera-Loop-Prevention`, `Precedence: bulk` (unless the template set
  one); autoreplies `Auto-Submitted: auto-replied` (RFC 3834), other notifications
  `Auto-Submitted: auto-generated` so that other robots do not answer them.

Header injection: this module is the one place outgoing messages are built, and every value that
reaches a header passes through it: template header lines, subjects, display names, addresses,
references, custom fields printed by a template. A value is made one line (`one_line`: control
characters, line and paragraph separators become spaces), an address with anything but an
addr-spec in it is dropped (it would reach the SMTP envelope), and a line break that a template's
`{{ }}` printed (marked by the sandbox) never starts a header line of its own.
"""

from __future__ import annotations

import os
import quopri
import re
import uuid
from dataclasses import dataclass, field
from email.header import Header, decode_header, make_header
from email.headerregistry import Address
from email.utils import formataddr, getaddresses
from functools import lru_cache

from tessera.core.desk_addresses import DEFAULT_DOMAIN as DEFAULT_DOMAIN
from tessera.core.desk_addresses import MAIL_FROM_ENV as MAIL_FROM_ENV
from tessera.core.desk_addresses import fallback_address as fallback_address
from tessera.core.hostile_text import without_escapes
from tessera.scrips.sandbox import VALUE_CR, VALUE_LF

DESK_NAME_ENV = "TESSERA_DESK_NAME"
MAX_REFERENCES = 10
RECIPIENT_HEADERS = ("to", "cc", "bcc")


def desk_name() -> str:
    return os.environ.get(DESK_NAME_ENV) or "Tessera"


FROM_NAME_ENV = "TESSERA_FROM_NAME"
DEFAULT_FROM_NAME = "{name} via {desk}"  # RT's FriendlyFromLineFormat, "%s via RT"


def from_name(name: str) -> str:
    """The display name of a notification's From: `TESSERA_FROM_NAME` with `{name}` (the actor,
    or for an autoreply the queue) and `{desk}` (`TESSERA_DESK_NAME`) filled in; `{name}` alone
    drops the "via" suffix. Anything else in it is kept as written."""
    pattern = os.environ.get(FROM_NAME_ENV) or DEFAULT_FROM_NAME
    values = {"name": name, "desk": desk_name()}
    filled = re.sub(r"\{(name|desk)\}", lambda m: values[m.group(1)], pattern)
    return one_line(filled).strip() or name


def domain_of(address: str | None) -> str:
    if address and "@" in address:
        return address.rsplit("@", 1)[1].strip(">").lower()
    return fallback_address().rsplit("@", 1)[1]


def new_message_id(domain: str, ticket_id: int, scrip_id: int | None) -> str:
    return f"<tessera.{ticket_id}.{scrip_id or 0}.{uuid.uuid4().hex}@{domain}>"


def ticket_reference(ticket_id: int, domain: str) -> str:
    return f"<tessera-ticket-{ticket_id}@{domain}>"


# C0 and C1 controls, DEL, line and paragraph separators, the sandbox's line-break marks; lone
# surrogates (they cannot be encoded) become U+FFFD.
_NOT_IN_HEADER = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{VALUE_LF}{VALUE_CR}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def one_line(value: object) -> str:
    """A header value: one line, no escape sequence or control character, runs of whitespace as
    one space."""
    text = value if isinstance(value, str) else str(value)
    if not (text.isascii() and text.isprintable()):
        text = _SURROGATE.sub("\ufffd", _NOT_IN_HEADER.sub(" ", without_escapes(text)))
    return " ".join(text.split())


# An address that may reach the SMTP envelope and an address header: local@domain, both dot-atoms
# with nothing that could end the command or the header (no space, control, bracket, quote, comma).
_ATOM = r"[^\s\x00-\x1f\x7f-\x9f<>()\[\],;:\"\\@.\u2028\u2029]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDR_SPEC = re.compile(f"{_DOT_ATOM}@{_DOT_ATOM}")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,75}")
# At most 900 inside the brackets: `In-Reply-To: <...>` fits a line of 998 (a message id cannot fold).
_MSG_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f-\x9f\u2028\u2029]{1,900}>")


def clean_address(address: str | None) -> str | None:
    """The address when it is a plain ASCII addr-spec (surrounding space trimmed; an international
    domain in its IDNA form), else None: the worker speaks SMTP without SMTPUTF8."""
    if not address:
        return None
    address = address.strip()
    if not address.isascii():
        local, _, domain = address.rpartition("@")
        try:
            address = f"{local}@{domain.encode('idna').decode('ascii')}"
        except UnicodeError:
            return None
        if not address.isascii():
            return None
    return address if len(address) <= 320 and _ADDR_SPEC.fullmatch(address) else None


def clean_addresses(found: list[str]) -> list[str]:
    return [a for a in (clean_address(x) for x in found) if a is not None]


def tag_subject(subject: str, tag: str) -> str:
    subject = one_line(subject)
    if subject.isascii() and tag.isascii():  # ASCII: the same test as the pattern's, without compiling it
        found = f"[{tag.lower()}]" in subject.lower()
    else:
        found = re.search(rf"\[{re.escape(tag)}\]", subject, re.I) is not None
    if found:
        return subject
    return f"[{tag}] {subject}".rstrip()


def split_template(text: str) -> tuple[list[tuple[str, str]], str]:
    """RT's template shape: `Name: value` lines (with continuations), a blank line, the body.

    If the first line is not a header, the whole text is the body. Only the template's own line
    breaks end a header line: one that a value printed (marked by the sandbox) is a space there,
    and a line break again in the body.
    """
    lines = text.split("\n")
    headers: list[tuple[str, str]] = []
    first = lines[0] if lines else ""
    if not re.match(r"^[A-Za-z][A-Za-z0-9-]*:", first):
        return [], _unmark(text)
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
    return [(name, one_line(value)) for name, value in headers], _unmark("\n".join(lines[i:]))


def _unmark(body: str) -> str:
    if VALUE_LF in body or VALUE_CR in body:
        return body.replace(VALUE_LF, "\n").replace(VALUE_CR, "\r")
    return body


def addresses(value: str) -> list[str]:
    return clean_addresses([addr for _, addr in getaddresses([one_line(value)]) if addr and "@" in addr])


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
            if not _HEADER_NAME.fullmatch(name):
                continue  # only `build` names headers; anything else that set one is not trusted
            if name.lower() == "content-type":
                content_type = "text/html" if "html" in value.lower() else "text/plain"
                continue
            if name.lower() in ("mime-version", "content-transfer-encoding"):
                continue  # written below, once
            encoded = _encode_header(name, value)
            if encoded:  # an address header with no usable address in it is left out
                lines.append(f"{name}: {_folded(name, encoded)}")
        lines.append("MIME-Version: 1.0")
        lines.append(f'Content-Type: {content_type}; charset="utf-8"')
        body = self.body.replace("\r\n", "\n").replace("\r", "\n")
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
    value = one_line(value)
    if value.isascii():
        return value
    if name.lower() in _ADDRESS_HEADERS:
        found = [(display, clean_address(addr)) for display, addr in getaddresses([value])]
        return ", ".join(
            formataddr((display, addr), charset="utf-8") for display, addr in found if addr is not None
        )
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


CRLF = "\r\n"
FOLD_WIDTH = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters...
LINE_LIMIT = 998  # ...and MUST be at most 998 (an SMTP server refuses more: "500 Line too long")


def _folded(name: str, value: str) -> str:
    """`value` folded at its spaces (RFC 5322 2.2.3: a CRLF before a space), so that no line of
    the header is over 78 characters where a space allows it. A word too long for a line of 998
    (a subject with no space in it) is written as encoded words, which fold anywhere; in an
    address header, the display names are. Values made one line (`one_line`) only."""
    if len(name) + 2 + len(value) <= FOLD_WIDTH or "\r\n" in value:  # short, or encoded and folded
        return value
    lines: list[str] = []
    current, room = "", FOLD_WIDTH - len(name) - 2
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > room:
            lines.append(current)
            current, room = word, FOLD_WIDTH - 1
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    if len(name) + 2 + len(lines[0]) <= LINE_LIMIT and all(len(line) < LINE_LIMIT for line in lines[1:]):
        return "\r\n ".join(lines)
    if name.lower() in _ADDRESS_HEADERS:
        return ",\r\n ".join(
            f"{Header(_decoded(display), 'utf-8').encode(linesep=CRLF)} <{addr}>" if display else addr
            for display, addr in getaddresses([value])
        )
    return Header(value, "utf-8", header_name=name).encode(linesep=CRLF)


def sendable(message: str) -> str:
    """A stored message with no header line over 998 characters: each header that has one is
    unfolded and folded again as `as_text` folds (for rows written before it folded, which an SMTP
    server refuses, "500 Line too long", however often they are retried). Anything else, and any
    message already within the limit, is returned as it is."""
    linesep = CRLF if CRLF in message else "\n"
    head, blank, body = message.partition(linesep * 2)
    lines = head.split(linesep)
    if all(len(line) <= LINE_LIMIT for line in lines):
        return message
    fields: list[list[str]] = []
    for line in lines:
        if fields and line[:1] in (" ", "\t"):
            fields[-1].append(line)  # a continuation of the header above (RFC 5322 2.2.3)
        else:
            fields.append([line])
    out: list[str] = []
    for field_lines in fields:
        name, colon, value = "".join(field_lines).partition(":")
        within = all(len(line) <= LINE_LIMIT for line in field_lines)
        if within or not colon or not _HEADER_NAME.fullmatch(name):
            out.extend(field_lines)
            continue
        out.append(f"{name}: {_folded(name, one_line(value))}".replace(CRLF, linesep))
    return linesep.join(out) + blank + body


def _decoded(display: str) -> str:
    """A display name as written by `_encode_header` (encoded words when not ASCII), decoded."""
    return str(make_header(decode_header(display))) if "=?" in display else display


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
    subject_tag: str | None = None,
) -> Outgoing:
    from_address = clean_address(from_address) or fallback_address()
    to, cc, bcc = clean_addresses(to), clean_addresses(cc), clean_addresses(bcc)
    template_headers = [(k, one_line(v)) for k, v in template_headers if _HEADER_NAME.fullmatch(k)]
    domain = domain_of(from_address)
    message_id = new_message_id(domain, ticket_id, scrip_id)
    extra = {k: v for k, v in template_headers if k.lower() not in (*RECIPIENT_HEADERS, "subject")}
    subject = next((v for k, v in template_headers if k.lower() == "subject"), "") or one_line(
        default_subject
    )
    subject = tag_subject(subject, one_line(subject_tag or tag))
    in_reply_to = _message_id(in_reply_to)
    refs = [ticket_reference(ticket_id, domain)]
    for ref in [*(_message_id(r) for r in parent_references), in_reply_to]:
        if ref and ref not in refs:
            refs.append(ref)
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    headers: dict[str, str] = {}
    headers["Message-ID"] = message_id
    headers["Date"] = _now_header()
    headers["Subject"] = subject
    headers["From"] = format_from(one_line(from_display), from_address)
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
    headers["X-Tessera-Ticket"] = one_line(tag)
    headers["X-Tessera-Loop-Prevention"] = one_line(desk_name())
    actor_email = clean_address(actor_email)
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


def notice(*, to: str, subject: str, body: str) -> Outgoing | None:
    """A message from the desk itself to its owner (`TESSERA_OWNER_EMAIL`), on no ticket: From the
    fallback sender, marked as the desk's own mail (a copy coming back is a loop) and
    `Auto-Submitted`. None when the address is not a plain addr-spec."""
    address = clean_address(to)
    if address is None:
        return None
    from_address = clean_address(fallback_address()) or f"tessera@{DEFAULT_DOMAIN}"
    message_id = f"<tessera.notice.{uuid.uuid4().hex}@{domain_of(from_address)}>"
    subject = one_line(subject)
    headers = {
        "Message-ID": message_id,
        "Date": _now_header(),
        "Subject": subject,
        "From": format_from(desk_name(), from_address),
        "To": address,
        "X-Tessera-Loop-Prevention": one_line(desk_name()),
        "Auto-Submitted": "auto-generated",
        "Precedence": "bulk",
    }
    return Outgoing(message_id, from_address, [address], [], [], subject, body, headers)


def _message_id(value: str | None) -> str | None:
    """A Message-ID as a reference: `<...>` with no space or control character in it, else None."""
    if not value:
        return None
    value = value.strip()
    return value if _MSG_ID.fullmatch(value) else None


def _now_header() -> str:
    from email.utils import formatdate

    return formatdate(localtime=False, usegmt=True)
