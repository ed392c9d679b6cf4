"""The title of a pane that has the focus: in its border's colour, bold.

A `.pane` shows the focus in its border (`.pane:focus, .pane:focus-within` in tessera.tcss) and in
its title. The title's look is not a style rule: Textual repaints every widget inside a pane when
its `border-title-color` or `border-title-style` changes (a colour rule refreshes the children),
which laid out the whole history and drew every row of the list again at each enter, J and q.
The border alone repaints only the pane's frame; the title takes the border's colour from it.
"""

from __future__ import annotations

from typing import cast

from textual.color import Color
from textual.dom import DOMNode
from textual.style import Style as VisualStyle
from textual.widget import Widget

BOLD = VisualStyle(bold=True)


class FocusTitle:
    """Mixed into a pane (before its widget class): its title is in its border's colour and bold
    while the focus is in it (the pane or a widget inside it)."""

    def _get_title_style_information(self, background: Color) -> tuple[Color, Color, VisualStyle]:
        pane = cast(Widget, self)
        color, title_background, style = DOMNode._get_title_style_information(pane, background)
        if pane.has_focus_within:  # (the pane itself counts)
            return pane.styles.border_top[1], title_background, style + BOLD
        return color, title_background, style
