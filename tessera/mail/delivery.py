"""Delivery of the outbox over SMTP: many workers at once, each message sent once, none lost.

A worker takes one due message at a time with `SELECT ... FOR UPDATE SKIP LOCKED` and keeps the
row locked while it talks to the SMTP server; it marks the row sent in the same database
transaction, so two workers never pick the same message. When SMTP fails, the message stays in the
outbox with `attempts + 1` and `next_attempt` pushed back (exponential backoff, capped); after
`max_attempts` it is marked `failed` with the last error. Messages are taken in outbox order.

Settings (environment): TESSERA_SMTP_HOST (default localhost), TESSERA_SMTP_PORT (25, or 465 with
tls), TESSERA_SMTP_USER / TESSERA_SMTP_PASSWORD (login when set), TESSERA_SMTP_TLS (none, starttls,
tls), TESSERA_SMTP_CA_FILE (CA bundle that signs the server's certificate, when it is not a public
one), TESSERA_SMTP_TIMEOUT (seconds, 30), TESSERA_SMTP_RETRY_BASE (seconds, 60),
TESSERA_SMTP_RETRY_MAX (seconds, 3600), TESSERA_SMTP_MAX_ATTEMPTS (20).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tessera.core.db import Database
from tessera.core.errors import ConfigError
from tessera.core.models import OutboxMessage

TLS_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = None
    tls: str = "none"
    ca_file: str | None = None
    timeout: float = 30.0
    retry_base: float = 60.0
    retry_max: float = 3600.0
    max_attempts: int = 20

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SmtpSettings:
        env = dict(os.environ if env is None else env)
        tls = (env.get("TESSERA_SMTP_TLS") or "none").strip().lower()
        if tls not in TLS_MODES:
            raise ConfigError(f"TESSERA_SMTP_TLS is {tls!r}; use one of {', '.join(TLS_MODES)}")

        def number(name: str, default: float, kind: type = float) -> float:
            raw = (env.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} is {raw!r}; expected a number") from None
            if value < 0:
                raise ConfigError(f"{name} may not be negative")
            return value

        return cls(
            host=(env.get("TESSERA_SMTP_HOST") or "localhost").strip(),
            port=int(number("TESSERA_SMTP_PORT", 465 if tls == "tls" else 25, int)),
            user=env.get("TESSERA_SMTP_USER") or None,
            password=env.get("TESSERA_SMTP_PASSWORD") or None,
            tls=tls,
            ca_file=env.get("TESSERA_SMTP_CA_FILE") or None,
            timeout=number("TESSERA_SMTP_TIMEOUT", 30.0),
            retry_base=number("TESSERA_SMTP_RETRY_BASE", 60.0),
            retry_max=number("TESSERA_SMTP_RETRY_MAX", 3600.0),
            max_attempts=int(number("TESSERA_SMTP_MAX_ATTEMPTS", 20, int)),
        )

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_max, self.retry_base * (2 ** max(0, attempts - 1))))


class SmtpConnection:
    """One SMTP session, opened on first use and reused for the messages of a run."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        smtp: smtplib.SMTP
        if s.tls == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.tls == "starttls":
                smtp.starttls(context=context)
        if s.user:
            smtp.login(s.user, s.password or "")
        return smtp

    def send(self, mail_from: str, recipients: list[str], message: str) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        refused = self._smtp.sendmail(mail_from, recipients, message.encode("utf-8"))
        if refused and len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


@dataclass
class RunResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def deliver_one(session: Session, conn: SmtpConnection, settings: SmtpSettings, result: RunResult) -> bool:
    """Send the oldest due message nobody else holds; False when there is none."""
    row = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt <= func.now())
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        session.rollback()
        return False
    try:
        conn.send(row.mail_from, list(row.recipients), row.message)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        conn.close()
        attempts = row.attempts + 1
        permanent = isinstance(exc, smtplib.SMTPRecipientsRefused) or (
            isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600
        )
        failed = permanent or attempts >= settings.max_attempts
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(
                attempts=attempts,
                last_error=_error_text(exc),
                status="failed" if failed else "pending",
                next_attempt=datetime.now(UTC) + settings.backoff(attempts),
            )
        )
        session.commit()
        if failed:
            result.failed += 1
        else:
            result.retried += 1
        raise DeliveryPaused(_error_text(exc)) from None
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(status="sent", sent_at=datetime.now(UTC), attempts=row.attempts + 1, last_error=None)
    )
    session.commit()
    result.sent += 1
    return True


class DeliveryPaused(Exception):
    """SMTP failed: stop this round, the message waits for its next attempt."""


def deliver_due(db: Database, settings: SmtpSettings | None = None, *, limit: int | None = None) -> RunResult:
    """Send every due message (until none is due, SMTP fails, or `limit` messages were handled)."""
    settings = settings or SmtpSettings.from_env()
    result = RunResult()
    conn = SmtpConnection(settings)
    try:
        with db.session() as session:
            while limit is None or result.sent + result.failed + result.retried < limit:
                try:
                    if not deliver_one(session, conn, settings, result):
                        break
                except DeliveryPaused:
                    break
    finally:
        conn.close()
    return result


def pending_count(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
            )
            or 0
        )


def run_worker(
    db: Database,
    settings: SmtpSettings | None = None,
    *,
    poll: float = 2.0,
    should_stop: Callable[[], bool] = lambda: False,
    report: Callable[[RunResult], None] | None = None,
) -> None:
    """Deliver forever: drain what is due, then sleep `poll` seconds (woken early by nothing else)."""
    settings = settings or SmtpSettings.from_env()
    while not should_stop():
        result = deliver_due(db, settings)
        if report is not None and (result.sent or result.failed or result.retried):
            report(result)
        if result.sent == 0 or result.retried:
            time.sleep(poll)
