"""The history pane's line-API view on its own (no database): it draws only what is on screen,
at the end when it follows, keeps the reader's place when earlier transactions come above,
wraps quoted lines under their bar, and shows hostile text literally."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.visual import RenderOptions

from tessera.tui.history import render_blocks
from tessera.tui.history_view import HistoryPane, line_count
from tests.support.tui import run_async

SIZE = (60, 12)


class Host(App[None]):
    CSS = "HistoryPane { height: 1fr; scrollbar-gutter: stable; overflow-x: hidden; }"

    def compose(self) -> ComposeResult:
        yield HistoryPane(id="history")


def event(n: int, body: str = "", kind: str = "Correspond") -> dict[str, Any]:
    return {
        "id": n,
        "type": kind,
        "created": "2026-11-27T12:00:00+00:00",
        "actor": f"agent{n}",
        "message": {"content": body or f"message number {n:03d}"},
    }


def screen_lines(pane: HistoryPane) -> list[str]:
    """What the pane shows, line by line (its drawn lines, as text)."""
    return [pane.render_line(y).text.rstrip() for y in range(pane.scrollable_content_region.height)]


def test_line_count_agrees_with_textual_wrapping() -> None:
    """A block's height is counted from its text alone; it must be what Textual draws, or lines
    would be cut or blank: long words, spaces, wide characters and tabs."""
    samples = [
        "short",
        "a " * 70,
        "x" * 130,
        "日本語のテキスト" * 9,
        "tab\there and\tthere " * 6,
        "mixed 日本 words " * 12 + "end",
        "",
    ]

    class Measure(App[None]):
        def compose(self) -> ComposeResult:
            yield HistoryPane()

    async def check() -> None:
        async with Measure().run_test(size=SIZE) as pilot:
            pane = pilot.app.query_one(HistoryPane)
            options = RenderOptions(pane._get_style, pane.styles, None, None)
            for width in (20, 37, 58):
                for sample in samples:
                    text = "\n".join([sample, "  │ " + sample])
                    drawn = Content(text).render_strips(width, None, pane.visual_style, options)
                    assert line_count(text, width) == len(drawn), (width, sample)

    run_async(check)()


@run_async
async def test_follows_the_end_draws_only_the_screen_and_scrolls_back() -> None:
    events = [event(n) for n in range(60)]
    async with Host().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(HistoryPane)
        pane.show_blocks(render_blocks(events, width=pane.text_width), follow=True)
        await pilot.pause()
        shown = "\n".join(screen_lines(pane))
        assert "message number 059" in shown and "message number 000" not in shown
        assert pane.is_vertical_scroll_end
        # Only the blocks on screen were drawn (60 transactions, a handful visible).
        assert 0 < len(pane._drawn) <= 5
        pane.scroll_home(animate=False)
        await pilot.pause()
        assert "message number 000" in "\n".join(screen_lines(pane))
        # A transaction added while the reader is up there does not move them ...
        events.append(event(60))
        pane.show_blocks(render_blocks(events, width=pane.text_width))
        await pilot.pause()
        assert pane.scroll_y == 0
        # ... and at the end, it follows.
        pane.scroll_end(animate=False)
        await pilot.pause()
        events.append(event(61))
        pane.show_blocks(render_blocks(events, width=pane.text_width))
        await pilot.pause()
        assert pane.is_vertical_scroll_end and "message number 061" in "\n".join(screen_lines(pane))


@run_async
async def test_earlier_transactions_shown_above_keep_the_readers_place() -> None:
    events = [event(n) for n in range(50)]
    async with Host().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(HistoryPane)
        heard: list[HistoryPane.ReachedTop] = []
        pane.show_blocks(render_blocks(events, newest=25, width=pane.text_width), follow=True)
        await pilot.pause()
        pane.scroll_to(y=3, animate=False)
        await pilot.pause()
        top_before = screen_lines(pane)[0]
        # what the owner does on ReachedTop: keep the distance from the end, show more above
        pane.keep_from_end = pane.virtual_size.height - pane.scroll_y
        pane.show_blocks(render_blocks(events, newest=50, width=pane.text_width))
        await pilot.pause()
        assert screen_lines(pane)[0] == top_before
        assert pane.scroll_y > 3
        # g: the pane asks its owner for everything (ReachedTop(everything=True)) and goes to the top
        original = pane.post_message

        def spy(message: Any) -> bool:
            if isinstance(message, HistoryPane.ReachedTop):
                heard.append(message)
            return original(message)

        pane.post_message = spy  # type: ignore[method-assign]
        pane.focus()
        await pilot.press("g")
        await pilot.pause()
        assert pane.scroll_y == 0 and any(m.everything for m in heard)


@run_async
async def test_wrapped_quoted_lines_keep_their_bar() -> None:
    long = "word " * 40 + "\n> quoted " + "reply " * 30
    async with Host().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(HistoryPane)
        pane.show_blocks(render_blocks([event(1, long)], width=pane.text_width), follow=True)
        await pilot.pause()
        lines = [line for line in screen_lines(pane) if line.strip()]
        body = lines[1:]
        assert len(body) > 4  # wrapped
        assert all(line.startswith("  │ ") for line in body), body
        assert any(line.startswith("  │ > quoted") for line in body)
        # Narrower (the pane resized): laid out again to the new width, still under the bar.
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        pane.show_blocks(render_blocks([event(1, long)], width=pane.text_width), follow=True)
        await pilot.pause()
        assert all(len(line) <= pane.text_width for line in screen_lines(pane))
        quoted = [line for line in screen_lines(pane) if "word" in line or "reply" in line]
        assert quoted and all(line.startswith("  │ ") for line in quoted), quoted


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
def test_hostile_text_shows_literally_without_control_sequences(theme: str) -> None:
    hostile = "[bold red]not markup[/] \x1b]52;c;cGF3bmVk\x07\x1b[2J\x1b[31mred\x9b1m\rend"

    async def check() -> None:
        app = Host()
        async with app.run_test(size=SIZE) as pilot:
            app.theme = theme
            pane = app.query_one(HistoryPane)
            evil = event(1, hostile)
            evil["actor"] = "\x1b[5mblink\x1b[0m[link=http://x]me[/link]"
            pane.show_blocks(render_blocks([evil], width=pane.text_width), follow=True)
            await pilot.pause()
            drawn = "\n".join(screen_lines(pane))
            assert "[bold red]not markup[/]" in drawn and "[link=http://x]me[/link]" in drawn
            assert "\x1b" not in drawn and "\x9b" not in drawn and "\x07" not in drawn
            segments = [seg for y in range(6) for seg in pane.render_line(y)]
            assert not any(seg.style and seg.style.link for seg in segments)  # no link smuggled in

    run_async(check)()


def test_blocks_join_into_the_history_text() -> None:
    events = [event(n) for n in range(3)]
    blocks = render_blocks(events, newest=2)
    assert blocks[0].plain.startswith("▲ 1 earlier transactions")
    assert [b.plain.count("message number") for b in blocks[1:]] == [1, 1]
    assert all(isinstance(b, Text) for b in blocks)
