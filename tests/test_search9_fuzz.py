"""Fuzzing whole queries built from TicketSQL's own words: any mix of fields, operators and odd
values (huge numbers, far dates, quotes, unicode) either runs or is refused with a one-line
SearchError; nothing else escapes, and no typed text reaches the SQL except as a parameter."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from tessera.core import customfields
from tessera.core.errors import InvalidInput
from tessera.core.search import service
from tessera.core.search.compiler import FIELD_NAMES

SENTINEL = "\u00a7"  # in no SQL text Tessera writes


@pytest.fixture
def fuzz_desk(desk):  # type: ignore[no-untyped-def]
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


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERY, order=st.sampled_from(["", "Priority DESC", "-Created|Owner", "Queue, Due DESC"]))
def test_any_query_runs_or_is_refused_in_one_line(fuzz_desk, query: str, order: str) -> None:
    ctx = fuzz_desk.root
    try:
        stmt = service.statement(ctx, query, order)
    except InvalidInput as exc:
        assert exc.message and "\n" not in exc.message
        return
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert SENTINEL not in sql  # every typed value is a bound parameter
    fuzz_desk.session.execute(stmt).all()
    assert service.count(ctx, query) >= 0
