"""Custom fields: definitions, and checking a value before a ticket gets it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tessera.core import cf_patterns
from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.hostile_text import check_name
from tessera.core.knowable import known_fields, may_know_field
from tessera.core.models import CustomField, CustomFieldOption, Queue
from tessera.core.queues import get_queue
from tessera.core.schemas import INT_MAX, INT_MIN
from tessera.core.spelling import did_you_mean

CF_TYPES = ("freeform", "select", "integer", "date")
# A field's name is the `field` of its CustomField transactions (varchar(64)); a value is indexed
# (and an allowed value is varchar(255)), so both are bounded here, with a clear message.
MAX_NAME = 64
MAX_VALUE = 255


def find_field(ctx: Context, name: str) -> CustomField | None:
    return ctx.session.scalars(
        select(CustomField).where(func.lower(CustomField.name) == name.strip().lower())
    ).first()


def fields_for_queue(ctx: Context, queue_id: int) -> list[CustomField]:
    return list(
        ctx.session.scalars(
            select(CustomField)
            .where(CustomField.disabled.is_(False))
            .where((CustomField.queue_id.is_(None)) | (CustomField.queue_id == queue_id))
            .order_by(CustomField.id)
        )
    )


def is_required(cf: CustomField) -> bool:
    """RT's mandatory field: one whose pattern an empty value does not match."""
    return pattern_requires_a_value(cf.pattern)


def pattern_requires_a_value(pattern: str | None) -> bool:
    if not pattern:
        return False
    try:
        return not cf_patterns.matches(pattern, "", "")
    except InvalidInput:  # an empty value too slow for the pattern: as good as refused
        return True


def field_for_ticket(ctx: Context, name: str, queue: Queue) -> CustomField:
    """The field to set on a ticket in `queue`; one of a queue the actor may not know is
    reported exactly as one that does not exist."""
    cf = find_field(ctx, name)
    if cf is not None and cf.disabled and may_know_field(ctx, cf):  # listed by `cf list`: no secret
        raise InvalidInput(
            f"custom field {cf.name!r} is disabled: it takes no values "
            f"(an admin brings it back with `tessera cf enable '{cf.name}'`)"
        )
    if cf is None or not may_know_field(ctx, cf):
        names = [f.name for f in fields_for_queue(ctx, queue.id)]
        available = ", ".join(names)
        raise NotFound(
            f"unknown custom field {name!r}{did_you_mean(name, names)}"
            + (f" (fields here: {available})" if available else "")
        )
    if cf.queue_id is not None and cf.queue_id != queue.id:
        raise InvalidInput(f"custom field {cf.name!r} does not apply to queue {queue.name}")
    return cf


def scope_names(ctx: Context, fields: list[CustomField]) -> dict[int, str]:
    """The names of the queues these fields are limited to (for listing them by name)."""
    ids = {cf.queue_id for cf in fields if cf.queue_id is not None}
    if not ids:
        return {}
    return dict(ctx.session.execute(select(Queue.id, Queue.name).where(Queue.id.in_(ids))).tuples().all())


def list_fields(ctx: Context, queue: str | None = None) -> list[CustomField]:
    """The fields of `queue` (global ones too), or every field the actor may know of: an admin of
    custom fields knows them all; others not those of queues they may not know."""
    if queue:
        return fields_for_queue(ctx, get_queue(ctx, queue).id)
    every = list(ctx.session.scalars(select(CustomField).order_by(CustomField.id)))
    return every if ctx.can("AdminCustomField") else known_fields(ctx, every)


def split_values(cf: CustomField, raw: str | list[str]) -> list[str]:
    """A value as typed (`a,b`): several, comma-separated, only for a multiple-value field; a
    single-value field takes the text whole, commas and all."""
    if isinstance(raw, list):
        return raw
    return raw.split(",") if cf.multiple else [raw]


def normalise_values(cf: CustomField, values: list[str]) -> list[str]:
    """Check and canonicalise values: type, allowed values, pattern, single vs multiple."""
    cleaned = [v.strip() for v in values if v.strip()]
    if len(cleaned) > 1 and not cf.multiple:
        raise InvalidInput(f"custom field {cf.name!r} takes one value, got {len(cleaned)}")
    out: list[str] = []
    for value in cleaned:
        if cf.type == "integer":
            try:
                number = int(value)
            except ValueError:
                raise InvalidInput(f"custom field {cf.name!r} needs a whole number, got {value!r}") from None
            if not INT_MIN <= number <= INT_MAX:  # as `cf.NAME+=N` sums and TicketSQL compares them
                raise InvalidInput(
                    f"custom field {cf.name!r}: {value} is out of range ({INT_MIN} to {INT_MAX})"
                )
            value = str(number)
        elif cf.type == "date":
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError:
                raise InvalidInput(
                    f"custom field {cf.name!r} needs a date (YYYY-MM-DD), got {value!r}"
                ) from None
        elif cf.type == "select":
            allowed = {o.value.lower(): o.value for o in cf.options}
            if value.lower() not in allowed:
                raise InvalidInput(
                    f"value {value!r} not allowed for custom field {cf.name!r}"
                    f"{did_you_mean(value, allowed.values())} "
                    f"(allowed: {', '.join(o.value for o in cf.options)})"
                )
            value = allowed[value.lower()]
        if len(value) > MAX_VALUE:
            raise InvalidInput(f"a value of custom field {cf.name!r} may be at most {MAX_VALUE} characters")
        if cf.pattern and not cf_patterns.matches(cf.pattern, value, cf.name):
            raise InvalidInput(f"value {value!r} for custom field {cf.name!r} does not match {cf.pattern!r}")
        if value not in out:
            out.append(value)
    return out


@operation
def create_field(
    ctx: Context,
    name: str,
    *,
    type_: str = "freeform",
    multiple: bool = False,
    values: list[str] | None = None,
    queue: str | None = None,
    pattern: str | None = None,
    description: str = "",
) -> CustomField:
    ctx.require(("AdminCustomField",), "create custom fields", "on this desk")
    name = check_name(name, "custom field")
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a custom field name must be 1 to {MAX_NAME} characters")
    if type_ not in CF_TYPES:
        raise InvalidInput(f"unknown custom field type {type_!r} (types: {', '.join(CF_TYPES)})")
    if find_field(ctx, name) is not None:
        raise InvalidInput(f"a custom field named {name!r} already exists")
    if values and type_ != "select":
        raise InvalidInput("allowed values (--value) only make sense for a select field")
    if type_ == "select" and not values:
        raise InvalidInput("a select field needs at least one allowed value (--value)")
    if pattern:
        cf_patterns.check(pattern)
    scope = get_queue(ctx, queue) if queue else None
    cf = CustomField(
        name=name,
        type=type_,
        multiple=multiple,
        pattern=pattern or None,
        description=description,
        queue_id=scope.id if scope else None,
    )
    seen: list[str] = []
    for value in values or []:
        check_name(value, "custom field", "value")
        if len(value.strip()) > MAX_VALUE:
            raise InvalidInput(f"an allowed value may be at most {MAX_VALUE} characters")
        if value.strip() and value.strip() not in seen:
            seen.append(value.strip())
    check_distinct_values(seen)
    cf.options = [CustomFieldOption(value=v, sort_order=i) for i, v in enumerate(seen)]
    ctx.session.add(cf)
    ctx.session.flush()
    return cf


def check_distinct_values(values: list[str]) -> None:
    """A select's allowed values differ by more than case: a value is chosen in any case
    (`normalise_values`), so of `Low` and `low` only one could ever be set."""
    first: dict[str, str] = {}
    for value in values:
        other = first.setdefault(value.lower(), value)
        if other != value:
            raise InvalidInput(
                f"allowed values {other!r} and {value!r} differ only in case: a value is chosen in "
                "any case, so only one of them could be set; keep one"
            )


def get_field(ctx: Context, name: str) -> CustomField:
    cf = find_field(ctx, name)
    if cf is None:
        known = [f.name for f in list_fields(ctx)]  # only those the actor may know of
        raise NotFound(f"unknown custom field {name!r}{did_you_mean(name, known)}")
    return cf
