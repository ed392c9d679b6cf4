"""The ASGI application: routes, problem+json errors, the body limit, the desk it serves."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera.api import problems
from tessera.api.deps import BodyLimit, max_body
from tessera.core.db import Database
from tessera.core.errors import TesseraError

DESCRIPTION = (
    "Tessera's desk over HTTP: the same core, rights, lifecycles and scrips as the CLI and the TUI. "
    "Authenticate with `Authorization: Bearer TOKEN` (`tessera user token add NAME`). Errors are "
    "RFC 9457 problem details. Ticket responses carry the ticket's version as an ETag; send it back "
    "in If-Match to refuse a change to a ticket that changed since (412). POSTs honour Idempotency-Key."
)


def _lazy_database() -> Callable[[], Database]:
    """The process's desk, opened on first use (each API worker process opens its own)."""
    lock = threading.Lock()
    holder: list[Database] = []

    def get() -> Database:
        if not holder:
            with lock:
                if not holder:
                    from tessera.core.bootstrap import open_desk

                    holder.append(open_desk())
        return holder[0]

    return get


def create_app(database: Database | Callable[[], Database] | None = None) -> FastAPI:
    from tessera.api import routes_desk, routes_events, routes_tickets

    app = FastAPI(
        title="Tessera",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    if database is None:
        app.state.database = _lazy_database()
    elif isinstance(database, Database):
        app.state.database = lambda: database
    else:
        app.state.database = database
    app.add_exception_handler(TesseraError, problems.on_tessera_error)
    app.add_exception_handler(problems.ApiProblem, problems.on_api_problem)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)
    app.add_exception_handler(Exception, problems.on_unexpected)
    _database_errors(app)
    for router in (routes_desk.router, routes_tickets.router, routes_events.router):
        app.include_router(router, responses=problems.PROBLEM_RESPONSES)
    app.add_middleware(BodyLimit, limit=max_body())
    logging.getLogger("tessera.api").setLevel(logging.INFO)
    return app


def _database_errors(app: FastAPI) -> None:
    """A value the database cannot hold is the request's fault (422), as core's operations say it;
    any other failure of the database (gone, frozen, a lock not granted in time) is a 503 with
    Retry-After, in core's words, wherever in the request it surfaced (see
    `problems.on_unexpected`)."""
    import psycopg
    from sqlalchemy.exc import DataError, SQLAlchemyError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from tessera.core.context import translate_data_error

    async def on_data_error(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, DataError)  # a value the database cannot hold, such as a NUL in a name
        return await problems.on_tessera_error(request, translate_data_error(exc))

    app.add_exception_handler(DataError, on_data_error)
    # Handled here, not by the catch-all: Starlette re-raises what reaches that one, which would
    # put a traceback in the log for every request a frozen database turns away.
    app.add_exception_handler(SQLAlchemyError, problems.on_unexpected)
    app.add_exception_handler(psycopg.Error, problems.on_unexpected)

    async def on_pool_exhausted(request: Any, exc: Exception) -> Any:
        return problems.problem(
            503,
            "the server is busy (every database connection is in use); try again shortly",
            {"Retry-After": str(problems.RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(PoolTimeout, on_pool_exhausted)


def factory() -> FastAPI:
    """For `uvicorn --factory tessera.api.app:factory` (each worker process calls it)."""
    return create_app()
