"""Inbound mail: messages per second through the gateway, against parsing alone.

Run: .venv/bin/python bench/mailgate.py [--rounds 3] [--spawn 20] [--no-corpus]
Uses the test PostgreSQL (embedded, or $TESSERA_TEST_DATABASE_URL) with a fresh migrated desk
(Everyone may create tickets in General; default scrips on, so autoreplies go to the outbox).
Workloads: the 120 corpus messages (a hard mix: bounces, huge headers, broken MIME) and a
synthetic help-desk mix (new tickets and tagged replies, a third with an attachment).

  parse            tessera.mail.inbound.parse alone (no database)
  gateway          gateway.deliver in one process (parse + threading + rights + ticket + scrips)
  mailgate spawn   `tessera mailgate` as an MTA's pipe runs it: one process per message (no
                   worker running: filed in its own process; bench/startup.py measures the
                   hand-off to `tessera worker` against a bare process)

Every round's figure is printed, and the median of the rounds (never the best). The corpus lives
at ../shared/corpus/emails (beside the checkout); when it is missing the benchmark stops and says
so, unless --no-corpus is given (then it says loudly that the corpus figures are not measured).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tessera.core import grants, queues
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import open_database
from tessera.mail.gateway import Settings, deliver
from tessera.mail.inbound import parse
from tests.support import pg

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"


def synthetic(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        msg = EmailMessage()
        customer = (i // 3) % 50  # a ticket and its two follow-ups come from the same customer
        msg["From"] = f"Customer {customer} <customer{customer}@example.com>"
        msg["To"] = "help@desk.example"
        tag = f"[TKT-{(i // 3) + 1:04d}] " if i % 3 else ""
        msg["Subject"] = f"{'Re: ' if tag else ''}{tag}Printer {i // 3} is on fire"
        msg["Message-ID"] = f"<bench.{i}@example.com>"
        msg.set_content("Hello,\n\nthe printer on the 3rd floor is on fire again.\n\nThanks\n" * 3)
        if i % 3 == 1:
            msg.add_attachment(os.urandom(20_000), maintype="image", subtype="png", filename=f"photo{i}.png")
        out.append(msg.as_bytes())
    return out


def fresh_desk(server):
    url = pg.clone(server, pg.ensure_template(server), prefix="tessera_m")
    db = open_database(url)
    with db.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        queues.create_queue(
            root,
            "General",
            correspond_address="help@desk.example",
            comment_address="help-comment@desk.example",
        )
        grants.grant(root, "CreateTicket", "role:Everyone", "General")
        grants.grant(root, "ReplyToTicket", "role:Requestor", "General")
    db.dispose()
    return url


def parse_rate(messages: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in messages:
        parse(raw)
    return len(messages) / (time.perf_counter() - started)


def gateway_rate(url, messages: list[bytes]) -> tuple[float, dict[str, int]]:
    db = open_database(url)
    counts: dict[str, int] = {}
    try:
        settings = Settings()
        with db.session() as session:
            started = time.perf_counter()
            for raw in messages:
                outcome = deliver(session, raw, "General", "correspond", settings)
                counts[outcome.action] = counts.get(outcome.action, 0) + 1
            elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    return len(messages) / elapsed, counts


def statements_per_message(url, messages: list[bytes]) -> tuple[float, float]:
    """Statements sent to the server per message (psycopg's execute and executemany, whether
    SQLAlchemy or core's hand-written SQL sends them; BEGIN and COMMIT are not counted), and round
    trips per message, from libpq's own trace as tests/test_core_round_trips.py counts them (each
    time the client, having sent, reads the server's answer: BEGIN and COMMIT included, and a
    statement sent in one pipeline with another costs none of its own), over the second half of
    `messages` (the first half makes the replies' tickets and the senders)."""
    import tempfile

    import psycopg
    from sqlalchemy import event

    db = open_database(url)
    sent = [0]
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted(query: object) -> None:
        text = query.decode() if isinstance(query, bytes) else str(query)
        if text.strip().upper() not in ("BEGIN", "COMMIT"):
            sent[0] += 1

    def counted_execute(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        counted(query)
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        counted(query)
        return executemany(self, query, *args, **kwargs)

    trace = tempfile.TemporaryFile("w+")  # noqa: SIM115  (read and closed at the end)

    def traced(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
        dbapi_conn.pgconn.trace(trace.fileno())

    def untraced(dbapi_conn, record):  # type: ignore[no-untyped-def]
        dbapi_conn.pgconn.untrace()

    half = len(messages) // 2
    try:
        with db.session() as session:
            for raw in messages[:half]:
                deliver(session, raw, "General", "correspond", Settings())
            session.close()  # its connection back to the pool: traced from the next checkout
            event.listen(db.engine, "checkout", traced)
            event.listen(db.engine, "checkin", untraced)
            psycopg.Cursor.execute, psycopg.Cursor.executemany = counted_execute, counted_executemany  # type: ignore[method-assign]
            for raw in messages[half:]:
                deliver(session, raw, "General", "correspond", Settings())
            session.close()
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany  # type: ignore[method-assign]
        db.dispose()
    trace.seek(0)
    trips, last = 0, ""
    for line in trace:
        parts = line.split("\t")
        if len(parts) >= 4 and parts[1] in ("F", "B"):
            trips += parts[1] == "B" and last == "F"
            last = parts[1]
    trace.close()
    n = len(messages) - half
    return sent[0] / n, trips / n


def spawn_rate(url, messages: list[bytes]) -> float:
    exe = Path(sys.executable).parent / "tessera"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "tessera"]
    env = {**os.environ, "TESSERA_DATABASE_URL": url.render_as_string(hide_password=False)}
    started = time.perf_counter()
    for raw in messages:
        result = subprocess.run(
            [*cmd, "mailgate", "--queue", "General"], input=raw, env=env, capture_output=True
        )
        if result.returncode not in (0, 65):
            raise SystemExit(f"mailgate failed: {result.stderr.decode(errors='replace')}")
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the median is reported)")
    parser.add_argument("--synthetic", type=int, default=300, help="synthetic messages per round")
    parser.add_argument(
        "--spawn", type=int, default=20, help="messages for the one-process-each run (0: skip)"
    )
    parser.add_argument("--no-corpus", action="store_true", help="run without the shared corpus")
    args = parser.parse_args()
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    if not corpus and not args.no_corpus:
        raise SystemExit(
            f"bench/mailgate.py: the corpus is missing: no *.eml in {CORPUS} (it lives beside the "
            "checkout, at ../shared/corpus/emails); link it there, or pass --no-corpus to measure "
            "the synthetic mix alone"
        )
    workloads = {"synthetic": synthetic(args.synthetic)}
    if corpus:
        workloads["corpus"] = corpus
    else:
        print(f"*** CORPUS MISSING ({CORPUS}): corpus figures NOT measured (--no-corpus) ***")
    server = pg.server_url()
    rounds: dict[tuple[str, str], list[float]] = {}
    counts: dict[str, dict[str, int]] = {}
    for _ in range(args.rounds):
        for name, messages in workloads.items():
            rounds.setdefault((name, "parse"), []).append(parse_rate(messages))
            url = fresh_desk(server)
            try:
                rate, counts[name] = gateway_rate(url, messages)
            finally:
                pg.drop(url)
            rounds.setdefault((name, "gateway"), []).append(rate)
    print(
        f"median of {args.rounds} rounds (every round after the colon); gateway = one database "
        "transaction per message, default scrips on"
    )
    print(f"{'workload':24} {'parse msg/s':>12} {'gateway msg/s':>14} {'gateway/parse':>14}")
    for name, messages in workloads.items():
        parses, gateways = rounds[(name, "parse")], rounds[(name, "gateway")]
        p, g = statistics.median(parses), statistics.median(gateways)
        ratios = " ".join(f"{b / a:.1%}" for a, b in zip(parses, gateways, strict=True))
        print(f"{name + f' ({len(messages)})':24} {p:12.0f} {g:14.0f} {g / p:14.1%}")
        print(f"{'':24} rounds: parse {' '.join(f'{x:.0f}' for x in parses)}; "
              f"gateway {' '.join(f'{x:.0f}' for x in gateways)}; ratio {ratios}")  # fmt: skip
        print(f"{'':24} outcomes: {counts[name]}")
    url = fresh_desk(server)
    try:
        count, trips = statements_per_message(url, workloads["synthetic"][:90])
    finally:
        pg.drop(url)
    print(f"statements per message (synthetic mix, BEGIN/COMMIT not counted): {count:.1f}")
    print(f"round trips per message (synthetic mix, BEGIN/COMMIT included): {trips:.1f}")
    if args.spawn:
        url = fresh_desk(server)
        try:
            rate = spawn_rate(url, workloads["synthetic"][: args.spawn])
        finally:
            pg.drop(url)
        g = statistics.median(rounds[("synthetic", "gateway")])
        print(f"`tessera mailgate`, one process per message: {rate:.2f} msg/s ({rate / g:.1%} of in-process)")


if __name__ == "__main__":
    main()
