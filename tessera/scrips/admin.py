"""Scrip and template administration: list, save, reorder, enable, delete, revisions and revert.

What the TUI's admin area (and any other front end) calls. Every function checks the actor's rights
here, in core: ShowScrips/ModifyScrips for scrips, ShowTemplate/ModifyTemplate for templates, on
the object's queue or globally (SuperUser has them all). Every change is one operation and leaves a
revision (`ScripRevision`): who, when, what changed, and the object before and after as
`tessera scrip export` prints it, so the editor, the history and the export always agree.

The validation functions at the end are pure (no database): the editor runs them as you type.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from pydantic import ValidationError
from sqlalchemy import func, select

from tessera.core.context import Context, operation
from tessera.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tessera.core.models import Queue, Scrip, ScripRevision, ScripTemplate
from tessera.core.schemas import pydantic_message
from tessera.scrips import actions, conditions, sandbox
from tessera.scrips.engine import STAGES
from tessera.scrips.manage import (
    ScripSpec,
    TemplateSpec,
    _validate_scrip,
    dump_yaml,
    scrip_entry,
    scrip_values,
    template_json,
)

SHOW_SCRIPS = ("ShowScrips", "ModifyScrips")
SHOW_TEMPLATES = ("ShowTemplate", "ModifyTemplate", "ShowScrips", "ModifyScrips")
ADMIN_RIGHTS = (
    "ShowScrips",
    "ModifyScrips",
    "ShowTemplate",
    "ModifyTemplate",
    "AdminQueue",
    "AdminLifecycles",
    "AdminCustomField",
)


# -- access ---------------------------------------------------------------------------------------


def _queue_names(ctx: Context) -> dict[int, str]:
    return dict(ctx.session.execute(select(Queue.id, Queue.name)).all())


def _anywhere(ctx: Context, rights: tuple[str, ...], queue_ids: list[int]) -> bool:
    return ctx.can_any(rights) or any(ctx.can_any(rights, q) for q in queue_ids)


def access(ctx: Context) -> dict[str, bool]:
    """What the actor may do in the admin area (globally or on some queue); none at all is refused."""
    queue_ids = list(ctx.session.scalars(select(Queue.id)))
    out = {
        "show_scrips": _anywhere(ctx, SHOW_SCRIPS, queue_ids),
        "modify_scrips": _anywhere(ctx, ("ModifyScrips",), queue_ids),
        "show_templates": _anywhere(ctx, SHOW_TEMPLATES, queue_ids),
        "modify_templates": _anywhere(ctx, ("ModifyTemplate",), queue_ids),
        "admin_queues": _anywhere(ctx, ("AdminQueue",), queue_ids),
        "admin_lifecycles": ctx.can("AdminLifecycles"),
        "admin_custom_fields": ctx.can("AdminCustomField"),
        "superuser": ctx.can("SuperUser"),
    }
    if not any(out.values()):
        raise PermissionDenied(
            f"{ctx.actor.name} may not open the admin area (needs ShowScrips, ModifyScrips, "
            "ModifyTemplate, AdminQueue or SuperUser)"
        )
    return out


def _require_show_scrip(ctx: Context, queue_id: int | None) -> None:
    ctx.require(SHOW_SCRIPS, "see", "scrips", queue_id=queue_id)


def _require_modify_scrip(ctx: Context, queue_id: int | None, queues: dict[int, str]) -> None:
    where = f"the scrips of queue {queues.get(queue_id, queue_id)}" if queue_id else "global scrips"
    ctx.require("ModifyScrips", "change", where, queue_id=queue_id)


def _require_modify_template(ctx: Context, queue_id: int | None, queues: dict[int, str]) -> None:
    where = f"the templates of queue {queues.get(queue_id, queue_id)}" if queue_id else "global templates"
    ctx.require("ModifyTemplate", "change", where, queue_id=queue_id)


def _queue_id(ctx: Context, name: str | None, queues: dict[int, str]) -> int | None:
    if not name:
        return None
    by_lower = {n.lower(): i for i, n in queues.items()}
    found = by_lower.get(name.strip().lower())
    if found is None:
        raise InvalidInput(f"no queue {name!r} (queues: {', '.join(sorted(queues.values()))})")
    return found


# -- revisions ------------------------------------------------------------------------------------


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
    queues = queues if queues is not None else _queue_names(ctx)
    after = None if deleted else _entry(obj, queues)
    summary = _what_changed(before, after)
    if note:
        summary = f"{note}: {summary}"
    is_scrip = isinstance(obj, Scrip)
    revision = ScripRevision(
        kind="scrip" if is_scrip else "template",
        scrip_id=obj.id if is_scrip else None,
        template_id=None if is_scrip else obj.id,
        name=obj.description if is_scrip else obj.name,  # type: ignore[union-attr]
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


def _revision_json(rev: ScripRevision) -> dict[str, Any]:
    return {
        "id": rev.id,
        "kind": rev.kind,
        "object_id": rev.scrip_id if rev.kind == "scrip" else rev.template_id,
        "name": rev.name,
        "change": rev.change,
        "summary": rev.summary,
        "actor": rev.actor_name,
        "created": rev.created.isoformat() if rev.created else None,
        "before": ordered(rev.before, rev.kind),
        "after": ordered(rev.after, rev.kind),
        "diff": revision_diff(rev),
    }


def revision_diff(rev: ScripRevision) -> str:
    """A unified diff of the export YAML before and after this revision."""
    old = dump_yaml(ordered(rev.before, rev.kind)).splitlines(keepends=True) if rev.before is not None else []
    new = dump_yaml(ordered(rev.after, rev.kind)).splitlines(keepends=True) if rev.after is not None else []
    label = f"{rev.kind} {rev.scrip_id if rev.kind == 'scrip' else rev.template_id}"
    return "".join(
        difflib.unified_diff(old, new, fromfile=f"{label} before", tofile=f"{label} revision {rev.id}")
    )


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
    return [_revision_json(r) for r in ctx.session.scalars(query.order_by(ScripRevision.id.desc()))]


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


@operation
def revert(ctx: Context, revision_id: int) -> dict[str, Any]:
    """Make the object what this revision saved (a deletion's revision brings the object back)."""
    rev = ctx.session.get(ScripRevision, revision_id)
    if rev is None:
        raise NotFound(f"no revision {revision_id}")
    state = ordered(rev.after if rev.after is not None else rev.before, rev.kind)
    assert state is not None
    note = f"reverted to revision {rev.id}"
    if rev.kind == "scrip":
        scrip_id = rev.scrip_id
        saved = _save_scrip(ctx, scrip_id, dict(state), None, change="revert", note=note, revive=True)
        return saved
    template_id = rev.template_id
    return _save_template(ctx, template_id, dict(state), None, change="revert", note=note, revive=True)


# -- scrips ---------------------------------------------------------------------------------------


def _condition_text(scrip: Scrip) -> str:
    if scrip.condition_expression:
        return f"expr: {scrip.condition_expression}"
    arg = f" ({scrip.condition_argument})" if scrip.condition_argument else ""
    return f"{scrip.condition}{arg}"


def list_scrips(ctx: Context, queue: str | None = None) -> list[dict[str, Any]]:
    """All scrips the actor may see (queue None), or those that apply to `queue`, in the order they run.

    For a queue: its own and the global ones, TransactionCreate then TransactionBatch, in the shared
    sort order; `position` numbers the enabled ones as the engine runs them (disabled ones: None)."""
    queues = _queue_names(ctx)
    query = select(Scrip)
    if queue is not None:
        qid = _queue_id(ctx, queue, queues)
        _require_show_scrip(ctx, qid)
        query = query.where((Scrip.queue_id.is_(None)) | (Scrip.queue_id == qid))
    elif not _anywhere(ctx, SHOW_SCRIPS, list(queues)):
        ctx.require(SHOW_SCRIPS, "see", "scrips")
    stage_rank = {s: i for i, s in enumerate(STAGES)}
    rows = sorted(
        ctx.session.scalars(query),
        key=lambda s: (stage_rank.get(s.stage, 99), s.sort_order, s.id),
    )
    out = []
    position = 0
    for scrip in rows:
        if queue is None and not ctx.can_any(SHOW_SCRIPS, scrip.queue_id):
            continue
        if scrip.enabled:
            position += 1
        out.append(
            {
                "id": scrip.id,
                "position": position if scrip.enabled else None,
                "description": scrip.description,
                "queue": queues.get(scrip.queue_id) if scrip.queue_id else None,
                "stage": scrip.stage,
                "order": scrip.sort_order,
                "enabled": scrip.enabled,
                "condition": _condition_text(scrip),
                "action": f"{scrip.action}{f' ({scrip.action_argument})' if scrip.action_argument else ''}",
                "template": scrip.template,
            }
        )
    return out


def _find_template(ctx: Context, name: str, queue_id: int | None) -> ScripTemplate | None:
    rows = ctx.session.scalars(select(ScripTemplate).where(func.lower(ScripTemplate.name) == name.lower()))
    by_queue = {t.queue_id: t for t in rows}
    return by_queue.get(queue_id) or by_queue.get(None)


def _template_users(ctx: Context, name: str) -> int:
    return int(
        ctx.session.scalar(select(func.count()).where(func.lower(Scrip.template) == name.lower())) or 0
    )


def get_scrip(ctx: Context, scrip_id: int) -> dict[str, Any]:
    """A scrip for the editor: its export entry, the template it uses, and its version stamp."""
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    _require_show_scrip(ctx, scrip.queue_id)
    queues = _queue_names(ctx)
    out: dict[str, Any] = {
        "id": scrip.id,
        "spec": scrip_entry(scrip, queues),
        "updated": scrip.updated.isoformat(),
        "template": None,
    }
    if scrip.template:
        out["template"] = _template_info(ctx, scrip.template, scrip.queue_id, queues)
    return out


def _template_info(ctx: Context, name: str, queue_id: int | None, queues: dict[int, str]) -> dict[str, Any]:
    row = _find_template(ctx, name, queue_id)
    if row is None:
        return {"id": None, "entry": {"name": name, "content": ""}, "updated": None, "used_by": 0}
    return {
        "id": row.id,
        "entry": template_json(row, queues),
        "updated": row.updated.isoformat(),
        "used_by": _template_users(ctx, row.name),
    }


def template_for(ctx: Context, name: str, queue: str | None) -> dict[str, Any]:
    """The template a scrip of `queue` named `name` would use (the queue's, else the global one)."""
    ctx.require(SHOW_TEMPLATES, "see", "templates")
    queues = _queue_names(ctx)
    return _template_info(ctx, name, _queue_id(ctx, queue, queues), queues)


def new_scrip_spec(queue: str | None = None) -> dict[str, Any]:
    """What the editor starts from for a new scrip."""
    spec: dict[str, Any] = {"description": "", "stage": "TransactionCreate", "order": 0, "enabled": True}
    if queue:
        spec = {"description": "", "queue": queue, **{k: v for k, v in spec.items() if k != "description"}}
    spec.update(
        {
            "condition": {"name": "OnResolve", "argument": ""},
            "action": {"name": "Notify", "argument": "Requestor"},
            "template": "",
        }
    )
    return spec


def _parse_spec(spec: dict[str, Any]) -> ScripSpec:
    data = {k: v for k, v in spec.items() if k != "id"}
    if not data.get("template"):
        data["template"] = None
    condition = dict(data.get("condition") or {})
    if condition.get("expression"):
        condition.pop("name", None)
        condition.pop("argument", None)
    else:
        condition.pop("expression", None)
    data["condition"] = condition
    try:
        return ScripSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


def _check_version(kind: str, row: Any, expected: str | None) -> None:
    if expected is not None and row.updated.isoformat() != expected:
        raise Conflict(
            f"this {kind} changed since you opened it (saved {row.updated:%Y-%m-%d %H:%M:%S}); "
            "reopen it and apply your edit again"
        )


@operation
def save_scrip(
    ctx: Context,
    scrip_id: int | None,
    spec: dict[str, Any],
    template: dict[str, Any] | None = None,
    *,
    expected_updated: str | None = None,
    template_expected_updated: str | None = None,
) -> dict[str, Any]:
    """Create (`scrip_id` None) or update a scrip, and with `template` (an export entry: name, queue,
    content) the template it uses, in one transaction; each saved object gets a revision."""
    if template is not None:
        queues = _queue_names(ctx)
        qid = _queue_id(ctx, template.get("queue"), queues)
        existing = ctx.session.scalars(
            select(ScripTemplate).where(
                func.lower(ScripTemplate.name) == str(template.get("name") or "").lower(),
                ScripTemplate.queue_id.is_(None) if qid is None else ScripTemplate.queue_id == qid,
            )
        ).first()
        if existing is None:
            _save_template(ctx, None, template, None, change="create")
        elif existing.content != template.get("content", ""):
            entry = {**template_json(existing, queues), "content": template.get("content", "")}
            _save_template(ctx, existing.id, entry, template_expected_updated, change="update")
    return _save_scrip(ctx, scrip_id, spec, expected_updated, change="update" if scrip_id else "create")


def _save_scrip(
    ctx: Context,
    scrip_id: int | None,
    spec: dict[str, Any],
    expected: str | None,
    *,
    change: str,
    note: str = "",
    revive: bool = False,
) -> dict[str, Any]:
    session = ctx.session
    queues = _queue_names(ctx)
    parsed = _parse_spec(spec)
    qid = _queue_id(ctx, parsed.queue, queues)
    _require_modify_scrip(ctx, qid, queues)
    row = session.get(Scrip, scrip_id) if scrip_id is not None else None
    if scrip_id is not None and row is None and not revive:
        raise NotFound(f"no scrip {scrip_id}")
    if row is not None:
        _require_modify_scrip(ctx, row.queue_id, queues)
        _check_version("scrip", row, expected)
    session.flush()
    template_names = {(t.name.lower(), t.queue_id) for t in session.scalars(select(ScripTemplate))}
    condition_name, action_name = _validate_scrip(parsed, "scrip", template_names, qid)
    values = scrip_values(parsed, condition_name, action_name)
    if row is None:
        row = Scrip(description=parsed.description, queue_id=qid, **values)
        if revive and scrip_id is not None:
            row.id = scrip_id  # a deleted scrip comes back with its id, so its history continues
        if parsed.order == 0 and not revive:
            last = session.scalar(select(func.max(Scrip.sort_order)).where(Scrip.stage == parsed.stage))
            row.sort_order = (last or 0) + 10  # RT: a new scrip goes last
        row.updated = ctx.now
        session.add(row)
        before = None
        change = "create" if change == "update" else change
    else:
        before = scrip_entry(row, queues)
        row.description, row.queue_id = parsed.description, qid
        for key, value in values.items():
            setattr(row, key, value)
    if before is None or scrip_entry(row, queues) != before:
        row.updated = ctx.now
        record_revision(ctx, row, change, before, queues=queues, note=note)
    return get_scrip(ctx, row.id)


@operation
def set_enabled(ctx: Context, scrip_id: int, enabled: bool) -> dict[str, Any]:
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = _queue_names(ctx)
    _require_modify_scrip(ctx, scrip.queue_id, queues)
    if scrip.enabled != enabled:
        before = scrip_entry(scrip, queues)
        scrip.enabled = enabled
        scrip.updated = ctx.now
        record_revision(ctx, scrip, "enable" if enabled else "disable", before, queues=queues)
    return get_scrip(ctx, scrip_id)


@operation
def move_scrip(ctx: Context, scrip_id: int, step: int, queue: str | None = None) -> list[dict[str, Any]]:
    """Move a scrip up (-1) or down (+1) among those of its stage (those that apply to `queue`, if
    given). Global and queue scrips share one order, as in RT."""
    session = ctx.session
    scrip = session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = _queue_names(ctx)
    _require_modify_scrip(ctx, scrip.queue_id, queues)
    stage = list(
        session.scalars(
            select(Scrip)
            .where(Scrip.stage == scrip.stage)
            .order_by(Scrip.sort_order, Scrip.id)
            .with_for_update()
        )
    )
    befores = {s.id: scrip_entry(s, queues) for s in stage}
    if len({s.sort_order for s in stage}) != len(stage):  # ties: number them first
        for index, s in enumerate(stage):
            s.sort_order = (index + 1) * 10
    visible = stage
    if queue is not None:
        qid = _queue_id(ctx, queue, queues)
        visible = [s for s in stage if s.queue_id is None or s.queue_id == qid]
    index = next(i for i, s in enumerate(visible) if s.id == scrip_id)
    other_index = index + (1 if step > 0 else -1)
    if not 0 <= other_index < len(visible):
        raise InvalidInput(f"scrip {scrip_id} is already {'last' if step > 0 else 'first'}")
    other = visible[other_index]
    _require_modify_scrip(ctx, other.queue_id, queues)
    scrip.sort_order, other.sort_order = other.sort_order, scrip.sort_order
    for s in stage:
        if scrip_entry(s, queues) != befores[s.id]:
            s.updated = ctx.now
            record_revision(ctx, s, "reorder", befores[s.id], queues=queues)
    return list_scrips(ctx, queue)


@operation
def delete_scrip(ctx: Context, scrip_id: int) -> None:
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = _queue_names(ctx)
    _require_modify_scrip(ctx, scrip.queue_id, queues)
    record_revision(ctx, scrip, "delete", scrip_entry(scrip, queues), deleted=True, queues=queues)
    ctx.session.delete(scrip)


# -- templates ------------------------------------------------------------------------------------


def list_templates(ctx: Context) -> list[dict[str, Any]]:
    queues = _queue_names(ctx)
    if not _anywhere(ctx, SHOW_TEMPLATES, list(queues)):
        ctx.require(SHOW_TEMPLATES, "see", "templates")
    users = dict(
        ctx.session.execute(
            select(func.lower(Scrip.template), func.count())
            .where(Scrip.template.is_not(None))
            .group_by(func.lower(Scrip.template))
        ).all()
    )
    out = []
    rows = ctx.session.scalars(
        select(ScripTemplate).order_by(ScripTemplate.queue_id.nulls_first(), func.lower(ScripTemplate.name))
    )
    for row in rows:
        if not ctx.can_any(SHOW_TEMPLATES, row.queue_id):
            continue
        first = next((line for line in row.content.splitlines() if line.strip()), "")
        out.append(
            {
                "id": row.id,
                "name": row.name,
                "queue": queues.get(row.queue_id) if row.queue_id else None,
                "used_by": users.get(row.name.lower(), 0),
                "first_line": first,
                "lines": len(row.content.splitlines()),
            }
        )
    return out


def get_template(ctx: Context, template_id: int) -> dict[str, Any]:
    row = ctx.session.get(ScripTemplate, template_id)
    if row is None:
        raise NotFound(f"no template {template_id}")
    ctx.require(SHOW_TEMPLATES, "see", "templates", queue_id=row.queue_id)
    queues = _queue_names(ctx)
    return {
        "id": row.id,
        "entry": template_json(row, queues),
        "updated": row.updated.isoformat(),
        "used_by": _template_users(ctx, row.name),
    }


@operation
def save_template(
    ctx: Context, template_id: int | None, entry: dict[str, Any], *, expected_updated: str | None = None
) -> dict[str, Any]:
    return _save_template(
        ctx, template_id, entry, expected_updated, change="update" if template_id else "create"
    )


def _save_template(
    ctx: Context,
    template_id: int | None,
    entry: dict[str, Any],
    expected: str | None,
    *,
    change: str,
    note: str = "",
    revive: bool = False,
) -> dict[str, Any]:
    session = ctx.session
    queues = _queue_names(ctx)
    try:
        spec = TemplateSpec.model_validate({k: v for k, v in entry.items() if k != "id"})
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None
    qid = _queue_id(ctx, spec.queue, queues)
    _require_modify_template(ctx, qid, queues)
    problems = [p for p in check_template_text(spec.content) if p.severity == "error"]
    if problems:
        raise InvalidInput(f"template {spec.name!r}: {problems[0].text()}")
    row = session.get(ScripTemplate, template_id) if template_id is not None else None
    if template_id is not None and row is None and not revive:
        raise NotFound(f"no template {template_id}")
    if row is None:
        clash = session.scalars(
            select(ScripTemplate).where(
                func.lower(ScripTemplate.name) == spec.name.lower(),
                ScripTemplate.queue_id.is_(None) if qid is None else ScripTemplate.queue_id == qid,
            )
        ).first()
        if clash is not None:
            where = f"queue {queues[qid]}" if qid else "global"
            raise InvalidInput(f"a {where} template named {spec.name!r} already exists")
        row = ScripTemplate(name=spec.name, queue_id=qid, content=spec.content, description=spec.description)
        if revive and template_id is not None:
            row.id = template_id
        row.updated = ctx.now
        session.add(row)
        before = None
        change = "create" if change == "update" else change
    else:
        _require_modify_template(ctx, row.queue_id, queues)
        _check_version("template", row, expected)
        if row.name.lower() != spec.name.lower():
            _refuse_if_orphaning(ctx, row, "rename")
        before = template_json(row, queues)
        row.name, row.queue_id, row.content, row.description = spec.name, qid, spec.content, spec.description
    if before is None or template_json(row, queues) != before:
        row.updated = ctx.now
        record_revision(ctx, row, change, before, queues=queues, note=note)
    return get_template(ctx, row.id)


def _refuse_if_orphaning(ctx: Context, row: ScripTemplate, verb: str) -> None:
    """A global template that scrips name cannot go away (queue overrides fall back to it)."""
    if row.queue_id is not None or not _template_users(ctx, row.name):
        return
    users = ctx.session.scalars(
        select(Scrip.description).where(func.lower(Scrip.template) == row.name.lower()).limit(3)
    ).all()
    raise InvalidInput(
        f"cannot {verb} template {row.name!r}: {_template_users(ctx, row.name)} scrip(s) use it, e.g. "
        f"{', '.join(repr(u) for u in users)}; point them at another template first"
    )


@operation
def delete_template(ctx: Context, template_id: int) -> None:
    row = ctx.session.get(ScripTemplate, template_id)
    if row is None:
        raise NotFound(f"no template {template_id}")
    queues = _queue_names(ctx)
    _require_modify_template(ctx, row.queue_id, queues)
    _refuse_if_orphaning(ctx, row, "delete")
    record_revision(ctx, row, "delete", template_json(row, queues), deleted=True, queues=queues)
    ctx.session.delete(row)


def export_entry_yaml(entry: dict[str, Any]) -> str:
    """One scrip or template as `tessera scrip export` prints it."""
    return dump_yaml(entry)


# -- validation as you type (pure: no database) ---------------------------------------------------

# The names templates and expressions see (engine.SharedViews.variables) and the sandbox's globals.
KNOWN_NAMES = frozenset(
    {"ticket", "transaction", "queue", "actor", "argument", "scrip", "display_id", "history", "quote", "desk"}
    | set(sandbox.ENV.globals)
)
_USER = frozenset({"id", "name", "email", "real_name", "privileged"})
ATTRIBUTES: dict[str, frozenset[str]] = {
    "ticket": frozenset(
        [
            "id",
            "display_id",
            "subject",
            "status",
            "priority",
            "initial_priority",
            "final_priority",
            "time_worked",
            "time_estimated",
            "time_left",
            "created",
            "updated",
            "started",
            "resolved",
            "due",
            "starts",
            "told",
            "queue",
            "owner",
            "requestors",
            "cc",
            "admincc",
            "requestor",
            "custom_fields",
        ]
    ),
    "transaction": frozenset(
        [
            "id",
            "type",
            "field",
            "old",
            "new",
            "data",
            "created",
            "actor",
            "time_taken",
            "message",
            "content",
            "subject",
            "message_id",
            "description",
        ]
    ),
    "queue": frozenset(["id", "name", "description", "correspond_address", "comment_address", "lifecycle"]),
    "actor": _USER,
    "scrip": frozenset({"id", "description"}),
}
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a draft: where (field, 1-based line of that field's text), and what."""

    field: str
    message: str
    line: int | None = None
    severity: str = "error"

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _syntax_message(exc: TemplateSyntaxError) -> str:
    return (exc.message or str(exc)).strip().splitlines()[0]


def _names(tree: nodes.Template, field: str) -> list[Problem]:
    problems = []
    unknown = meta.find_undeclared_variables(tree) - KNOWN_NAMES
    reported: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in unknown and node.name not in reported:
            reported.add(node.name)
            known = ", ".join(sorted(n for n in KNOWN_NAMES if n != "range"))
            close = difflib.get_close_matches(node.name, KNOWN_NAMES, n=1)
            hint = f" - did you mean {close[0]}?" if close else f" (known: {known})"
            problems.append(Problem(field, f"unknown name {node.name!r}{hint}", node.lineno))
    for node in tree.find_all(nodes.Getattr):
        target = node.node
        if isinstance(target, nodes.Name) and target.name in ATTRIBUTES and target.name not in unknown:
            allowed = ATTRIBUTES[target.name]
            if node.attr not in allowed:
                close = difflib.get_close_matches(node.attr, allowed, n=1)
                hint = f" - did you mean {close[0]}?" if close else ""
                problems.append(
                    Problem(
                        field, f"{target.name} has no attribute {node.attr!r}{hint}", node.lineno, "warning"
                    )
                )
    return problems


def check_template_text(source: str, field: str = "template") -> list[Problem]:
    """Does it compile in the sandbox, and does it use only names that exist? Lines are 1-based."""
    try:
        tree = sandbox.ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [Problem(field, _syntax_message(exc), exc.lineno)]
    problems = _names(tree, field)
    first = source.split("\n", 1)[0]
    if first.strip() and "{" not in first and not _HEADER.match(first):
        problems.append(
            Problem(
                field,
                "not a header line, so the whole text is the body (start with e.g. 'Subject: ...' "
                "and a blank line)",
                1,
                "warning",
            )
        )
    return sorted(problems, key=lambda p: (p.line or 0, p.severity != "error"))


def check_expression_text(source: str, field: str = "expression") -> list[Problem]:
    if not source.strip():
        return [Problem(field, "the expression is empty", 1)]
    try:
        sandbox.ENV.compile_expression(source)
    except TemplateSyntaxError as exc:
        return [Problem(field, _syntax_message(exc), exc.lineno)]
    try:
        tree = sandbox.ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError:
        return []
    return _names(tree, field)


def check_draft(spec: dict[str, Any], template: dict[str, Any] | None = None) -> list[Problem]:
    """Everything the editor can tell without the database, as you type."""
    problems: list[Problem] = []
    if not str(spec.get("description") or "").strip():
        problems.append(Problem("description", "a scrip needs a description"))
    if spec.get("stage", "TransactionCreate") not in STAGES:
        problems.append(Problem("stage", f"{spec.get('stage')!r} is not a stage ({', '.join(STAGES)})"))
    condition = spec.get("condition") or {}
    if condition.get("expression") is not None and not condition.get("name"):
        problems.extend(check_expression_text(condition.get("expression") or ""))
    else:
        try:
            name = conditions.canonical_name(condition.get("name") or "")
            if name == "OnStatusChange":
                conditions.parse_status_argument(condition.get("argument") or "")
        except InvalidInput as exc:
            problems.append(Problem("condition", exc.message))
    action = spec.get("action") or {}
    try:
        action_cls = actions.lookup(action.get("name") or "")
        problems.extend(_check_action_argument(action_cls, action.get("argument") or ""))
        if action_cls.uses_template and not spec.get("template"):
            problems.append(Problem("template", f"action {action.get('name')} needs a template"))
    except InvalidInput as exc:
        problems.append(Problem("action", exc.message))
    if template is not None:
        problems.extend(check_template_text(template.get("content") or ""))
    return problems


def _check_action_argument(action_cls: type[actions.ScripAction], argument: str) -> list[Problem]:
    field = "action.argument"
    if issubclass(action_cls, actions.Notify):
        words = [w.strip() for w in argument.split(",") if w.strip()]
        roles = {actions._norm_role(w) for w in words if "@" not in w}
        unknown = roles - actions.NOTIFY_ROLES - {"alwaysnotifyactor", "nevernotifyactor"}
        if unknown:
            return [
                Problem(
                    field,
                    f"unknown role(s) {', '.join(sorted(unknown))} "
                    "(Requestor, Cc, AdminCc, Owner, All, OtherRecipients)",
                )
            ]
        if not words:
            return [Problem(field, "Notify needs roles or addresses, e.g. Requestor,Cc")]
    elif action_cls is actions.SetPriority:
        try:
            int(argument.replace(" ", ""))
        except ValueError:
            return [Problem(field, f"SetPriority needs a whole number or +N/-N, not {argument!r}")]
    elif action_cls is actions.SetCustomField and "=" not in argument:
        return [Problem(field, "SetCustomField needs NAME=VALUE")]
    elif (
        issubclass(action_cls, actions.TicketChange)
        and action_cls is not actions.OpenInactive
        and not argument.strip()
    ):
        return [Problem(field, f"{action_cls.__name__} needs an argument")]
    return []


def choices() -> dict[str, list[dict[str, str]]]:
    """Built-in (and installed) conditions and actions, with what their argument means."""

    def doc(obj: Any) -> str:
        text = (getattr(obj, "__doc__", None) or "").strip()
        return " ".join(text.split())

    return {
        "conditions": [
            {"name": name, "types": ", ".join(conditions.types_of(fn)), "help": doc(fn)}
            for name, fn in conditions.registry().items()
        ],
        "actions": [
            {"name": name, "help": doc(cls), "template": "yes" if cls.uses_template else "optional"}
            for name, cls in actions.registry().items()
        ],
        "stages": [{"name": s} for s in STAGES],
    }
