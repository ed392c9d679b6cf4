"""A forking server for the tests' `tessera` command lines: it imports the CLI once, then forks a
fresh process per command line.

Most of a `tessera` process's time is Python importing typer, SQLAlchemy and Tessera itself
(~0.5 s on this kind of machine); the suite runs about a thousand command lines. A child forked
from this server is still a separate process with its own argv, environment, standard streams,
exit code and a clean state (the server itself never touches the database), so a test sees what a
user's shell would, minus the imports. What it cannot show is what happens *at* import time
(warnings, the import set, start-up speed): those tests start `tessera` themselves.

Run as a script; requests and replies are one JSON object per line on its stdin and stdout:
    {"argv": [...], "env": {...}, "stdin": PATH|null, "stdout": PATH, "stderr": PATH}
    -> {"pid": N}, then {"code": EXIT_CODE}
"""

from __future__ import annotations

import atexit
import io
import json
import os
import sys
import time


def _child(request: dict) -> int:
    os.setsid()  # its own process group, so a timeout can stop it and anything it started
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    stdin = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    encoding = request["env"].get("PYTHONIOENCODING", "utf-8").split(":")[0] or "utf-8"
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", line_buffering=True
    )
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


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")  # the imports' warnings: tests of those start tessera afresh
    import importlib
    import pkgutil

    import typer
    import typer.rich_utils  # noqa: F401 - help and errors are drawn with rich

    import tessera.cli

    # Every command's module, imported now and once; the commands are still registered in each
    # child as the real program does (only the one a command line names: typer converts every
    # registered command on each run, which would cost more than the imports save).
    for module in pkgutil.iter_modules(tessera.cli.__path__):
        importlib.import_module(f"tessera.cli.{module.name}")
    import tessera.api.app  # imported by `tessera api` when it starts

    requests = sys.stdin.buffer
    replies = sys.stdout
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
