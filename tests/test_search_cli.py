"""`tessera search` through the real program, on a seeded desk."""

from __future__ import annotations

import json
import os

import pytest

from tests.support import pg
from tests.support.cli import assert_one_line_error, run


@pytest.fixture(scope="module")
def env(pg_server, template_db, tmp_path_factory):
    url = pg.clone(pg_server, template_db)
    environ = dict(os.environ)
    environ["TESSERA_DATABASE_URL"] = url.render_as_string(hide_password=False)
    environ["TESSERA_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    environ.pop("TESSERA_USER", None)
    for args in (["db", "upgrade"], ["demo", "--tickets", "150"]):
        result = run(args, environ)
        assert result.code == 0, result.err
    yield environ
    pg.drop(url)


def test_search_json_in_the_briefs_shape(env) -> None:
    result = run(
        [
            "search",
            "Queue = 'Network' AND Status = '__Active__'",
            "--order-by",
            "Priority DESC",
            "--limit",
            "5",
            "--json",
        ],
        env,
    )
    assert result.code == 0, result.err
    found = json.loads(result.out)
    assert 0 < len(found) <= 5
    for key in (
        "id",
        "display_id",
        "queue",
        "subject",
        "status",
        "owner",
        "requestors",
        "cc",
        "admincc",
        "priority",
        "created",
        "updated",
        "resolved",
        "custom_fields",
    ):
        assert key in found[0]
    assert all(t["queue"] == "Network" and t["status"] in ("new", "open", "stalled") for t in found)
    priorities = [t["priority"] for t in found]
    assert priorities == sorted(priorities, reverse=True)


def test_count_matches_listing(env) -> None:
    n = int(run(["search", "Status = 'resolved'", "--count"], env).out)
    listed = json.loads(run(["search", "Status = 'resolved'", "--limit", "1000", "--json"], env).out)
    assert n == len(listed) > 0


def test_saved_search_round_trip(env) -> None:
    saved = run(
        [
            "search",
            "save",
            "urgent",
            "Priority >= 50 AND Status = '__Active__'",
            "--order-by",
            "-Priority",
            "--shared",
        ],
        env,
    )
    assert saved.code == 0, saved.err
    listing = json.loads(run(["search", "list", "--json"], env).out)
    assert {
        "name": "urgent",
        "query": "Priority >= 50 AND Status = '__Active__'",
        "order_by": "-Priority",
        "shared": True,
    } in listing
    ran = json.loads(run(["search", "run", "urgent", "--json", "--user", "alice"], env).out)
    assert ran and all(t["priority"] >= 50 for t in ran)


def test_errors_are_one_line(env) -> None:
    assert_one_line_error(
        run(["search", "Statsu = 'open'"], env), "unknown field 'Statsu' at column 1 - did you mean Status?"
    )
    assert_one_line_error(run(["search", "run", "nope"], env), "no saved search named 'nope'")
    assert_one_line_error(run(["search", "", "--order-by", "Colour"], env), "cannot order by 'Colour'")


def test_rt_queries_pasted_and_several_sort_keys(env) -> None:
    """Queries as RT's docs and query builder write them; sort keys as flags, RT's -Key, or ORDER BY."""
    pasted = run(
        [
            "search",
            "Queue = 'General' AND ( Status = 'new' OR Status = 'open' ) AND 'CF.{Severity}' != 'x'",
            "--count",
        ],
        env,
    )
    plain = run(["search", "queue = \"General\" and (status = 'new' or status = open)", "--count"], env)
    assert pasted.code == 0 and plain.code == 0, pasted.err + plain.err
    assert int(pasted.out) == int(plain.out) > 0
    flags = run(
        ["search", "Status = '__Active__'", "--order-by", "Queue", "--order-by", "-Priority", "--json"], env
    )
    keys = [(t["queue"], -t["priority"]) for t in json.loads(flags.out)]
    assert keys == sorted(keys) and len({q for q, _ in keys}) > 1
    in_query = run(["search", "Status = '__Active__' ORDER BY Queue, Priority DESC", "--json"], env)
    assert [t["id"] for t in json.loads(in_query.out)] == [t["id"] for t in json.loads(flags.out)]
    assert_one_line_error(run(["search", "Priority > 99999999999"], env), "out of range at column 12")
    assert_one_line_error(
        run(["search", "Created = '9999-12-31'"], env), "cannot read '9999-12-31' as a date"
    )


def test_shared_search_is_deleted_with_shared(env) -> None:
    assert run(["search", "save", "gone", "Priority > 1", "--shared"], env).code == 0
    assert_one_line_error(run(["search", "delete", "gone"], env), "add --shared")
    assert run(["search", "delete", "gone", "--shared"], env).code == 0
    assert_one_line_error(run(["search", "run", "gone"], env), "no saved search named 'gone'")
