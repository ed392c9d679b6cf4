"""Tessera: a keyboard-first help desk on Request Tracker's model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tessera")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
