"""How scrips and templates are written down: the specs of a scrip file, their JSON and YAML forms.

A scrip file is a mapping with `scrips` (each: description, queue (absent = global), stage, order,
enabled, condition {name, argument} or {expression}, action {name, argument}, template) and
`templates` (each: name, queue (absent = global), content). A scrip is identified by its description
and queue, a template by its name and queue, so exporting then applying changes nothing. The CLI's
file (`catalog_file`), the admin editor (`editing`), its revisions and the draft dry-run all read
and write scrips through these forms, so they always agree.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select

from tessera.core.context import Context
from tessera.core.errors import InvalidInput
from tessera.core.models import Queue, Scrip, ScripTemplate
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
    # 'jinja' (the sandboxed language) or 'simple' (RT's Simple: `{$Name}` placeholders only).
    type: Literal["jinja", "simple"] = "jinja"
    content: str = ""
    description: str = ""

    @field_validator("type", mode="before")
    @classmethod
    def _type_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ScripFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scrips: list[ScripSpec] = Field(default_factory=list)
    templates: list[TemplateSpec] = Field(default_factory=list)


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
    if template.type == "simple":  # only then: Jinja templates export as they always did
        out["type"] = "simple"
    out["content"] = template.content
    if template.description:
        out["description"] = template.description
    return out


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


def parse_scrip_spec(spec: dict[str, Any]) -> ScripSpec:
    """A scrip as the editor holds it (an export entry, maybe with its id) validated as a spec."""
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


def validate_scrip(
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
        if condition_name in ("OnStatusChange", *conditions.TIME_CONDITIONS):
            try:
                conditions.check_argument(condition_name, spec.condition.argument)
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


def check_status_target(
    ctx: Context, action_name: str, argument: str, queue_id: int | None, where: str
) -> None:
    """An enabled SetStatus must name a status every queue it runs on has: otherwise it fails on
    each ticket there (a timer would record a firing on every one of them and change nothing)."""
    from tessera.core.lifecycles.desk import lifecycle_by_name

    status = argument.strip().lower()
    if action_name != "SetStatus" or status in ("", "active", "inactive", "initial"):
        return
    query = select(Queue.name, Queue.lifecycle).where(Queue.disabled.is_(False)).order_by(Queue.name)
    if queue_id is not None:
        query = select(Queue.name, Queue.lifecycle).where(Queue.id == queue_id)
    lacking: dict[str, list[str]] = {}
    for queue, lifecycle in ctx.session.execute(query).all():
        if not lifecycle_by_name(ctx.session, lifecycle).is_valid(status):
            lacking.setdefault(lifecycle, []).append(queue)
    if lacking:
        name, queues = next(iter(lacking.items()))
        shown = ", ".join(queues[:5]) + (", ..." if len(queues) > 5 else "")
        raise InvalidInput(
            f"{where}.action.argument: {status!r} is not a status of lifecycle {name!r} (queues {shown}), "
            "so SetStatus would fail on every ticket there; choose a status it has, or make this a "
            "scrip of the queues whose lifecycle has it"
        )


def queue_names(ctx: Context) -> dict[int, str]:
    """Queue names by id: specs name queues, rows hold ids."""
    return dict(ctx.session.execute(select(Queue.id, Queue.name)).all())


def queue_id_named(ctx: Context, name: str | None, queues: dict[int, str]) -> int | None:
    """The id of the queue a spec names (any case), None for global; an unknown name is refused."""
    if not name:
        return None
    by_lower = {n.lower(): i for i, n in queues.items()}
    found = by_lower.get(name.strip().lower())
    if found is None:
        raise InvalidInput(f"no queue {name!r} (queues: {', '.join(sorted(queues.values()))})")
    return found
