"""A module, or a name in one, imported on first use.

The TUI paints its first screen before SQLAlchemy, the models and the ticket operations are
imported (see `tessera.tui.backend`); what needs them names them with `Later` and imports them when
a worker thread first calls them, after the first page is on screen.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


class Later:
    """`Later("tessera.core.tickets")`, or `Later("tessera.core.schemas", "MessageIn")`."""

    def __init__(self, module: str, name: str | None = None) -> None:
        self._where = (module, name)

    def _resolve(self) -> Any:
        module, name = self._where
        found = import_module(module)
        return getattr(found, name) if name else found

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._resolve(), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)
