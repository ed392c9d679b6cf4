"""The rights an ordinary agent holds, defined once for every test desk."""

from __future__ import annotations

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
