"""The user's key-map file: `keymap.toml` in Tessera's config dir, action id -> keys.

    [keys]
    resolve = "ctrl+x"          # one key
    "queue.mark" = "x,v"        # or several, comma-separated

Unknown ids and malformed values are reported (as warnings in the app), never fatal.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from tessera.tui.actions import ACTIONS, BY_ID

CONFIG_DIR_ENV = "TESSERA_CONFIG_DIR"
FILENAME = "keymap.toml"


def config_dir() -> Path:
    configured = os.environ.get(CONFIG_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("tessera"))


def keymap_path() -> Path:
    return config_dir() / FILENAME


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(id -> keys, problems) from the key-map file; a missing file is an empty key map."""
    path = path or keymap_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [f"cannot read {path}: {exc.strerror}"]
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"{path}: {exc}"]
    table = data.get("keys", {})
    if not isinstance(table, dict):
        return {}, [f'{path}: [keys] must be a table of action id = "keys"']
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for action_id, keys in table.items():
        if action_id not in BY_ID:
            problems.append(f"{path}: unknown action {action_id!r}")
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f'{path}: {action_id} needs a key string such as "ctrl+x"')
        else:
            keymap[action_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return keymap, problems


def default_keymap_text() -> str:
    """A commented key-map file listing every action with its default keys."""
    lines = ['# Tessera key map: action id = "key[,key...]" (Textual key names)', "[keys]"]
    for spec in ACTIONS:
        name = spec.id if spec.id.isidentifier() else f'"{spec.id}"'
        lines.append(f'# {name} = "{spec.keys}"  # {spec.description} ({spec.scope})')
    return "\n".join(lines) + "\n"
