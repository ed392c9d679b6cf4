"""GET /events: ticket changes as server-sent events, resumable with `Last-Event-ID`.

Each event is one transaction the token's user may see (`id:` is the transaction id, so a client
that reconnects with `Last-Event-ID` misses nothing). PostgreSQL NOTIFY wakes the stream; a poll
every few seconds covers a notice lost with a connection, and a comment line keeps proxies open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tessera.api.deps import Acting, database

router = APIRouter(tags=["events"])
POLL_SECONDS = 5.0


@router.get(
    "/events",
    summary="Ticket changes as server-sent events (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    ctx: Acting,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    from tessera.core import events as feed

    given = (last_event_id or "").strip()
    # An id this API sent: ASCII digits within PostgreSQL's bigint ('²' is a digit to isdigit() but
    # no number to int(); 2**63 made the stream's first read fail after its 200 had gone). Anything
    # else is ignored, as an SSE server may: the stream starts from now.
    if given.isascii() and given.isdigit() and int(given) < 2**63:
        start = int(given)
    else:
        start = await run_in_threadpool(feed.latest_id, ctx)
    wake = asyncio.Event()
    stop = asyncio.Event()
    listener = asyncio.create_task(_listen(request, wake, stop))
    return StreamingResponse(
        _stream(request, ctx.actor.name, start, wake, stop, listener),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    actor: str,
    cursor: int,
    wake: asyncio.Event,
    stop: asyncio.Event,
    listener: asyncio.Task[None],
) -> AsyncIterator[str]:
    """The stream has its own session: the request's is closed once the handler returns."""
    from tessera.core import events as feed
    from tessera.core.context import open_context

    session = database(request).session()
    ctx = await run_in_threadpool(open_context, session, actor)
    try:
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            batch, cursor = await run_in_threadpool(feed.after, ctx, cursor)
            for event in batch:
                yield f"id: {event['id']}\nevent: ticket\ndata: {json.dumps(event)}\n\n"
            if batch:
                continue
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        stop.set()
        listener.cancel()
        session.close()


async def _listen(request: Request, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """LISTEN on the change channel (an async psycopg connection of its own) and wake the stream."""
    import psycopg

    from tessera.core.live import CHANNEL, conninfo

    url = database(request).url
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                async for _ in conn.notifies():
                    wake.set()
        except asyncio.CancelledError:
            raise
        except psycopg.Error:
            await asyncio.sleep(POLL_SECONDS)  # the stream polls meanwhile
