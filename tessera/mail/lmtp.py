"""`tessera lmtp`: receive mail over LMTP (RFC 2033) for MTAs that deliver that way.

Each recipient maps to a queue and an action by the queues' addresses: a queue's correspond
address means correspond, its comment address means comment. Unknown recipients are refused at
RCPT (550). After DATA there is one reply per accepted recipient, as LMTP requires: 250 when the
message was recorded (on a ticket or as a recorded drop), 550 for a message that can never be
accepted (kept raw all the same), 451 when the database is unreachable, frozen or lost the
connection before the commit (the MTA retries; each message is bounded by TESSERA_DB_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from tessera.core.db import Database, translate_db_errors
from tessera.core.db_wait import Limits, deadline
from tessera.core.errors import DatabaseUnavailable, TesseraError
from tessera.core.ids import display_id
from tessera.core.models import Queue
from tessera.mail.gateway import EX_OK, Settings, deliver

log = logging.getLogger("tessera.lmtp")


@dataclass(frozen=True)
class Route:
    queue: str
    action: str


def route_for(db: Database, address: str) -> Route | None:
    key = address.strip().strip("<>").lower()
    with db.session() as session:
        queue = session.scalars(
            select(Queue).where(
                Queue.disabled.is_(False),
                or_(func.lower(Queue.correspond_address) == key, func.lower(Queue.comment_address) == key),
            )
        ).first()
        if queue is None:
            return None
        if queue.correspond_address and queue.correspond_address.lower() == key:
            return Route(queue.name, "correspond")
        return Route(queue.name, "comment")


class GatewayHandler:
    """aiosmtpd handler: database work runs in a thread, never on the event loop."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or Settings.from_env()
        self.limits = Limits.from_env()

    def bounded_route(self, address: str) -> Route | None:
        with deadline(self.limits.answer_s):
            return translate_db_errors(route_for)(self.db, address)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        loop = asyncio.get_running_loop()
        try:
            route = await loop.run_in_executor(None, self.bounded_route, address)
        except (TesseraError, SQLAlchemyError) as exc:
            return f"451 4.3.0 temporary failure: {_one_line(exc)}"
        if route is None:
            return f"550 5.1.1 <{address}>: no queue receives mail at this address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        replies = []
        for rcpt in envelope.rcpt_tos:
            replies.append(await loop.run_in_executor(None, self.deliver_one, rcpt, raw))
        return "\r\n".join(replies)

    def deliver_one(self, rcpt: str, raw: bytes) -> str:
        # Bounded as a whole (TESSERA_DB_TIMEOUT): a frozen database is a 451 the client hears in
        # time, not a session that hangs until it gives up.
        try:
            with deadline(self.limits.answer_s):
                route = translate_db_errors(route_for)(self.db, rcpt)
                if route is None:
                    return f"550 5.1.1 <{rcpt}>: no queue receives mail at this address"
                with self.db.session() as session:
                    outcome = translate_db_errors(deliver)(
                        session, raw, route.queue, route.action, self.settings
                    )
        except DatabaseUnavailable as exc:
            if exc.committed is True:  # the commit's answer was lost, and a check found it made
                return f"250 2.0.0 <{rcpt}> filed: {_one_line(exc)}"[:500]
            return f"451 4.3.0 <{rcpt}> temporary failure: {_one_line(exc)}"
        except (TesseraError, SQLAlchemyError) as exc:
            return f"451 4.3.0 <{rcpt}> temporary failure: {_one_line(exc)}"
        except Exception as exc:  # a bug must not lose mail: the MTA keeps it and retries
            log.exception("lmtp delivery failed")
            return f"451 4.3.0 <{rcpt}> internal error: {type(exc).__name__}"
        summary = f"{outcome.action}" + (f" {display_id(outcome.ticket)}" if outcome.ticket else "")
        if outcome.exit_code == EX_OK:
            return f"250 2.0.0 <{rcpt}> {summary}: {_one_line(outcome.reason)}"[:500]
        return f"550 5.6.0 <{rcpt}> {_one_line(outcome.reason)}"[:500]


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]


class LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def start(db: Database, host: str, port: int, settings: Settings | None = None) -> LMTPController:
    settings = settings or Settings.from_env()
    # Over the size limit aiosmtpd answers 552 itself, before the message is buffered whole.
    controller = LMTPController(
        GatewayHandler(db, settings),
        hostname=host,
        port=port,
        data_size_limit=settings.max_bytes,
        decode_data=False,
    )
    controller.start()
    return controller
