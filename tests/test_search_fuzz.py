"""Fuzzing whole queries built from TicketSQL's own words: any mix of fields, operators and odd
values (huge numbers, far dates, quotes, unicode) either runs or is refused with a one-line
SearchError; nothing else escapes, and no typed text reaches the SQL except as a parameter. And any
text at all given to the parser is parsed or refused with a SearchError."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sa_text
from sqlalchemy.dialects import postgresql

from tessera.core import customfields
from tessera.core.errors import InvalidInput
from tessera.core.search import service
from tessera.core.search.fields import FIELD_NAMES
from tessera.core.search.parser import SearchError, parse

SENTINEL = "\u00a7"  # in no SQL text Tessera writes


@pytest.fixture
def fuzz_desk(desk):
    customfields.create_field(desk.root, "Severity", type_="select", values=["Low", "High"])
    customfields.create_field(desk.root, "Users", type_="integer")
    customfields.create_field(desk.root, "Since", type_="date")
    customfields.create_field(desk.root, "Asset Tag")
    desk.ticket("Printer on fire", custom_fields={"Severity": "High", "Users": "3", "Since": "2026-01-02"})
    desk.ticket("VPN", queue="Network", custom_fields={"Asset Tag": "AT-1"})
    return desk


FIELDS = st.sampled_from(
    [
        *FIELD_NAMES,
        "CF.Severity",
        "CF.{Asset Tag}",
        "'CF.{Users}'",
        '"CF.{Since}"',
        "CustomField.{Severity}",
        "CF.{Nope}",
        "Statsu",
        "Owner.Phone",
        "Creator.id",
        "Requestor.id",
        "MergedInto",
        "EffectiveId",
    ]
)
OPS = st.sampled_from(
    ["=", "!=", "<>", "<", "<=", ">", ">=", "LIKE", "NOT LIKE", "STARTSWITH", "ENDSWITH", "IS", "IS NOT"]
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=12)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    TEXT.map(lambda t: _quoted(SENTINEL + t)),
    st.sampled_from(
        [
            "NULL",
            "'__Active__'",
            "'__Inactive__'",
            "'__CurrentUser__'",
            "'Nobody'",
            "'today'",
            "'tomorrow'",
            "'last week'",
            "'next month'",
            "'2 days ago'",
            "'in 3 hours'",
            "'99999999999 years ago'",
            "'9999-12-31'",
            "'0001-01-01'",
            "'2026-02-30'",
            "'2026-11-20 10:00'",
            "'TKT-0001'",
            "'General'",
            "'open'",
            "'deleted'",
            "'high'",
            "'%'",
            "'_'",
            "''",
            "'\\\\'",
            "open",
        ]
    ),
)
COMPARISON = st.builds(lambda f, o, v: f"{f} {o} {v}", FIELDS, OPS, VALUES)
QUERY = st.recursive(
    COMPARISON,
    lambda inner: st.one_of(
        st.builds(lambda a, j, b: f"{a} {j} {b}", inner, st.sampled_from(["AND", "OR", "and", "or"]), inner),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=4,
)


EXAMPLES = 120


@pytest.mark.fault
def test_any_query_runs_or_is_refused_in_one_line(fuzz_desk) -> None:
    ctx = fuzz_desk.root
    tables = _tables(fuzz_desk)
    seen: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(query=QUERY, order=st.sampled_from(["", "Priority DESC", "-Created|Owner", "Queue, Due DESC"]))
    def one(query: str, order: str) -> None:
        seen["queries"] += 1
        try:
            stmt = service.statement(ctx, query, order)
        except InvalidInput as exc:
            assert exc.message and "\n" not in exc.message
            seen["refused"] += 1
            return
        sql = str(stmt.compile(dialect=postgresql.dialect()))
        assert SENTINEL not in sql  # every typed value is a bound parameter
        fuzz_desk.session.execute(stmt).all()
        assert service.count(ctx, query) >= 0
        seen["ran"] += 1

    one()
    assert _tables(fuzz_desk) == tables  # nothing dropped, no row written or removed
    print(
        f"\nfault: TicketSQL fuzz, {seen['queries']} generated queries through the compiler and the "
        f"database: {seen['ran']} ran, {seen['refused']} refused in one line, 0 internal errors, 0 typed "
        f"values outside a parameter, tables intact"
    )
    assert seen["ran"] and seen["refused"]  # both kinds were tried


def _tables(desk) -> list[tuple[str, int]]:
    """Each table of the desk's schema with its row count."""
    names = desk.session.scalars(
        sa_text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    ).all()
    return [(n, desk.session.scalar(sa_text(f'SELECT count(*) FROM "{n}"'))) for n in names]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_parsed_or_refused_with_a_search_error(text: str) -> None:
    with contextlib.suppress(SearchError):
        parse(text)
