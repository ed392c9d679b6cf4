"""Running the real `tessera` program, as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str


def tessera_cmd() -> list[str]:
    exe = shutil.which("tessera", path=str(__import__("pathlib").Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "tessera"]


def run(args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120) -> Result:
    proc = subprocess.run(
        [*tessera_cmd(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """The contract for every failure: non-zero exit, one line on stderr, no traceback."""
    assert result.code != 0, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.err}"
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
