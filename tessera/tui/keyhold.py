"""Holding the keys typed after one whose effect comes later (see `TesseraApp.hold_keys`).

Widgets reach the app through these rather than importing it (the app imports them)."""

from __future__ import annotations

from textual.app import App


def hold_keys(app: App[object]) -> None:
    hold = getattr(app, "hold_keys", None)
    if hold is not None:
        hold()


def release_keys(app: App[object]) -> None:
    release = getattr(app, "release_keys", None)
    if release is not None:
        release()
