"""`tessera ssh-server` and `tessera user key add|list|remove`: the TUI over SSH."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table

# Core and the SSH server are imported inside each command, so the CLI starts without them.

key_app = typer.Typer(help="SSH public keys: who may log in to `tessera ssh-server`, as whom.")


def _key_json(key, user) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": key.id,
        "user": user.name,
        "fingerprint": key.fingerprint,
        "type": key.key_type,
        "comment": key.comment,
        "public_key": key.public_key,
        "created": key.created,
        "last_used": key.last_used,
    }


def _read_key_file(path: str) -> tuple[str, str]:
    from tessera.core.errors import InvalidInput

    if path == "-":
        return sys.stdin.read(), "standard input"
    try:
        return Path(path).expanduser().read_text(encoding="utf-8", errors="replace"), path
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


@key_app.command("add")
def key_add(
    name: str = typer.Argument(..., help="The Tessera user the key logs in as."),
    file: str = typer.Argument(..., help="The public key file (e.g. ~/.ssh/id_ed25519.pub), or - for stdin."),
    user: str = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a user's SSH public key (needs AdminUsers, except for your own keys)."""
    from tessera.core import sshkeys
    from tessera.core.models import User

    text, source = _read_key_file(file)
    with acting(user) as ctx:
        key = sshkeys.add_key(ctx, name, text, source=source)
        owner = ctx.session.get(User, key.user_id)
        if as_json:
            print_json(_key_json(key, owner))
        else:
            comment = f" ({key.comment})" if key.comment else ""
            echo(f"added {key.key_type} key {key.fingerprint}{comment} for {owner.name if owner else name}")


@key_app.command("list")
def key_list(
    name: str = typer.Argument(None, help="Only this user's keys (default: every key you may see)."),
    user: str = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List SSH keys: everyone's for admins, else your own."""
    from tessera.core import sshkeys

    with acting(user) as ctx:
        found = sshkeys.list_keys(ctx, name)
        if as_json:
            print_json([_key_json(k, u) for k, u in found])
            return
        table(
            [
                [
                    u.name,
                    k.fingerprint,
                    k.key_type,
                    k.comment,
                    k.last_used.strftime("%Y-%m-%d %H:%M") if k.last_used else "never",
                ]
                for k, u in found
            ],
            ["USER", "FINGERPRINT", "TYPE", "COMMENT", "LAST USED"],
        )


@key_app.command("remove")
def key_remove(
    name: str = typer.Argument(..., help="The user whose key it is."),
    fingerprint: str = typer.Argument(..., help="The key's fingerprint as `user key list` shows it."),
    user: str = USER_OPTION,
) -> None:
    """Remove a user's SSH key: it no longer logs in (open sessions are not ended)."""
    from tessera.core import sshkeys

    with acting(user) as ctx:
        key = sshkeys.remove_key(ctx, name, fingerprint)
        echo(f"removed key {key.fingerprint} of {name}")


def ssh_server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(2222, "--port", "-p", help="Port to listen on."),
    idle_timeout: str = typer.Option(
        None,
        "--idle-timeout",
        help="Hang up a session after this long without input: seconds, or e.g. 30m, 1h; 0 = never "
        "(default: $TESSERA_SSH_IDLE_TIMEOUT, else 30m).",
    ),
    max_sessions: str = typer.Option(
        None,
        "--max-sessions",
        help="Open sessions allowed per user; 0 = no limit (default: $TESSERA_SSH_MAX_SESSIONS, else 4).",
    ),
) -> None:
    """Serve the TUI over SSH: each agent logs in with a registered key and gets the TUI as themselves."""
    import asyncio
    import contextlib

    from tessera.cli import common
    from tessera.core import config
    from tessera.core.errors import InvalidInput
    from tessera.ssh.server import ServerSettings, configure_logging, log, serve

    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port must be between 0 and 65535, not {port}")
    data_dir = config.data_dir()
    settings = ServerSettings.from_env(
        idle_timeout=idle_timeout, max_sessions=max_sessions, host=host, port=port, data_dir=data_dir
    )
    db = common.database()
    log_path = configure_logging(data_dir)
    log.info("database: %s; log file: %s", db.location, log_path)
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while sessions are hung up
        asyncio.run(serve(db, settings))
    log.info("stopped")
