"""The start-up helper's psycopg-only read (tessera.core.quick_read) sees what the full path sees,
and steps aside (None) for everything but a ready desk and an enabled user."""

from __future__ import annotations

import pickle

import pytest
from sqlalchemy import text

from tessera.core import grants, listing, queues, users
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.quick_read import QuickReader
from tessera.tui import backend as tui_backend
from tessera.tui import ticket_ops
from tessera.tui.backend import PREF_VIEW, Backend, first_page_request
from tests.support.desks import build_desk


@pytest.fixture
def ready(database: Database, tmp_path, monkeypatch) -> Database:
    monkeypatch.setenv("TESSERA_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("TESSERA_USER", raising=False)
    build_desk(database)
    with database.session() as s:
        root = open_context(s, "root")
        queues.create_queue(root, "Hidden")  # nobody but root may see it
        users.add_user(root, "carol", email="carol@desk.example", privileged=True)
        grants.grant(root, "ShowTicket", "user:carol", "Network")  # one queue, and only that
        users.add_user(root, "dave", email="dave@desk.example", privileged=True)
        users.update_user(root, "dave", {"disabled": "true"})
    return database


def full_first_screen(db: Database, user: str) -> tui_backend.FirstScreen:
    backend = Backend(db, user)
    info = backend.run(ticket_ops.startup)
    request = first_page_request(info)
    page = backend.run(ticket_ops.tickets, request[0], **request[1]) if request is not None else None
    return tui_backend.FirstScreen(info, request, page)


@pytest.mark.parametrize("user", ["root", "alice", "carol", "ALICE@desk.example"])
def test_the_quick_first_screen_is_the_full_one(ready: Database, user: str) -> None:
    quick = tui_backend._quick_first_screen(user)
    assert quick is not None
    assert quick == full_first_screen(ready, user)
    assert pickle.loads(pickle.dumps(quick)) == quick  # as the helper hands it over


@pytest.mark.parametrize("sort", listing.SORT_KEYS)
@pytest.mark.parametrize("descending", [True, False])
def test_every_sort_of_a_saved_view_reads_the_same_page(ready: Database, sort: str, descending: bool) -> None:
    with ready.session() as s:
        ctx = open_context(s, "alice")
        listing.set_preference(ctx, PREF_VIEW, {"queue": "General", "sort": sort, "descending": descending})
    quick = tui_backend._quick_first_screen("alice")
    assert quick is not None and quick.page is not None and len(quick.page.rows) == 4
    assert quick == full_first_screen(ready, "alice")


def test_a_saved_filter_or_search_takes_the_full_path(ready: Database) -> None:
    with ready.session() as s:
        ctx = open_context(s, "alice")
        listing.set_preference(ctx, PREF_VIEW, {"queue": "General", "filter": "printer"})
    assert tui_backend._quick_first_screen("alice") is None


def test_it_steps_aside_for_whatever_the_full_path_must_explain(ready: Database, monkeypatch) -> None:
    assert QuickReader.open("nobody") is None  # the full path: "unknown user"
    assert QuickReader.open("dave") is None  # the full path: "user 'dave' is disabled"
    monkeypatch.setenv("TESSERA_USER", "bob")
    reader = QuickReader.open(None)
    assert reader is not None and reader.actor.name == "bob"
    reader.close()
    with ready.engine.begin() as conn:  # a schema behind this tessera: the full path migrates
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert QuickReader.open("alice") is None
    monkeypatch.setenv("TESSERA_DATABASE_URL", "mysql://somewhere/db")
    assert QuickReader.open("alice") is None


def test_a_desk_not_bootstrapped_takes_the_full_path(ready: Database) -> None:
    with ready.engine.begin() as conn:
        conn.execute(text("DELETE FROM scrip_templates WHERE queue_id IS NULL"))
    assert QuickReader.open("alice") is None


def test_an_unreachable_server_takes_the_full_path(monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2")
    assert QuickReader.open("alice") is None
