"""The revision log of scrips and templates: every change leaves one (who, when, what changed, and
the object before and after as `tessera scrip export` prints it), so the editor's history, its
diffs and the export always agree; `editing.revert` brings a revision back.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import select

from tessera.core.context import Context
from tessera.core.errors import InvalidInput
from tessera.core.json_time import json_time
from tessera.core.models import Scrip, ScripRevision, ScripTemplate
from tessera.scrips.access import SHOW_SCRIPS, SHOW_TEMPLATES
from tessera.scrips.specs import dump_yaml, queue_names, scrip_entry, template_json


def _entry(obj: Scrip | ScripTemplate, queues: dict[int, str]) -> dict[str, Any]:
    return scrip_entry(obj, queues) if isinstance(obj, Scrip) else template_json(obj, queues)


def _what_changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return "created"
    if after is None:
        return "deleted"
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    parts = []
    for key in keys:
        if key == "content":
            old = (before.get(key) or "").splitlines()
            new = (after.get(key) or "").splitlines()
            added = removed = 0
            for line in difflib.ndiff(old, new):
                added += line.startswith("+ ")
                removed += line.startswith("- ")
            parts.append(f"content (+{added} -{removed} lines)")
        else:
            parts.append(key)
    return ", ".join(parts) or "no change"


def record_revision(
    ctx: Context,
    obj: Scrip | ScripTemplate,
    change: str,
    before: dict[str, Any] | None,
    *,
    deleted: bool = False,
    queues: dict[int, str] | None = None,
    note: str = "",
) -> ScripRevision:
    """Write one revision of `obj` (flushed, so `obj.id` exists); `before` is its export entry or None."""
    ctx.session.flush()
    queues = queues if queues is not None else queue_names(ctx)
    after = None if deleted else _entry(obj, queues)
    summary = _what_changed(before, after)
    if note:
        summary = f"{note}: {summary}"
    if isinstance(obj, Scrip):
        kind, scrip_id, template_id, name = "scrip", obj.id, None, obj.description
    else:
        kind, scrip_id, template_id, name = "template", None, obj.id, obj.name
    revision = ScripRevision(
        kind=kind,
        scrip_id=scrip_id,
        template_id=template_id,
        name=name,
        change=change,
        summary=summary,
        before=before,
        after=after,
        actor_id=ctx.actor.id,
        actor_name=ctx.actor.name,
        created=ctx.now,
    )
    ctx.session.add(revision)
    ctx.session.flush()
    return revision


_KEY_ORDER = {
    "scrip": ("description", "queue", "stage", "order", "enabled", "condition", "action", "template"),
    "template": ("name", "queue", "content", "description"),
    "condition": ("name", "argument", "expression"),
    "action": ("name", "argument"),
}


def ordered(entry: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """An export entry with its keys in the export's order (jsonb does not keep key order)."""
    if entry is None:
        return None
    order = _KEY_ORDER[kind]
    keys = sorted(entry, key=lambda k: order.index(k) if k in order else len(order))
    out = {}
    for key in keys:
        value = entry[key]
        if key in ("condition", "action") and isinstance(value, dict):
            value = ordered(value, key)
        out[key] = value
    return out


def _revision_json(rev: ScripRevision, version: int | None = None) -> dict[str, Any]:
    """One revision as the editor's history shows it; `version`: its number among its object's
    revisions, from 1 (the oldest), used in the list and in the diff's headers alike."""
    return {
        "id": rev.id,
        "kind": rev.kind,
        "object_id": rev.scrip_id if rev.kind == "scrip" else rev.template_id,
        "name": rev.name,
        "change": rev.change,
        "summary": rev.summary,
        "actor": rev.actor_name,
        "created": json_time(rev.created),
        "before": ordered(rev.before, rev.kind),
        "after": ordered(rev.after, rev.kind),
        "version": version,
        "diff": revision_diff(rev, version),
    }


def revision_diff(rev: ScripRevision, version: int | None = None) -> str:
    """A unified diff of the export YAML before and after this revision; with its `version`, the
    headers name the versions (`v1` → `v2`) as the history list does, else the revision id."""
    old = dump_yaml(ordered(rev.before, rev.kind)).splitlines(keepends=True) if rev.before is not None else []
    new = dump_yaml(ordered(rev.after, rev.kind)).splitlines(keepends=True) if rev.after is not None else []
    label = f"{rev.kind} {rev.scrip_id if rev.kind == 'scrip' else rev.template_id}"
    if version is None:
        before, after = f"{label} before", f"{label} revision {rev.id}"
    else:
        before = f"{label} v{version - 1}" if version > 1 else f"{label} (nothing before v1)"
        after = f"{label} v{version}"
    return "".join(difflib.unified_diff(old, new, fromfile=before, tofile=after))


def revisions(ctx: Context, kind: str, object_id: int) -> list[dict[str, Any]]:
    """The history of one scrip or template, newest first, each with its diff."""
    if kind == "scrip":
        ctx.require(SHOW_SCRIPS, "see", "scrip history")
        query = select(ScripRevision).where(
            ScripRevision.kind == "scrip", ScripRevision.scrip_id == object_id
        )
    elif kind == "template":
        ctx.require(SHOW_TEMPLATES, "see", "template history")
        query = select(ScripRevision).where(
            ScripRevision.kind == "template", ScripRevision.template_id == object_id
        )
    else:
        raise InvalidInput(f"no history for {kind!r} (scrip or template)")
    rows = list(ctx.session.scalars(query.order_by(ScripRevision.id.desc())))
    return [_revision_json(r, len(rows) - n) for n, r in enumerate(rows)]


def deleted_scrips(ctx: Context) -> list[dict[str, Any]]:
    """Scrips deleted and not restored: their last revision (the deletion), newest first."""
    ctx.require(SHOW_SCRIPS, "see", "scrip history")
    alive = select(Scrip.id)
    rows = ctx.session.scalars(
        select(ScripRevision)
        .where(
            ScripRevision.kind == "scrip",
            ScripRevision.change == "delete",
            ScripRevision.scrip_id.not_in(alive),
        )
        .order_by(ScripRevision.id.desc())
    )
    out, seen = [], set()
    for rev in rows:
        if rev.scrip_id not in seen:
            seen.add(rev.scrip_id)
            out.append(_revision_json(rev))
    return out
