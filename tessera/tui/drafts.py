"""Drafts on disk: every reply or comment being written is saved as you type, and removed only
once it was sent (or you discarded it), so a crash, a lost connection or a refused send loses nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tessera.core.config import data_dir
from tessera.core.ids import display_id

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def drafts_dir() -> Path:
    return data_dir() / "drafts"


def draft_path(user: str, kind: str, ticket_ids: list[int]) -> Path:
    ids = "_".join(str(i) for i in sorted(ticket_ids))
    name = _UNSAFE.sub("-", f"{user}.{kind}.{ids}")
    return drafts_dir() / f"{name}.txt"


def save(path: Path, text: str) -> None:
    """Write atomically (temp file, then rename), private to the user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def load(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def pending(user: str) -> list[tuple[str, str]]:
    """`user`'s unsent drafts, newest first, as (kind, ticket ids): ("reply", "42")."""
    prefix = _UNSAFE.sub("-", f"{user}.")
    found = []
    try:
        paths = list(drafts_dir().glob(f"{prefix}*.txt"))
    except OSError:
        return []
    for path in paths:
        parts = path.stem[len(prefix) :].split(".")
        try:
            info = path.stat()
        except OSError:  # sent (and removed) meanwhile
            continue
        if len(parts) == 2 and info.st_size:
            found.append((info.st_mtime, parts[0], parts[1].replace("_", ", ")))
    return [(kind, ids) for _when, kind, ids in sorted(found, reverse=True)]


def describe(waiting: list[tuple[str, str]]) -> str:
    """Drafts as `pending` lists them, each ticket named as the desk names it everywhere else:
    [("reply", "42"), ("comment", "3, 4")] -> "reply to TKT-0042, comment to TKT-0003, TKT-0004"."""
    return ", ".join(
        f"{kind} to " + ", ".join(display_id(int(i)) if i.isdigit() else i for i in ids.split(", "))
        for kind, ids in waiting
    )
