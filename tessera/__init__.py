"""Tessera: a keyboard-first help desk on Request Tracker's model."""

from typing import Any


def __getattr__(name: str) -> Any:
    """`__version__` on demand: reading package metadata costs ~65 ms of every start otherwise."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tessera")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"
