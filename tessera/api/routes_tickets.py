"""/tickets: list, create (idempotent, deduplicated), show, change, preview, reply, comment, history."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from tessera.api.deps import Acting, etag, expected_version
from tessera.api.problems import ApiProblem
from tessera.api.schemas import (
    BookmarkBody,
    FieldValue,
    MessageBody,
    PreviewBody,
    ReminderBody,
    SquelchBody,
    TicketBody,
    WatcherBody,
)
from tessera.core.context import Context
from tessera.core.errors import Conflict, InvalidInput, NotFound
from tessera.core.listing import MAX_PAGE
from tessera.core.schemas import ForwardIn, ReminderOut, TicketOut, TicketOutOfSight

router = APIRouter(tags=["tickets"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key get the first response and change nothing (24 h).",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="The ETag you read: refused (412) if the ticket changed."),
]


def _ticket_response(ctx: Context, ref: str | int, status: int = 200) -> JSONResponse:
    from tessera.core import tickets
    from tessera.core.serialize import ticket_json

    ticket = tickets.get_ticket(ctx, ref)
    return JSONResponse(ticket_json(ctx, ticket), status_code=status, headers={"ETag": etag(ticket.version)})


def _changed_doc(status: int, what: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a change: the ticket after it, or `TicketOutOfSight`."""
    return {
        status: {
            "model": TicketOut | TicketOutOfSight,
            "description": f"The ticket after the {what}; or, when it (or a scrip it ran) took the"
            " ticket out of your sight, its id and `visible: false` (the change was made)",
        }
    }


def _fingerprint(request: Request, body: Any) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"{request.method} {request.url.path} {digest}"


def _once(ctx: Context, request: Request, key: str | None, body: Any, act: Any) -> JSONResponse:
    """Run a POST's work, exactly once per Idempotency-Key when one is sent."""
    from tessera.core import intake

    if key is None:
        status, payload = act(ctx)
        payload = payload() if callable(payload) else payload  # read after the change committed
        return JSONResponse(payload, status_code=status, headers=_etag_of(payload))
    reply = intake.idempotent(ctx, key, _fingerprint(request, body), act)
    headers = {**_etag_of(reply.body), "Idempotency-Replayed": "true" if reply.replayed else "false"}
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def _etag_of(payload: Any) -> dict[str, str]:
    version = payload.get("version") if isinstance(payload, dict) else None
    return {"ETag": etag(version)} if isinstance(version, int) else {}


def _ticketsql_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@router.get("/tickets", summary="Search tickets (TicketSQL and filters), keyset-paged")
def list_tickets(
    ctx: Acting,
    request: Request,
    queue: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    query: Annotated[
        str | None, Query(max_length=10_000, description="TicketSQL, as `tessera search`.")
    ] = None,
    order_by: Annotated[
        str | None, Query(max_length=500, description="E.g. `Priority DESC, Created`.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="The `next` link's cursor.")] = None,
) -> dict[str, Any]:
    from tessera.core.search import service
    from tessera.core.serialize import ticket_json

    # The filters are compiled apart from the query, so an error in it names the user's column.
    parts = []
    for field, value in (("Queue", queue), ("Status", status), ("Owner", owner)):
        if value is not None:
            parts.append(f"{field} = {_ticketsql_value(value)}")
    after, offset = _read_cursor(cursor)
    text = query or ""
    next_cursor: str | None
    if order_by:  # any order: the cursor carries the position
        found = service.search(ctx, text, order_by, limit + 1, offset, also=" AND ".join(parts))
        next_cursor = _cursor(offset=offset + limit)
    else:  # by id: true keyset paging, stable under inserts and cheap at any depth
        if after is not None:
            parts.append(f"id > {after}")
        found = service.search(ctx, text, "id", limit + 1, 0, also=" AND ".join(parts))
        next_cursor = _cursor(after=found[limit - 1].id) if len(found) > limit else None
    more = len(found) > limit
    page = [ticket_json(ctx, t) for t in found[:limit]]
    link = None
    if more and next_cursor is not None:
        params = dict(request.query_params)
        params["cursor"] = next_cursor
        link = str(request.url.replace_query_params(**params))
    return {"tickets": page, "next": link}


def _cursor(*, after: int | None = None, offset: int | None = None) -> str:
    raw = json.dumps({"after": after} if after is not None else {"offset": offset})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None) -> tuple[int | None, int]:
    if not cursor:
        return None, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, offset = data.get("after"), data.get("offset", 0)
        if (after is not None and not isinstance(after, int)) or not isinstance(offset, int):
            raise ValueError
        if offset < 0 or offset > 2**31 - 1 or (after is not None and not 0 <= after <= 2**31 - 1):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
        raise InvalidInput("cursor: not a cursor this API gave (use the `next` link as it is)") from None
    return after, offset


def _create_data(body: TicketBody) -> Any:
    from pydantic import ValidationError

    from tessera.core.schemas import AttachmentIn, MessageIn, TicketCreate, pydantic_message

    try:
        return TicketCreate(
            queue=body.queue,
            subject=body.subject,
            requestors=body.requestors,
            cc=body.cc,
            admincc=body.admincc,
            owner=body.owner,
            status=body.status,
            priority=body.priority,
            due=body.due,
            starts=body.starts,
            sla=body.sla,
            custom_fields=body.custom_fields,
            message=MessageIn(
                body=body.body,
                content_type=body.content_type,
                attachments=[
                    AttachmentIn(filename=a.filename, content_type=a.content_type, data=a.data())
                    for a in body.attachments
                ],
            ),
        )
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


@router.post(
    "/tickets",
    status_code=201,
    summary="Open a ticket (or, with dedup_key, add to the active one)",
    responses={
        201: {"model": TicketOut, "description": "Opened"},
        200: {"model": TicketOut, "description": "Added to the active ticket with the same dedup_key"},
    },
)
def create_ticket(
    ctx: Acting, request: Request, body: TicketBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    from tessera.core import intake
    from tessera.core.serialize import ticket_json

    data = _create_data(body)

    def act(unit: Context) -> tuple[int, Callable[[], dict[str, Any]]]:
        with _named_in_body():  # an unknown queue, owner or field is the body's fault
            done = intake.create_or_add(unit, data, body.dedup_key, body.dedup_action)
        # The ticket as the scrips left it (read after them, with or without an Idempotency-Key).
        return (201 if done.created else 200), lambda: ticket_json(unit, done.ticket)

    response = _once(ctx, request, idempotency_key, body.model_dump(mode="json"), act)
    if response.status_code == 201:
        response.headers["Location"] = f"/tickets/{json.loads(bytes(response.body))['id']}"
    return response


@router.get(
    "/tickets/{ticket}",
    summary="A ticket: fields, people, custom fields, links",
    responses={200: {"model": TicketOut, "description": "The ticket (its version also in ETag)"}},
)
def show_ticket(ctx: Acting, ticket: str) -> JSONResponse:
    return _ticket_response(ctx, ticket)


@router.patch(
    "/tickets/{ticket}",
    summary="Change fields (as `tessera ticket set`), all or none",
    responses=_changed_doc(200, "change"),
)
def change_ticket(
    ctx: Acting,
    ticket: str,
    changes: dict[str, FieldValue],
    if_match: IfMatch = None,
) -> JSONResponse:
    from tessera.core import tickets

    if not changes:
        raise InvalidInput('nothing to change: send {"FIELD": VALUE, ...} as `tessera ticket set` takes')
    version = expected_version(if_match)
    # 404 for the ticket itself; past here a missing name is the body's
    ticket_id = tickets.get_ticket(ctx, ticket).id
    try:
        with _named_in_body():
            tickets.set_fields(ctx, ticket, _assignments(changes), expected_version=version)
    except Conflict as exc:
        if version is None:
            raise
        raise ApiProblem(412, exc.message) from None
    return _changed_response(ctx, ticket_id)


def _changed_response(ctx: Context, ticket_id: int, status: int = 200) -> JSONResponse:
    """The ticket after a change that committed; taken out of the caller's sight (by the change or
    a scrip it ran), the same status all the same with `TicketOutOfSight` (and no ETag: there is
    no version of it for them to send)."""
    from tessera.core.serialize import changed_ticket_json

    data, ticket = changed_ticket_json(ctx, ticket_id)
    headers = {"ETag": etag(ticket.version)} if ticket is not None else None
    return JSONResponse(data, status_code=status, headers=headers)


@contextmanager
def _named_in_body() -> Iterator[None]:
    """A user, queue or field named in the body that does not exist is a bad body (422), not a
    missing resource (404): the ticket in the path was found."""
    try:
        yield
    except NotFound as exc:
        raise InvalidInput(exc.message) from None


def _assignments(changes: dict[str, Any]) -> dict[str, str | list[str]]:
    """The body's FIELD: VALUE pairs as `ticket set`'s FIELD=VALUE words give them, taken as they
    are: a key is a field's name whole (an `=` in it is no value), a list stays the custom field's
    values (a comma inside one is no separator), null empties the field."""
    from tessera.core import tickets

    out: dict[str, str | list[str]] = {}
    for key, value in changes.items():
        name = tickets.field_key(key)
        if name in out:
            raise InvalidInput(f"{key!r}: the field is given twice")
        out[name] = value if isinstance(value, list) else "" if value is None else str(value)
    return out


@router.post("/tickets/{ticket}/preview", summary="Dry-run a change: scrips, messages, field changes")
def preview_change(ctx: Acting, ticket: str, body: PreviewBody) -> dict[str, Any]:
    from tessera.core import tickets
    from tessera.scrips.preview import preview

    if not body.changes:
        raise InvalidInput("changes: give at least one FIELD: VALUE")
    tickets.get_ticket(ctx, ticket)
    with _named_in_body():
        result: dict[str, Any] = preview(ctx, ticket, _assignments(body.changes))
    return result


async def _message_of(request: Request) -> MessageBody:
    """JSON (attachments base64) or multipart/form-data (`body`, `time_taken`, files)."""
    from pydantic import ValidationError

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            form = await request.form()
            files = []
            for _, item in form.multi_items():
                if not isinstance(item, str):  # a file
                    data = await item.read()
                    files.append(
                        {
                            "filename": item.filename or "attachment",
                            "content_type": item.content_type or "application/octet-stream",
                            "content_base64": base64.b64encode(data).decode(),
                        }
                    )
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            return MessageBody.model_validate({**fields, "attachments": files})
        if kind not in ("application/json", ""):
            raise ApiProblem(415, f"send the message as application/json or multipart/form-data, not {kind}")
        raw = await request.body()
        try:
            data = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiProblem(400, f"the body is not valid JSON ({exc})") from None
        except RecursionError:  # `[[[[...` a hundred thousand deep: was a 500
            raise ApiProblem(400, "the body is not valid JSON (nested too deeply)") from None
        return MessageBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise ApiProblem(422, f"{where}: {first['msg']}") from None


_MESSAGE_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": MessageBody.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "body": {"type": "string"},
                        "time_taken": {"type": "integer"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


def _post(kind: str) -> Any:
    async def handler(
        request: Request,
        ctx: Acting,
        ticket: str,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response:
        from starlette.concurrency import run_in_threadpool

        message = await _message_of(request)
        version = expected_version(if_match)
        return await run_in_threadpool(
            _post_sync, kind, ctx, request, ticket, message, idempotency_key, version
        )

    handler.__name__ = f"{kind}_ticket"
    return handler


def _post_sync(
    kind: str,
    ctx: Context,
    request: Request,
    ref: str,
    message: MessageBody,
    key: str | None,
    version: int | None,
) -> JSONResponse:
    from pydantic import ValidationError

    from tessera.core import tickets
    from tessera.core.schemas import AttachmentIn, MessageIn, pydantic_message
    from tessera.core.serialize import changed_ticket_json

    if not message.body.strip() and not message.attachments:
        raise InvalidInput("no message: give `body` (or attachments)")
    try:
        core_message = MessageIn(
            body=message.body,
            content_type=message.content_type,
            time_taken=message.time_taken,
            attachments=[
                AttachmentIn(filename=a.filename, content_type=a.content_type, data=a.data())
                for a in message.attachments
            ],
            cc=message.cc,
            bcc=message.bcc,
            squelch=message.squelch,
        )
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None
    operation = tickets.correspond if kind == "reply" else tickets.comment

    def act(unit: Context) -> tuple[int, Callable[[], dict[str, Any]]]:
        txn = operation(unit, ref, core_message, expected_version=version)
        # As `ticket reply --json` prints: the ticket as the scrips left it, even out of sight.
        return 201, lambda: changed_ticket_json(unit, txn.ticket_id)[0]

    try:
        response = _once(ctx, request, key, {"ticket": ref, **message.model_dump(mode="json")}, act)
    except Conflict as exc:
        if version is None:
            raise
        raise ApiProblem(412, exc.message) from None
    return response


router.add_api_route(
    "/tickets/{ticket}/reply",
    _post("reply"),
    methods=["POST"],
    status_code=201,
    summary="Reply to the requestors (correspondence); scrips run",
    responses=_changed_doc(201, "reply"),
    openapi_extra=_MESSAGE_DOC,
)
router.add_api_route(
    "/tickets/{ticket}/comment",
    _post("comment"),
    methods=["POST"],
    status_code=201,
    summary="Add a private comment; scrips run",
    responses=_changed_doc(201, "comment"),
    openapi_extra=_MESSAGE_DOC,
)


@router.post(
    "/tickets/{ticket}/forward",
    status_code=201,
    summary="Forward a message (`transaction`) or the whole ticket to people outside it; scrips run",
    responses=_changed_doc(201, "forward"),
)
def forward_ticket(ctx: Acting, ticket: str, body: ForwardIn, if_match: IfMatch = None) -> JSONResponse:
    from tessera.core import tickets
    from tessera.core.forwarding import forward

    version = expected_version(if_match)
    tickets.get_ticket(ctx, ticket)  # 404 for the ticket itself; past here a missing message is the body's
    try:
        with _named_in_body():
            txn = forward(ctx, ticket, body, expected_version=version)
    except Conflict as exc:
        if version is None:
            raise
        raise ApiProblem(412, exc.message) from None
    return _changed_response(ctx, txn.ticket_id, status=201)


@router.get("/tickets/{ticket}/transactions", summary="A ticket's history, oldest first, paged")
def transactions(
    ctx: Acting,
    request: Request,
    ticket: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    from tessera.core import tickets
    from tessera.core.serialize import history

    after, _ = _read_cursor(cursor)
    found = history(ctx, tickets.get_ticket(ctx, ticket))
    if after is not None:
        found = [t for t in found if t["id"] > after]
    page = found[:limit]
    link = None
    if len(found) > limit:
        params = dict(request.query_params)
        params["cursor"] = _cursor(after=page[-1]["id"])
        link = str(request.url.replace_query_params(**params))
    return {"transactions": page, "next": link}


@router.post(
    "/tickets/{ticket}/bookmark",
    summary="Bookmark the ticket for yourself, or remove your bookmark (RT's bookmarks)",
)
def bookmark(ctx: Acting, ticket: str, body: BookmarkBody | None = None) -> dict[str, Any]:
    return _bookmark(ctx, ticket, True if body is None else body.bookmarked)


def _bookmark(ctx: Context, ticket: str, on: bool) -> dict[str, Any]:
    """As `tessera ticket bookmark --json`; search them with TicketSQL's `id = '__Bookmarked__'`."""
    from tessera.core.bookmarks import set_bookmark
    from tessera.core.ids import display_id

    ticket_id, marked = set_bookmark(ctx, ticket, on)
    return {"id": ticket_id, "display_id": display_id(ticket_id), "bookmarked": marked}


def _watcher_change(
    ctx: Context, ticket: str, body: WatcherBody, if_match: str | None, add: bool
) -> JSONResponse:
    from tessera.core import tickets, watchers

    version = expected_version(if_match)
    # 404 for the ticket itself; past here a missing name is the body's
    ticket_id = tickets.get_ticket(ctx, ticket).id
    change = watchers.add_watcher if add else watchers.remove_watcher
    try:
        with _named_in_body():
            change(ctx, ticket, body.role, body.who, expected_version=version)
    except Conflict as exc:
        if version is None:
            raise
        raise ApiProblem(412, exc.message) from None
    return _changed_response(ctx, ticket_id)


@router.post(
    "/tickets/{ticket}/watchers",
    summary="Add a watcher: a person, or a group (group:NAME) as Cc or AdminCc (as `ticket watcher add`)",
    responses=_changed_doc(200, "change"),
)
def add_watcher(ctx: Acting, ticket: str, body: WatcherBody, if_match: IfMatch = None) -> JSONResponse:
    return _watcher_change(ctx, ticket, body, if_match, add=True)


@router.post(
    "/tickets/{ticket}/watchers/remove",
    summary="Remove a watcher (as `ticket watcher remove`)",
    responses=_changed_doc(200, "change"),
)
def remove_watcher(ctx: Acting, ticket: str, body: WatcherBody, if_match: IfMatch = None) -> JSONResponse:
    return _watcher_change(ctx, ticket, body, if_match, add=False)


@router.post(
    "/tickets/{ticket}/squelch",
    summary="Squelch addresses for the whole ticket, or unsquelch them (as `ticket squelch`)",
    responses=_changed_doc(200, "change"),
)
def squelch(ctx: Acting, ticket: str, body: SquelchBody, if_match: IfMatch = None) -> JSONResponse:
    from tessera.core import tickets
    from tessera.core.squelch import set_squelch

    version = expected_version(if_match)
    ticket_id = tickets.get_ticket(ctx, ticket).id
    try:
        set_squelch(ctx, ticket, list(body.addresses), on=body.squelched, expected_version=version)
    except Conflict as exc:
        if version is None:
            raise
        raise ApiProblem(412, exc.message) from None
    return _changed_response(ctx, ticket_id)


@router.get(
    "/tickets/{ticket}/reminders",
    summary="A ticket's reminders, open and resolved (as `ticket reminder list`)",
    response_model=list[ReminderOut],
)
def list_reminders(ctx: Acting, ticket: str) -> list[dict[str, Any]]:
    from tessera.core.reminders import list_reminders

    return list_reminders(ctx, ticket)


@router.post(
    "/tickets/{ticket}/reminders",
    status_code=201,
    summary="Add a reminder: subject, owner, due (as `ticket reminder add`)",
    response_model=ReminderOut,
)
def add_reminder(ctx: Acting, ticket: str, body: ReminderBody) -> dict[str, Any]:
    from tessera.core import tickets
    from tessera.core.reminders import add_reminder, list_reminders
    from tessera.core.schemas import parse_datetime

    tickets.get_ticket(ctx, ticket)  # 404 for the ticket itself; past here a missing owner is the body's
    when = parse_datetime(body.due, field="due") if body.due else None
    with _named_in_body():
        made = add_reminder(ctx, ticket, body.subject, owner=body.owner, due=when)
    return next(r for r in list_reminders(ctx, ticket) if r["id"] == made.id)


ReminderId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The reminder's number.")]


def _reminder_state(ctx: Context, ticket: str, reminder: int, resolve: bool) -> dict[str, Any]:
    from tessera.core.reminders import list_reminders, open_reminder, resolve_reminder

    (resolve_reminder if resolve else open_reminder)(ctx, ticket, reminder)
    return next(r for r in list_reminders(ctx, ticket) if r["id"] == reminder)


@router.post(
    "/tickets/{ticket}/reminders/{reminder}/resolve",
    summary="Resolve a reminder (the lifecycle's reminder_on_resolve status)",
    response_model=ReminderOut,
)
def resolve_reminder(ctx: Acting, ticket: str, reminder: ReminderId) -> dict[str, Any]:
    return _reminder_state(ctx, ticket, reminder, True)


@router.post(
    "/tickets/{ticket}/reminders/{reminder}/open",
    summary="Reopen a reminder (the lifecycle's reminder_on_open status)",
    response_model=ReminderOut,
)
def open_reminder(ctx: Acting, ticket: str, reminder: ReminderId) -> dict[str, Any]:
    return _reminder_state(ctx, ticket, reminder, False)
