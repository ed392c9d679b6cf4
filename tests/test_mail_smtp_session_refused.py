"""An SMTP server that refuses the session (a wrong password: 535; TLS or a login required: 530)
refuses the settings, not the messages: the outbox waits (deferred, the round stops, the worker's
line says why) and is sent once the settings are fixed. Before, each 5xx counted as the message's
own permanent refusal, so one wrong password failed every message of the outbox for good and put a
"Delivery failed" on each of their tickets.

Real SMTP servers on loopback (aiosmtpd), the real database, the worker's own functions.
"""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from tessera.core.models import OutboxMessage, Transaction
from tessera.mail.delivery import SmtpSettings, deliver_due, pending_count
from tests.support.mail import autoreply_desk
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env

PASSWORD = "right horse battery staple"

# A login without TLS, on loopback: the server's warning says what the test does on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def _states(database) -> list[str]:
    with database.session() as session:
        return sorted(session.scalars(select(OutboxMessage.status)))


def _delivery_failures(database) -> int:
    with database.session() as session:
        return len(session.scalars(select(Transaction).where(Transaction.type == "DeliveryFailed")).all())


def _login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def test_a_wrong_smtp_password_defers_the_outbox_instead_of_failing_it(database) -> None:
    autoreply_desk(database, 3)
    server = SmtpServer(free_port()).start(authenticator=_login, auth_required=True, auth_require_tls=False)
    try:
        env = {**smtp_env(server.port), "TESSERA_SMTP_USER": "desk", "TESSERA_SMTP_PASSWORD": "wrong"}
        result = deliver_due(database, SmtpSettings.from_env(env))
        assert (result.sent, result.failed, result.retried) == (0, 0, 1)  # one try, then the round stops
        assert result.smtp_error is not None and "535" in result.smtp_error, result.smtp_error
        assert _states(database) == ["pending", "pending", "pending"]
        assert _delivery_failures(database) == 0
        fixed = SmtpSettings.from_env({**env, "TESSERA_SMTP_PASSWORD": PASSWORD})
        assert deliver_due(database, fixed).sent == 3
        assert pending_count(database) == 0 and len(server.wait_for(3)) == 3
    finally:
        server.stop()


class TlsRequired(SmtpServer):
    """A server that takes mail only over TLS, reached by a desk set to `TESSERA_SMTP_TLS=none`."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        return "530 5.7.0 Must issue a STARTTLS command first"


def test_a_server_that_wants_tls_first_defers_the_outbox_instead_of_failing_it(database) -> None:
    autoreply_desk(database, 3)
    port = free_port()
    server = TlsRequired(port).start()
    try:
        result = deliver_due(database, SmtpSettings.from_env(smtp_env(port)))
        assert (result.sent, result.failed, result.retried) == (0, 0, 1)
        assert result.smtp_error is not None and "530 5.7.0 Must issue a STARTTLS" in result.smtp_error
        assert _states(database) == ["pending", "pending", "pending"]
        assert _delivery_failures(database) == 0
    finally:
        server.stop()
    server = SmtpServer(port).start()  # the settings fixed: the same mail goes, once each
    try:
        assert deliver_due(database, SmtpSettings.from_env(smtp_env(port))).sent == 3
        assert len({r.message["Message-ID"] for r in server.wait_for(3)}) == 3
    finally:
        server.stop()
