"""Shared by the scrip tests (no tests here): the engine switched on, a desk, a real SMTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import Context, open_context
from tessera.core.models import OutboxMessage, Scrip, ScripRun, ScripTemplate
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.tickets import create_ticket
from tessera.scrips import engine

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


@contextmanager
def engine_on() -> Iterator[None]:
    engine.install()
    try:
        yield
    finally:
        engine.uninstall()


@dataclass
class ScripDesk:
    session: Session
    root: Context

    def agent(self, name: str, *, privileged: bool = True) -> Context:
        users.add_user(
            self.root, name, email=f"{name}@staff.example", privileged=privileged, real_name=name.title()
        )
        for right in AGENT_RIGHTS:
            grants.grant(self.root, right, f"user:{name}", None)
        return open_context(self.session, name)

    def ticket(
        self, subject: str = "Printer on fire", queue: str = "General", ctx: Context | None = None, **kw
    ):  # type: ignore[no-untyped-def]
        body = kw.pop("body", "It is on fire.")
        kw.setdefault("requestors", ["customer@example.com"])
        return create_ticket(
            ctx or self.root, TicketCreate(queue=queue, subject=subject, message=MessageIn(body=body), **kw)
        )

    def outbox(self) -> list[OutboxMessage]:
        return list(self.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def runs(self, ticket_id: int | None = None) -> list[ScripRun]:
        query = select(ScripRun).order_by(ScripRun.id)
        if ticket_id is not None:
            query = query.where(ScripRun.ticket_id == ticket_id)
        return list(self.session.scalars(query))

    def scrip(self, description: str) -> Scrip:
        return self.session.scalars(select(Scrip).where(Scrip.description == description)).one()

    def add_scrip(self, description: str, *, condition: str | None = "OnTransaction", argument: str = "",
                  expression: str | None = None, action: str, action_argument: str = "",
                  template: str | None = None, order: int = 1000, stage: str = "TransactionCreate",
                  queue_id: int | None = None) -> Scrip:  # fmt: skip
        scrip = Scrip(
            description=description,
            queue_id=queue_id,
            stage=stage,
            sort_order=order,
            enabled=True,
            condition=None if expression else condition,
            condition_argument=argument,
            condition_expression=expression,
            action=action,
            action_argument=action_argument,
            template=template,
        )
        self.session.add(scrip)
        self.session.commit()
        return scrip

    def add_template(self, name: str, content: str, queue_id: int | None = None) -> ScripTemplate:
        template = ScripTemplate(name=name, queue_id=queue_id, content=content)
        self.session.add(template)
        self.session.commit()
        return template

    def disable_defaults(self) -> None:
        for scrip in self.session.scalars(select(Scrip)):
            scrip.enabled = False
        self.session.commit()


def make_scrip_desk(session: Session) -> ScripDesk:
    bootstrap(session, "root")
    root = open_context(session, "root")
    queues.create_queue(
        root,
        "General",
        description="General help",
        correspond_address="help@desk.example",
        comment_address="help-comment@desk.example",
    )
    queues.create_queue(root, "Network")
    return ScripDesk(session=session, root=root)


# -- a real SMTP server on loopback -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    port: int
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: object | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"

    def start(self, **options: object) -> SmtpServer:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()  # type: ignore[attr-defined]
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()  # type: ignore[attr-defined]
            self.controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)


def smtp_env(port: int) -> dict[str, str]:
    return {
        "TESSERA_SMTP_HOST": "127.0.0.1",
        "TESSERA_SMTP_PORT": str(port),
        "TESSERA_SMTP_TLS": "none",
        "TESSERA_SMTP_TIMEOUT": "5",
        "TESSERA_SMTP_RETRY_BASE": "0",
    }
