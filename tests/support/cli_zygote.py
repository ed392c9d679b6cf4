"""A forking server for the tests' `tessera` processes: it imports the CLI once, then forks a fresh
process per command line.

Most of a `tessera` process's time is Python importing typer, SQLAlchemy, FastAPI and Tessera
itself (~0.7 s on this kind of machine), and the suite starts well over a thousand of them. A child
forked from this server is still a separate process with its own argv, environment, standard
streams, exit code and a clean state (the server itself never touches the database), so a test
sees what a user's shell would, minus the imports. What it cannot show is what happens *at*
import time (warnings, the import set, start-up speed): those tests start `tessera` themselves.

Run as a script; requests and replies are one JSON object per line on its stdin and stdout, and
any number of children may run at once (servers, racing command lines):
    {"id": N, "argv": [...], "env": {...}, "stdin": PATH|null, "stdout": PATH, "stderr": PATH}
    -> {"id": N, "pid": PID}, and when it has exited {"id": N, "code": EXIT_CODE}
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import sys
import time
from typing import Any


def _child(request: dict[str, Any], keep_closed: list[int]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in keep_closed:
        os.close(fd)
    os.setsid()  # its own session, as a process a shell starts in the background
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    stdin = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    if request["stderr"] == request["stdout"]:  # stderr=STDOUT
        os.dup2(stdout, 2)
    else:
        stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(stderr, 2)
        os.close(stderr)
    os.close(stdin)
    os.close(stdout)
    encoding = request["env"].get("PYTHONIOENCODING", "utf-8").split(":")[0] or "utf-8"
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115 - the process's own
    sys.stdout = open(1, "w", encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding=encoding, errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    sys.argv = list(request["argv"])
    code = 0
    try:
        from tessera.cli.main import run

        run()
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:  # sys.exit("message"), as Python itself reports it
            sys.stderr.write(f"{stop.code}\n")
            code = 1
    except BaseException as exc:  # what the interpreter would print before exiting 1
        import traceback

        traceback.print_exception(exc)
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _imports() -> None:
    import importlib
    import pkgutil
    import warnings

    warnings.simplefilter("ignore")  # the imports' warnings: tests of those start tessera afresh
    import typer
    import typer.rich_utils  # help and errors are drawn with rich

    import tessera.cli

    # Every command's module, imported now and once; the commands are still registered in each
    # child as the real program does (only the one a command line names: typer converts every
    # registered command on each run, which would cost more than the imports save).
    for module in pkgutil.iter_modules(tessera.cli.__path__):
        importlib.import_module(f"tessera.cli.{module.name}")
    import tessera.api.app  # imported by `tessera api` when it starts
    import tessera.mail.filer  # by `tessera worker`

    del typer


def main() -> None:
    _imports()
    requests, replies = sys.stdin.fileno(), sys.stdout.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below through the pipe
    running: dict[int, int] = {}  # pid -> request id

    def reply(message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(replies, data) :]

    def reap() -> None:
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in running:
                reply({"id": running.pop(pid), "code": os.waitstatus_to_exitcode(status)})

    pending = b""
    while True:
        ready, _, _ = select.select([requests, wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 4096):
                        break
                except BlockingIOError:
                    break
            reap()
        if requests in ready:
            chunk = os.read(requests, 65536)
            if not chunk:
                return  # the test process is gone; children it left run on as orphans would
            pending += chunk
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, [wake_r, wake_w])  # 0 and 1 are replaced
                running[pid] = request["id"]
                reply({"id": request["id"], "pid": pid})
            reap()


if __name__ == "__main__":
    main()
