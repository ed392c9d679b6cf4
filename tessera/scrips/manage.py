"""Scrips and templates as data: list, show, export to YAML and apply a YAML file.

The file is a mapping with `scrips` (each: description, queue (absent = global), stage, order,
enabled, condition {name, argument} or {expression}, action {name, argument}, template) and
`templates` (each: name, queue (absent = global), content). A scrip is identified by its
description and queue, a template by its name and queue, so exporting then applying changes nothing.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Queue, Scrip, ScripTemplate
from tessera.core.queues import get_queue
from tessera.core.schemas import pydantic_message
from tessera.scrips import actions, conditions, sandbox
from tessera.scrips.engine import STAGES


class ConditionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    argument: str = ""
    expression: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ConditionSpec:
        if bool(self.name) == bool(self.expression):
            raise ValueError("give either a condition name or an expression")
        return self


class ActionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    argument: str = ""


class ScripSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=300)
    queue: str | None = None
    stage: str = "TransactionCreate"
    order: int = 0
    enabled: bool = True
    condition: ConditionSpec
    action: ActionSpec
    template: str | None = None


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    queue: str | None = None
    content: str = ""
    description: str = ""


class ScripFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scrips: list[ScripSpec] = Field(default_factory=list)
    templates: list[TemplateSpec] = Field(default_factory=list)


def _queue_names(ctx: Context) -> dict[int, str]:
    return dict(ctx.session.execute(select(Queue.id, Queue.name)).all())


def scrip_json(scrip: Scrip, queues: dict[int, str]) -> dict[str, Any]:
    condition: dict[str, Any]
    if scrip.condition_expression:
        condition = {"expression": scrip.condition_expression}
    else:
        condition = {"name": scrip.condition, "argument": scrip.condition_argument}
    out: dict[str, Any] = {"id": scrip.id, "description": scrip.description}
    if scrip.queue_id is not None:
        out["queue"] = queues.get(scrip.queue_id)
    out.update(
        {
            "stage": scrip.stage,
            "order": scrip.sort_order,
            "enabled": scrip.enabled,
            "condition": condition,
            "action": {"name": scrip.action, "argument": scrip.action_argument},
            "template": scrip.template,
        }
    )
    return out


def template_json(template: ScripTemplate, queues: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": template.name}
    if template.queue_id is not None:
        out["queue"] = queues.get(template.queue_id)
    out["content"] = template.content
    if template.description:
        out["description"] = template.description
    return out


def _require_show(ctx: Context) -> None:
    ctx.require(("ShowScrips", "ModifyScrips"), "see", "scrips")


def list_scrips(ctx: Context) -> list[dict[str, Any]]:
    _require_show(ctx)
    queues = _queue_names(ctx)
    rows = ctx.session.scalars(select(Scrip).order_by(Scrip.stage.desc(), Scrip.sort_order, Scrip.id))
    return [scrip_json(s, queues) for s in rows]


def show_scrip(ctx: Context, scrip_id: int) -> dict[str, Any]:
    _require_show(ctx)
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    queues = _queue_names(ctx)
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
    queues = _queue_names(ctx)
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


class _Literal(str):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _literal(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _literal)


def dump_yaml(data: Any) -> str:
    """YAML exactly as `tessera scrip export` writes it (the editor's revisions and diffs use it too)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def export_yaml(ctx: Context) -> str:
    return dump_yaml(export_data(ctx))


def scrip_entry(scrip: Scrip, queues: dict[int, str]) -> dict[str, Any]:
    """One scrip as the export lists it (no id)."""
    data = scrip_json(scrip, queues)
    data.pop("id")
    return data


def scrip_values(spec: ScripSpec, condition_name: str | None, action_name: str) -> dict[str, Any]:
    """The columns of a scrip row for a validated spec (its queue and description aside)."""
    return {
        "stage": spec.stage,
        "sort_order": spec.order,
        "enabled": spec.enabled,
        "condition": condition_name,
        "condition_argument": spec.condition.argument if condition_name else "",
        "condition_expression": spec.condition.expression,
        "action": action_name,
        "action_argument": spec.action.argument,
        "template": spec.template,
    }


def parse_file(text: str) -> ScripFile:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InvalidInput(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if isinstance(raw, list):
        raw = {"scrips": raw}
    try:
        return ScripFile.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


def _validate_scrip(
    spec: ScripSpec, where: str, template_names: set[tuple[str, int | None]], queue_id: int | None
) -> tuple[str | None, str]:
    if spec.stage not in STAGES:
        raise InvalidInput(f"{where}.stage: {spec.stage!r} is not a stage ({', '.join(STAGES)})")
    condition_name = None
    if spec.condition.expression:
        sandbox.check_expression(spec.condition.expression)
    else:
        try:
            condition_name = conditions.canonical_name(spec.condition.name or "")
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.condition: {exc.message}") from None
        if condition_name in ("OnStatusChange",):
            try:
                conditions.parse_status_argument(spec.condition.argument)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}.condition.argument: {exc.message}") from None
    try:
        action_name = actions.canonical_name(spec.action.name)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}.action: {exc.message}") from None
    if spec.template:
        key = spec.template.lower()
        if (key, queue_id) not in template_names and (key, None) not in template_names:
            raise InvalidInput(
                f"{where}.template: no template {spec.template!r} "
                f"{'for that queue or ' if queue_id else ''}globally"
            )
    elif actions.lookup(action_name).uses_template:
        raise InvalidInput(f"{where}.template: action {action_name} needs a template")
    return condition_name, action_name


@operation
def apply_file(ctx: Context, text: str) -> dict[str, Any]:
    """Create or update what the file lists; what it does not list is left alone. One transaction."""
    from tessera.scrips.admin import record_revision

    spec = parse_file(text)
    session = ctx.session
    queue_names = _queue_names(ctx)
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
            sandbox.check_template(tspec.content)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.content: {exc.message}") from None
        row = existing_templates.get((tspec.name.lower(), qid))
        if row is None:
            row = ScripTemplate(
                name=tspec.name, queue_id=qid, content=tspec.content, description=tspec.description
            )
            session.add(row)
            session.flush()
            existing_templates[(tspec.name.lower(), qid)] = row
            summary["templates"]["created"] += 1
            record_revision(ctx, row, "apply", None)
        elif (row.content, row.description, row.name) != (tspec.content, tspec.description, tspec.name):
            before = template_json(row, queue_names)
            row.content, row.description, row.name = tspec.content, tspec.description, tspec.name
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
        condition_name, action_name = _validate_scrip(sspec, where, template_names, qid)
        values = scrip_values(sspec, condition_name, action_name)
        row = existing.get((sspec.description, qid))
        if row is None:
            new_row = Scrip(description=sspec.description, queue_id=qid, **values)
            session.add(new_row)
            session.flush()
            summary["scrips"]["created"] += 1
            record_revision(ctx, new_row, "apply", None)
        elif any(getattr(row, k) != v for k, v in values.items()):
            before = scrip_entry(row, queue_names)
            for k, v in values.items():
                setattr(row, k, v)
            row.updated = ctx.now
            summary["scrips"]["updated"] += 1
            record_revision(ctx, row, "apply", before)
        else:
            summary["scrips"]["unchanged"] += 1
    session.flush()
    return summary


def test_on_ticket(
    ctx: Context, scrip_id: int, ticket_ref: str, transaction_id: int | None
) -> dict[str, Any]:
    """Dry-run one scrip on a ticket's transaction (its latest by default); nothing is kept."""
    from sqlalchemy import select

    from tessera.core.errors import NotFound
    from tessera.core.models import Transaction
    from tessera.core.tickets import get_ticket
    from tessera.scrips.engine import scrip_by_id, test_scrip

    ctx.require(("ShowScrips", "ModifyScrips"), "test", "scrips")
    scrip = scrip_by_id(ctx, scrip_id)
    target = get_ticket(ctx, ticket_ref)
    query = select(Transaction).where(Transaction.ticket_id == target.id)
    if transaction_id is not None:
        query = query.where(Transaction.id == transaction_id)
    txn = ctx.session.scalars(query.order_by(Transaction.id.desc()).limit(1)).first()
    if txn is None:
        raise NotFound(f"no transaction {transaction_id} on {target.display_id}")
    try:
        return test_scrip(ctx, scrip, txn)
    finally:
        ctx.session.rollback()
