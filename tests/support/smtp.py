"""A real SMTP server on loopback (aiosmtpd) that records what it receives, and the settings to reach it.

`answers` makes it refuse chosen recipients at RCPT TO: address (lower case) -> the reply, such as
"550 5.1.1 <x@example.com>: no such user" or "451 4.3.0 try again later"; change it while the
server runs (a deferred recipient then accepted). `rcpt_log` is every RCPT TO it was asked, in order.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


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
    answers: dict[str, str] = field(default_factory=dict)
    rcpt_log: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_log.append(address)
            answer = self.answers.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def delivered_to(self, address: str) -> int:
        """How many messages reached `address` (accepted at RCPT TO, then their DATA)."""
        with self.lock:
            return sum(r.rcpt_tos.count(address) for r in self.received)

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def start(self, **options: object) -> SmtpServer:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
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
