"""kill -9 of PostgreSQL during a burst of concurrent creates: no acknowledged ticket is lost, none
is half-written, and every create that failed said truthfully whether it was made.

Writers (core in processes of their own, and the real `tessera ticket create`) create tickets as
fast as they can on the fault suite's server (the embedded default: a killed server is restarted
by the next command, as on a single machine). The server is killed three times (all its
processes, or the postmaster alone) while they write. Then, for each create: acknowledged ->
exactly one ticket, whole (its Create transaction, its requestor, its message); "nothing was
changed" or "NOT made" -> no ticket; "WAS made" -> one ticket; "may or may not" -> counted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tessera.core import queues
from tessera.core.context import open_context
from tessera.core.db import open_database
from tests.support.cli import run
from tests.support.faults import FaultServer, token
from tests.support.wait import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CORE_WRITERS = 4
CLI_WRITERS = 2
KILLS = 3
# Acknowledged creates before each kill and after the last: enough for every kill to land among
# writes in flight (each run fails hundreds of creates across the kills, asserted below); 100 took
# twice as long and proved nothing more.
ACKS_BETWEEN_KILLS = 50
NEVER = ("internal error", "SQLAlchemy", "sqlalche.me", "OperationalError", "Traceback")


class CliWriter(threading.Thread):
    """The real program in a loop: `tessera ticket create ... --json`, one process per create."""

    def __init__(self, name: str, queue: str, env: dict[str, str], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.queue, self.env, self.stop = queue, env, stop
        self.records: list[dict[str, object]] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            subject = f"{self.name}-{n}"
            n += 1
            args = ["ticket", "create", "--queue", self.queue, "--subject", subject, "--json"]
            args += [
                "--requestor",
                f"{subject}@customer.example",
                "--body",
                f"written in the burst: {subject}",
            ]
            result = run(args, self.env, timeout=300)
            record: dict[str, object] = {"token": subject}
            if result.code == 0:
                record["id"] = json.loads(result.out)["id"]
            else:
                lines = [line for line in result.err.splitlines() if line.strip()]
                bad = result.code != 3 or len(lines) != 1 or any(word in result.err for word in NEVER)
                if bad:
                    record["crash"] = f"exit {result.code}: {result.err!r}"
                else:
                    record["error"], record["committed"] = lines[0], _committed(lines[0])
            self.records.append(record)


def _committed(line: str) -> bool | None:
    if "WAS made" in line:
        return True
    if "nothing was changed" in line or "was NOT made" in line:
        return False
    return None  # "may or may not" (or a message that says nothing: counted as unknown)


def _read(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_kill_9_during_a_burst_of_creates_loses_no_acknowledged_ticket_and_half_writes_none(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    queue = token("burst-")
    db = open_database(fault_server.url())
    try:
        with db.session() as session:
            queues.create_queue(open_context(session, "root"), queue)
    finally:
        db.dispose()
    env = fault_server.env()
    stop_file = tmp_path / "stop"
    outs = [tmp_path / f"core{n}.jsonl" for n in range(CORE_WRITERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.burst", queue, f"core{n}", str(out), str(stop_file)],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, out in enumerate(outs)
    ]
    stop = threading.Event()
    cli = [CliWriter(f"cli{n}", queue, env, stop) for n in range(CLI_WRITERS)]
    for writer in cli:
        writer.start()

    def acks() -> int:
        core = sum(1 for out in outs for r in _read(out) if "id" in r)
        return core + sum(1 for w in cli for r in list(w.records) if "id" in r)

    def crashed() -> None:
        for proc in procs:
            assert proc.poll() is None, f"a writer died: {proc.communicate()[1]}"

    kinds = []
    try:
        for kill in range(KILLS):
            target = acks() + ACKS_BETWEEN_KILLS
            wait_until(lambda t=target: crashed() or acks() >= t, timeout=600, what=f"{target} acks")
            postmaster_only = kill % 2 == 1
            kinds.append("postmaster" if postmaster_only else "all")
            fault_server.kill9(postmaster_only=postmaster_only)
            fault_server.restart()  # as a supervisor (or the next command) would
        target = acks() + ACKS_BETWEEN_KILLS
        wait_until(lambda: crashed() or acks() >= target, timeout=600, what="writing after the last kill")
    finally:
        stop_file.write_text("stop")
        stop.set()
        for proc in procs:
            proc.wait(timeout=300)
        for writer in cli:
            writer.join(timeout=300)
        fault_server.restart()

    records = [r for out in outs for r in _read(out)] + [r for w in cli for r in w.records]
    crashes = [r for r in records if "crash" in r]
    assert not crashes, crashes[:5]

    with fault_server.admin() as conn:
        rows = conn.execute(
            """
            SELECT t.subject,
                   (SELECT count(*) FROM transactions x WHERE x.ticket_id = t.id AND x.type = 'Create'),
                   (SELECT count(*) FROM watchers w WHERE w.ticket_id = t.id AND w.role = 'Requestor'),
                   (SELECT count(*) FROM attachments a JOIN transactions x ON x.id = a.transaction_id
                     WHERE x.ticket_id = t.id AND a.content LIKE 'written in the burst: %%')
              FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE q.name = %s
            """,
            (queue,),
        ).fetchall()
    stored: dict[str, int] = {}
    half_written = []
    for subject, creates, requestors, messages in rows:
        stored[subject] = stored.get(subject, 0) + 1
        if (creates, requestors, messages) != (1, 1, 1):
            half_written.append((subject, creates, requestors, messages))

    acked = [r for r in records if "id" in r]
    failed = [r for r in records if "error" in r]
    lost = [r["token"] for r in acked if stored.get(str(r["token"])) != 1]
    said_not_made_but_made = [r for r in failed if r["committed"] is False and str(r["token"]) in stored]
    said_made_but_not = [r for r in failed if r["committed"] is True and stored.get(str(r["token"])) != 1]
    unknown = [r for r in failed if r["committed"] is None]
    phantoms = set(stored) - {str(r["token"]) for r in records}
    doubled = [s for s, count in stored.items() if count > 1]

    assert not lost, f"acknowledged but not stored once: {lost[:10]}"
    assert not half_written, half_written[:10]
    assert not doubled, doubled[:10]
    assert not phantoms, sorted(phantoms)[:10]
    assert not said_not_made_but_made, said_not_made_but_made[:5]
    assert not said_made_but_not, said_made_but_not[:5]
    assert len(kinds) == KILLS and failed, "the kills hit no write: the test proved nothing"
    said_made = sum(1 for r in failed if r["committed"] is True)
    print(
        f"fault: 0 lost of {len(acked):,} acknowledged creates across {KILLS} kill -9s "
        f"({', '.join(kinds)}), 0 half-written, 0 doubled; {len(failed)} failed creates: "
        f"{len(failed) - said_made - len(unknown)} said not made (none stored), {said_made} said made "
        f"(all stored), {len(unknown)} could not be checked"
    )
