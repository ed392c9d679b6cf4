"""Scrips and templates edited one at a time, as the TUI's admin area does: list, show, save,
reorder, enable, delete, and revert to a revision.

Every function checks the actor's rights (`access`); every change is one operation and leaves a
revision (`revisions`). What the editor checks as you type, without the database, is in `checks`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from tessera.core.context import Context, operation
from tessera.core.errors import Conflict, InvalidInput, NotFound
from tessera.core.json_time import json_time
from tessera.core.models import Scrip, ScripRevision, ScripTemplate
from tessera.core.schemas import pydantic_message
from tessera.scrips.access import (
    SHOW_SCRIPS,
    SHOW_TEMPLATES,
    anywhere,
    require_modify_scrip,
    require_modify_template,
    require_show_scrip,
)
from tessera.scrips.checks import check_template_text
from tessera.scrips.engine import STAGES
from tessera.scrips.revisions import ordered, record_revision
from tessera.scrips.specs import (
    TemplateSpec,
    check_status_target,
    dump_yaml,
    parse_scrip_spec,
    queue_id_named,
    queue_names,
    scrip_entry,
    scrip_values,
    template_json,
    validate_scrip,
)


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


def _condition_text(scrip: Scrip) -> str:
    if scrip.condition_expression:
        return f"expr: {scrip.condition_expression}"
    arg = f" ({scrip.condition_argument})" if scrip.condition_argument else ""
    return f"{scrip.condition}{arg}"


def list_scrips(ctx: Context, queue: str | None = None) -> list[dict[str, Any]]:
    """All scrips the actor may see (queue None), or those that apply to `queue`, in the order they run.

    For a queue: its own and the global ones, TransactionCreate then TransactionBatch, in the shared
    sort order; `position` numbers the enabled ones as the engine runs them (disabled ones: None)."""
    queues = queue_names(ctx)
    query = select(Scrip)
    if queue is not None:
        qid = queue_id_named(ctx, queue, queues)
        require_show_scrip(ctx, qid)
        query = query.where((Scrip.queue_id.is_(None)) | (Scrip.queue_id == qid))
    elif not anywhere(ctx, SHOW_SCRIPS, list(queues)):
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
    require_show_scrip(ctx, scrip.queue_id)
    queues = queue_names(ctx)
    out: dict[str, Any] = {
        "id": scrip.id,
        "spec": scrip_entry(scrip, queues),
        "updated": json_time(scrip.updated),
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
        "updated": json_time(row.updated),
        "used_by": _template_users(ctx, row.name),
    }


def template_for(ctx: Context, name: str, queue: str | None) -> dict[str, Any]:
    """The template a scrip of `queue` named `name` would use (the queue's, else the global one)."""
    ctx.require(SHOW_TEMPLATES, "see", "templates")
    queues = queue_names(ctx)
    return _template_info(ctx, name, queue_id_named(ctx, queue, queues), queues)


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


def _check_version(kind: str, row: Any, expected: str | None) -> None:
    # The version as `show` gives it; the text of before times were JSON's (`+00:00`) still holds.
    if expected is not None and expected not in (json_time(row.updated), row.updated.isoformat()):
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
        queues = queue_names(ctx)
        qid = queue_id_named(ctx, template.get("queue"), queues)
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
    queues = queue_names(ctx)
    parsed = parse_scrip_spec(spec)
    qid = queue_id_named(ctx, parsed.queue, queues)
    require_modify_scrip(ctx, qid, queues)
    row = session.get(Scrip, scrip_id) if scrip_id is not None else None
    if scrip_id is not None and row is None and not revive:
        raise NotFound(f"no scrip {scrip_id}")
    if row is not None:
        require_modify_scrip(ctx, row.queue_id, queues)
        _check_version("scrip", row, expected)
    session.flush()
    template_names = {(t.name.lower(), t.queue_id) for t in session.scalars(select(ScripTemplate))}
    condition_name, action_name = validate_scrip(parsed, "scrip", template_names, qid)
    if parsed.enabled:
        check_status_target(ctx, action_name, parsed.action.argument, qid, "scrip")
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
    queues = queue_names(ctx)
    require_modify_scrip(ctx, scrip.queue_id, queues)
    if enabled:
        where = f"scrip {scrip_id} ({scrip.description})"
        check_status_target(ctx, scrip.action, scrip.action_argument or "", scrip.queue_id, where)
    if scrip.enabled != enabled:
        before = scrip_entry(scrip, queues)
        scrip.enabled = enabled
        scrip.updated = ctx.now
        record_revision(ctx, scrip, "enable" if enabled else "disable", before, queues=queues)
    return get_scrip(ctx, scrip_id)


@operation
def set_many_enabled(ctx: Context, scrip_ids: list[int], enabled: bool) -> list[dict[str, Any]]:
    """Several scrips on or off in one unit: an unknown id or a missing right changes none."""
    return [set_enabled(ctx, scrip_id, enabled) for scrip_id in dict.fromkeys(scrip_ids)]


@operation
def move_scrip(ctx: Context, scrip_id: int, step: int, queue: str | None = None) -> list[dict[str, Any]]:
    """Move a scrip up (-1) or down (+1) among those of its stage (those that apply to `queue`, if
    given). Global and queue scrips share one order, as in RT."""
    session = ctx.session
    scrip = session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = queue_names(ctx)
    require_modify_scrip(ctx, scrip.queue_id, queues)
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
        qid = queue_id_named(ctx, queue, queues)
        visible = [s for s in stage if s.queue_id is None or s.queue_id == qid]
    index = next(i for i, s in enumerate(visible) if s.id == scrip_id)
    other_index = index + (1 if step > 0 else -1)
    if not 0 <= other_index < len(visible):
        raise InvalidInput(f"scrip {scrip_id} is already {'last' if step > 0 else 'first'}")
    other = visible[other_index]
    require_modify_scrip(ctx, other.queue_id, queues)
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
    queues = queue_names(ctx)
    require_modify_scrip(ctx, scrip.queue_id, queues)
    record_revision(ctx, scrip, "delete", scrip_entry(scrip, queues), deleted=True, queues=queues)
    ctx.session.delete(scrip)


def list_templates(ctx: Context) -> list[dict[str, Any]]:
    queues = queue_names(ctx)
    if not anywhere(ctx, SHOW_TEMPLATES, list(queues)):
        ctx.require(SHOW_TEMPLATES, "see", "templates")
    users: dict[str, int] = dict(
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
    queues = queue_names(ctx)
    return {
        "id": row.id,
        "entry": template_json(row, queues),
        "updated": json_time(row.updated),
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
    queues = queue_names(ctx)
    try:
        spec = TemplateSpec.model_validate({k: v for k, v in entry.items() if k != "id"})
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None
    qid = queue_id_named(ctx, spec.queue, queues)
    require_modify_template(ctx, qid, queues)
    problems = [p for p in check_template_text(spec.content, kind=spec.type) if p.severity == "error"]
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
        row = ScripTemplate(
            name=spec.name, queue_id=qid, content=spec.content, description=spec.description, type=spec.type
        )
        if revive and template_id is not None:
            row.id = template_id
        row.updated = ctx.now
        session.add(row)
        before = None
        change = "create" if change == "update" else change
    else:
        require_modify_template(ctx, row.queue_id, queues)
        _check_version("template", row, expected)
        if row.name.lower() != spec.name.lower():
            _refuse_if_orphaning(ctx, row, "rename")
        before = template_json(row, queues)
        row.name, row.queue_id, row.content, row.description = spec.name, qid, spec.content, spec.description
        row.type = spec.type
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
    queues = queue_names(ctx)
    require_modify_template(ctx, row.queue_id, queues)
    _refuse_if_orphaning(ctx, row, "delete")
    record_revision(ctx, row, "delete", template_json(row, queues), deleted=True, queues=queues)
    ctx.session.delete(row)


def export_entry_yaml(entry: dict[str, Any]) -> str:
    """One scrip or template as `tessera scrip export` prints it."""
    return dump_yaml(entry)


@operation
def webhook_secret(ctx: Context, scrip_id: int, *, rotate: bool = False) -> str:
    """A webhook scrip's signing secret, for its receiver (ModifyScrips: it can forge its POSTs)."""
    from tessera.core import webhook_secrets

    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    require_modify_scrip(ctx, scrip.queue_id, queue_names(ctx))
    if scrip.action != "Webhook":
        raise InvalidInput(f"scrip {scrip_id} is not a webhook (its action is {scrip.action})")
    if rotate:
        return webhook_secrets.rotate(ctx.session, scrip_id)
    return webhook_secrets.secret_for(ctx.session, scrip_id)
