"""Hostile text: everything from e-mail (subjects, bodies, names, filenames) passes through here.

Rich markup is never interpreted (values become `rich.text.Text`, never markup strings), and
terminal control sequences (CSI cursor moves, OSC 52 clipboard writes, OSC 8 hyperlinks, DCS, ...)
and other C0/C1 control characters are removed before anything reaches the screen.
"""

from __future__ import annotations

import re

from rich.text import Text

# ESC-introduced sequences: CSI, OSC (ended by BEL or ST), DCS/SOS/PM/APC strings, and 2-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\u2028\u2029]+")


def clean(value: object) -> str:
    """Multi-line text with escape sequences and control characters removed (`\\n` and `\\t` kept)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def clean_line(value: object) -> str:
    """One line: as `clean`, with line breaks and tabs folded into spaces."""
    return _LINE_BREAKS.sub(" ", clean(value))


def text(value: object, style: str = "") -> Text:
    """A renderable that shows `value` literally: brackets stay brackets, styles come only from `style`."""
    return Text(clean(value), style=style)


def line(value: object, style: str = "") -> Text:
    return Text(clean_line(value), style=style, no_wrap=True, overflow="ellipsis")
