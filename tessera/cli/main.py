"""The `tessera` command."""

from __future__ import annotations

import os
import sys

import typer

from tessera import __version__
from tessera.cli import (
    admin_cmds,
    common,
    db_cmds,
    demo_cmd,
    preview_cmd,
    scrip_cmds,
    ticket_cmds,
    tui_cmd,
    worker_cmd,
)
from tessera.cli.common import set_global_user
from tessera.core.errors import TesseraError

app = typer.Typer(
    name="tessera",
    help="Tessera: a keyboard-first help desk on Request Tracker's model.",
    # Bare `tessera` opens the TUI (see `main`), so no_args_is_help stays off.
    no_args_is_help=False,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cmds.app, name="db")
app.add_typer(ticket_cmds.app, name="ticket")
app.add_typer(admin_cmds.queue_app, name="queue")
app.add_typer(admin_cmds.user_app, name="user")
app.add_typer(admin_cmds.group_app, name="group")
app.add_typer(admin_cmds.right_app, name="right")
app.add_typer(admin_cmds.cf_app, name="cf")
app.add_typer(__import__("tessera.cli.lifecycle_cmds", fromlist=["app"]).app, name="lifecycle")
app.command("demo")(demo_cmd.demo)
app.add_typer(__import__("tessera.cli.search_cmds", fromlist=["app"]).app, name="search")
app.add_typer(scrip_cmds.app, name="scrip")
app.command("worker")(worker_cmd.worker)
ticket_cmds.app.command("preview")(preview_cmd.preview)
app.command("tui")(tui_cmd.tui)
app.command("mailgate")(__import__("tessera.cli.mail_cmds", fromlist=["mailgate"]).mailgate)
app.command("lmtp")(__import__("tessera.cli.mail_cmds", fromlist=["lmtp"]).lmtp)
app.command("ssh-server")(__import__("tessera.cli.ssh_cmds", fromlist=["ssh_server"]).ssh_server)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tessera {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    user: str = typer.Option(
        None, "--user", "-u", help="Act as this user (default: $TESSERA_USER, else your login name)."
    ),
) -> None:
    """Tessera: a keyboard-first help desk on Request Tracker's model. With no command, opens the TUI."""
    set_global_user(user)
    if ctx.invoked_subcommand is None:
        tui_cmd.tui(user=user, theme=None, keys=False)


def run() -> None:
    """Entry point: every failure a person can cause is one line on stderr and a non-zero exit."""
    common.run_scrips = True  # every change made through this program runs the scrips
    try:
        app()
    except TesseraError as exc:
        sys.stderr.write(f"tessera: {exc.message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("tessera: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("TESSERA_DEBUG"):
            raise
        sys.stderr.write(
            f"tessera: internal error: {type(exc).__name__}: {exc} (set TESSERA_DEBUG=1 for a traceback)\n"
        )
        sys.exit(70)
