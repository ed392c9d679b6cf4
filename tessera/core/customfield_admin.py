"""Changing custom field definitions: rename, describe, re-scope, allowed values, pattern, disable.

`customfields.create_field` makes a field; `update_field` changes one, with the same checks.
The type is not changed here (values tickets already have were checked against it). Needs
AdminCustomField (SuperUser has every right).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tessera.core import cf_patterns
from tessera.core.context import Context, operation
from tessera.core.customfields import MAX_NAME, check_distinct_values, find_field, get_field
from tessera.core.errors import InvalidInput
from tessera.core.hostile_text import check_name
from tessera.core.models import CustomField, CustomFieldOption, CustomFieldValue
from tessera.core.queues import get_queue

ADMIN_RIGHT = "AdminCustomField"
_UNSET: Any = object()


def _clean_values(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = check_name(value, "custom field", "value")
        if value and value not in seen:
            if len(value) > 255:
                raise InvalidInput(f"allowed value {value[:40]!r}... is longer than 255 characters")
            seen.append(value)
    check_distinct_values(seen)
    return seen


def _has_multi_values(ctx: Context, cf: CustomField) -> bool:
    """Whether some ticket holds more than one value of `cf`."""
    return (
        ctx.session.execute(
            select(CustomFieldValue.ticket_id)
            .where(CustomFieldValue.custom_field_id == cf.id)
            .group_by(CustomFieldValue.ticket_id)
            .having(func.count() > 1)
            .limit(1)
        ).first()
        is not None
    )


@operation
def update_field(
    ctx: Context,
    name: str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    pattern: str | None = _UNSET,
    values: list[str] | None = None,
    queue: str | None = _UNSET,
    multiple: bool | None = None,
    disabled: bool | None = None,
) -> CustomField:
    """Change what is given (None leaves it; `pattern=None`/`''` clears it; `queue=None` makes the
    field apply to every queue). Values only for select fields, and a select keeps at least one."""
    ctx.require((ADMIN_RIGHT,), "change custom fields", "on this desk")
    cf = get_field(ctx, name)
    if new_name is not None:
        new_name = check_name(new_name, "custom field")
        if not new_name or len(new_name) > MAX_NAME:
            raise InvalidInput(f"a custom field name must be 1 to {MAX_NAME} characters")
        other = find_field(ctx, new_name)
        if other is not None and other.id != cf.id:
            raise InvalidInput(f"a custom field named {new_name!r} already exists")
        cf.name = new_name
    if description is not None:
        cf.description = description
    if pattern is not _UNSET:
        if pattern:
            cf_patterns.check(pattern)
        cf.pattern = pattern or None
    if values is not None:
        cleaned = _clean_values(values)
        if cf.type != "select":
            if cleaned:
                raise InvalidInput("allowed values only make sense for a select field")
        else:
            if not cleaned:
                raise InvalidInput("a select field needs at least one allowed value")
            order = {v: i for i, v in enumerate(cleaned)}
            kept = []
            for option in cf.options:
                if option.value in order:
                    option.sort_order = order.pop(option.value)
                    kept.append(option)
            kept.extend(CustomFieldOption(value=v, sort_order=i) for v, i in order.items())
            cf.options = sorted(kept, key=lambda o: o.sort_order)
    if queue is not _UNSET:
        cf.queue_id = get_queue(ctx, queue).id if queue else None
    if multiple is not None and multiple != cf.multiple:
        if not multiple and _has_multi_values(ctx, cf):
            raise InvalidInput(
                f"custom field {cf.name!r} has tickets with several values; "
                "remove the extra values before making it single-valued"
            )
        cf.multiple = multiple
    if disabled is not None:
        cf.disabled = disabled
    ctx.session.flush()
    return cf


SETTABLE = ("name", "description", "pattern", "queue", "multiple", "disabled")


def changes_from_text(assignments: dict[str, str], values: list[str] | None = None) -> dict[str, Any]:
    """`update_field`'s keywords from `FIELD=VALUE` words (`tessera cf set`): name, description,
    pattern (empty clears it), queue (empty: every queue), multiple and disabled (yes or no);
    `values`, when given, the select field's allowed values in their order."""
    from tessera.core.users import _bool

    changes: dict[str, Any] = {}
    for key, raw in assignments.items():
        field = key.strip().lower().replace("-", "_")
        if field == "name":
            changes["new_name"] = raw
        elif field in ("description", "pattern", "queue"):
            changes[field] = raw if field == "description" else (raw.strip() or None)
        elif field in ("multiple", "disabled"):
            changes[field] = _bool(raw, field)
        else:
            raise InvalidInput(
                f"{key!r} is not a setting of a custom field (settings: {', '.join(SETTABLE)})"
            )
    if values is not None:
        changes["values"] = values
    if not changes:
        raise InvalidInput(f"nothing to change: give FIELD=VALUE ({', '.join(SETTABLE)}) or --value")
    return changes


@operation
def set_disabled(ctx: Context, names: list[str], disabled: bool) -> list[CustomField]:
    """Disable (or enable again) the fields `names`, all in one transaction. A disabled field is
    kept with its values (RT disables, never deletes): tickets no longer show it or take it."""
    done: dict[int, CustomField] = {}
    for name in names:  # a field named twice (`Old old`) is changed and answered once
        cf = update_field(ctx, name, disabled=disabled)
        done.setdefault(cf.id, cf)
    return list(done.values())
