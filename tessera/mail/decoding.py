"""Decoding what mail carries, as real mail writes it (tessera.mail.inbound parses the structure):

* charsets: the declared one, then UTF-8, then a guess, never an exception; aliases such as
  `ks_c_5601-1987` mapped; NULs and lone surrogates made storable;
* RFC 2047 encoded words, joined before decoding when adjacent words share a charset;
* address lists, split by a bounded iterative scanner (the stdlib recurses on long lists);
* HTML-only mail rendered as readable text, and format=flowed text re-flowed.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# -- charsets -------------------------------------------------------------------------------------

_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "none": "",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "cp1252",  # what senders mean by it (the Windows superset)
    "latin1": "cp1252",
}


def codec_for(charset: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower().split("*", 1)[0]
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a label with a NUL in it
        return None


def guess_legacy(data: bytes) -> str:
    """No charset worked: tell Cyrillic 8-bit text (runs of high bytes) from West-European text."""
    high = sum(1 for b in data if b >= 0xC0)
    letters = sum(1 for b in data if 0x41 <= (b | 0x20) <= 0x7A) + high
    if letters and high / letters > 0.5:
        koi = data.decode("koi8_r", "replace")
        win = data.decode("cp1251", "replace")
        # The reading with more of Russian's most frequent letters wins.
        if _cyrillic_score(koi) >= _cyrillic_score(win):
            return koi
        return win
    return data.decode("cp1252", "replace")


_FREQUENT_CYRILLIC = set("оеаинтсрвлкОЕАИНТСРВЛК")


def _cyrillic_score(text: str) -> int:
    return sum(c in _FREQUENT_CYRILLIC for c in text)


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, str]:
    """Text and the codec used: valid UTF-8, else the declared charset, else a guess; never raises."""
    codec = codec_for(charset)
    if not data.isascii() and codec not in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        # 8-bit text that is valid UTF-8 is UTF-8 whatever the label says (mislabelled mail is
        # common; a legacy text that happens to be valid UTF-8 is not).
        try:
            return _clean(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            pass
    if codec and codec not in ("ascii",):
        try:
            return _clean(data.decode(codec)), codec
        except (UnicodeDecodeError, LookupError):
            pass
    if data.isascii():
        return _clean(data.decode("ascii")), "ascii"
    for candidate in ("utf-8", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8",):
        try:
            return _clean(data.decode(candidate)), candidate
        except UnicodeDecodeError:
            pass
    return _clean(guess_legacy(data)), "guessed"


def _clean(text: str) -> str:
    return text.replace("\x00", "")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text a PostgreSQL text column holds: a NUL or a lone surrogate becomes U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def unescape_surrogates(text: str) -> str:
    """Strings from the stdlib parser carry raw 8-bit bytes as surrogates: decode those bytes."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return decode_bytes(raw)[0]


# -- RFC 2047 -------------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _ew_bytes(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        stripped = text.rstrip("=")
        stripped = re.sub(r"[^A-Za-z0-9+/]", "", stripped)
        stripped = stripped[: len(stripped) - (len(stripped) % 4 == 1)]
        try:
            return base64.b64decode(stripped + "=" * (-len(stripped) % 4))
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_header(value: str | None) -> str:
    """A header value as text: unfolded, encoded-words decoded, raw 8-bit read as UTF-8 or guessed."""
    if not value:
        return ""
    value = unescape_surrogates(str(value))
    value = re.sub(r"\r?\n(?=[ \t])|\r(?=[ \t])", "", value)
    value = value.replace("\r", " ").replace("\n", " ")
    out: list[str] = []
    pending: list[tuple[str | None, bytes]] = []  # adjacent encoded-words, not yet decoded
    pos = 0

    def flush() -> None:
        for charset, data in _merge(pending):
            out.append(decode_bytes(data, charset)[0])
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if pending and between.strip() == "":
            pass  # whitespace between encoded-words is not part of the text (RFC 2047 6.2)
        else:
            flush()
            out.append(between)
        label = match.group(1).split("*", 1)[0]
        pending.append((label, _ew_bytes(match.group(2), match.group(3))))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _merge(words: list[tuple[str | None, bytes]]) -> list[tuple[str | None, bytes]]:
    merged: list[tuple[str | None, bytes]] = []
    for charset, data in words:
        if merged and (merged[-1][0] or "").lower() == (charset or "").lower():
            merged[-1] = (charset, merged[-1][1] + data)
        else:
            merged.append((charset, data))
    return merged


# -- addresses ------------------------------------------------------------------------------------

MAX_ADDRESSES = 100
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\x00-\x1f\x7f]+@[^\s@<>()\[\],;:\"\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class Address:
    name: str
    address: str  # empty when the entry had no usable address

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


def _split_addresses(value: str, limit: int) -> list[str]:
    """Top-level entries of an address list; groups' `name:` and `;` are separators. Iterative."""
    entries: list[str] = []
    current: list[str] = []
    quoted = False
    comment = 0
    angle = False
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and (quoted or comment):
            escaped = True
            current.append(ch)
            continue
        if quoted:
            quoted = ch != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == '"':
            quoted = True
        elif ch == "(":
            comment = 1
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif not angle and ch in ",;:":
            if ch == ":":
                current = []  # a group's display name
                continue
            entries.append("".join(current))
            current = []
            if len(entries) >= limit:
                return entries
            continue
        current.append(ch)
    entries.append("".join(current))
    return entries[:limit]


def _strip_comments(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def parse_addresses(value: str | None, *, limit: int = MAX_ADDRESSES) -> list[Address]:
    """Addresses of a header (raw value, encoded-words in display names decoded after splitting)."""
    if not value:
        return []
    text = unescape_surrogates(str(value)).replace("\r", " ").replace("\n", " ")
    found: list[Address] = []
    for entry in _split_addresses(text, limit):
        entry = entry.strip()
        if not entry:
            continue
        if "<" in entry:
            start = entry.rfind("<")
            end = entry.find(">", start)
            addr = entry[start + 1 : end if end != -1 else None]
            name = entry[:start]
        else:
            addr = _strip_comments(entry)
            comments = re.findall(r"\(([^()]*)\)", entry)
            name = comments[0] if comments else ""
        addr = addr.strip().strip(".").replace(" ", "")
        if addr.startswith("@") and ":" in addr:  # obsolete source route
            addr = addr.split(":", 1)[1]
        name = decode_header(name.strip().strip('"').replace('\\"', '"')).strip()
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1]
        if not _ADDR_SPEC.match(addr):
            addr = ""
        found.append(Address(name=name, address=addr))
    return [a for a in found if a.address]


# -- HTML to text ---------------------------------------------------------------------------------

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"}


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in _BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("* ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    renderer = _TextRenderer()
    try:
        renderer.feed(html)
        renderer.close()
    except Exception:  # html.parser on hostile input: fall back to stripping tags
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(renderer.out).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines (a line ending in a space continues)."""
    out: list[str] = []
    buffer = ""
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line != "-- " and line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            # delsp=yes: the space marks the break (CJK text); between ASCII words it is kept.
            drop_space = delsp and not (line[-2:-1].isascii() and len(line) > 1)
            buffer += line[:-1] if drop_space else line
        else:
            out.append(buffer + line)
            buffer = ""
    if buffer:
        out.append(buffer)
    return "\n".join(out)
