"""How long until a tessera command has the embedded database, cold and warm.

Run: .venv/bin/python bench/startup.py [--runs N]
Baseline in the same run: a bare psycopg connect + SELECT 1 to the same server, in a fresh
Python process, so the ratio shows what tessera adds over the least any client must pay.
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

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
