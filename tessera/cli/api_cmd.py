"""`tessera api`: serve the HTTP API (uvicorn; each worker process opens its own connections)."""

from __future__ import annotations

import typer


def api(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(9876, "--port", "-p", help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", "-w", help="Worker processes (each serves requests in threads)."
    ),
) -> None:
    """Serve the HTTP API on the configured database (embedded by default): tokens from `tessera user
    token add`, OpenAPI at /openapi.json, interactive docs at /docs. Ctrl-C stops it."""
    import uvicorn

    from tessera.cli import common
    from tessera.core.errors import InvalidInput

    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port must be between 0 and 65535, not {port}")
    if not 1 <= workers <= 64:
        raise InvalidInput(f"--workers must be between 1 and 64, not {workers}")
    db = common.database()  # started, migrated and reachable before any worker starts: one-line errors
    typer.echo(f"tessera api: http://{host}:{port} on {db.location} ({workers} worker(s))", err=True)
    uvicorn.run(
        "tessera.api.app:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
        server_header=False,
    )
