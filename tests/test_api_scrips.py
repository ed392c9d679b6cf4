"""A ticket made over HTTP runs the scrips exactly as the CLI does: made with curl (a real
client process) and a requestor, its autoreply reaches a real SMTP server after `tessera worker
--once` -- also when uvicorn's worker processes (started afresh) serve the request."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.api import Api, start_server
from tests.support.cli import run
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_ticket_made_with_curl_gets_its_autoreply_by_smtp(api: Api, cli_env, workers: str) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    process, base = (api.process, api.base) if workers == "1" else start_server(cli_env, "--workers", workers)
    body = {"queue": "General", "subject": "VPN is down", "requestors": ["ann@example.com"]}
    try:
        made = subprocess.run(
            [curl, "-sS", "-X", "POST", f"{base}/tickets", "-H", f"Authorization: Bearer {api.agent}",
             "-H", "Content-Type: application/json", "-d", json.dumps(body)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    finally:
        if process is not api.process:
            process.terminate()
            process.communicate(timeout=30)
    ticket = json.loads(made.stdout)
    assert ticket["requestors"] == ["ann@example.com"], made.stdout
    smtp = SmtpServer(free_port()).start()
    try:
        sent = run(["worker", "--once", "--json"], {**cli_env, **smtp_env(smtp.port)})
        assert sent.code == 0, sent.err
        got = smtp.wait_for(1)
    finally:
        smtp.stop()
    autoreplies = [m for m in got if "ann@example.com" in m.rcpt_tos]
    assert len(autoreplies) == 1, [(m.rcpt_tos, m.message["Subject"]) for m in got]
    message = autoreplies[0].message
    assert ticket["display_id"] in message["Subject"] and "VPN is down" in message["Subject"]
    assert "help@desk.example" in message["From"]
