"""Each webhook scrip's signing secret, made on first need and kept until rotated."""

from __future__ import annotations

import secrets

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from tessera.core.models import WebhookSecret

SECRET_PREFIX = "whsec_"


def _new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_for(session: Session, scrip_id: int) -> str:
    """The scrip's secret, made now if it has none (two makers at once agree on one)."""
    session.execute(
        text(
            "INSERT INTO webhook_secrets (scrip_id, secret) VALUES (:scrip, :secret) "
            "ON CONFLICT (scrip_id) DO NOTHING"
        ),
        {"scrip": scrip_id, "secret": _new()},
    )
    found = session.scalar(select(WebhookSecret.secret).where(WebhookSecret.scrip_id == scrip_id))
    assert found is not None
    return found


def rotate(session: Session, scrip_id: int) -> str:
    secret_for(session, scrip_id)
    fresh = _new()
    session.execute(update(WebhookSecret).where(WebhookSecret.scrip_id == scrip_id).values(secret=fresh))
    return fresh
