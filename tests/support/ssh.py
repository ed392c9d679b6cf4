"""SSH in tests: a key pair written as a user keeps one, and terminal output read as plain text."""

from __future__ import annotations

import re
from pathlib import Path

import asyncssh

ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]"
)


def write_key(tmp_path: Path, name: str, comment: str = "") -> tuple[asyncssh.SSHKey, Path]:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment or f"{name}@laptop")
    path = tmp_path / f"{name}.pub"
    path.write_bytes(key.export_public_key("openssh"))
    (tmp_path / name).write_bytes(key.export_private_key("openssh"))
    return key, path


def plain(data: bytes) -> str:
    """Terminal output as text: escape sequences removed."""
    return ANSI.sub("", data.decode("utf-8", errors="replace"))
