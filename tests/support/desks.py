"""The test desks: a superuser, queues General and Network, agents with the usual grants.

`Desk` (made by `make_desk`) serves every test that works through core, on a rolled-back session
or a committed one (see the fixtures: desk, scrip_desk, committed_desk); `build_desk` commits a
small desk with four tickets for tests that run the TUI or other processes (fixture tui_desk).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import Context, open_context
from tessera.core.db import Database
from tessera.core.models import Grant, OutboxMessage, Scrip, ScripRun, ScripTemplate
from tessera.core.schemas import AttachmentIn, MessageIn, TicketCreate
from tessera.core.tickets import comment, correspond, create_ticket
from tests.support.rights import AGENT_RIGHTS

HOSTILE_SUBJECT = (
    "[bold red]Boom[/] [/x] \x1b]52;c;aGVsbG8=\x07clip \x1b]8;;http://evil.example\x1b\\link\x1b[2J"
)


@dataclass
class Desk:
    """One desk on one session, for every test that works through core: people, tickets, scrips."""

    session: Session
    root: Context

    def as_(self, name: str) -> Context:
        """A fresh context (rights are read once per context)."""
        return open_context(self.session, name)

    def agent(self, name: str, *rights: str, queue: str | None = None, privileged: bool = True) -> Context:
        """A user `name@staff.example` holding `rights` (on `queue`, or globally): AGENT_RIGHTS usually."""
        users.add_user(
            self.root, name, email=f"{name}@staff.example", privileged=privileged, real_name=name.title()
        )
        for right in rights:
            grants.grant(self.root, right, f"user:{name}", queue)
        return self.as_(name)

    def grant_custom(self, right: str, user: str, queue: str | None = None) -> None:
        """Grant a right only a lifecycle knows (`grants.grant` accepts Tessera's own rights only)."""
        scope = queues.get_queue(self.root, queue).id if queue else None
        user_id = users.get_user(self.root, user).id
        self.session.add(Grant(right_name=right, principal_kind="user", user_id=user_id, queue_id=scope))
        self.session.flush()

    def ticket(
        self, subject: str = "Printer on fire", queue: str = "General", ctx: Context | None = None, **kw
    ):
        """A ticket from a customer with a first message, created by root (or `ctx`)."""
        body = kw.pop("body", "It is on fire.")
        kw.setdefault("requestors", ["customer@example.com"])
        return create_ticket(
            ctx or self.root, TicketCreate(queue=queue, subject=subject, message=MessageIn(body=body), **kw)
        )

    # -- what the scrip engine wrote, and scrips written straight to the catalog --------------------

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


def make_desk(session: Session) -> Desk:
    """root (superuser); General (mail addresses help@ and help-comment@desk.example) and Network."""
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
    return Desk(session=session, root=root)


def build_desk(db: Database, *, scrips: bool = False) -> dict[str, int]:
    """root (superuser), alice and bob (agents); General and Network; four tickets in General.

    Seeded as a bulk load (scrips off) unless `scrips`: the history the snapshots show is then
    exactly this."""
    with db.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        root.scrips = scrips
        queues.create_queue(root, "General", correspond_address="help@desk.example")
        queues.create_queue(root, "Network")
        for name in ("alice", "bob"):
            users.add_user(root, name, email=f"{name}@desk.example", privileged=True)
            for right in AGENT_RIGHTS:
                grants.grant(root, right, f"user:{name}")
        ids = {}
        for key, subject, body in (
            ("printer", "Printer on fire", "It is on fire.\nPlease help."),
            ("vpn", "VPN drops every hour", "Since Monday."),
            ("hostile", HOSTILE_SUBJECT, "Body [red]not red[/red] \x1b[31mansi\x1b[0m [/x]"),
            ("laptop", "Laptop will not boot", "Black screen."),
        ):
            ticket = create_ticket(
                root,
                TicketCreate(
                    queue="General",
                    subject=subject,
                    requestors=[f"{key}@customer.example"],
                    message=MessageIn(body=body),
                ),
            )
            ids[key] = ticket.id
        correspond(
            root,
            ids["printer"],
            MessageIn(
                body="Have you tried water?",
                attachments=[
                    AttachmentIn(filename="steps.txt", content_type="text/plain", data=b"1. water\n")
                ],
            ),
        )
        comment(root, ids["printer"], MessageIn(body="Internal: it is really on fire"))
    return ids
