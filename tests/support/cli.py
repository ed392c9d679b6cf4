"""Running the real `tessera` program, as a user would."""

from __future__ import annotations

import contextlib
import json
import os
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
    """`tessera ARGS` in its own process, to its exit. By default the process is forked from a
    server that has already imported the CLI (tests/support/cli_zygote.py), which saves the ~0.7 s
    of imports per command line; `fresh=True` starts the program from nothing, for tests of what
    happens at start-up (TESSERA_TEST_CLI_FRESH=1: every command line)."""
    if fresh or _fresh_only():
        proc = subprocess.run(
            [*tessera_cmd(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)
    child = start(args, env, stdin=stdin.encode() if stdin is not None else None)
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill_group()
        child.wait(30)
        raise
    return Result(code, child.read("stdout"), child.read("stderr"))


def run_bytes(
    args: list[str], env: dict[str, str], stdin: bytes, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """`run` for a program fed bytes that need not be text (mail as an MTA pipes it)."""
    child = start(args, env, stdin=stdin)
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill_group()
        raise
    return subprocess.CompletedProcess(
        child.args, code, child.read_bytes("stdout"), child.read_bytes("stderr")
    )


def start(
    args: list[str], env: dict[str, str], stdin: bytes | None = None, merge_stderr: bool = False
) -> Child:
    """`tessera ARGS` started and left running (a server, a worker, one of many racing command
    lines): a handle with Popen's poll/wait/terminate/kill, its output kept in files."""
    return _zygote().start([*tessera_cmd(), *args], env, stdin, merge_stderr)


def _fresh_only() -> bool:
    return os.environ.get("TESSERA_TEST_CLI_FRESH") == "1"


class Child:
    """A `tessera` process forked by the tests' CLI server (not this process's own child: its
    exit code comes from the server)."""

    def __init__(self, number: int, files: Path, args: list[str]) -> None:
        self.number = number
        self.files = files
        self.args = args
        self.pid = 0
        self.returncode: int | None = None
        self.started = threading.Event()
        self.exited = threading.Event()

    def path(self, stream: str) -> Path:
        return self.files / f"{self.number}.{stream}"

    def read_bytes(self, stream: str) -> bytes:
        path = self.path(stream)
        return path.read_bytes() if path.exists() else b""

    def read(self, stream: str = "stdout") -> str:
        return self.read_bytes(stream).decode("utf-8", errors="replace")

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.exited.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """(stdout, stderr) once it has exited, as Popen's."""
        self.wait(timeout)
        return self.read("stdout"), self.read("stderr")

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def kill_group(self) -> None:
        """It and whatever it started (it leads its own session)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)


class _Zygote:
    """This test process's forking server (one per pytest worker, started on first use)."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("cli_zygote.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.files = Path(tempfile.mkdtemp(prefix="tessera-cli-"))
        self.lock = threading.Lock()
        self.children: dict[int, Child] = {}
        self.numbers = iter(range(1, 1 << 62))
        threading.Thread(target=self._replies, daemon=True, name="tessera-cli-server").start()

    def start(self, argv: list[str], env: dict[str, str], stdin: bytes | None, merge_stderr: bool) -> Child:
        assert self.proc.stdin is not None
        with self.lock:
            child = Child(next(self.numbers), self.files, argv)
            self.children[child.number] = child
            if stdin is not None:
                child.path("stdin").write_bytes(stdin)
            request = {
                "id": child.number,
                "argv": argv,
                "env": dict(env),
                "stdin": str(child.path("stdin")) if stdin is not None else None,
                "stdout": str(child.path("stdout")),
                "stderr": str(child.path("stdout" if merge_stderr else "stderr")),
            }
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        if not child.started.wait(60):
            raise RuntimeError("the tests' CLI server did not fork within 60 s")
        if child.pid == 0:
            raise RuntimeError(f"the tests' CLI server stopped (exit {self.proc.poll()})")
        return child

    def _replies(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            with self.lock:
                child = self.children.get(message["id"])
            if child is None:
                continue
            if "pid" in message:
                child.pid = message["pid"]
                child.started.set()
            else:
                child.returncode = message["code"]
                with self.lock:
                    self.children.pop(child.number, None)
                child.exited.set()
        with self.lock:  # the server is gone: nothing it started will be reported
            for child in self.children.values():
                child.started.set()
                if child.pid:
                    child.returncode = -1
                    child.exited.set()


_ZYGOTE: _Zygote | None = None
_ZYGOTE_START = threading.Lock()


def _zygote() -> _Zygote:
    global _ZYGOTE
    with _ZYGOTE_START:
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
