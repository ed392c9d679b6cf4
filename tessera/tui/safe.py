"""Hostile text: everything from e-mail (subjects, bodies, names, filenames) passes through here.

Rich markup is never interpreted (values become `rich.text.Text`, never markup strings), and
terminal control sequences (CSI cursor moves, OSC 52 clipboard writes, OSC 8 hyperlinks, DCS, ...)
and other C0/C1 control characters are removed before anything reaches the screen.
"""

from __future__ import annotations

from rich.text import Text

from tessera.core.hostile_text import clean, clean_line

__all__ = ["clean", "clean_line", "line", "markup_line", "text"]


def text(value: object, style: str = "") -> Text:
    """A renderable that shows `value` literally: brackets stay brackets, styles come only from `style`."""
    return Text(clean(value), style=style)


def line(value: object, style: str = "") -> Text:
    return Text(clean_line(value), style=style, no_wrap=True, overflow="ellipsis")


def markup_line(value: object) -> str:
    """`value` on one line for a place that reads markup (a pane's border title): `[b]`, `[$x]`
    and `[@click=…]` stay text. Every bracket is escaped (Textual's own `escape` leaves `[$x]`, a
    variable, as markup); a backslash escapes only the bracket right after it, so backslashes
    typed before one stay as they are."""
    return clean_line(value).replace("[", "\\[")
