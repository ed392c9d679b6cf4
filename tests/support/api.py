"""A live `tessera api` process on loopback for API tests: a desk with a root, an agent and a
viewer (who may see only General), a token for each, and the server's output checked for tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tessera.core import grants, queues, tokens, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tests.support.cli import Child, start
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.wait import wait_until


@dataclass
class Api:
    base: str
    root: str  # tokens
    agent: str
    viewer: str  # may only see tickets in General
    process: Child

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def start_server(env: dict[str, str], *options: str) -> tuple[Child, str]:
    """A `tessera api` process on a free loopback port, answering /health."""
    port = free_port()
    process = start(["api", "--port", str(port), *options], env, merge_stderr=True)
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert process.poll() is None, server_output(process)
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answering, timeout=60, what="the API to answer /health")
    return process, base


def server_output(process: Child, wait: float = 10) -> str:
    """Everything the server wrote so far (its output goes to a file: nothing can block on it)."""
    return process.read()


@pytest.fixture
def api(database, cli_env) -> Iterator[Api]:
    with database.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(root, "General", correspond_address="help@desk.example")
        queues.create_queue(root, "Secret")
        users.add_user(root, "agent", email="agent@desk.example")
        users.add_user(root, "viewer", email="viewer@desk.example")
        for right in AGENT_RIGHTS:
            grants.grant(root, right, "user:agent")
        grants.grant(root, "ShowTicket", "user:viewer", "General")
        grants.grant(root, "SeeQueue", "user:viewer", "General")
        made = {name: tokens.add_token(root, name).secret for name in ("root", "agent", "viewer")}
    process, base = start_server(cli_env)
    yield Api(base, made["root"], made["agent"], made["viewer"], process)
    process.terminate()
    process.wait(timeout=30)
    output = server_output(process)
    for secret in made.values():
        assert secret not in output, "a token reached the server's log"
