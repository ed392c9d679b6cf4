"""A small desk for core tests: a superuser, a queue, agents with the usual grants."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import Context, open_context
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.tickets import create_ticket

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


@dataclass
class Desk:
    session: Session
    root: Context

    def as_(self, name: str) -> Context:
        return open_context(self.session, name)

    def agent(self, name: str, *rights: str, queue: str | None = None, privileged: bool = True) -> Context:
        users.add_user(self.root, name, email=f"{name}@desk.example", privileged=privileged)
        for right in rights:
            grants.grant(self.root, right, f"user:{name}", queue)
        return self.as_(name)

    def ticket(self, subject: str = "Printer on fire", queue: str = "General", **kw):  # type: ignore[no-untyped-def]
        body = kw.pop("body", "It is on fire.")
        kw.setdefault("requestors", ["requestor@customer.example"])
        return create_ticket(
            self.root, TicketCreate(queue=queue, subject=subject, message=MessageIn(body=body), **kw)
        )


def make_desk(session: Session) -> Desk:
    bootstrap(session, "root")
    root = open_context(session, "root")
    queues.create_queue(
        root, "General", correspond_address="help@desk.example", comment_address="help-comment@desk.example"
    )
    queues.create_queue(root, "Network")
    return Desk(session=session, root=root)
