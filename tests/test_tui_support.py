"""Support for the TUI tests (no tests here): a small committed desk, keys by action id, waits."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.schemas import AttachmentIn, MessageIn, TicketCreate
from tessera.core.tickets import comment, correspond, create_ticket
from tessera.tui.actions import BY_ID

AGENT_RIGHTS = (
    "SeeQueue",
    "ShowTicket",
    "CreateTicket",
    "ModifyTicket",
    "ReplyToTicket",
    "CommentOnTicket",
    "ShowTicketComments",
    "OwnTicket",
    "TakeTicket",
)
HOSTILE_SUBJECT = (
    "[bold red]Boom[/] [/x] \x1b]52;c;aGVsbG8=\x07clip \x1b]8;;http://evil.example\x1b\\link\x1b[2J"
)
TEST_TIMEOUT = 90
FIXED_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def build_desk(db: Database) -> dict[str, int]:
    """root (superuser), alice and bob (agents); General and Network; four tickets in General."""
    with db.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        queues.create_queue(root, "General", correspond_address="help@desk.example")
        queues.create_queue(root, "Network")
        for name in ("alice", "bob"):
            users.add_user(root, name, email=f"{name}@desk.example", privileged=True)
            for right in AGENT_RIGHTS:
                grants.grant(root, right, f"user:{name}")
        ids = {}
        for key, subject, body in (
            ("printer", "Printer on fire", "It is on fire.\nPlease help."),
            ("vpn", "VPN drops every hour", "Since Monday."),
            ("hostile", HOSTILE_SUBJECT, "Body [red]not red[/red] \x1b[31mansi\x1b[0m [/x]"),
            ("laptop", "Laptop will not boot", "Black screen."),
        ):
            ticket = create_ticket(
                root,
                TicketCreate(
                    queue="General",
                    subject=subject,
                    requestors=[f"{key}@customer.example"],
                    message=MessageIn(body=body),
                ),
            )
            ids[key] = ticket.id
        correspond(
            root,
            ids["printer"],
            MessageIn(
                body="Have you tried water?",
                attachments=[
                    AttachmentIn(filename="steps.txt", content_type="text/plain", data=b"1. water\n")
                ],
            ),
        )
        comment(root, ids["printer"], MessageIn(body="Internal: it is really on fire"))
    return ids


def key(action_id: str) -> str:
    """The first key bound to an action (press keys by action id, so a rebinding cannot break tests)."""
    return BY_ID[action_id].keys.split(",")[0]


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test on a fresh event loop (no async pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT))

    return wrapper


async def settle(pilot: Any) -> None:
    """Wait for the app's database workers (not those waiting on a dialog the test must answer)."""
    for _ in range(400):
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished and w.group not in ("compose", "live")]
        if not busy:
            break
        await asyncio.sleep(0.02)
    await pilot.pause()


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting; screen is {pilot.app.screen!r}; notifications: {notes}")
        await pilot.pause(0.02)
    await pilot.pause()
