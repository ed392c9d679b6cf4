"""Delivery of the outbox over SMTP: many workers at once, each message sent once where it is
cheap to know, at least once always, none lost.

A message goes pending -> sending -> pending again, sent or failed, each step committed on its own:

1. Claim: one statement takes the oldest due message nobody else holds (`FOR UPDATE SKIP LOCKED`),
   marks it `sending` with the worker's backend (`claimed_by`, `claimed_at`) and counts the
   attempt; committed before the SMTP transaction starts, so no row lock is held while SMTP talks.
2. The SMTP transaction, to the recipients still owed the message: those not tried yet and the
   deferred whose time has come (see `tessera.core.outgoing`).
3. Each of them marked in the very next statement after the server's answer: accepted, refused
   (5xx, with the reply) or deferred (4xx, a failed connection: that recipient's own backoff,
   exponential and capped; refused once `max_attempts` is reached). The message is `sent` when
   all were accepted, `failed` when all are done and one was refused, else pending until its
   earliest deferred recipient is due. A refusal is recorded on the ticket in the same database
   transaction as the outcome.

A worker killed between 1 and 3 leaves its message `sending`. Another worker (or the same one
restarted) takes it again once the claiming backend is gone (PostgreSQL ends it when the worker's
connection drops) or, when it cannot tell (a pooler in between), after the lease
(TESSERA_SMTP_LEASE, 600 s). Re-sent (to the recipients of the interrupted attempt, never to those
an earlier attempt had marked), it carries the same Message-ID and its row says it was
interrupted (`last_error`); it reaches a recipient twice only when the kill fell between the
server's 250 and step 3 (a few milliseconds), so at most one duplicate per killed worker. A round
stops at a failure of the server or the network as a whole (the next message would fail alike),
and tries a message at most once (a recipient deferred in it waits for the next round). An error
that would happen again (a message smtplib cannot encode) refuses its recipients. Messages are
taken in outbox order.

Settings (environment): TESSERA_SMTP_HOST (default localhost), TESSERA_SMTP_PORT (25, or 465 with
tls), TESSERA_SMTP_USER / TESSERA_SMTP_PASSWORD (login when set), TESSERA_SMTP_TLS (none, starttls,
tls), TESSERA_SMTP_CA_FILE (CA bundle that signs the server's certificate, when it is not a public
one), TESSERA_SMTP_TIMEOUT (seconds, 30), TESSERA_SMTP_RETRY_BASE (seconds, 60),
TESSERA_SMTP_RETRY_MAX (seconds, 3600), TESSERA_SMTP_MAX_ATTEMPTS (20), TESSERA_SMTP_LEASE (600).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, text

from tessera.core import clock
from tessera.core.db import Database
from tessera.core.errors import ConfigError
from tessera.core.models import OutboxMessage
from tessera.core.outgoing import ACCEPTED, DEFERRED, DONE, REFUSED, record_outcome
from tessera.mail.webhooks import WEBHOOK_SENDER, deliver_webhooks
from tessera.scrips import compose

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
    lease: float = 600.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SmtpSettings:
        env = dict(os.environ if env is None else env)
        tls = (env.get("TESSERA_SMTP_TLS") or "none").strip().lower()
        if tls not in TLS_MODES:
            raise ConfigError(f"TESSERA_SMTP_TLS is {tls!r}; use one of {', '.join(TLS_MODES)}")

        def number(name: str, default: float, kind: Callable[[str], float] = float) -> float:
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
            lease=number("TESSERA_SMTP_LEASE", 600.0),
        )

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_max, self.retry_base * (2 ** max(0, attempts - 1))))


class SmtpUnavailable(Exception):
    """The SMTP session could not be opened (connecting, STARTTLS, logging in), or the server
    wants a login or TLS before it takes any mail: the settings' or the server's trouble, never
    the message's. The message waits (deferred), and the round stops: a 5xx here (a wrong
    password: 535, TLS required: 530) would refuse every message of the outbox for good."""


# The server asks for what the settings did not give (RFC 4954: authentication required; also
# sent for "Must issue a STARTTLS command first"): no message can be sent before that is fixed.
_SESSION_CODES = frozenset({530})


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

    def send(self, mail_from: str, recipients: list[str], message: str) -> dict[str, tuple[int, bytes]]:
        """One SMTP transaction; returns the recipients the server refused at RCPT TO (code and
        reply), the others having accepted the message. Raises when the transaction failed as a
        whole (smtplib.SMTPRecipientsRefused when every recipient was refused)."""
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except Exception as exc:
                raise SmtpUnavailable(_session_error(exc)) from exc
        try:
            refused = self._smtp.sendmail(mail_from, recipients, message.encode("utf-8"))
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in _SESSION_CODES:
                raise SmtpUnavailable(_session_error(exc)) from exc
            raise
        if refused and len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        return dict(refused)

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
    # Why this round stopped early: the SMTP server or the network failed as a whole (not in the
    # JSON: its keys are the counts alone).
    smtp_error: str | None = None

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


INTERRUPTED = "interrupted while sending (the worker stopped); sent again: it may arrive twice"

# A claim: the message marked in flight, by this connection's backend, in the statement that picks
# it. Two kinds: a due pending message, or one left `sending` by a worker that is gone (its backend
# no longer runs, or the lease has run out). Webhooks (no sender) are mail.webhooks' to send.
# "Due" is by the desk's clock as well as the server's: a message is queued at the desk's moment
# (`ctx.now`), so under a clock set ahead (TESSERA_CLOCK, a timer tried at a future moment) it is
# sent at once, and its retries are counted from that moment too (the claim returns it as `now`).
_CLAIM_PENDING = """
    UPDATE outbox AS o
       SET status = 'sending', claimed_at = now(), claimed_by = pg_backend_pid(), attempts = o.attempts + 1
     WHERE o.id = (SELECT id FROM outbox
                    WHERE status = 'pending' AND next_attempt <= greatest(now(), :desk_now)
                      AND mail_from <> :webhook
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.mail_from, o.recipients, o.message, o.attempts, o.delivery, o.ticket_id,
              greatest(now(), :desk_now), o.last_error
    """
_CLAIM_ABANDONED = """
    UPDATE outbox AS o
       SET status = 'sending', claimed_at = now(), claimed_by = pg_backend_pid(), attempts = o.attempts + 1,
           last_error = :interrupted
     WHERE o.id = (SELECT id FROM outbox
                    WHERE status = 'sending' AND mail_from <> :webhook
                      AND (claimed_at < now() - make_interval(secs => :lease)
                           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                           WHERE a.pid = outbox.claimed_by
                                             AND coalesce(a.backend_start <= outbox.claimed_at, true)))
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.mail_from, o.recipients, o.message, o.attempts, o.delivery, o.ticket_id, now(),
              o.last_error
    """
_OUTCOME = """
    UPDATE outbox SET status = :status, delivery = CAST(:delivery AS jsonb), last_error = :last_error,
                      next_attempt = :next_attempt, sent_at = coalesce(:sent_at, sent_at),
                      claimed_at = NULL, claimed_by = NULL
     WHERE id = :id
    """


@dataclass(frozen=True)
class Claimed:
    id: int
    mail_from: str
    recipients: list[str]
    message: str
    attempts: int
    delivery: dict[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_error: str | None = None

    def due(self) -> list[str]:
        """The recipients to try now: those not tried yet, and the deferred whose time has come
        (never those who accepted it or were refused)."""
        out = []
        for address in self.recipients:
            got = self.delivery.get(address)
            if got is None:
                out.append(address)
            elif got.get("state") == DEFERRED:
                at = got.get("next_attempt")
                if at is None or datetime.fromisoformat(at) <= self.now:
                    out.append(address)
        return out


def claim(link: Connection, settings: SmtpSettings, *, abandoned: bool = False) -> Claimed | None:
    """Mark the next message in flight and commit; None when there is none of that kind."""
    if abandoned:
        params = {"interrupted": INTERRUPTED, "lease": settings.lease, "webhook": WEBHOOK_SENDER}
        row = link.execute(text(_CLAIM_ABANDONED), params).first()
    else:
        row = link.execute(text(_CLAIM_PENDING), {"webhook": WEBHOOK_SENDER, "desk_now": clock.now()}).first()
    link.commit()
    if row is None:
        return None
    return Claimed(row[0], row[1], list(row[2]), row[3], row[4], dict(row[5] or {}), row[6], row[7], row[8])


def _session_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return _error_text(exc)


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, SmtpUnavailable):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    # Not the network's nor the server's doing (a message smtplib cannot encode): it would fail again.
    return not isinstance(exc, (TimeoutError, smtplib.SMTPException, OSError))


def _reply(code: int | None, text: bytes | str) -> str:
    """The server's reply as one line of printable text (it reaches terminals and mail), bounded."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    clean = " ".join("".join(ch if ch.isprintable() else " " for ch in raw).split())[:MAX_REPLY]
    return f"{code} {clean}".strip() if code is not None else clean


MAX_REPLY = 500


def _classified(code: int, text: bytes) -> tuple[str, int | None, str]:
    return (REFUSED if 500 <= code < 600 else DEFERRED), code, _reply(code, text)


def _attempt(
    conn: SmtpConnection, message: Claimed, to: list[str]
) -> tuple[dict[str, tuple[str, int | None, str]], bool]:
    """One SMTP transaction to `to`: each recipient's (state, code, reply), and whether the
    failure was the server's or the network's as a whole (then this round stops: the next
    message would fail the same way)."""
    try:
        # Folded again if it was stored unfolded (a row from before outgoing headers were folded).
        refused = conn.send(message.mail_from, to, compose.sendable(message.message))
    except smtplib.SMTPRecipientsRefused as exc:
        conn.close()
        if exc.recipients and all(code in _SESSION_CODES for code, _ in exc.recipients.values()):
            why = _reply(*next(iter(exc.recipients.values())))  # a login wanted before any RCPT
            return {a: (DEFERRED, None, why) for a in to}, True
        said = {a: _classified(code, text) for a, (code, text) in exc.recipients.items()}
        return {a: said.get(a, (DEFERRED, None, "no answer")) for a in to}, False
    except Exception as exc:
        conn.close()
        permanent = _permanent(exc)
        code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
        if isinstance(exc, SmtpUnavailable):
            why = str(exc)
        elif isinstance(exc, smtplib.SMTPResponseException):
            why = _reply(code, exc.smtp_error)
        else:
            why = _reply(None, _error_text(exc))
        state = REFUSED if permanent else DEFERRED
        return {a: (state, code, why) for a in to}, not permanent
    results: dict[str, tuple[str, int | None, str]] = {a: (ACCEPTED, 250, "") for a in to}
    results.update({a: _classified(code, text) for a, (code, text) in refused.items() if a in results})
    return results, False


def settle(
    message: Claimed, results: dict[str, tuple[str, int | None, str]], settings: SmtpSettings
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The message's outbox columns after `results`, and the recipients refused by them."""
    now = message.now
    delivery = dict(message.delivery)
    refused: list[dict[str, Any]] = []
    for address, (state, code, reply) in results.items():
        attempts = int((delivery.get(address) or {}).get("attempts") or 0) + 1
        entry: dict[str, Any] = {
            "state": state, "code": code, "reply": reply or None, "attempts": attempts,
            "at": now.isoformat(), "next_attempt": None,
        }  # fmt: skip
        if state == DEFERRED:
            if attempts >= settings.max_attempts:
                entry["state"] = REFUSED
                entry["reply"] = f"given up after {attempts} attempts: {reply}"
            else:
                entry["next_attempt"] = (now + settings.backoff(attempts)).isoformat()
        if entry["state"] == REFUSED:
            refused.append({"address": address, "code": code, "reply": entry["reply"]})
        delivery[address] = entry
    states = [(delivery.get(a) or {}).get("state") for a in message.recipients]
    waits = [
        datetime.fromisoformat(d["next_attempt"]) if d.get("next_attempt") else now
        for a in message.recipients
        if (d := delivery.get(a) or {}).get("state") not in DONE
    ]
    if waits:
        status, next_attempt = "pending", min(waits)
    else:
        status = "sent" if all(s == ACCEPTED for s in states) else "failed"
        next_attempt = now
    errors = [f"{a}: {reply}" for a, (state, _, reply) in results.items() if state != ACCEPTED]
    accepted = any(state == ACCEPTED for state, _, _ in results.values())
    kept_error = INTERRUPTED if message.last_error == INTERRUPTED else None
    values = {
        "status": status,
        "delivery": delivery,
        # A message sent again after a worker stopped keeps saying so (it may have arrived twice).
        "last_error": "; ".join(errors)[:2000] if errors else kept_error,
        "next_attempt": next_attempt,
        "sent_at": now if accepted else None,
    }
    return values, refused


def deliver_claimed(
    db: Database,
    link: Connection,
    conn: SmtpConnection,
    settings: SmtpSettings,
    message: Claimed,
    result: RunResult,
) -> None:
    """The SMTP transaction of a claimed message to the recipients that are due, then each one's
    outcome, committed at once (with the refusals recorded on the ticket, in the same database
    transaction). Raises DeliveryPaused when the server or the network failed as a whole."""
    to = message.due()
    results, paused = _attempt(conn, message, to) if to else ({}, False)
    values, refused = settle(message, results, settings)
    _write_outcome(db, link, message, values, refused)
    if values["status"] == "sent":
        result.sent += 1
    elif values["status"] == "failed":
        result.failed += 1
    else:
        result.retried += 1
    if paused:  # the server's or the network's trouble, the same for every recipient: said once
        said = next((why for _state, _code, why in results.values() if why), None)
        raise DeliveryPaused(said or values["last_error"] or "SMTP failed")


def _write_outcome(
    db: Database, link: Connection, message: Claimed, values: dict[str, Any], refused: list[dict[str, Any]]
) -> None:
    """The outcome in one statement; with a refusal on a ticket, in one unit of work with the
    ticket's `DeliveryFailed` transaction (and its scrips)."""
    if refused and message.ticket_id is not None:
        with db.session() as session:
            record_outcome(session, message.id, {**values, "claimed_at": None, "claimed_by": None}, refused)
        return
    params = {**values, "id": message.id, "delivery": json.dumps(values["delivery"])}
    link.execute(text(_OUTCOME), params)
    link.commit()


def deliver_one(
    db: Database, link: Connection, conn: SmtpConnection, settings: SmtpSettings, result: RunResult
) -> bool:
    """Claim and send the oldest due message nobody else holds; False when there is none."""
    message = claim(link, settings)
    if message is None:
        return False
    deliver_claimed(db, link, conn, settings, message, result)
    return True


class DeliveryPaused(Exception):
    """SMTP failed: stop this round, the message waits for its next attempt."""


def deliver_due(db: Database, settings: SmtpSettings | None = None, *, limit: int | None = None) -> RunResult:
    """Send what a stopped worker left in flight, then every due message (until none is due, SMTP
    fails, or `limit` messages were handled). One connection for the run: its backend is the
    worker's mark on the messages it holds."""
    settings = settings or SmtpSettings.from_env()
    result = RunResult()
    conn = SmtpConnection(settings)

    def room() -> bool:
        return limit is None or result.sent + result.failed + result.retried < limit

    try:
        with worker_connection(db) as link:
            tried: set[int] = set()
            for abandoned in (True, False):
                while room():
                    message = claim(link, settings, abandoned=abandoned)
                    if message is None:
                        break
                    if message.id in tried:  # deferred and due again already: the next round's
                        _release(link, message)
                        break
                    tried.add(message.id)
                    if abandoned and message.attempts > settings.max_attempts:
                        _give_up(db, link, message, result)  # it stopped every worker that tried it
                        continue
                    try:
                        deliver_claimed(db, link, conn, settings, message, result)
                    except DeliveryPaused as paused:
                        result.smtp_error = str(paused)
                        return _with_webhooks(db, settings, result)
    finally:
        conn.close()
    return _with_webhooks(db, settings, result)


@contextmanager
def worker_connection(db: Database) -> Iterator[Connection]:
    """The run's one connection, each statement its own transaction (a claim, a "sent": one round
    trip each), without waiting for the WAL flush: what a crash of PostgreSQL itself could undo is
    a claim or a "sent" of the last moments, and the message is then sent again (at least once)."""
    with db.engine.connect() as link:
        link = link.execution_options(isolation_level="AUTOCOMMIT")
        link.execute(text("SET synchronous_commit = off"))
        yield link
        link.execute(text("RESET synchronous_commit"))  # back to the pool as it came


_RELEASE = """
    UPDATE outbox SET status = 'pending', attempts = attempts - 1, claimed_at = NULL, claimed_by = NULL
     WHERE id = :id
    """


def _release(link: Connection, message: Claimed) -> None:
    """Put a claimed message back untried (it stays due): a recipient deferred in this round is
    tried again in the next one, not over and over in this one."""
    link.execute(text(_RELEASE), {"id": message.id})
    link.commit()


def _give_up(db: Database, link: Connection, message: Claimed, result: RunResult) -> None:
    error = f"the worker stopped while sending it, {message.attempts - 1} times: given up"
    delivery = dict(message.delivery)
    refused = []
    for address in message.recipients:
        if (delivery.get(address) or {}).get("state") not in DONE:
            attempts = int((delivery.get(address) or {}).get("attempts") or 0)
            delivery[address] = {
                "state": REFUSED, "code": None, "reply": error, "attempts": attempts,
                "at": message.now.isoformat(), "next_attempt": None,
            }  # fmt: skip
            refused.append({"address": address, "code": None, "reply": error})
    values = {
        "status": "failed", "delivery": delivery, "last_error": error, "next_attempt": message.now,
        "sent_at": None,
    }  # fmt: skip
    _write_outcome(db, link, message, values, refused)
    result.failed += 1


def _with_webhooks(db: Database, settings: SmtpSettings, result: RunResult) -> RunResult:
    sent, retried, failed = deliver_webhooks(db, settings.backoff, settings.max_attempts)
    result.sent, result.retried, result.failed = (
        result.sent + sent,
        result.retried + retried,
        result.failed + failed,
    )
    return result


def pending_count(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
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
    database_trouble: Callable[[str | None], None] | None = None,
    pause: Callable[[float], object] = time.sleep,
) -> None:
    """Deliver forever: drain what is due, then sleep `poll` seconds (woken early by nothing else).
    The database away (stopped, restarted, frozen past its limit) stops no worker: the round is
    given up (what it held is left `sending` and taken again once its session is seen gone),
    `database_trouble` is told once with the one-line reason, then with None once a round runs."""
    from tessera.core.db_faults import database_error

    settings = settings or SmtpSettings.from_env()
    trouble: str | None = None
    while not should_stop():
        try:
            result = deliver_due(db, settings)
        except Exception as exc:
            error = database_error(exc)
            if error is None:
                raise
            if trouble is None and database_trouble is not None:
                database_trouble(" ".join(error.message.split()))
            trouble = error.message
            pause(poll)
            continue
        if trouble is not None:
            trouble = None
            if database_trouble is not None:
                database_trouble(None)
        if report is not None and (result.sent or result.failed or result.retried):
            report(result)
        if result.sent == 0 or result.retried:
            pause(poll)
