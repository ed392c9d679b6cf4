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
    from tessera.api.deps import max_body

    max_body()  # its setting checked here, in one line, not in each worker as it starts
    db = common.database()  # started, migrated and reachable before any worker starts: one-line errors
    _check_listen(host, port)  # as `lmtp` and `ssh-server` say it, not uvicorn's log and its exit 3
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


def _check_listen(host: str, port: int) -> None:
    """Refuse in one line (ConfigError, exit 2) an address the server cannot listen on: a port in
    use, a host that is no address of this machine. uvicorn logs such a failure over several lines
    and exits 3, the code that means a database error."""
    import socket

    from tessera.core.errors import ConfigError

    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"cannot listen on {host}:{port}: {why}") from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
