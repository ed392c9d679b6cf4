"""`tickets.requestor` (migration 0011) always equals what the per-row subquery it replaced gave:
the least of the requestors' addresses (or names), whatever changed the watchers or the users."""

from __future__ import annotations

from sqlalchemy import text

from tessera.core import users, watchers
from tessera.core.links import merge
from tessera.core.schemas import TicketCreate
from tessera.core.tickets import create_ticket

_DRIFT = text(
    """
    SELECT t.id, t.requestor, (SELECT min(coalesce(u.email, u.name)) FROM watchers w
                               JOIN users u ON u.id = w.user_id
                               WHERE w.ticket_id = t.id AND w.role = 'Requestor') AS expected
      FROM tickets t
    """
)


def drift(session) -> list[tuple[int, str | None, str | None]]:
    session.flush()
    return [tuple(r) for r in session.execute(_DRIFT) if r[1] != r[2]]


def requestor_of(session, ticket_id: int) -> str | None:
    return session.execute(text("SELECT requestor FROM tickets WHERE id = :i"), {"i": ticket_id}).scalar()


def test_kept_through_create_watchers_users_and_merge(desk) -> None:
    s = desk.session
    one = desk.ticket(requestors=["zed@example.com", "amy@example.com"])
    assert requestor_of(s, one.id) == "amy@example.com"
    none = create_ticket(desk.root, TicketCreate(queue="General", subject="no one", requestors=[]))
    assert requestor_of(s, none.id) is None
    watchers.add_watcher(desk.root, none.id, "Requestor", "bob@example.com")
    assert requestor_of(s, none.id) == "bob@example.com"
    watchers.add_watcher(desk.root, none.id, "Cc", "aaron@example.com")  # not a requestor
    assert requestor_of(s, none.id) == "bob@example.com"
    watchers.remove_watcher(desk.root, one.id, "Requestor", "amy@example.com")
    assert requestor_of(s, one.id) == "zed@example.com"
    users.update_user(desk.root, "zed@example.com", {"email": "Anna@example.com"})
    assert requestor_of(s, one.id) == "Anna@example.com"
    merge(desk.root, none.id, one.id)  # bob moves over to the survivor
    assert requestor_of(s, one.id) == "Anna@example.com"
    watchers.remove_watcher(desk.root, one.id, "Requestor", "Anna@example.com")
    assert requestor_of(s, one.id) == "bob@example.com"
    desk.ticket(requestors=["carol@example.com"], body="x")
    assert drift(s) == []


def test_kept_through_raw_sql_and_bulk_rows(desk) -> None:
    """What no core code path does, the triggers still catch: a role changed in place, rows
    moved between tickets, many rows in one statement."""
    s = desk.session
    a, b = desk.ticket(), desk.ticket(requestors=["x@example.com"])
    s.execute(text("UPDATE watchers SET role = 'Cc' WHERE ticket_id = :a"), {"a": a.id})
    assert requestor_of(s, a.id) is None
    s.execute(text("UPDATE watchers SET ticket_id = :a WHERE ticket_id = :b"), {"a": a.id, "b": b.id})
    assert (requestor_of(s, a.id), requestor_of(s, b.id)) == ("x@example.com", None)
    s.execute(
        text(
            "INSERT INTO watchers (ticket_id, role, user_id)"
            " SELECT t.id, 'Requestor', (SELECT id FROM users WHERE name = 'root') FROM tickets t"
        )
    )
    assert drift(s) == []
    s.execute(text("DELETE FROM watchers"))
    assert drift(s) == [] and requestor_of(s, a.id) is None


def test_the_demo_seed_by_copy_leaves_no_drift(desk) -> None:
    from tessera.core import demo

    demo.seed(desk.root, tickets=40)
    assert drift(desk.session) == []
    assert desk.session.execute(text("SELECT count(requestor) FROM tickets")).scalar() >= 40


# -- concurrency: a trigger that waited on a ticket's lock must not write a value from before ----

_STORED_AND_EXPECTED = """
    SELECT t.requestor, (SELECT min(coalesce(u.email, u.name)) FROM watchers w
                         JOIN users u ON u.id = w.user_id
                         WHERE w.ticket_id = t.id AND w.role = 'Requestor')
      FROM tickets t WHERE t.id = %s
"""


def _two_requestor_ticket(database) -> int:
    from tests.support.desks import make_desk

    with database.session() as s:
        desk = make_desk(s)
        s.commit()
        return create_ticket(
            desk.root,
            TicketCreate(queue="General", subject="race", requestors=["a@example.com", "b@example.com"]),
        ).id


def _race(database, first_sql: list[tuple[str, tuple]], second_sql: str) -> None:
    """`first_sql` in one transaction; `second_sql` in another that has to wait for it (seen waiting
    on a lock); then the first commits."""
    import threading

    import psycopg

    from tests.support import pg
    from tests.support.lockwait import wait_for_waiters

    conninfo = pg.conninfo(database.url)
    with psycopg.connect(conninfo) as one, psycopg.connect(conninfo) as two:
        for sql, params in first_sql:
            one.execute(sql, params)
        failures: list[BaseException] = []

        def second() -> None:
            try:
                two.execute(second_sql)
                two.commit()
            except BaseException as exc:  # reported by the test, not lost in the thread
                failures.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        wait_for_waiters(
            database,
            pids=[two.info.backend_pid],
            gone=lambda: None if thread.is_alive() else f"the second transaction did not wait: {failures}",
        )
        one.commit()
        thread.join(10)
        assert not failures and not thread.is_alive()


def test_two_requestors_changing_address_at_once(db_url, database) -> None:
    import psycopg

    from tests.support import pg

    ticket = _two_requestor_ticket(database)
    _race(
        database,
        [("UPDATE users SET email = 'y@example.com' WHERE email = 'a@example.com'", ())],
        "UPDATE users SET email = 'z@example.com' WHERE email = 'b@example.com'",
    )
    with psycopg.connect(pg.conninfo(db_url)) as conn:
        stored, expected = conn.execute(_STORED_AND_EXPECTED, (ticket,)).fetchone()
    assert stored == expected == "y@example.com"


def test_an_address_change_waiting_on_a_requestor_being_added(db_url, database) -> None:
    import psycopg

    from tests.support import pg

    ticket = _two_requestor_ticket(database)
    _race(
        database,
        [  # as watchers.add_watcher does: the ticket locked, then the requestor added
            ("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket,)),
            ("INSERT INTO users (name, email) VALUES ('0c@example.com', '0c@example.com')", ()),
            (
                "INSERT INTO watchers (ticket_id, role, user_id)"
                " SELECT %s, 'Requestor', id FROM users WHERE email = '0c@example.com'",
                (ticket,),
            ),
        ],
        "UPDATE users SET email = 'y@example.com' WHERE email = 'a@example.com'",
    )
    with psycopg.connect(pg.conninfo(db_url)) as conn:
        stored, expected = conn.execute(_STORED_AND_EXPECTED, (ticket,)).fetchone()
    assert stored == expected == "0c@example.com"


def test_truncating_the_watchers_clears_it(desk) -> None:
    s = desk.session
    desk.ticket(requestors=["x@example.com"])
    s.execute(text("TRUNCATE watchers"))
    assert drift(s) == []
