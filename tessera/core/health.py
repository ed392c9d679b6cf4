"""What a monitor asks of the desk: is the database there, is its schema current, is mail flowing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from tessera.core.db import Database
from tessera.core.models import OutboxMessage


@dataclass(frozen=True)
class Health:
    database: bool
    schema_current: bool
    revision: str | None
    head: str | None
    outbox_pending: int
    outbox_oldest_pending_seconds: float | None
    outbox_failed: int

    @property
    def ok(self) -> bool:
        return self.database and self.schema_current


def check(db: Database) -> Health:
    """One short read; raises DatabaseUnavailable when the server does not answer."""
    from tessera.core.migrate import current_revision, head_revision

    revision, head = current_revision(db), head_revision()
    with db.session() as session:
        pending, first = session.execute(
            select(func.count(), func.min(OutboxMessage.created)).where(
                OutboxMessage.status.in_(("pending", "sending"))  # not delivered yet
            )
        ).one()
        failed = session.scalar(select(func.count()).where(OutboxMessage.status == "failed")) or 0
    oldest: datetime | None = first  # min() of no rows is NULL
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else None
    return Health(True, revision == head, revision, head, pending, age, failed)
