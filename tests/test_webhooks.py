"""Webhook scrips: a signed POST per change through the outbox, to a real HTTP receiver on loopback,
sent only once the change committed, retried while the receiver is down, none lost, never blocking
mail, and shown in the dry-run."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from tessera.core import queues
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.scrips.catalog_file import apply_file
from tests.support.cli import run
from tests.support.webhook import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def _desk(database, url: str) -> None:
    with database.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(root, "General")
        apply_file(
            root,
            json.dumps(
                {
                    "scrips": [
                        {"description": "hook on create", "condition": {"name": "OnCreate"},
                         "action": {"name": "Webhook", "argument": url}},
                        {"description": "hook on resolve", "condition": {"name": "OnResolve"},
                         "action": {"name": "Webhook", "argument": url}},
                    ]
                }
            ),
        )  # fmt: skip


def _env(cli_env: dict[str, str]) -> dict[str, str]:
    # retries come due at once (backoff 0), so a test needs no clock; no SMTP server: mail waits
    return {**cli_env, "TESSERA_USER": "root", "TESSERA_SMTP_RETRY_BASE": "0", "TESSERA_SMTP_PORT": "1"}


def _scrip_id(env: dict[str, str], description: str) -> int:
    listed = json.loads(run(["scrip", "list", "--json"], env).out)
    return next(s["id"] for s in listed if s["description"] == description)


def test_a_change_posts_a_signed_json_body_the_receiver_can_verify(database, cli_env, receiver) -> None:
    _desk(database, receiver.url)
    env = _env(cli_env)
    made = run(["ticket", "create", "--queue", "General", "--subject", "webhook me", "--json"], env)
    assert made.code == 0, made.err
    assert receiver.received == [], "nothing is sent by the change itself: the worker sends it"
    worker = run(["worker", "--once", "--json"], env)
    assert worker.code == 0, worker.err
    assert len(receiver.received) == 1
    (delivery,) = receiver.received
    secret = run(["scrip", "secret", str(_scrip_id(env, "hook on create"))], env).out.strip()
    stamp = delivery.headers["Tessera-Timestamp"]
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["Tessera-Signature"] == f"v1={expected}"
    body = json.loads(delivery.body)
    assert body["ticket"]["id"] == json.loads(made.out)["id"] and body["transaction"]["type"] == "Create"
    assert body["ticket"] == json.loads(
        run(["ticket", "show", str(body["ticket"]["id"]), "--json"], env).out
    ) | {"version": body["ticket"]["version"]}


def test_a_receiver_that_is_down_delays_its_posts_and_loses_none(database, cli_env, receiver) -> None:
    _desk(database, receiver.url)
    env = _env(cli_env)
    receiver.status = 503
    for i in range(3):
        assert run(["ticket", "create", "--queue", "General", "--subject", f"t{i}"], env).code == 0
    first = json.loads(run(["worker", "--once", "--json"], env).out)
    assert first["sent"] == 0 and first["retried"] == 3 and receiver.refused == 3
    assert first["pending"] == 3, "still queued, none lost"
    receiver.status = 200
    second = json.loads(run(["worker", "--once", "--json"], env).out)
    assert second["sent"] == 3 and second["pending"] == 0
    ids = [json.loads(d.body)["ticket"]["subject"] for d in receiver.received]
    assert sorted(ids) == ["t0", "t1", "t2"]
    deliveries = {d.headers["Tessera-Delivery"] for d in receiver.received}
    assert len(deliveries) == 3, "each POST has its own delivery id, the same on every retry"


def test_a_refusal_is_permanent_and_a_rolled_back_change_posts_nothing(database, cli_env, receiver) -> None:
    _desk(database, receiver.url)
    env = _env(cli_env)
    refused = run(["ticket", "create", "--queue", "General", "--subject", "x", "--status", "nonsense"], env)
    assert refused.code != 0
    assert json.loads(run(["worker", "--once", "--json"], env).out)["pending"] == 0, "no change, no POST"
    receiver.status = 410
    assert run(["ticket", "create", "--queue", "General", "--subject", "gone"], env).code == 0
    result = json.loads(run(["worker", "--once", "--json"], env).out)
    assert result["failed"] == 1 and result["pending"] == 0


def test_the_dry_run_shows_the_post_it_would_make(database, cli_env, receiver) -> None:
    _desk(database, receiver.url)
    env = _env(cli_env)
    tid = json.loads(run(["ticket", "create", "--queue", "General", "--subject", "x", "--json"], env).out)[
        "id"
    ]
    plan = json.loads(run(["ticket", "preview", str(tid), "status=resolved", "--json"], env).out)
    hooks = [m for m in plan["messages"] if m["to"] == [receiver.url]]
    assert len(hooks) == 1 and hooks[0]["subject"] == f"POST {receiver.url}"
    assert json.loads(hooks[0]["body"])["transaction"]["type"] == "Status"
    assert any(s["description"] == "hook on resolve" and s["fires"] for s in plan["scrips"])


def test_a_webhook_url_must_be_http(database, cli_env) -> None:
    _desk(database, "ftp://example.net/x")
    env = _env(cli_env)
    made = run(["ticket", "create", "--queue", "General", "--subject", "x", "--json"], env)
    assert made.code == 0, "a failing scrip never stops the change"
    log = json.loads(run(["scrip", "log", "--json"], env).out)
    assert any("http://" in (entry.get("reason") or "") for entry in log), log
