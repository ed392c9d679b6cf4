"""How long until a tessera command has the embedded database, cold and warm; and how long
`tessera mailgate` takes to file one message, one process per message as an MTA runs it.

Run: .venv/bin/python bench/startup.py [--runs N] [--mail-runs N]
Baseline in the same run: a bare psycopg connect + SELECT 1 to the same server, in a fresh
Python process, so the ratio shows what tessera adds over the least any client must pay.

The mailgate part uses the test PostgreSQL (embedded, or $TESSERA_TEST_DATABASE_URL) and a fresh
desk (bench/mailgate.py's), and interleaves, message by message: the bare process, `tessera
mailgate` with `tessera worker` running (the warm filer files what it hands over), and `tessera
mailgate` with no worker (it files in its own process). Every run is printed, and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mail-runs", type=int, default=10, help="messages per mailgate figure (0: skip)")
    parser.add_argument("--mail-only", action="store_true", help="only the mailgate figures")
    args = parser.parse_args()
    if args.mail_only:
        mailgate_per_message(args.mail_runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TESSERA_DATA_DIR=str(Path(tmp) / "desk"))
        env.pop("TESSERA_DATABASE_URL", None)
        tessera = [str(BIN / "tessera")]
        first = timed([*tessera, "db", "status"], env)
        warm = [timed([*tessera, "db", "status"], env) for _ in range(args.runs)]
        cold = []
        for _ in range(args.runs):
            subprocess.run([*tessera, "db", "stop"], env=env, check=True, capture_output=True)
            cold.append(timed([*tessera, "db", "status"], env))
        probe = (
            "import psycopg,sys;from tessera.core.embedded import _running_server;"
            "from pathlib import Path;s=_running_server(Path(sys.argv[1]));"
            "psycopg.connect(s.conninfo()).execute('select 1')"
        )
        raw = [timed([sys.executable, "-c", probe, env["TESSERA_DATA_DIR"]], env) for _ in range(args.runs)]
        subprocess.run([*tessera, "db", "stop"], env=env, check=True, capture_output=True)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"first run (initdb + start + migrate): {first:.2f} s")
    print(f"server stopped, initialised (start):  {med(cold):.2f} s median of {args.runs}")
    print(f"server running (warm):                {med(warm):.2f} s median of {args.runs}")
    print(f"baseline python+psycopg SELECT 1:     {med(raw):.2f} s median of {args.runs}")
    print(f"ratio warm/baseline: {med(warm) / med(raw):.1f}x, cold/baseline: {med(cold) / med(raw):.1f}x")
    if args.mail_runs:
        mailgate_per_message(args.mail_runs)


def mailgate_per_message(runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mailgate import fresh_desk, synthetic

    from tests.support import pg

    server = pg.server_url()
    url = fresh_desk(server)
    dsn = url.render_as_string(hide_password=False)
    env = dict(os.environ, TESSERA_DATABASE_URL=dsn)
    bare = f"import psycopg;psycopg.connect({dsn.replace('+psycopg', '')!r}).execute('select 1')"
    gate = [str(BIN / "tessera"), "mailgate", "--queue", "General"]
    messages = synthetic(2 * runs)
    figures: dict[str, list[float]] = {"bare": [], "worker": [], "alone": []}

    def bare_run() -> None:
        figures["bare"].append(timed([sys.executable, "-c", bare], env))

    def mail(raw: bytes) -> float:
        started = time.perf_counter()
        done = subprocess.run(gate, input=raw, env=env, capture_output=True)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"mailgate failed: {done.stderr.decode(errors='replace')}")
        return took

    try:
        from tessera.core.fast_sql import FILER_ALIVE
    except ImportError:  # a checkout from before the hand-off (measured for comparison)
        print("this checkout has no warm filer: `mailgate, worker running` is not measured")
    else:
        worker_running(
            runs, env, dsn, FILER_ALIVE, bare_run, lambda i: figures["worker"].append(mail(messages[i]))
        )
    for i in range(runs):
        bare_run()
        figures["alone"].append(mail(messages[runs + i]))
    pg.drop(url)
    base = statistics.median(figures["bare"])
    print(f"mailgate, one process per message (synthetic help-desk mix), {runs} messages each, interleaved:")
    for name, label in (
        ("bare", "bare python+psycopg SELECT 1"),
        *([("worker", "mailgate, `tessera worker` running")] if figures["worker"] else []),
        ("alone", "mailgate, no worker (in-process)"),
    ):
        xs = figures[name]
        median = statistics.median(xs)
        every = " ".join(f"{x:.2f}" for x in xs)
        print(f"  {label:36} median {median:.3f} s = {median / base:.2f}x bare; every run: {every}")


def worker_running(runs: int, env: dict[str, str], dsn: str, alive_sql: str, bare: Any, gate: Any) -> None:
    """`runs` bare processes and mailgates, interleaved, with `tessera worker` running."""
    import psycopg

    worker = subprocess.Popen(
        [str(BIN / "tessera"), "worker", "--poll", "1"],
        env=dict(env, TESSERA_SMTP_PORT="9"),  # nothing to send: the outbox is left to wait
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(dsn.replace("+psycopg", ""), autocommit=True) as conn:
            while not conn.execute(alive_sql).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() > deadline:
                    raise SystemExit("tessera worker did not start its filer in 60 s")
                time.sleep(0.2)
        for i in range(runs):
            bare()
            gate(i)
    finally:
        worker.terminate()
        worker.wait()


if __name__ == "__main__":
    main()
