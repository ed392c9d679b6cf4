"""The scrip catalog read and written whole, as the CLI's `tessera scrip ...` does: list and show
as JSON, export every scrip and template to one YAML file, apply such a file.

The file's format is `specs`' (exporting then applying changes nothing); every change applied leaves
a revision, as the admin editor's do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Scrip, ScripTemplate
from tessera.core.queues import get_queue
from tessera.scrips import sandbox
from tessera.scrips.revisions import record_revision
from tessera.scrips.specs import (
    check_status_target,
    dump_yaml,
    parse_file,
    queue_names,
    scrip_entry,
    scrip_json,
    scrip_values,
    template_json,
    validate_scrip,
)


def _require_show(ctx: Context) -> None:
    ctx.require(("ShowScrips", "ModifyScrips"), "see", "scrips")


def list_scrips(ctx: Context) -> list[dict[str, Any]]:
    _require_show(ctx)
    queues = queue_names(ctx)
    rows = ctx.session.scalars(select(Scrip).order_by(Scrip.stage.desc(), Scrip.sort_order, Scrip.id))
    return [scrip_json(s, queues) for s in rows]


def show_scrip(ctx: Context, scrip_id: int) -> dict[str, Any]:
    _require_show(ctx)
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = queue_names(ctx)
    data = scrip_json(scrip, queues)
    if scrip.template:
        template = _find_template(ctx, scrip.template, scrip.queue_id)
        data["template_content"] = template.content if template else None
    return data


def _find_template(ctx: Context, name: str, queue_id: int | None) -> ScripTemplate | None:
    rows = ctx.session.scalars(select(ScripTemplate).where(ScripTemplate.name.ilike(name))).all()
    by_queue = {t.queue_id: t for t in rows if t.name.lower() == name.lower()}
    return by_queue.get(queue_id) or by_queue.get(None)


def export_data(ctx: Context) -> dict[str, Any]:
    _require_show(ctx)
    queues = queue_names(ctx)
    scrips = [
        scrip_entry(scrip, queues)
        for scrip in ctx.session.scalars(
            select(Scrip).order_by(Scrip.stage.desc(), Scrip.sort_order, Scrip.id)
        )
    ]
    templates = [
        template_json(t, queues)
        for t in ctx.session.scalars(
            select(ScripTemplate).order_by(ScripTemplate.queue_id.nulls_first(), ScripTemplate.name)
        )
    ]
    return {"scrips": scrips, "templates": templates}


def export_yaml(ctx: Context) -> str:
    return dump_yaml(export_data(ctx))


@operation
def apply_file(ctx: Context, text: str) -> dict[str, Any]:
    """Create or update what the file lists; what it does not list is left alone. One transaction."""
    spec = parse_file(text)
    session = ctx.session
    queues = queue_names(ctx)
    summary = {"scrips": {"created": 0, "updated": 0, "unchanged": 0},
               "templates": {"created": 0, "updated": 0, "unchanged": 0}}  # fmt: skip

    def queue_id_of(name: str | None, where: str) -> int | None:
        if name is None:
            return None
        try:
            return get_queue(ctx, name).id
        except NotFound as exc:
            raise InvalidInput(f"{where}.queue: {exc.message}") from None

    existing_templates = {(t.name.lower(), t.queue_id): t for t in session.scalars(select(ScripTemplate))}
    for i, tspec in enumerate(spec.templates):
        where = f"templates[{i}]"
        qid = queue_id_of(tspec.queue, where)
        ctx.require("ModifyTemplate", "change", "templates", queue_id=qid)
        try:
            if tspec.type == "jinja":  # a Simple template has only placeholders: it always renders
                sandbox.check_template(tspec.content)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.content: {exc.message}") from None
        row = existing_templates.get((tspec.name.lower(), qid))
        if row is None:
            row = ScripTemplate(
                name=tspec.name,
                queue_id=qid,
                content=tspec.content,
                description=tspec.description,
                type=tspec.type,
            )
            session.add(row)
            session.flush()
            existing_templates[(tspec.name.lower(), qid)] = row
            summary["templates"]["created"] += 1
            record_revision(ctx, row, "apply", None)
        elif (row.content, row.description, row.name, row.type) != (
            tspec.content,
            tspec.description,
            tspec.name,
            tspec.type,
        ):
            before = template_json(row, queues)
            row.content, row.description, row.name = tspec.content, tspec.description, tspec.name
            row.type = tspec.type
            row.updated = ctx.now
            summary["templates"]["updated"] += 1
            record_revision(ctx, row, "apply", before)
        else:
            summary["templates"]["unchanged"] += 1
    template_names = set(existing_templates)
    existing = {(s.description, s.queue_id): s for s in session.scalars(select(Scrip))}
    for i, sspec in enumerate(spec.scrips):
        where = f"scrips[{i}]"
        qid = queue_id_of(sspec.queue, where)
        ctx.require("ModifyScrips", "change", "scrips", queue_id=qid)
        condition_name, action_name = validate_scrip(sspec, where, template_names, qid)
        if sspec.enabled:
            check_status_target(ctx, action_name, sspec.action.argument, qid, where)
        values = scrip_values(sspec, condition_name, action_name)
        scrip = existing.get((sspec.description, qid))
        if scrip is None:
            new_row = Scrip(description=sspec.description, queue_id=qid, **values)
            session.add(new_row)
            session.flush()
            summary["scrips"]["created"] += 1
            record_revision(ctx, new_row, "apply", None)
        elif any(getattr(scrip, k) != v for k, v in values.items()):
            before = scrip_entry(scrip, queues)
            for k, v in values.items():
                setattr(scrip, k, v)
            scrip.updated = ctx.now
            summary["scrips"]["updated"] += 1
            record_revision(ctx, scrip, "apply", before)
        else:
            summary["scrips"]["unchanged"] += 1
    session.flush()
    return summary
