"""Running the real `tessera` program, as a user would."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


def tessera_cmd() -> list[str]:
    exe = shutil.which("tessera", path=str(__import__("pathlib").Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "tessera"]


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120, fresh: bool = False
) -> Result:
    """`tessera ARGS` in its own process. By default the process is forked from a server that has
    already imported the CLI (tests/support/cli_zygote.py), which saves the half second of imports
    per command line; `fresh=True` (or a second command line while one runs) starts the program
    from nothing, for tests of what happens at start-up (TESSERA_TEST_CLI_FRESH=1: every one)."""
    fresh = fresh or os.environ.get("TESSERA_TEST_CLI_FRESH") == "1"
    if not fresh and _ZYGOTE_LOCK.acquire(blocking=False):
        try:
            return _zygote().run([*tessera_cmd(), *args], env, stdin, timeout)
        finally:
            _ZYGOTE_LOCK.release()
    proc = subprocess.run(
        [*tessera_cmd(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


class _Zygote:
    """This test process's forking server (one per pytest worker, started on first use)."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("cli_zygote.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.pending = b""
        self.files = Path(tempfile.mkdtemp(prefix="tessera-cli-"))

    def run(self, argv: list[str], env: dict[str, str], stdin: str | None, timeout: float) -> Result:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        paths = {name: self.files / name for name in ("stdin", "stdout", "stderr")}
        if stdin is not None:
            paths["stdin"].write_text(stdin, encoding="utf-8")
        request = {
            "argv": argv,
            "env": dict(env),
            "stdin": str(paths["stdin"]) if stdin is not None else None,
            "stdout": str(paths["stdout"]),
            "stderr": str(paths["stderr"]),
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self._reply(30))["pid"]
        try:
            code = json.loads(self._reply(timeout))["code"]
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            self._reply(30)
            raise subprocess.TimeoutExpired(argv, timeout) from None
        out = paths["stdout"].read_text(encoding="utf-8")
        err = paths["stderr"].read_text(encoding="utf-8")
        return Result(code, out, err)

    def _reply(self, timeout: float) -> str:
        """One reply line, read from the pipe unbuffered (a buffered reader could hold the next
        reply where select cannot see it)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired("tessera", timeout)
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the tests' CLI server stopped (exit {self.proc.wait()})")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()


_ZYGOTE_LOCK = threading.Lock()
_ZYGOTE: _Zygote | None = None


def _zygote() -> _Zygote:
    global _ZYGOTE
    if _ZYGOTE is None or _ZYGOTE.proc.poll() is not None:
        _ZYGOTE = _Zygote()
    return _ZYGOTE


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """The contract for every failure: non-zero exit, one line on stderr, no traceback."""
    assert result.code != 0, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.err}"
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
