"""Every message of the shared corpus through the gateway, into a real database, checked against
MANIFEST.tsv: the outcome (new ticket, robot dropped, quarantined), and the decoded subject, body,
names and attachments the manifest quotes ('...'), read back from what was stored."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.core import grants
from tessera.core.models import Attachment, InboundMail, OutboxMessage, Ticket, Transaction, User, Watcher
from tessera.mail.gateway import EX_DATAERR, EX_OK, Settings, deliver
from tessera.mail.inbound import parse
from tests.support.desks import make_desk

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"


def _rows() -> list[dict[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").exists():
        return []
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _rows()

ROBOT_STARTS = (
    "recognise as bounce",
    "bounce",
    "read receipt",
    "strip the bom",
    "abuse complaint",
    "auto-reply",
    "normalise line endings, then detect auto-reply",
    "mailing-list mail",
    "spam: should be rejected",
)

# Quoted text in `expected` that is not a value to find (negatives, prose around apostrophes,
# a prefix-stripped form Tessera does not produce), per file.
NOT_VALUES = {
    "013": {"te st"},
    "040": {'s something interesting", body "counter to RFC 2822, there'},
    "068": {"s tag pattern), subject ", ", body "},
    "074": {"FR-selca LA selcaE"},
}
# The manifest's decoded values that sit in double quotes (apostrophes inside).
EXTRA_VALUES = {
    "040": ["here's something interesting", "counter to RFC 2822, there's no separating newline here"],
    "074": ["FR-selca LA selcaE", "Test headers"],
}
# Where the manifest allows one more attachment ("optionally also keep it as attachment").
OPTIONAL_EXTRA = {"076"}
# What must be absent: 013's words are joined, 015's and 068's foreign tags are not ours.
ABSENT = {"013": ["te st"]}


def expected_kind(text: str) -> str:
    low = text.lower()
    if "quarantine" in low and ("no originator" in low or low.startswith(("reject", "quarantine"))):
        return "quarantine"
    if low.startswith(("new ticket", "correspondence")):
        return "create"
    if low.startswith(ROBOT_STARTS):
        return "robot"
    return "any"  # spam samples and garbage: any outcome, but no crash and no reply to robots


def norm(text: str) -> str:
    return " ".join(text.replace("\ufffd", "?").split()).strip()


def matches(value: str, haystack: str) -> bool:
    """`...` in the manifest elides text, `/` separates lines, `?` stands for an unreadable char."""
    pieces = [norm(p) for p in re.split(r"\.\.\.|…| / ", value) if norm(p)]
    pattern = ".*?".join(re.escape(p).replace(r"\?", ".") for p in pieces)
    return re.search(pattern, haystack, re.S) is not None


@pytest.fixture(scope="module")
def corpus_db(pg_server, template_db) -> Iterator:
    from tessera.core.db import open_database
    from tests.support import pg

    url = pg.clone(pg_server, template_db, prefix="tessera_mc")
    db = open_database(url)
    with db.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        session.commit()
    yield db
    db.dispose()
    pg.drop(url)


def haystack(session, outcome, parsed) -> str:
    parts: list[str] = []
    row = session.get(InboundMail, outcome.inbound_id)
    parts.append(row.subject or "")
    if outcome.ticket:
        ticket = session.get(Ticket, outcome.ticket)
        parts.append(ticket.subject)
        attachments = session.scalars(
            select(Attachment).where(Attachment.transaction_id == row.transaction_id).order_by(Attachment.id)
        ).all()
        for att in attachments:
            parts += [att.subject or "", att.content or "", att.filename or ""]
            if att.content_type == "message/rfc822" and att.binary_content:
                parts.append(parse(att.binary_content).subject)
        people = session.execute(
            select(User.real_name, User.email).join(Watcher, Watcher.user_id == User.id)
            .where(Watcher.ticket_id == ticket.id)
        ).all()  # fmt: skip
        parts += [f"{name or ''} <{email}>" for name, email in people]
        parts += [str(a) for a in parsed.to]
    else:
        parts += [parsed.body, *[a.filename or "" for a in parsed.attachments]]
        parts += [str(a) for a in parsed.from_]
    parts += [str(v) for p in _all_parts(parsed.tree) for v in p.params.values()]
    parts += parsed.notes
    return "\n".join(norm(p) for p in parts)


def _all_parts(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


@pytest.mark.skipif(not ROWS, reason="the shared corpus is not next to this checkout")
@pytest.mark.parametrize("row", ROWS, ids=[r["file"][:3] for r in ROWS])
def test_corpus_message(corpus_db, row) -> None:
    number = row["file"][:3]
    raw = (CORPUS / row["file"]).read_bytes()
    expected = row["expected"]
    kind = expected_kind(expected)
    with corpus_db.session() as session:
        outcome = deliver(session, raw, "General", "correspond", Settings())
        assert outcome.action in ("create", "correspond", "comment", "dropped")
        stored = session.get(InboundMail, outcome.inbound_id)
        assert stored is not None and stored.raw == raw  # the raw message is always kept
        parsed = parse(raw)
        if kind == "create":
            assert (outcome.action, outcome.exit_code) == ("create", EX_OK), outcome.reason
            ticket = session.get(Ticket, outcome.ticket)
            requestors = session.scalars(
                select(User.email).join(Watcher, Watcher.user_id == User.id)
                .where(Watcher.ticket_id == ticket.id, Watcher.role == "Requestor")
            ).all()  # fmt: skip
            assert [r.lower() for r in requestors] == [parsed.originator.address.lower()]
        elif kind == "robot":
            assert outcome.action in ("dropped", "comment"), outcome.reason
            assert outcome.exit_code == EX_OK
            assert outcome.classification not in (None, "quarantine")
        elif kind == "quarantine":
            assert (outcome.action, outcome.exit_code) == ("dropped", EX_DATAERR), outcome.reason
            assert outcome.classification == "quarantine"
        if outcome.classification not in (None, "quarantine", "refused", "error") and parsed.originator:
            # never an auto-reply to a robot
            sent = session.scalars(
                select(OutboxMessage.recipients)
                .join(Transaction, Transaction.id == OutboxMessage.transaction_id)
                .where(Transaction.ticket_id == outcome.ticket)
            ).all() if outcome.ticket else []  # fmt: skip
            assert all(parsed.originator.address not in r for r in sent)
        text = haystack(session, outcome, parsed)
        values = [v for v in re.findall(r"'([^']+)'", expected) if v not in NOT_VALUES.get(number, set())]
        values += EXTRA_VALUES.get(number, [])
        missing = [v for v in values if not matches(v, text)]
        assert not missing, f"{number}: not found after decoding: {missing}"
        for absent in ABSENT.get(number, []):
            assert absent not in text
        count = re.search(r"\b(\d+|no) attachments?\b", expected)
        if count and kind == "create":
            want = 0 if count.group(1) == "no" else int(count.group(1))
            names = [a.filename for a in parsed.attachments]
            assert len(names) == want or (number in OPTIONAL_EXTRA and len(names) == want + 1), names
