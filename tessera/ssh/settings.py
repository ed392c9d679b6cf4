"""The SSH server's settings: where it listens, its limits and what a session runs, from the
command line's options, then $TESSERA_SSH_IDLE_TIMEOUT and $TESSERA_SSH_MAX_SESSIONS, then defaults.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.core.errors import InvalidInput

IDLE_TIMEOUT_ENV = "TESSERA_SSH_IDLE_TIMEOUT"


MAX_SESSIONS_ENV = "TESSERA_SSH_MAX_SESSIONS"

# 0 turns the preloaded parent off: each session is then a fresh `python -m tessera tui` process.
PRELOAD_ENV = "TESSERA_SSH_PRELOAD"


DEFAULT_IDLE_TIMEOUT = 30 * 60.0


DEFAULT_MAX_SESSIONS = 4

# A connection that has not started a session this long after logging in (`ssh -N`, forwarding
# only) is disconnected.
NO_SESSION_GRACE = 20.0


def tui_command(user_name: str) -> list[str]:
    """The program every session runs: the Tessera TUI as the logged-in user."""
    return [sys.executable, "-m", "tessera", "tui", "--user", user_name]


def parse_duration(raw: str, *, source: str) -> float:
    """Seconds, or a number with s/m/h; 0 turns the timeout off."""
    text = raw.strip().lower()
    scale = 1.0
    if text and text[-1] in "smh":
        scale = {"s": 1.0, "m": 60.0, "h": 3600.0}[text[-1]]
        text = text[:-1]
    try:
        value = float(text) * scale
    except ValueError:
        raise InvalidInput(f"{source}: expected seconds (or e.g. 30m, 1h), got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{source}: expected a duration of 0 or more (0 = never), got {raw!r}")
    return value


def parse_count(raw: str, *, source: str) -> int:
    """A whole number of 0 or more (0 = no limit)."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{source}: expected a whole number, got {raw!r}") from None
    if value < 0:
        raise InvalidInput(f"{source}: expected 0 (no limit) or more, got {raw!r}")
    return value


@dataclass
class ServerSettings:
    """What `tessera ssh-server` runs with: where it listens, its limits, what a session runs."""

    host: str = "127.0.0.1"
    port: int = 2222
    data_dir: Path = field(default_factory=lambda: Path("."))
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # seconds without input; 0 = never
    max_sessions: int = DEFAULT_MAX_SESSIONS  # per user, on this server; 0 = no limit
    no_session_grace: float = NO_SESSION_GRACE  # seconds a login may go without starting a session
    # What a session runs, given the user's name. Tests swap in a small program.
    command: Callable[[str], Sequence[str]] = tui_command
    # The environment of each session's program (default: the server's own, which holds the
    # database settings: agents need none of their own).
    env: Mapping[str, str] | None = None
    # Fork sessions of the default command from a preloaded parent (`tessera.ssh.preload`).
    preload: bool = True

    def preloaded_argv(self, user_name: str) -> list[str] | None:
        """The arguments of `tessera` a forked session runs, if sessions are forked (None: exec
        `command`, e.g. a test's stand-in or with $TESSERA_SSH_PRELOAD=0)."""
        if not self.preload or self.command is not tui_command:
            return None
        return ["tui", "--user", user_name]

    @classmethod
    def from_env(
        cls,
        *,
        idle_timeout: str | None = None,
        max_sessions: str | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,  # the dataclass's own fields
    ) -> ServerSettings:
        """Options win over $TESSERA_SSH_IDLE_TIMEOUT and $TESSERA_SSH_MAX_SESSIONS, then the defaults."""
        environ = os.environ if environ is None else environ
        settings = cls(**kwargs)
        raw_idle = idle_timeout if idle_timeout is not None else environ.get(IDLE_TIMEOUT_ENV)
        if raw_idle is not None and raw_idle.strip():
            source = "--idle-timeout" if idle_timeout is not None else IDLE_TIMEOUT_ENV
            settings.idle_timeout = parse_duration(raw_idle, source=source)
        raw_max = max_sessions if max_sessions is not None else environ.get(MAX_SESSIONS_ENV)
        if raw_max is not None and raw_max.strip():
            source = "--max-sessions" if max_sessions is not None else MAX_SESSIONS_ENV
            settings.max_sessions = parse_count(raw_max, source=source)
        if environ.get(PRELOAD_ENV, "").strip().lower() in ("0", "no", "off", "false"):
            settings.preload = False
        return settings
