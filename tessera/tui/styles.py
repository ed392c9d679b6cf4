"""Stylesheets that travel with their widget.

A screen names its .tcss file (`CSS_PATH`); a widget that may be mounted anywhere (an admin pane in
its tab, or alone in a test's app) carries its styles as `DEFAULT_CSS`, read here from .tcss files
beside the code, so styles stay in stylesheets either way. Read when the widget's module is
imported (the admin panes: when the admin area first opens, never on the start path).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def stylesheet(*names: str) -> str:
    """The text of these .tcss files (paths relative to tessera/tui), one after the other."""
    return "\n".join((HERE / name).read_text(encoding="utf-8") for name in names)
