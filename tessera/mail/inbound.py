"""Inbound mail: RFC 5322 / MIME bytes -> a decoded message, without touching the database.

Parsing uses the stdlib `email` package (policy=default) for structure and transfer encodings,
and Tessera's own code where the stdlib is known to be weak on real mail:

* headers are decoded from their raw bytes: raw 8-bit text is read as UTF-8, else guessed;
  RFC 2047 encoded-words are joined before decoding when adjacent words share a charset (an
  encoded-word split inside a multibyte character still decodes), unknown charsets fall back;
* address lists are split by a bounded, iterative scanner (the stdlib recurses on long lists);
* bodies are decoded with the declared charset, then UTF-8, then a guess (never an exception);
  `ks_c_5601-1987` and friends are mapped, format=flowed is re-flowed, HTML-only mail gets a
  readable text rendering next to the HTML it keeps (the decoding itself: tessera.mail.decoding);
* every part is kept, in a tree mirroring the MIME structure; a `multipart/*` part whose boundary
  never appears keeps its payload as text instead of being dropped.

`parse()` never raises on any input; what it could not read is reported in `defects`. What it
returns can be stored: a NUL or a lone surrogate (PostgreSQL text holds neither) in any field,
header, name, address, subject, filename, part or body is replaced by U+FFFD (`storable`), an
address or Message-ID with a control character in it is not one, and a part's type fits its column.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.policy
import email.utils
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from tessera.mail.decoding import (
    MAX_ADDRESSES,
    Address,
    decode_bytes,
    decode_header,
    html_to_text,
    parse_addresses,
    storable,
    unescape_surrogates,
    unflow,
)

# -- the parsed message ---------------------------------------------------------------------------


@dataclass
class Part:
    """One node of the MIME tree. Leaves carry decoded `text` (text parts) or `data` (the rest)."""

    content_type: str
    headers: str = ""
    filename: str | None = None
    text: str | None = None
    data: bytes | None = None
    role: str = "attachment"  # body, alternative, inline, attachment, container
    children: list[Part] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)  # Content-Type parameters, decoded
    disposition: str = ""


@dataclass
class ParsedMail:
    raw: bytes
    headers: str
    subject: str
    message_id: str | None
    from_: list[Address]
    sender: list[Address]
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    in_reply_to: list[str]
    references: list[str]
    body: str
    body_type: str  # text/plain or text/html (the part the body was taken from)
    html: str | None
    tree: Part
    has_header_block: bool
    defects: list[str] = field(default_factory=list)
    header_map: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.header_map.get(name.lower())
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self.header_map.get(name.lower(), [])

    @property
    def attachments(self) -> list[Part]:
        return [p for p in _leaves(self.tree) if p.role == "attachment"]

    @property
    def originator(self) -> Address | None:
        for group in (self.from_, self.sender):
            if group:
                return group[0]
        return None


def _leaves(part: Part) -> list[Part]:
    out: list[Part] = []
    stack = [part]
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(reversed(node.children))
        else:
            out.append(node)
    return out


_MSG_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]+>")


def message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return _MSG_ID.findall(unescape_surrogates(str(value)))[:50]


def normalise_raw(raw: bytes) -> bytes:
    """What real mail needs before parsing: BOM, mbox `From ` line, CR-only line ends."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if raw.startswith(b"From ") and b"\n" in raw[:2000]:
        first_end = raw.index(b"\n")
        if b":" not in raw[:first_end].split(b" ", 2)[1]:
            raw = raw[first_end + 1 :]
    if b"\r" in raw and b"\n" not in raw:
        raw = raw.replace(b"\r", b"\n")
    return _repair_header_block(raw)


def _repair_header_block(raw: bytes) -> bytes:
    """An unindented line inside the header block (followed by more headers) is a continuation."""
    head_end = raw.find(b"\n\n")
    crlf_end = raw.find(b"\r\n\r\n")
    if crlf_end != -1 and (head_end == -1 or crlf_end < head_end):
        head_end = crlf_end
    if head_end == -1 or head_end > 1_000_000:
        return raw
    lines = raw[:head_end].split(b"\n")
    changed = False
    for i in range(1, len(lines) - 1):
        line = lines[i]
        if line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line) or not line.strip(b"\r"):
            continue
        if _HEADER_LINE.match(lines[i + 1]) or lines[i + 1][:1] in (b" ", b"\t"):
            lines[i] = b" " + line
            changed = True
    if not changed:
        return raw
    return b"\n".join(lines) + raw[head_end:]


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


# Python's email package parses a Content-Type header again at every look, in time that grows
# with its parameters (10,000 of them: seconds of CPU). No real message has more than a few.
MAX_CONTENT_TYPE_PARAMS = 100
_CONTENT_TYPE = re.compile(rb"(?im)^content-type[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*")


def _clamp_content_types(data: bytes) -> bytes:
    """Each Content-Type header (of the message and of every part) keeps its first
    MAX_CONTENT_TYPE_PARAMS parameters: parsing stays bounded whatever a stranger sends."""

    def clamp(match: re.Match[bytes]) -> bytes:
        header = match.group(0)
        pieces = header.split(b";")
        if len(pieces) <= MAX_CONTENT_TYPE_PARAMS + 1:
            return header
        return b";".join(pieces[: MAX_CONTENT_TYPE_PARAMS + 1])

    return _CONTENT_TYPE.sub(clamp, data) if b";" in data else data


def parse(raw: bytes) -> ParsedMail:
    """Decode one message. Never raises; structure problems end up in `defects`."""
    data = _clamp_content_types(normalise_raw(raw))
    first_line = data.split(b"\n", 1)[0]
    has_header_block = bool(_HEADER_LINE.match(first_line))
    msg = email.message_from_bytes(data, policy=email.policy.default)
    defects = [type(d).__name__ for d in msg.defects]
    header_map: dict[str, list[str]] = {}
    raw_values: dict[str, list[str]] = {}
    lines = []
    for name, value in msg.raw_items():
        key = name.lower()
        raw_values.setdefault(key, []).append(value)
        decoded = decode_header(value) if key not in _ADDRESS_HEADERS else unescape_surrogates(value)
        header_map.setdefault(key, []).append(decoded.strip())
        flat = unescape_surrogates(value).replace("\r", "")
        lines.append(f"{name}: {flat}")
    headers_text = "\n".join(lines)

    def addrs(name: str) -> list[Address]:
        found: list[Address] = []
        for value in raw_values.get(name, []):
            found.extend(parse_addresses(value, limit=MAX_ADDRESSES - len(found)))
            if len(found) >= MAX_ADDRESSES:
                break
        return found

    linesep = "\r\n" if b"\r\n" in data[:4096] else "\n"
    tree = _walk(msg, defects, linesep, depth=0)
    tree = _extract_uuencoded(tree)
    body, body_type, html, notes = _choose_body(tree)
    subject = header_map.get("subject", [""])[0].strip()
    parsed = ParsedMail(
        raw=raw,
        headers=headers_text,
        subject=subject,
        message_id=next(iter(message_ids(raw_values.get("message-id", [""])[0])), None),
        from_=addrs("from"),
        sender=addrs("sender"),
        reply_to=addrs("reply-to"),
        to=addrs("to"),
        cc=addrs("cc"),
        in_reply_to=message_ids(raw_values.get("in-reply-to", [""])[0]),
        references=message_ids(" ".join(raw_values.get("references", []))),
        body=body,
        body_type=body_type,
        html=html,
        tree=tree,
        has_header_block=has_header_block,
        defects=defects,
        header_map=header_map,
        notes=notes,
    )
    return _storable(parsed)


def _storable(parsed: ParsedMail) -> ParsedMail:
    """Every string of the parsed message, as the database can store it (one pass, in place)."""
    parsed.headers = storable(parsed.headers)
    parsed.subject = storable(parsed.subject)
    parsed.message_id = storable(parsed.message_id) if parsed.message_id else parsed.message_id
    parsed.body = storable(parsed.body)
    parsed.html = storable(parsed.html) if parsed.html is not None else None
    for group in ("from_", "sender", "reply_to", "to", "cc"):
        found = getattr(parsed, group)
        setattr(parsed, group, [Address(storable(a.name), storable(a.address)) for a in found])
    parsed.in_reply_to = [storable(r) for r in parsed.in_reply_to]
    parsed.references = [storable(r) for r in parsed.references]
    parsed.header_map = {storable(k): [storable(v) for v in vs] for k, vs in parsed.header_map.items()}
    stack = [parsed.tree]
    while stack:
        node = stack.pop()
        node.headers = storable(node.headers)
        node.content_type = storable(node.content_type)
        node.disposition = storable(node.disposition)
        node.filename = storable(node.filename) if node.filename is not None else None
        node.text = storable(node.text) if node.text is not None else None
        node.params = {storable(k): storable(v) for k, v in node.params.items()}
        stack.extend(node.children)
    return parsed


_ADDRESS_HEADERS = {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to"}
MAX_DEPTH = 20
_TEXT_TYPES = ("text/plain", "text/html")


def _part_headers(part: Message) -> str:
    return "\n".join(f"{k}: {unescape_surrogates(v)}" for k, v in part.raw_items())


@dataclass
class _Info:
    """What the Content-Type and Content-Disposition headers say, read once per part."""

    content_type: str
    params: dict[str, str]
    filename: str | None
    disposition: str


def _param_list(part: Message, header: str) -> list[tuple[str, str]]:
    try:
        params = part.get_params(header=header) or []
    except Exception:
        return []
    out = []
    for key, raw in params:
        # typeshed says str; an RFC 2231 value comes as (charset, language, text)
        value: str | tuple[str | None, str | None, str] = raw
        try:
            text = email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else str(value)
        except Exception:
            text = str(value)
        out.append((key.lower(), text))
    return out


def _info(part: Message) -> _Info:
    ctype_params = _param_list(part, "content-type")
    if ctype_params:
        declared = ctype_params[0][0].strip().lower()
        # RFC 2045: an invalid type (no slash; here also controls, or longer than RFC 6838's 255) is
        # read as text/plain.
        shape = declared.count("/") == 1 and " " not in declared and len(declared) <= 255
        ctype = declared if shape and declared.isascii() and declared.isprintable() else "text/plain"
    else:
        ctype = part.get_default_type()
    params = {k: v for k, v in ctype_params[1:20]}
    disposition_params = _param_list(part, "content-disposition")
    disposition = disposition_params[0][0].strip().lower() if disposition_params else ""
    raw_name = dict(disposition_params[1:20]).get("filename") or params.get("name")
    filename = sanitise_filename(decode_header(raw_name)) if raw_name else None
    return _Info(ctype, {k: decode_header(v) for k, v in params.items()}, filename, disposition)


def sanitise_filename(name: str) -> str | None:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().strip(".")
    if not name:
        return None
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else name[:255]
    return name


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _text_of(info: _Info, data: bytes) -> str:
    text = decode_bytes(data, info.params.get("charset"))[0].replace("\r\n", "\n")
    if info.params.get("format", "").lower() == "flowed":
        text = unflow(text, info.params.get("delsp", "").lower() == "yes")
    return text


def _walk(part: Message, defects: list[str], linesep: str, depth: int) -> Part:
    info = _info(part)
    ctype = info.content_type
    node = Part(content_type=ctype, headers=_part_headers(part), filename=info.filename, params=info.params)
    node.disposition = info.disposition
    if depth:
        defects.extend(type(d).__name__ for d in getattr(part, "defects", []))
    if depth > MAX_DEPTH:
        node.data = _payload_bytes(part)
        return node
    if ctype.startswith("message/") and part.is_multipart():
        inner = part.get_payload()
        try:
            gen_policy = email.policy.compat32.clone(linesep=linesep)
            first = inner[0] if isinstance(inner, list) and inner else None
            node.data = first.as_bytes(policy=gen_policy) if isinstance(first, Message) else b""
        except Exception:
            node.data = b""
        if not node.filename and ctype == "message/rfc822":
            node.filename = "message.eml"
        return node
    if part.is_multipart():
        node.role = "container"
        for child in part.get_payload():
            if isinstance(child, Message):
                node.children.append(_walk(child, defects, linesep, depth + 1))
        return node
    data = _payload_bytes(part)
    if ctype.startswith(("multipart/", "message/")):
        # The boundary never appeared (or the message is not one): keep what is there as text.
        node.content_type = "text/plain"
        node.text = decode_bytes(data)[0].replace("\r\n", "\n")
        return node
    if ctype.startswith("text/"):
        node.text = _text_of(info, data)
    else:
        node.data = data
    return node


_UU_BLOCK = re.compile(r"^begin [0-7]{3,4} ([^\n]+)\n(.*?)^end[ \t]*$", re.M | re.S)


def _uudecode(block: str) -> bytes:
    out = bytearray()
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line or line == "`":
            continue
        size = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
        try:
            out += binascii.a2b_uu(line[:size].encode("latin-1", "replace"))
        except (binascii.Error, ValueError):
            continue
    return bytes(out)


def _extract_uuencoded(tree: Part) -> Part:
    """Old mailers (Lotus Notes) put uuencoded files in the text: they become attachments."""
    stack: list[tuple[Part, Part | None, int]] = [(tree, None, 0)]
    while stack:
        node, parent, index = stack.pop()
        if node.children:
            stack.extend((child, node, i) for i, child in enumerate(node.children))
            continue
        if node.text is None or "begin " not in node.text or len(node.text) > 50_000_000:
            continue
        blocks = list(_UU_BLOCK.finditer(node.text))
        if not blocks:
            continue
        files = [
            Part(
                content_type=mimetypes.guess_type(m.group(1).strip())[0] or "application/octet-stream",
                headers="X-Tessera-Derived: uuencoded in the text",
                filename=sanitise_filename(m.group(1).strip()),
                data=_uudecode(m.group(2)),
            )
            for m in blocks
        ]
        text = _UU_BLOCK.sub("", node.text)
        body = Part(content_type=node.content_type, headers=node.headers, text=text)
        body.disposition = node.disposition
        container = Part(content_type="multipart/mixed", headers=node.headers, role="container")
        container.children = [body, *files]
        if parent is None:
            return container
        parent.children[index] = container
    return tree


def _is_inline_text(node: Part) -> bool:
    return (
        node.text is not None
        and not node.children
        and node.disposition != "attachment"
        and node.content_type.startswith("text/")
        and node.content_type not in ("text/calendar", "text/x-vcard", "text/vcard", "text/csv")
    )


def _choose_body(tree: Part) -> tuple[str, str, str | None, list[str]]:
    """Mark the parts that make the body (RT: the first text part; alternatives: plain first)."""
    chosen: list[Part] = []
    notes: list[str] = []
    _mark(tree, chosen, notes)
    _note_encrypted(tree, notes)
    if not chosen:
        # Top-level message/rfc822 (a forward): the enclosed message's own body.
        for leaf in _leaves(tree):
            if leaf.content_type == "message/rfc822" and leaf.data:
                inner = parse(leaf.data)
                body = inner.body or f"[forwarded message: {inner.subject or '(no subject)'}]"
                return body, inner.body_type, inner.html, notes
        return "", "text/plain", None, notes
    first = chosen[0]
    html: str | None = None
    if first.content_type == "text/html":
        html = first.text or ""
        texts = [html_to_text(html)]
        body_type = "text/html"
    else:
        texts = [first.text or ""]
        body_type = "text/plain"
    for extra in chosen[1:]:
        texts.append(
            html_to_text(extra.text or "") if extra.content_type == "text/html" else extra.text or ""
        )
    return "\n\n".join(t.strip("\n") for t in texts), body_type, html, notes


def _mark(node: Part, chosen: list[Part], notes: list[str]) -> None:
    ctype = node.content_type
    if not node.children:
        if node.role == "container":  # empty multipart
            return
        if not _is_inline_text(node):
            return
        if not chosen or (not node.filename and node.content_type != "text/html"):
            node.role = "body"
            chosen.append(node)
        elif not node.filename:
            node.role = "inline"  # an unnamed HTML sibling of the body: kept, not an attachment
        return
    if ctype == "multipart/alternative":
        candidates = [c for c in node.children if not c.children and _is_inline_text(c)]
        best = next((c for c in candidates if c.content_type == "text/plain"), None) or next(
            (c for c in candidates if c.content_type == "text/html"), None
        )
        nested = [c for c in node.children if c.children]
        if best is None and nested:
            _mark(nested[-1], chosen, notes)
            for child in node.children:
                if child is not nested[-1]:
                    _set_alternative(child)
            return
        for child in node.children:
            if child is best:
                if not chosen:
                    child.role = "body"
                    chosen.append(child)
                else:
                    child.role = "alternative"
            elif child.text is not None or child.children:
                _set_alternative(child)
        return
    if ctype == "multipart/encrypted":
        notes.append("encrypted content: kept as attachment, not shown as text")
        for child in node.children:
            if child.content_type == "application/pgp-encrypted":
                child.role = "alternative"
        return
    if ctype == "multipart/signed":
        if node.children:
            _mark(node.children[0], chosen, notes)
        return
    if ctype == "multipart/related":
        root = next((c for c in node.children if c.content_type == "text/html"), None) or next(
            (c for c in node.children if c.text is not None or c.children), None
        )
        if root is not None:
            _mark(root, chosen, notes)
        return
    for child in node.children:
        _mark(child, chosen, notes)


def _note_encrypted(tree: Part, notes: list[str]) -> None:
    for leaf in _leaves(tree):
        if leaf.content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime") and (
            "enveloped" in leaf.params.get("smime-type", "enveloped")
        ):
            notes.append("encrypted content (S/MIME): kept as attachment, not shown as text")
            return


def _set_alternative(node: Part) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.children:
            stack.extend(current.children)
        elif current.role != "body":
            current.role = "alternative"
