"""Two agents edit one ticket at the same moment, from the same version: one wins, the other is told.

Unlike a check made before the write, the version is compared under the row lock: the second edit
waits for the first to commit, then sees the new version and is refused; neither edit is lost."""

from __future__ import annotations

import threading

import pytest

from tessera.core import tickets
from tessera.core.context import add_observer, open_context, remove_observer
from tessera.core.errors import Conflict


@pytest.mark.parametrize("second", ["subject", "status"])
def test_simultaneous_edits_from_one_version(database, ticket_id, second) -> None:  # type: ignore[no-untyped-def]
    with database.session() as s:
        version = tickets.get_ticket(open_context(s, "root"), ticket_id).version
    a_holds_lock, b_started = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold_until_b_waits(ctx, txns) -> None:  # type: ignore[no-untyped-def]
        # Runs inside A's operation, after its UPDATE, before its commit: the row is locked.
        if threading.current_thread().name == "a":
            a_holds_lock.set()
            assert b_started.wait(10)
            threading.Event().wait(0.5)  # B is now blocked on the row lock

    def edit(name: str, changes: dict[str, str]) -> None:
        try:
            with database.session() as s:
                ctx = open_context(s, "root")
                if name == "b":
                    assert a_holds_lock.wait(10)
                    b_started.set()
                tickets.set_fields(ctx, ticket_id, changes, expected_version=version)
                outcome[name] = "saved"
        except Conflict as exc:
            outcome[name] = exc
        except BaseException as exc:  # surfaced below
            outcome[name] = repr(exc)

    add_observer(hold_until_b_waits)
    try:
        threads = [
            threading.Thread(target=edit, name="a", args=("a", {"priority": "9"})),
            threading.Thread(
                target=edit, name="b", args=("b", {second: "open" if second == "status" else "B"})
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        remove_observer(hold_until_b_waits)
    assert outcome["a"] == "saved", outcome
    assert isinstance(outcome["b"], Conflict), outcome
    assert f"version {version}, now {version + 1}" in str(outcome["b"])
    with database.session() as s:
        t = tickets.get_ticket(open_context(s, "root"), ticket_id)
        assert (t.priority, t.subject, t.status, t.version) == (9, "shared", "new", version + 1)
