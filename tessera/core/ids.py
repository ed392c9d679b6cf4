"""Ticket display ids, importable without SQLAlchemy (the TUI's start-up helper formats them)."""

from __future__ import annotations

DISPLAY_PREFIX = "TKT-"


def display_id(ticket_id: int) -> str:
    """`TKT-0042`: at least four digits, more as the desk grows."""
    return f"{DISPLAY_PREFIX}{ticket_id:04d}"
