"""The libraries' private API Tessera uses is still there, in the minors pyproject.toml allows.

Each of these is a speed or looks choice (the reason is at the use); pyproject bounds the library
to the minor tested here. Moving on to a new minor means reading the use's note, checking the
private name still does what it says, and changing both the bound and the tested minor below.
(SQLAlchemy's, `InstanceState._commit_all`, is checked in tests/test_fast_sql.py.)
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import jinja2.sandbox
import psycopg
import psycopg._connection_base
import pytest
import rich._wrap
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

TESTED = {"psycopg": "3.3.", "rich": "15.0.", "jinja2": "3.1.", "textual": "8.2."}


@pytest.mark.parametrize("package", sorted(TESTED))
def test_each_library_with_private_api_in_use_is_the_minor_tested(package: str) -> None:
    assert version(package).startswith(TESTED[package]), (
        f"{package} {version(package)} is not the tested {TESTED[package]}x: check its private API "
        "as this file says, then update TESTED here and the bound in pyproject.toml"
    )


def test_psycopg_still_has_what_begin_with_sets_and_reads() -> None:
    # tessera.core.db_wait.BoundedConnection.begin_with: BEGIN queued with the first statement.
    assert callable(psycopg.Connection._get_tx_start_command)
    made = inspect.getsource(psycopg._connection_base.BaseConnection.__init__)
    assert "self._autocommit = False" in made and "self._pipeline: BasePipeline | None = None" in made


def test_rich_still_wraps_with_divide_line() -> None:
    # tessera.tui.history_view: a block's wrap points, counted from its plain text; the dry-run
    # panel (tessera.tui.admin.dry_run): a mail line's rows under its bar.
    assert rich._wrap.divide_line("one two three", 7) == [8]  # where each line after the first starts


def test_jinja_sandbox_still_generates_through_generate() -> None:
    # tessera.scrips.sandbox: every template's tree is bounded before it is compiled.
    params = list(inspect.signature(jinja2.sandbox.SandboxedEnvironment._generate).parameters)
    assert params == ["self", "source", "name", "filename", "defer_init"]


def test_textual_still_has_the_hooks_the_tui_overrides() -> None:
    # tessera.tui.main_screen (focus restyling), pane_title (the title's colours), ticket_table
    # (the focus left out of the table's cache key).
    params = list(inspect.signature(Screen._update_focus_styles).parameters)
    assert params == ["self", "focused", "blurred"]
    assert list(inspect.signature(DOMNode._get_title_style_information).parameters) == ["self", "background"]
    assert "_has_focus_within: bool = False" in inspect.getsource(DOMNode)
    assert "_pseudo_class_state" in inspect.getsource(Widget.get_pseudo_class_state)
    # tessera.tui.admin.screen.AdminTabs: the tab follows keys, not a focus landing late.
    from textual.widgets import TabbedContent

    assert "self.active = event.tab_pane.id" in inspect.getsource(TabbedContent._on_tab_pane_focused)
