"""`tessera ssh-server` and `tessera user key add|list|remove`: the TUI over SSH."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table, warn

if TYPE_CHECKING:
    from tessera.core.models import SshKey

# Core and the SSH server are imported inside each command, so the CLI starts without them.

key_app = typer.Typer(help="SSH public keys: who may log in to `tessera ssh-server`, as whom.")


def _key_json(key: SshKey, user_name: str) -> dict[str, Any]:
    return {
        "id": key.id,
        "user": user_name,
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
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a user's SSH public key (needs AdminUsers, except for your own keys)."""
    from tessera.core import sshkeys
    from tessera.core.models import User

    text, source = _read_key_file(file)
    with acting(user) as ctx:
        key = sshkeys.add_key(ctx, name, text, source=source)
        owner = ctx.session.get(User, key.user_id)
        owner_name = owner.name if owner else name
        if as_json:
            print_json(_key_json(key, owner_name))
        else:
            comment = f" ({key.comment})" if key.comment else ""
            echo(f"added {key.key_type} key {key.fingerprint}{comment} for {owner_name}")
        if owner is not None and (owner.disabled or not owner.privileged):
            why = "is disabled" if owner.disabled else "is not privileged (an agent)"
            warn(f"{owner.name} {why}: `tessera ssh-server` refuses this key until that changes")


@key_app.command("list")
def key_list(
    name: str | None = typer.Argument(None, help="Only this user's keys (default: every key you may see)."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List SSH keys: everyone's for admins, else your own."""
    from tessera.core import sshkeys

    with acting(user) as ctx:
        found = sshkeys.list_keys(ctx, name)
        if as_json:
            print_json([_key_json(k, u.name) for k, u in found])
            return
        if not found:
            echo(
                "no SSH keys"
                + (f" for {name}" if name else "")
                + ": add one with `tessera user key add NAME FILE`"
            )
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
    key: str = typer.Argument(
        ...,
        metavar="FINGERPRINT|FILE",
        help="Which key: its fingerprint as `user key list` prints it (SHA256:..., the prefix may be "
        "left out), or the public key file itself (e.g. ~/.ssh/id_ed25519.pub).",
    ),
    user: str | None = USER_OPTION,
) -> None:
    """Remove one of a user's SSH keys, named by fingerprint or by its .pub file: it no longer
    logs in (sessions already open are not ended). Needs AdminUsers, except for your own keys."""
    from tessera.core import sshkeys

    fingerprint = _fingerprint_of_argument(key)
    with acting(user) as ctx:
        removed = sshkeys.remove_key(ctx, name, fingerprint)
        echo(f"removed key {removed.fingerprint} of {name}")


def _fingerprint_of_argument(key: str) -> str:
    """A fingerprint as given, or the fingerprint of the public key in the file it names."""
    from tessera.core import sshkeys

    if key == "-" or Path(key).expanduser().is_file():
        text, source = _read_key_file(key)
        return sshkeys.parse_public_key(text, source=source).fingerprint
    if key.endswith(".pub") or key.startswith(("~", "./", "../")):
        from tessera.core.errors import InvalidInput

        raise InvalidInput(f"cannot read {key}: no such file (give a fingerprint or a public key file)")
    return key


def ssh_server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(2222, "--port", "-p", help="Port to listen on."),
    idle_timeout: str | None = typer.Option(
        None,
        "--idle-timeout",
        help="Hang up a session after this long without input: seconds, or e.g. 30m, 1h; 0 = never "
        "(default: $TESSERA_SSH_IDLE_TIMEOUT, else 30m).",
    ),
    max_sessions: str | None = typer.Option(
        None,
        "--max-sessions",
        help="Open sessions allowed per user; 0 = no limit (default: $TESSERA_SSH_MAX_SESSIONS, else 4).",
    ),
) -> None:
    # Its help text is SSH_SERVER_HELP, below.
    import asyncio
    import contextlib

    from tessera.cli import common
    from tessera.core import config
    from tessera.core.errors import InvalidInput
    from tessera.ssh.server import configure_logging, log, serve
    from tessera.ssh.settings import ServerSettings

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


# Typer keeps the line breaks of a docstring's later paragraphs, so each paragraph is one line.
SSH_SERVER_HELP = "\n\n".join(
    [
        "Serve the TUI over SSH: an agent runs `ssh -p PORT desk-host` and lands in the TUI as themselves.",
        "Logins are by public key only: register each agent's key with `tessera user key add NAME FILE` "
        "(the key, not the SSH login name, says who logs in). Unknown keys, disabled users and users who "
        "are not privileged (agents) are refused with a message saying why. Each session runs "
        "`tessera tui` in its own pty and process, on this server's database settings: agents need no "
        "database password. No shell, commands, SFTP/scp, port, agent or X11 forwarding.",
        "The host key is created on first start as ssh_host_ed25519_key in the data dir "
        "($TESSERA_DATA_DIR) and kept. Every login, logout and refusal is logged to stderr and to "
        "ssh-server.log in the data dir. Ctrl-C or SIGTERM hangs up every session and stops.",
    ]
)
ssh_server.__doc__ = SSH_SERVER_HELP
