"""Full text (`Content LIKE`) through the per-ticket documents (ticket_search, migrations
0027-0029): the same tickets as the exact per-part rule, comments only for those who may read them,
phrases through the documents' adjacent word pairs, and the documents current in the transaction
that wrote the words."""

from __future__ import annotations

import pytest
from sqlalchemy import and_, func, not_, or_, select, text, union
from sqlalchemy.orm import aliased

from tessera.core import grants, links, tickets
from tessera.core.context import Context
from tessera.core.models import Attachment, Ticket, TicketSearch, Transaction
from tessera.core.schemas import MessageIn
from tessera.core.search import service
from tessera.core.search.visibility import queues_with_right, visible_filter


def found(ctx: Context, query: str) -> list[int]:
    return [t.id for t in service.search(ctx, query, "id", limit=1000)]


@pytest.fixture
def desk_words(desk):
    """Tickets in General and Network with words in subjects, replies and comments; two agents
    who see both queues, only one of whom may read comments, and only in General."""
    d = desk
    made = {
        "jam": d.ticket("Printer jam on floor 2", body="The paper feeder is stuck again."),
        "toner": d.ticket("Toner", body="Out of toner; printer says jam but there is none."),
        "vpn": d.ticket("VPN drops", queue="Network", body="The tunnel resets during calls."),
        "split": d.ticket("Split words", body="printer"),
        "deleted": d.ticket("Spam printer jam", body="buy now"),
    }
    tickets.correspond(d.root, made["split"].id, MessageIn(body="jam later, in another message"))
    tickets.comment(d.root, made["jam"].id, MessageIn(body="internal: zebracode for the vendor"))
    tickets.comment(d.root, made["vpn"].id, MessageIn(body="internal: okapinote about the firewall"))
    tickets.set_status(d.root, made["deleted"].id, "deleted")
    d.agent("reader", "ShowTicket")
    d.agent("plain", "ShowTicket")
    grants.grant(d.root, "ShowTicketComments", "user:reader", "General")
    d.made = {k: t.id for k, t in made.items()}
    return d


def test_a_comment_word_is_found_only_by_who_may_read_comments_in_that_queue(desk_words) -> None:
    d, made = desk_words, desk_words.made
    assert found(d.root, "Content LIKE 'zebracode'") == [made["jam"]]
    assert found(d.as_("reader"), "Content LIKE 'zebracode'") == [made["jam"]]
    assert found(d.as_("plain"), "Content LIKE 'zebracode'") == []
    # reader may read comments in General only: Network's comment is not theirs to search
    assert found(d.as_("reader"), "Content LIKE 'okapinote'") == []
    assert found(d.root, "Content LIKE 'okapinote'") == [made["vpn"]]
    # NOT LIKE is the exact complement, with the same rule
    assert made["jam"] in found(d.as_("plain"), "Content NOT LIKE 'zebracode'")
    assert made["jam"] not in found(d.as_("reader"), "Content NOT LIKE 'zebracode'")


def test_a_reply_adds_its_words_in_the_same_transaction(desk_words) -> None:
    d, made = desk_words, desk_words.made
    assert found(d.root, "Content LIKE 'quokka'") == []
    tickets.correspond(d.root, made["toner"], MessageIn(body="a quokka chewed the cable"))
    # no commit of the outer transaction: the trigger wrote the document with the message
    assert found(d.root, "Content LIKE 'quokka'") == [made["toner"]]
    doc = d.session.get(TicketSearch, made["toner"])
    d.session.refresh(doc)
    assert "quokka" in str(doc.public_doc) and "quokka" in str(doc.all_doc)


def test_a_subject_change_is_searchable_and_the_old_subject_no_longer_matches(desk_words) -> None:
    d, made = desk_words, desk_words.made
    tickets.set_fields(d.root, made["vpn"], {"subject": "Tunnel flaps hourly"})
    assert found(d.root, "Content LIKE 'flaps'") == [made["vpn"]]
    assert found(d.root, "Content LIKE 'drops'") == []  # the document keeps it; the exact rule does not


def test_a_reply_adds_its_adjacent_word_pairs_and_a_phrase_is_found_only_in_its_order(desk_words) -> None:
    d, made = desk_words, desk_words.made
    tickets.correspond(d.root, made["toner"], MessageIn(body="the blue widget hums"))
    # in the same transaction: the pair is in the document, and the phrase is decided by it
    doc = d.session.get(TicketSearch, made["toner"])
    d.session.refresh(doc)
    assert "'blue widget'" in str(doc.public_doc) and "'widget hum'" in str(doc.all_doc)
    assert found(d.root, "Content LIKE '\"blue widget\"'") == [made["toner"]]
    assert found(d.root, "Content LIKE '\"widget blue\"'") == []
    # a comment's pairs are in all_doc only: found by who may read comments
    tickets.comment(d.root, made["vpn"], MessageIn(body="internal: amber lantern"))
    assert found(d.root, "Content LIKE '\"amber lantern\"'") == [made["vpn"]]
    assert found(d.as_("plain"), "Content LIKE '\"amber lantern\"'") == []


def test_pairs_span_neither_two_parts_nor_the_subject_and_a_part(desk_words) -> None:
    d, made = desk_words, desk_words.made
    # "Split words" ends its body with "printer"; its next message starts with "jam"
    assert made["split"] not in found(d.root, "Content LIKE '\"printer jam\"'")
    assert made["split"] not in found(d.root, "Content LIKE '\"words printer\"'")
    doc = d.session.get(TicketSearch, made["split"])
    d.session.refresh(doc)
    assert "'printer jam'" not in str(doc.all_doc) and "'word printer'" not in str(doc.all_doc)


def test_merged_tickets_words_are_found_on_the_survivor(desk_words) -> None:
    d, made = desk_words, desk_words.made
    dup = d.ticket("Duplicate", body="the wombatfault again")
    tickets.comment(d.root, dup.id, MessageIn(body="internal: lemurkey"))
    links.merge(d.root, dup.id, made["toner"])
    assert found(d.root, "Content LIKE 'wombatfault'") == [made["toner"]]
    assert found(d.as_("reader"), "Content LIKE 'lemurkey'") == [made["toner"]]
    assert found(d.as_("plain"), "Content LIKE 'lemurkey'") == []
    # the merged ticket's own subject stays its own (as before the documents)
    assert found(d.root, "Content LIKE 'duplicate'") == []


def test_deleted_tickets_are_hidden_and_phrases_match_within_one_part(desk_words) -> None:
    d, made = desk_words, desk_words.made
    assert made["deleted"] not in found(d.root, "Content LIKE 'printer jam'")
    # both words in one part (or the subject), as before: not across two messages
    assert found(d.root, "Content LIKE '\"printer jam\"'") == [made["jam"]]
    assert made["split"] not in found(d.root, "Content LIKE 'printer jam'")
    assert found(d.root, "Content LIKE 'printer' AND Queue = 'Network'") == []


def test_a_ticket_whose_words_pass_the_size_limit_still_takes_writes_and_is_found(desk_words) -> None:
    d, made = desk_words, desk_words.made
    big = "array_to_tsvector(array(SELECT md5(:seed || i) FROM generate_series(1, 20000) i))"
    for seed in ("a", "b"):  # 2 x 640 kB of distinct words: past tsvector's 1 MB together
        d.session.execute(
            text(f"SELECT tessera_search_add(:id, {big}, false)"), {"id": made["vpn"], "seed": seed}
        )
    doc = d.session.get(TicketSearch, made["vpn"])
    d.session.refresh(doc)
    assert doc.overflow
    # words with positions whose pairs alone pass the limit: the ticket is marked, the write stands
    many = "to_tsvector('simple', (SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 20000) i))"
    d.session.execute(text(f"SELECT tessera_search_add(:id, {many}, false)"), {"id": made["jam"]})
    doc = d.session.get(TicketSearch, made["jam"])
    d.session.refresh(doc)
    assert doc.overflow
    assert found(d.root, "Content LIKE '\"printer jam\"'") == [made["jam"]]
    tickets.correspond(d.root, made["vpn"], MessageIn(body="a narwhalbug appears"))
    assert found(d.root, "Content LIKE 'narwhalbug'") == [made["vpn"]]
    assert found(d.root, "Content LIKE 'tunnel'") == [made["vpn"]]


# -- the same tickets as the rule written plainly over every part ---------------------------------


def by_parts(ctx: Context, words: str, negate: bool) -> list[int]:
    """The rule as it was before the documents: any part (comments where readable) or the
    subject matches; a UNION of every matching ticket, the visibility and the hidden ones."""
    query = func.websearch_to_tsquery("english", words)
    in_messages = (
        select(Transaction.ticket_id)
        .join(Attachment, Attachment.transaction_id == Transaction.id)
        .where(Attachment.search_vector.op("@@")(query))
    )
    allowed = queues_with_right(ctx, "ShowTicketComments")
    if allowed is not None:
        inner = aliased(Ticket)
        readable = select(inner.id).where(
            inner.id == Transaction.ticket_id, inner.queue_id.in_(sorted(allowed))
        )
        in_messages = in_messages.where(or_(Transaction.type != "Comment", readable.exists()))
    subjects = aliased(Ticket)
    matched = Ticket.id.in_(
        union(in_messages, select(subjects.id).where(subjects.search_vector.op("@@")(query)))
    )
    where = and_(
        not_(matched) if negate else matched,
        visible_filter(ctx),
        Ticket.merged_into_id.is_(None),
        Ticket.status != "deleted",
    )
    return list(ctx.session.scalars(select(Ticket.id).where(where).order_by(Ticket.id)))


WORDS = [
    "printer",
    "ticket",
    "renamed or feeder",
    "printer jam",
    '"printer jam"',
    '"paper feeder"',
    "printer -jam",
    "-printer",
    "printer or tunnel",
    "zebracode",
    "okapinote or toner",
    "the",
    "jam later",
    '"jam printer"',
    '"printer jam zebracode"',
    '"the tunnel and the toner"',
    '"printer jam" -zebracode',
    '-"printer jam"',
    '"printer jam" or tunnel',
    '"jam later" "paper feeder"',
    '"toner printer"',
    '"jam toner"',
    '"zebracode toner"',
    f'"{"q" * 1200} {"k" * 1200}"',
]


def test_full_text_and_phrases_find_row_for_row_what_the_plain_rule_over_every_part_finds(desk_words) -> None:
    d = desk_words
    previous = 0
    for extra in range(8):  # more tickets and messages, words mixed
        t = d.ticket(
            f"Ticket {extra} printer" if extra % 2 else f"Ticket {extra}", body=f"paper feeder {extra}"
        )
        if extra % 3 == 0:
            tickets.comment(d.root, t.id, MessageIn(body="printer jam zebracode"))
        if extra % 4 == 1:
            tickets.correspond(d.root, t.id, MessageIn(body="the tunnel and the toner"))
        if extra == 2:  # its old subject's words are gone from its documents
            tickets.set_fields(d.root, t.id, {"subject": "Renamed printer toner"})
        if extra == 5:  # its parts move to ticket 4; its subject stays its own
            links.merge(d.root, t.id, previous)
        previous = t.id
    # a part past tsvector's last position (16383): the words there share it, pairs only before
    long = "w " * 16380 + "printer jam toner printer jam zebracode toner"
    tickets.correspond(d.root, previous, MessageIn(body=long))
    # two words too long for their pair to be held: checked part by part
    d.ticket("Long words", body=f"{'q' * 1200} {'k' * 1200}")
    searchers = [d.root, d.as_("reader"), d.as_("plain")]
    for ctx in searchers:
        for words in WORDS:
            quoted = words.replace("'", "\\'")
            for negate in (False, True):
                query = f"Content {'NOT LIKE' if negate else 'LIKE'} '{quoted}'"
                assert found(ctx, query) == by_parts(ctx, words, negate), (ctx.actor.name, query)
