"""What every scrip action is (tessera.scrips.actions has the built-ins and the registry): an
object made per scrip run with `sc` and `argument`, whose `prepare()` computes everything and may
raise `Skip`, and whose `commit()` applies it; and the outbox row a mail action builds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from tessera.scrips import compose

if TYPE_CHECKING:
    from tessera.scrips.scrip_context import ScripContext


@dataclass(slots=True, eq=False)
class OutboxRow:
    """One `outbox` row being built: the attributes of `OutboxMessage` that the engine writes
    (with the unit's trace, in one statement)."""

    ticket_id: int | None
    transaction_id: int | None
    scrip_id: int | None
    message_id: str
    mail_from: str
    recipients: list[str]
    summary: dict[str, Any]
    message: str
    next_attempt: datetime
    created: datetime
    id: int | None = None


class Skip(Exception):
    """Prepare found nothing to do (no recipients, empty template, already in that status)."""


class ScripAction:
    uses_template: ClassVar[bool] = False
    changes_ticket: ClassVar[bool] = False
    # True: `changes` are written to the ticket with no transaction of their own (the dry-run
    # lists them itself); `commit` leaves there what it actually set.
    unrecorded: ClassVar[bool] = False

    def __init__(self, sc: ScripContext, argument: str) -> None:
        self.sc = sc
        self.argument = argument.strip()
        self.outgoing: compose.Outgoing | None = None
        self.changes: list[dict[str, Any]] = []

    def prepare(self) -> None:
        raise Skip("this action does nothing")

    def commit(self) -> None:
        return None
