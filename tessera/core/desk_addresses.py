"""The desk's own mail addresses, which can never watch a ticket or a queue.

Every queue's correspond and comment address, and the desk's fallback sender
(`TESSERA_MAIL_FROM`), receive the desk's own mail: as a Requestor, Cc or AdminCc one would make the
desk mail itself, a loop (RT refuses them the same way, `RT::Interface::Email::IsRTAddress` in
`AddWatcher`). Core refuses them on every path that adds a watcher: ticket creation, adding a
watcher, a queue's watchers (so the CLI, the API, the TUI and the mail gateway alike). The gateway
leaves them out of a new ticket's Cc list silently, as RT does, before core sees them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from tessera.core.errors import InvalidInput
from tessera.core.models import Queue, User

MAIL_FROM_ENV = "TESSERA_MAIL_FROM"
DEFAULT_DOMAIN = "tessera.localhost"

# One column: every queue's addresses, lower-cased (NULLs included; the caller skips them). A
# scalar subquery, so a statement that already reads the queue can carry it (`tickets`).
_EVERY_QUEUE = aliased(Queue)  # never correlated with a queue the enclosing statement reads
ALL_QUEUE_ADDRESSES = (
    select(
        func.array_cat(
            func.array_agg(func.lower(_EVERY_QUEUE.correspond_address)),
            func.array_agg(func.lower(_EVERY_QUEUE.comment_address)),
        )
    )
    .select_from(_EVERY_QUEUE)
    .correlate(None)
    .scalar_subquery()
)


def fallback_address() -> str:
    """The desk's sender when a queue has no address of its own (`TESSERA_MAIL_FROM`)."""
    return os.environ.get(MAIL_FROM_ENV) or f"tessera@{DEFAULT_DOMAIN}"


def desk_addresses(session: Session, queue_addresses: Iterable[str | None] | None = None) -> set[str]:
    """The desk's own addresses, lower-cased. `queue_addresses`: `ALL_QUEUE_ADDRESSES` already read."""
    if queue_addresses is None:
        queue_addresses = session.execute(select(ALL_QUEUE_ADDRESSES)).scalar() or []
    found = {a.strip().lower() for a in queue_addresses if a}
    found.add(fallback_address().strip().lower())
    return found


def loop_address(user: User | None, given: str, own: set[str]) -> str | None:
    """The desk address `given` (or the user it names) stands for, else None."""
    for candidate in (given, user.email if user is not None else None):
        if candidate and candidate.strip().lower() in own:
            return candidate.strip()
    return None


def refuse(address: str, role: str, where: str) -> InvalidInput:
    """The one-line refusal of a desk address as a watcher."""
    article = "an" if role[:1] in "AEIOU" else "a"
    return InvalidInput(
        f"{address} is one of the desk's own addresses (a queue's correspond or comment address, or "
        f"{MAIL_FROM_ENV}): it cannot be {article} {role} of {where}, the desk would mail itself"
    )


def check_watcher(session: Session, user: User | None, given: str, role: str, where: str) -> None:
    """Refuse `given` (an address or a user's name; `user` when known) as a watcher if it is the desk's."""
    own = desk_addresses(session)
    found = loop_address(user, given, own)
    if found is not None:
        raise refuse(found, role, where)
