"""Text from strangers on its way to a terminal: the one place escape sequences are removed.

Subjects, bodies, names and queue names reach the TUI, the CLI's output and its error lines; a
terminal would act on what they carry (CSI cursor moves, OSC 52 clipboard writes, OSC 8 links,
DCS, C1 controls, a bare CR that overwrites the line). Both front ends clean through here.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI, OSC (ended by BEL or ST), DCS/SOS/PM/APC strings, and 2-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
# C0 and C1 controls, and the bidirectional embeddings, overrides and isolates: U+202E shows
# `exe.txt` written backwards as `txt.exe`, and leaves the rest of the line reversed.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\u2028\u2029]+")


def without_escapes(text: str) -> str:
    """`text` with its escape sequences removed whole (CSI, OSC, DCS...), other characters kept:
    for a boundary that handles control characters itself (an outgoing header), where removing
    only the ESC byte would leave the sequence's body (`[31m`, `]52;c;...`) as text."""
    return _ESCAPES.sub("", text)


def clean(value: object) -> str:
    """Multi-line text with escape sequences and control characters removed (`\\n` and `\\t` kept)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def clean_line(value: object) -> str:
    """One line: as `clean`, with line breaks and tabs folded into spaces."""
    return _LINE_BREAKS.sub(" ", clean(value))


_NAME_BREAKERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_name(value: str, what: str, noun: str = "name") -> str:
    """A name the desk shows everywhere (a queue, a group, a custom field and its allowed values):
    no line breaks, tabs or escapes in it, refused in one line rather than cleaned, so the name
    shown is the name stored."""
    from tessera.core.errors import InvalidInput

    name = value.strip()
    bad = _NAME_BREAKERS.search(name)
    if bad is not None:
        raise InvalidInput(
            f"a {what} {noun} may not contain control characters (line breaks, tabs, escapes): "
            f"{ascii(name)[:80]} has {ascii(bad.group())[1:-1]} at column {bad.start() + 1}"
        )
    return name


_SHOWN_ESCAPED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(data: bytes) -> str:
    """Raw bytes for a terminal, every one of them shown: control characters (escape sequences'
    ESC included) as `\\xNN`, bytes that are not UTF-8 as `\\xNN` too; line ends and tabs kept.
    For a person looking at a message as received; a pipe gets the bytes themselves."""
    text = data.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
    return _SHOWN_ESCAPED.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
