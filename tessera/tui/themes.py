"""Tessera's two themes, registered with Textual: light (the default) and dark."""

from __future__ import annotations

from textual.theme import Theme

LIGHT = "tessera-light"
DARK = "tessera-dark"
THEME_CHOICES = {"light": LIGHT, "dark": DARK}

TESSERA_LIGHT = Theme(
    name=LIGHT,
    primary="#1f5f8b",
    secondary="#2f7d6d",
    accent="#b45309",
    warning="#a16207",
    error="#b91c1c",
    success="#15803d",
    foreground="#1c2430",
    background="#f7f5f0",
    surface="#efece4",
    panel="#e3dfd3",
    dark=False,
    variables={
        "footer-key-foreground": "#1f5f8b",
        "block-cursor-background": "#1f5f8b",
        "block-cursor-foreground": "#ffffff",
        "input-selection-background": "#1f5f8b 30%",
    },
)

TESSERA_DARK = Theme(
    name=DARK,
    primary="#6cb6e8",
    secondary="#5fc2a8",
    accent="#f0a35e",
    warning="#e3b341",
    error="#f07178",
    success="#7fd18b",
    foreground="#dfe3ea",
    background="#161b22",
    surface="#1d232c",
    panel="#262e3a",
    dark=True,
    variables={
        "footer-key-foreground": "#6cb6e8",
        "block-cursor-background": "#2f6f9f",
        "block-cursor-foreground": "#ffffff",
    },
)

THEMES = (TESSERA_LIGHT, TESSERA_DARK)


def theme_name(choice: str | None) -> str | None:
    """`light`/`dark` (or a full theme name) to the registered name; None for anything else."""
    if not choice:
        return None
    choice = choice.strip().lower()
    if choice in THEME_CHOICES:
        return THEME_CHOICES[choice]
    return choice if choice in (LIGHT, DARK) else None


def short_name(name: str) -> str:
    return "dark" if name == DARK else "light"
