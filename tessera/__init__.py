"""Tessera: a keyboard-first help desk on Request Tracker's model.

This module wires the layers together (it is imported before any of them): core runs the scrip
engine on every unit of work, and finds it through the loader installed here, so that core never
imports the layer above it (see tessera/core/scrip_runner.py).
"""

from typing import TYPE_CHECKING, Any

from tessera.core import scrip_runner as _scrip_runner

if TYPE_CHECKING:
    from tessera.core.context import ScripRunner


def _scrip_engine() -> "ScripRunner":
    """The scrip engine, imported by the first unit of work that needs it."""
    from tessera.scrips.engine import ENGINE

    return ENGINE


_scrip_runner.install(_scrip_engine)


def __getattr__(name: str) -> Any:
    """`__version__` on demand: reading package metadata costs ~65 ms of every start otherwise."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tessera")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"
