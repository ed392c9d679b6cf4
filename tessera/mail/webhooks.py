"""Webhook delivery: the outbox's POSTs, signed, retried with the mail's backoff.

A webhook scrip writes its POST to the outbox in the change's own transaction (so it goes out only
if the change committed); `tessera worker` sends it here. The body is signed with the scrip's
secret: `Tessera-Signature: v1=HEX` where HEX is HMAC-SHA256(secret, "<Tessera-Timestamp>.<body>"),
so a receiver can refuse a forged or replayed POST (check the timestamp is recent).
`Tessera-Delivery` is the same on every retry of one POST: a receiver can drop a repeat.
A receiver that is down delays only its own POSTs, never the mail.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from tessera.core.db import Database
from tessera.core.models import OutboxMessage
from tessera.core.webhook_secrets import secret_for

WEBHOOK_SENDER = ""  # a webhook row has no mail sender: that is how the two kinds are told apart
TIMEOUT_S = 10.0


def signature(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"v1={digest}"


class Refused(Exception):
    """The receiver answered with a status retrying will not change (4xx other than 408/429)."""


def post(url: str, body: str, secret: str, delivery_id: str, *, timeout: float = TIMEOUT_S) -> int:
    timestamp = int(time.time())
    response = httpx.post(
        url,
        content=body.encode(),
        timeout=timeout,
        follow_redirects=False,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Tessera-Webhook/1",
            "Tessera-Delivery": delivery_id,
            "Tessera-Timestamp": str(timestamp),
            "Tessera-Signature": signature(secret, timestamp, body),
        },
    )
    if 200 <= response.status_code < 300:
        return response.status_code
    message = f"HTTP {response.status_code} from {url}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise Refused(message)
    raise httpx.HTTPStatusError(message, request=response.request, response=response)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:2000]


def deliver_webhooks(
    db: Database, backoff: Callable[[int], timedelta], max_attempts: int
) -> tuple[int, int, int]:
    """POST every due webhook; (sent, retried, failed). `backoff(attempts)` gives the delay."""
    sent = retried = failed = 0
    tried: list[int] = []  # each POST once per run, however short its backoff
    with db.session() as session:
        while True:
            row = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.mail_from == WEBHOOK_SENDER,
                    OutboxMessage.next_attempt <= func.now(),
                    OutboxMessage.id.not_in(tried),
                )
                .order_by(OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                session.rollback()
                break
            attempts = row.attempts + 1
            tried.append(row.id)
            try:
                if row.scrip_id is None:
                    raise Refused("its scrip was deleted, and with it the signing secret")
                post(row.recipients[0], row.message, secret_for(session, row.scrip_id), row.message_id)
            except (Refused, httpx.HTTPError, OSError) as exc:
                permanent = isinstance(exc, Refused) or attempts >= max_attempts
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(
                        attempts=attempts,
                        last_error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[
                            :2000
                        ],
                        status="failed" if permanent else "pending",
                        next_attempt=datetime.now(UTC) + backoff(attempts),
                    )
                )
                session.commit()
                failed, retried = failed + permanent, retried + (not permanent)
                continue
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(status="sent", sent_at=datetime.now(UTC), attempts=attempts, last_error=None)
            )
            session.commit()
            sent += 1
    return sent, retried, failed
