"""The user's key-map file: `keymap.toml` in Tessera's config dir, action id -> keys.

    [keys]
    resolve = "ctrl+x"          # one key
    "queue.mark" = "x,v"        # or several, comma-separated

Unknown ids and malformed values are reported (as warnings in the app), never fatal. A binding
that gives one key two actions where both are live at once (the ticket list's `x` and a ticket
verb, say) is refused: the action it rebinds keeps its default keys, and the warning names both.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from tessera.tui.actions import ACTIONS, BY_ID, ActionSpec

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
            wanted = list(dict.fromkeys(k.strip() for k in keys.split(",") if k.strip()))
            unknown = [k for k in wanted if not known_key(k)]
            if unknown:
                problems.append(
                    f"{path}: refused: {action_id}: {unknown[0]!r} is not a key name (Textual's names: "
                    f'"ctrl+x", "f5", "question_mark", "pagedown"); it keeps {BY_ID[action_id].keys}'
                )
            else:
                keymap[action_id] = ",".join(wanted)
    return keymap, problems + refuse_conflicts(keymap, path)


MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})


def known_key(key: str) -> bool:
    """Whether Textual could ever send `key` (modifiers, then one printable character or a key's
    name): a misspelt name would bind nothing, and the action would silently lose its key."""
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys, key_to_character

    *modifiers, base = key.split("+")
    if not base or any(m not in MODIFIERS for m in modifiers):
        return False
    if len(base) == 1:
        return base.isprintable()
    named = {k.value.split("+")[-1] for k in Keys} | set(KEY_NAME_REPLACEMENTS.values())
    return base in named or key_to_character(base) is not None


# Scopes whose bindings are live at the same time: the main screen's keys with the focused pane's,
# the admin area's with its tab's, the editor's. (Dialogs are screens of their own, one at a time.)
LIVE_TOGETHER: tuple[frozenset[str], ...] = (
    frozenset({"global", "ticket", "queue"}),
    frozenset({"global", "ticket", "queues"}),
    frozenset({"global", "ticket", "history"}),
    *(frozenset({"admin", tab}) for tab in ("scrips", "templates", "lifecycles", "queueadmin", "cfadmin")),
    frozenset({"editor"}),
)


def _keys(spec: ActionSpec, keymap: dict[str, str]) -> list[str]:
    return [k.strip() for k in (keymap.get(spec.id) or spec.keys).split(",") if k.strip()]


def clashes(keymap: dict[str, str]) -> set[tuple[str, str, str]]:
    """(key, action id, action id) for each key two actions live at once are bound to."""
    found: set[tuple[str, str, str]] = set()
    for scopes in LIVE_TOGETHER:
        by_key: dict[str, list[str]] = {}
        for spec in ACTIONS:
            if spec.scope in scopes:
                for key in _keys(spec, keymap):
                    by_key.setdefault(key, []).append(spec.id)
        for key, ids in by_key.items():
            found.update((key, a, b) for a in ids for b in ids if a < b)
    return found


DEFAULT_CLASHES = clashes({})  # by design (an admin tab's own escape over the area's)


def refuse_conflicts(keymap: dict[str, str], path: Path) -> list[str]:
    """Drop each rebinding that gives a key two live actions (`keymap` is changed in place): the
    action keeps its default keys. One problem per conflict, naming the key and both actions."""
    problems: list[str] = []
    while True:
        new = sorted(clashes(keymap) - DEFAULT_CLASHES)
        if not new:
            return problems
        key, a, b = new[0]
        mine = [i for i in (a, b) if i in keymap]
        if not mine:  # cannot be (defaults' clashes are left out), but never loop on it
            return problems
        first = mine[0]
        other = b if first == a else a
        for action_id in mine:
            keymap.pop(action_id, None)
        kept = "; ".join(f"{i} keeps {BY_ID[i].keys}" for i in mine)
        problems.append(
            f"{path}: refused: {key} is bound to both {first} ({BY_ID[first].description}) and "
            f"{other} ({BY_ID[other].description}); {kept}"
        )


def default_keymap_text() -> str:
    """A commented key-map file listing every action with its default keys."""
    lines = ['# Tessera key map: action id = "key[,key...]" (Textual key names)', "[keys]"]
    for spec in ACTIONS:
        name = spec.id if spec.id.isidentifier() else f'"{spec.id}"'
        lines.append(f'# {name} = "{spec.keys}"  # {spec.description} ({spec.scope})')
    return "\n".join(lines) + "\n"
