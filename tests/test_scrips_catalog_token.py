"""The scrip catalog token (migration 0010): new on every catalog change, and the engine's
per-process catalog follows it, across sessions and across databases."""

from __future__ import annotations

from sqlalchemy import select, text, update

from tessera.core import queues, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import open_database
from tessera.core.models import OutboxMessage, Scrip, ScripTemplate
from tessera.core.schemas import MessageIn, TicketCreate
from tests.support import pg
from tests.support.desks import Desk


def token(desk: Desk) -> str:
    return str(desk.session.execute(text("SELECT token FROM scrip_catalog_token")).scalar_one())


def test_every_catalog_change_gives_a_new_token_and_ticket_work_does_not(desk: Desk) -> None:
    seen = {token(desk)}

    def changed() -> bool:
        desk.session.flush()
        now = token(desk)
        fresh = now not in seen
        seen.add(now)
        return fresh

    scrip = desk.add_scrip("extra", action="SetPriority", action_argument="+1", condition="OnCreate")
    assert changed()
    scrip.enabled = False
    assert changed()
    desk.session.add(ScripTemplate(name="Extra", content="Subject: x\n\nbody"))
    assert changed()
    desk.session.execute(update(ScripTemplate).where(ScripTemplate.name == "Extra").values(content="y"))
    assert changed()
    queues.create_queue(desk.root, "Sales")
    assert changed()
    desk.session.delete(scrip)
    assert changed()
    ticket = desk.ticket()
    tickets.set_status(desk.root, ticket.id, "open")
    assert not changed()


def test_a_scrip_disabled_by_another_connection_stops_firing_here(database) -> None:
    with database.session() as mine, database.session() as other:
        bootstrap(mine, "root")
        ctx = open_context(mine, "root")
        queues.create_queue(ctx, "General", correspond_address="help@desk.example")

        def autoreplies() -> int:
            tickets.create_ticket(
                ctx,
                TicketCreate(
                    queue="General", subject="hi", requestors=["c@example.com"], message=MessageIn(body="x")
                ),
            )
            return len(mine.scalars(select(OutboxMessage)).all())

        assert autoreplies() == 1  # the catalog is now parsed and kept by this process
        other.execute(update(Scrip).where(Scrip.action == "AutoReply").values(enabled=False))
        other.commit()
        assert autoreplies() == 1  # no new autoreply: the kept catalog was dropped


def test_clones_of_one_desk_never_share_a_kept_catalog(pg_server, template_db) -> None:
    """A process that talks to two databases (cloned from one template, so starting with the same
    token) must see each one's own scrips."""
    urls = [pg.clone(pg_server, template_db, prefix="tessera_tok") for _ in range(2)]
    try:
        counts = []
        for n, url in enumerate(urls):
            db = open_database(url)
            try:
                with db.session() as s:
                    bootstrap(s, "root")
                    ctx = open_context(s, "root")
                    queues.create_queue(ctx, "General", correspond_address="help@desk.example")
                    if n == 1:
                        s.execute(update(Scrip).values(enabled=False))
                        s.commit()
                    tickets.create_ticket(
                        ctx, TicketCreate(queue="General", subject="hi", requestors=["c@example.com"])
                    )
                    counts.append(len(s.scalars(select(OutboxMessage)).all()))
            finally:
                db.dispose()
        assert counts == [1, 0]
    finally:
        for url in urls:
            pg.drop(url)


def test_two_catalog_writers_queue_up_instead_of_deadlocking(db_url, database) -> None:
    """One edits a scrip then a queue, the other the same queue: the token is taken before any
    catalog row, so the second waits for the first instead of a deadlock."""
    import threading

    import psycopg

    from tests.support.lockwait import wait_for_waiters

    with database.session() as s:
        bootstrap(s, "root")
        queues.create_queue(open_context(s, "root"), "General")
        s.commit()
    conninfo = pg.conninfo(db_url)
    errors: list[str] = []
    with psycopg.connect(conninfo) as one, psycopg.connect(conninfo) as two:
        one.execute("UPDATE scrips SET description = description WHERE id = (SELECT min(id) FROM scrips)")

        def second() -> None:
            try:
                two.execute("UPDATE queues SET description = 'two' WHERE name = 'General'")
                two.commit()
            except psycopg.Error as exc:
                errors.append(type(exc).__name__)

        thread = threading.Thread(target=second)
        thread.start()
        wait_for_waiters(  # the second writer queues up behind the first's catalog token
            database,
            pids=[two.info.backend_pid],
            gone=lambda: None if thread.is_alive() else f"the second writer did not wait: {errors}",
        )
        try:
            one.execute("UPDATE queues SET description = 'one' WHERE name = 'General'")
            one.commit()
        except psycopg.Error as exc:
            errors.append(type(exc).__name__)
        thread.join(10)
        final = one.execute("SELECT description FROM queues WHERE name = 'General'").fetchone()
    assert errors == [] and final == ("two",)
