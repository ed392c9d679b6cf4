"""One frame per key: what a key changes in several widgets is drawn in one frame.

Textual draws a frame as soon as the first changed widget's repaint reaches the screen; a widget
whose repaint comes a moment later (the pane losing the focus restyles its border, the scrollbars
follow the new text) waits for the next frame, which comes after the first has been drawn: on
enter, J and q that second frame was 30-50 ms of the time to a settled screen.
"""

from __future__ import annotations

import asyncio

from textual.app import App

TURNS = 4  # turns of the event loop a held frame waits: focus set, restyled, repaint asked, queued


def hold_frame(app: App[object]) -> None:
    """Hold the next frame until the widgets changed so far have asked for their repaints.

    Call it after the synchronous part of a key's work. A focus change is made on the app's next
    message, restyles the panes, and each changed widget then asks the screen for its repaint from
    its own message loop: each step one turn of the event loop after the other. The frame is
    released `TURNS` turns later (each a few microseconds when nothing else is ready), and the
    screen then draws one frame with all of them."""
    batch = app.batch_update()
    batch.__enter__()
    loop = asyncio.get_running_loop()

    def turn(left: int) -> None:
        if left:
            loop.call_soon(turn, left - 1)
            return
        batch.__exit__(None, None, None)
        app.screen.check_idle()

    loop.call_soon(turn, TURNS)
