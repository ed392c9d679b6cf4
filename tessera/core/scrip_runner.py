"""Where core finds the scrip engine it runs on every unit of work, without importing it.

Scrips belong to core: every caller of a core operation (the program, the mail gateway, the SSH
server, the worker, the HTTP API, a plain Python script that opens a desk) runs them, with nothing
to switch on. Core owns the interface (`context.ScripRunner`); the engine, a layer above
(`tessera.scrips.engine`), implements it. The `tessera` package, which Python imports before any of
its modules, installs the loader here (tessera/__init__.py): core never imports the layer above.
The engine itself is imported by the first unit of work that records a change (Jinja and the scrip
modules cost a read-only start, such as the TUI's first screen, ~0.1 s).

Only bulk loads turn scrips off, for their own context (`context.scrips_off`, RT's ActivateScrips).
This module imports nothing heavy: the package's start must stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_loader: Callable[[], Any] | None = None
_runner: Any = None


def install(loader: Callable[[], Any]) -> None:
    """Set how the runner is found (called once, by the `tessera` package at import)."""
    global _loader, _runner
    _loader, _runner = loader, None


def runner() -> Any:
    """The scrip runner (a `context.ScripRunner`), loaded on first use; None when none is installed."""
    global _runner
    if _runner is None and _loader is not None:
        _runner = _loader()
    return _runner


@contextmanager
def replaced(stand_in: Any) -> Iterator[None]:
    """Run units of work with `stand_in` instead of the engine (tests that must pause a unit
    between its writes and its commit)."""
    global _runner
    before = runner()
    _runner = stand_in
    try:
        yield
    finally:
        _runner = before
