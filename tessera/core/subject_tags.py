"""Subject tags: how a mail's subject names a ticket, written and read.

Written: `[TKT-0042]`, or with the queue's own tag (RT's per-queue SubjectTag) `[Acme Support #42]`.
Read (RT's `ParseTicketId`): `[TKT-0042]`; `[<desk name> #42]` (RT's rtname: `TESSERA_DESK_NAME`)
with an optional `http://` or `https://` before the name, spaces allowed before `]`, and with or
without the space before `#` (RT needs one; `[desk#42]` is taken too); failing those,
`[<a queue's tag> #42]` for each queue's tag. Case does not matter.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core.errors import InvalidInput
from tessera.core.ids import DISPLAY_PREFIX, display_id

MAX_TAG = 120
_OWN = re.compile(rf"\[\s*{re.escape(DISPLAY_PREFIX)}0*(\d{{1,9}})\s*\]", re.I)
_BAD = re.compile(r"[\[\]#\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_tag(raw: str | None) -> str | None:
    """A queue's subject tag as stored: one line without brackets or `#`; empty means none."""
    if raw is None:
        return None
    tag = " ".join(raw.split())
    if not tag:
        return None
    if len(tag) > MAX_TAG:
        raise InvalidInput(f"a subject tag may be at most {MAX_TAG} characters")
    if _BAD.search(tag):
        raise InvalidInput(f"a subject tag may not hold '[', ']', '#' or control characters: {tag[:60]!r}")
    return tag


def written(queue_tag: str | None, ticket_id: int) -> str:
    """The tag outgoing mail carries (inside the brackets): the queue's `Tag #42`, else TKT-0042."""
    return f"{queue_tag} #{ticket_id}" if queue_tag else display_id(ticket_id)


@lru_cache(maxsize=256)
def _named(name: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in name.split())
    return re.compile(rf"\[\s*(?:https?://)?{words}\s*#(\d{{1,9}})\s*\]", re.I)


def find(subject: str, desk_name: str, queue_tags: list[str]) -> re.Match[str] | None:
    """The first tag in the subject that names a ticket of this desk, in RT's order of trust
    (the match's group 1 is the ticket's number); None when there is none."""
    subject = subject[:2000]
    for pattern in (_OWN, _named(desk_name)):
        match = pattern.search(subject)
        if match:
            return match
    for tag in queue_tags:
        if tag.strip() and (match := _named(tag).search(subject)):
            return match
    return None


def is_ours(tag: str, desk_name: str, queue_tags: list[str]) -> bool:
    """Whether a bracketed tag (`[x #12]`) is one this desk writes or reads."""
    match = find(tag, desk_name, queue_tags)
    return match is not None and match.group(0) == tag


def queue_tags(session: Session) -> list[str]:
    """Every queue's own tag (disabled queues' too: their tickets' mail still comes back)."""
    from tessera.core.models import Queue

    found = session.scalars(
        select(Queue.subject_tag).where(Queue.subject_tag.is_not(None)).order_by(Queue.id)
    )
    return [tag for tag in found if tag]
