"""/health, /queues, /custom-fields, /lifecycles, /scrips and /templates: the desk's structure.

Each is a thin call into the same core (and scrip admin) functions the CLI and the TUI's admin
area use, so rights, validation and revisions are theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from tessera.api.deps import Acting, database
from tessera.api.problems import RETRY_AFTER_SECONDS
from tessera.api.schemas import (
    CustomFieldBody,
    CustomFieldChange,
    CustomFieldNames,
    LifecycleBody,
    QueueBody,
    ScripsBody,
)
from tessera.core.context import Context
from tessera.core.errors import DatabaseUnavailable, InvalidInput, NotFound
from tessera.core.schemas import CustomFieldOut

router = APIRouter()
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/health", tags=["desk"], summary="Database reachable, schema current, outbox backlog (no token)")
def health(request: Request) -> JSONResponse:
    from tessera.core.health import check

    try:
        found = check(database(request))
    except DatabaseUnavailable as exc:
        body = {"status": "unavailable", "database": False, "detail": exc.message}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    body = {
        "status": "ok" if found.ok else "degraded",
        "database": found.database,
        "schema": {"current": found.revision, "head": found.head, "up_to_date": found.schema_current},
        "outbox": {
            "pending": found.outbox_pending,
            "oldest_pending_seconds": found.outbox_oldest_pending_seconds,
            "failed": found.outbox_failed,
        },
    }
    return JSONResponse(body, status_code=200 if found.ok else 503)


# -- queues -----------------------------------------------------------------------------------------


@router.get("/queues", tags=["desk"], summary="The queues you may see")
def list_queues(ctx: Acting) -> list[dict[str, Any]]:
    from tessera.core import queues
    from tessera.core.serialize import queue_json

    return [queue_json(q) for q in queues.list_queues(ctx)]


@router.post("/queues", tags=["desk"], status_code=201, summary="Create a queue (AdminQueue)")
def create_queue(ctx: Acting, body: QueueBody) -> dict[str, Any]:
    from tessera.core import queues
    from tessera.core.serialize import queue_json

    made = queues.create_queue(
        ctx,
        body.name,
        description=body.description,
        lifecycle=body.lifecycle or "default",
        correspond_address=body.correspond_address,
        comment_address=body.comment_address,
        subject_tag=body.subject_tag,
    )
    return queue_json(made)


# -- custom fields ----------------------------------------------------------------------------------


@router.get("/custom-fields", tags=["desk"], summary="Custom fields (global and per queue)")
def list_custom_fields(ctx: Acting, queue: str | None = None) -> list[dict[str, Any]]:
    from tessera.core import customfields
    from tessera.core.serialize import custom_field_json

    found = customfields.list_fields(ctx, queue)
    scopes = customfields.scope_names(ctx, found)
    return [custom_field_json(cf, scopes) for cf in found]


@router.post(
    "/custom-fields", tags=["desk"], status_code=201, summary="Create a custom field (AdminCustomField)"
)
def create_custom_field(ctx: Acting, body: CustomFieldBody) -> dict[str, Any]:
    from tessera.core import customfields
    from tessera.core.serialize import custom_field_json

    made = customfields.create_field(
        ctx,
        body.name,
        type_=body.type,
        multiple=body.multiple,
        values=body.values,
        queue=body.queue,
        pattern=body.pattern,
        description=body.description,
    )
    return custom_field_json(made, customfields.scope_names(ctx, [made]))


_CHANGED_FIELDS: dict[int | str, dict[str, Any]] = {
    200: {"model": list[CustomFieldOut], "description": "The fields after the change"}
}


@router.patch(
    "/custom-fields/{name:path}",
    tags=["desk"],
    summary="Change a custom field, all or none, as `tessera cf set` (AdminCustomField); its type stays",
    responses={200: {"model": CustomFieldOut, "description": "The field after the change"}},
)
def change_custom_field(ctx: Acting, name: str, body: CustomFieldChange) -> dict[str, Any]:
    from tessera.core import customfield_admin, customfields
    from tessera.core.serialize import custom_field_json

    given = body.model_fields_set
    changes: dict[str, Any] = {}
    for key in ("description", "values", "multiple", "disabled"):
        if getattr(body, key) is not None:
            changes[key] = getattr(body, key)
    if body.name is not None:
        changes["new_name"] = body.name
    for key in ("pattern", "queue"):  # null (or empty) is a value here: no pattern, every queue
        if key in given:
            changes[key] = (getattr(body, key) or "").strip() or None
    if not changes:
        raise InvalidInput(
            "nothing to change: send {FIELD: VALUE} (name, description, pattern, queue, values,"
            " multiple, disabled)"
        )
    with _field_in_path(ctx, name):
        cf = customfield_admin.update_field(ctx, name, **changes)
    return custom_field_json(cf, customfields.scope_names(ctx, [cf]))


@router.post(
    "/custom-fields/disable",
    tags=["desk"],
    summary="Disable custom fields, all in one transaction, as `tessera cf disable` (AdminCustomField)",
    responses=_CHANGED_FIELDS,
)
def disable_custom_fields(ctx: Acting, body: CustomFieldNames) -> list[dict[str, Any]]:
    return _switch_fields(ctx, body.names, disabled=True)


@router.post(
    "/custom-fields/enable",
    tags=["desk"],
    summary="Enable disabled custom fields again, as `tessera cf enable` (AdminCustomField)",
    responses=_CHANGED_FIELDS,
)
def enable_custom_fields(ctx: Acting, body: CustomFieldNames) -> list[dict[str, Any]]:
    return _switch_fields(ctx, body.names, disabled=False)


def _switch_fields(ctx: Context, names: list[str], *, disabled: bool) -> list[dict[str, Any]]:
    from tessera.core import customfield_admin, customfields
    from tessera.core.serialize import custom_field_json

    try:
        fields = customfield_admin.set_disabled(ctx, names, disabled)
    except NotFound as exc:  # a name in the body: the request is understood, not acceptable
        raise InvalidInput(f"names: {exc.message}") from None
    scopes = customfields.scope_names(ctx, fields)
    return [custom_field_json(cf, scopes) for cf in fields]


@contextmanager
def _field_in_path(ctx: Context, name: str) -> Iterator[None]:
    """A missing field named in the path is a 404; anything else missing (a queue named in the
    body) is the body's fault, a 422."""
    from tessera.core import customfields

    try:
        yield
    except NotFound as exc:
        if customfields.find_field(ctx, name) is None:
            raise
        raise InvalidInput(exc.message) from None


# -- lifecycles -------------------------------------------------------------------------------------


@router.get("/lifecycles", tags=["desk"], summary="Lifecycles, their statuses by category and queues")
def list_lifecycles(ctx: Acting) -> list[dict[str, Any]]:
    from tessera.core.lifecycles import store
    from tessera.core.serialize import lifecycle_summary_json

    return [lifecycle_summary_json(s) for s in store.list_lifecycles(ctx)]


@router.get("/lifecycles/{name}", tags=["desk"], summary="One lifecycle, as `lifecycle export` writes it")
def show_lifecycle(ctx: Acting, name: str) -> dict[str, Any]:
    from tessera.core.lifecycles import store

    definition: dict[str, Any] = store.get_lifecycle(ctx, name).to_dict()
    return definition


@router.post(
    "/lifecycles",
    tags=["desk"],
    summary="Create or replace a lifecycle, validated exactly as `lifecycle apply` (AdminLifecycles)",
)
def apply_lifecycle(ctx: Acting, body: LifecycleBody) -> dict[str, Any]:
    from tessera.core.lifecycles import store

    applied = store.apply_lifecycle(ctx, body.definition)
    return {"name": applied.lifecycle.name, "result": applied.result, "warnings": applied.warnings}


# -- scrips and templates ---------------------------------------------------------------------------


@router.get("/scrips", tags=["scrips"], summary="Scrips in run order (ShowScrips)")
def list_scrips(ctx: Acting, queue: str | None = None) -> list[dict[str, Any]]:
    from tessera.scrips import editing

    return editing.list_scrips(ctx, queue)


@router.get("/scrips/{scrip_id}", tags=["scrips"], summary="One scrip, as the editor sees it")
def show_scrip(ctx: Acting, scrip_id: RowId) -> dict[str, Any]:
    from tessera.scrips import editing

    return editing.get_scrip(ctx, scrip_id)


@router.post(
    "/scrips",
    tags=["scrips"],
    summary="Apply scrips and templates as `tessera scrip apply` does (ModifyScrips, ModifyTemplate)",
)
def apply_scrips(ctx: Acting, body: ScripsBody) -> dict[str, Any]:
    from tessera.scrips import catalog_file

    summary: dict[str, Any] = catalog_file.apply_file(ctx, body.document)
    return summary


@router.patch("/scrips/{scrip_id}", tags=["scrips"], summary="Change a scrip's fields (ModifyScrips)")
def change_scrip(ctx: Acting, scrip_id: RowId, changes: dict[str, Any]) -> dict[str, Any]:
    from tessera.scrips import editing

    current = editing.get_scrip(ctx, scrip_id)
    entry = dict(current["spec"])
    unknown = sorted(set(changes) - set(entry) - {"queue"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a scrip field ({', '.join(sorted(entry))})")
    entry.update(changes)
    return editing.save_scrip(ctx, scrip_id, entry)


@router.get("/templates", tags=["scrips"], summary="Templates (ShowTemplate)")
def list_templates(ctx: Acting) -> list[dict[str, Any]]:
    from tessera.scrips import editing

    return editing.list_templates(ctx)


@router.post("/templates", tags=["scrips"], status_code=201, summary="Create a template (ModifyTemplate)")
def create_template(ctx: Acting, entry: dict[str, Any]) -> dict[str, Any]:
    from tessera.scrips import editing

    if "name" not in entry:
        raise InvalidInput("name: a template needs a name")
    return editing.save_template(ctx, None, entry)


@router.get("/templates/{template_id}", tags=["scrips"], summary="One template")
def show_template(ctx: Acting, template_id: RowId) -> dict[str, Any]:
    from tessera.scrips import editing

    return editing.get_template(ctx, template_id)
