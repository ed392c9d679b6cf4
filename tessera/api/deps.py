"""Per-request plumbing: the desk, the acting user (from the bearer token), ETags, the body limit."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tessera.api.problems import ApiProblem
from tessera.core.context import Context, open_context
from tessera.core.db import Database

MAX_BODY_ENV = "TESSERA_API_MAX_BODY"
DEFAULT_MAX_BODY = 26_214_400  # 25 MiB, as the mail gateway's default limit

_bearer = HTTPBearer(auto_error=False, description="A token from `tessera user token add NAME`.")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tessera"'}


def max_body() -> int:
    """The request body limit; a setting that is no positive number of bytes is refused (one line,
    by `tessera api` before it serves), not silently replaced by the default."""
    from tessera.core.errors import ConfigError

    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY
    if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
        raise ConfigError(
            f"{MAX_BODY_ENV}={raw!r} is not a positive number of bytes (default {DEFAULT_MAX_BODY})"
        )
    return int(raw)


def database(request: Request) -> Database:
    db: Database = request.app.state.database()
    return db


def acting(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Iterator[Context]:
    """The request's context: one session, acting as the token's user with that user's rights."""
    from tessera.core.tokens import authenticate

    if credentials is None:
        raise ApiProblem(401, "no bearer token: send 'Authorization: Bearer TOKEN'", _CHALLENGE)
    db = database(request)
    with db.session() as session:
        who = authenticate(session, credentials.credentials)
        if who is None:
            raise ApiProblem(401, "the bearer token is unknown, revoked or expired", _CHALLENGE)
        yield open_context(session, who.user)


Acting = Annotated[Context, Depends(acting)]

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,10})"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The ticket version an `If-Match` header names (None: no header, or `*`)."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.split(",")[0])
    if match is None:
        raise ApiProblem(400, f'If-Match {if_match!r} is not an ETag this API sent (such as "3")')
    return int(match.group(1))


class BodyLimit:
    """Refuse a request body over the limit (413) before it is read into memory."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    import json

    from tessera.api.problems import PROBLEM_JSON

    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Content too large",
            "status": 413,
            "detail": f"the request body is over the limit of {limit} bytes ({MAX_BODY_ENV})",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
