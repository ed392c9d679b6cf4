"""The `tessera` command.

Commands are registered when needed: a command line imports only the module of the command it
names, not every module of the CLI (YAML, pydantic, rich progress bars...). `--help`, an unknown
command, and `from tessera.cli.main import app` get all of them.

A plain TUI command line (`tessera [--user U] [tui [--user U] [--theme T] [--keys]]`) is read here
without typer, whose option parsing imports pydantic (~0.2 s), and before typer is even imported the
TUI's start-up helper is forked (it reads the first screen meanwhile, see `tessera.tui.backend`).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from tessera.core.errors import TesseraError

if TYPE_CHECKING:
    import typer  # imported by `_typer_app`, into this module's globals

_app: Any = None


def _typer_app() -> Any:
    """The typer app and its callback (`_register` adds the commands)."""
    global _app, typer  # `typer` as a module global too: typer reads `main`'s annotations there
    if _app is not None:
        return _app
    import typer

    from tessera import __version__
    from tessera.cli import tui_cmd
    from tessera.cli.common import set_global_user

    def _version(value: bool) -> None:
        if value:
            typer.echo(f"tessera {__version__}")
            raise typer.Exit()

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

    @app.callback()
    def main(
        ctx: typer.Context,
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
        user: str | None = typer.Option(
            None, "--user", "-u", help="Act as this user (default: $TESSERA_USER, else your login name)."
        ),
    ) -> None:
        """Tessera: a keyboard-first help desk on Request Tracker's model. With no command, opens the TUI."""
        set_global_user(user)
        if ctx.invoked_subcommand is None:
            tui_cmd.tui(user=user, theme=None, keys=False)

    _app = app
    return _app


def _cli(module: str) -> Any:
    return import_module(f"tessera.cli.{module}")


def _ticket() -> None:
    ticket_cmds = _cli("ticket_cmds")
    ticket_cmds.app.command("preview")(_cli("preview_cmd").preview)
    ticket_cmds.app.add_typer(_cli("reminder_cmds").app, name="reminder")
    _app.add_typer(ticket_cmds.app, name="ticket")


# Every command, in the order `--help` lists them, and how to register it.
_COMMANDS: dict[str, Callable[[], object]] = {
    "db": lambda: _app.add_typer(_cli("db_cmds").app, name="db"),
    "ticket": _ticket,
    "queue": lambda: _app.add_typer(_cli("admin_cmds").queue_app, name="queue"),
    "user": lambda: _app.add_typer(_cli("admin_cmds").user_app, name="user"),
    "group": lambda: _app.add_typer(_cli("admin_cmds").group_app, name="group"),
    "right": lambda: _app.add_typer(_cli("admin_cmds").right_app, name="right"),
    "cf": lambda: _app.add_typer(_cli("admin_cmds").cf_app, name="cf"),
    "lifecycle": lambda: _app.add_typer(_cli("lifecycle_cmds").app, name="lifecycle"),
    "calendar": lambda: _app.add_typer(_cli("calendar_cmds").app, name="calendar"),
    "sla": lambda: _app.add_typer(_cli("sla_cmds").app, name="sla"),
    "demo": lambda: _app.command("demo")(_cli("demo_cmd").demo),
    "import": lambda: _app.command("import")(_cli("import_cmd").import_),
    "search": lambda: _app.add_typer(_cli("search_cmds").app, name="search"),
    "scrip": lambda: _app.add_typer(_cli("scrip_cmds").app, name="scrip"),
    "worker": lambda: _app.command("worker")(_cli("worker_cmd").worker),
    "timers": lambda: _app.add_typer(_cli("timer_cmds").app, name="timers"),
    "tui": lambda: _app.command("tui")(_cli("tui_cmd").tui),
    "mailgate": lambda: _app.command("mailgate")(_cli("mail_cmds").mailgate),
    "lmtp": lambda: _app.command("lmtp")(_cli("mail_cmds").lmtp),
    "mail": lambda: _app.add_typer(_cli("mail_cmds").mail_app, name="mail"),
    "ssh-server": lambda: _app.command("ssh-server")(_cli("ssh_cmds").ssh_server),
    "api": lambda: _app.command("api")(_cli("api_cmd").api),
}
_registered: set[str] = set()


def _register(names: list[str]) -> None:
    _typer_app()
    for name in _COMMANDS:  # always in the listed order, whatever was asked first
        if name in names and name not in _registered:
            _registered.add(name)
            _COMMANDS[name]()


def _commands_for(args: list[str]) -> list[str]:
    """The commands a command line can reach: the one it names, or all of them."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--user", "-u"):
            i += 2
        elif arg.startswith("--user=") or (arg.startswith("-u") and not arg.startswith("--")):
            i += 1
        elif arg.startswith("-"):  # --help, --version, or a mistake: all, for the full message
            return list(_COMMANDS)
        else:
            return [arg] if arg in _COMMANDS else list(_COMMANDS)
    return ["tui"]  # bare `tessera` opens the TUI


def _plain_tui(args: list[str]) -> tuple[str | None, dict[str, Any]] | None:
    """(global --user, the tui command's arguments) for a plain TUI command line, else None: typer
    then reads it (help, --version, other commands, mistakes and their messages)."""
    top_user: str | None = None
    options: dict[str, Any] = {"user": None, "theme": None, "keys": False}
    command = False
    i = 0
    while i < len(args):
        arg = args[i]
        name, has_value, value = arg.partition("=")
        if arg == "tui" and not command:
            command = True
            i += 1
            continue
        if arg == "--keys" and command:
            options["keys"] = True
            i += 1
            continue
        key = {"--user": "user", "-u": "user", "--theme": "theme"}.get(name if has_value else arg)
        if name == "-u" and has_value:  # click reads `-u=x` as the value "=x": leave it to typer
            return None
        if key is None and arg.startswith("-u") and len(arg) > 2 and not arg.startswith("--"):
            key, value, has_value = "user", arg[2:], "yes"
        if key is None or (key == "theme" and not command):
            return None
        if not has_value:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None
            value = args[i + 1]
            i += 1
        if command:
            options[key] = value
        else:
            top_user = value
        i += 1
    if not command:
        options["user"] = top_user
    return top_user, options


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole CLI, for tests and tools that inspect it
        _register(list(_COMMANDS))
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Entry point: every failure a person can cause is one line on stderr and a non-zero exit."""
    if not (sys.warnoptions or os.environ.get("TESSERA_DEBUG")):
        # A library's warning is for its developers, not for a user of this program; -W or
        # TESSERA_DEBUG=1 brings them back.
        import warnings

        warnings.simplefilter("ignore")
    args = sys.argv[1:]
    undecodable = _not_utf8(args)
    if undecodable:
        _say(undecodable)
        sys.exit(5)  # as any other invalid input
    if args[:1] == ["mailgate"]:
        # One process per message: the quick path imports psycopg, not typer nor SQLAlchemy.
        from tessera.cli.mailgate_pipe import run as mailgate

        code = mailgate(args[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
    plain = _plain_tui(args)
    if plain is not None and plain[1]["keys"]:
        plain = None  # `tessera tui --keys` prints a table: the CLI's work, typer and all
    if plain is not None and _start_helper(plain):
        gc.disable()  # until the first page is on screen (TesseraApp turns it back on): ~15% faster
    elif plain is None:
        _register(_commands_for(args))
    try:
        if plain is None:
            _invoke(_app)
        else:  # as `main` and the tui command would, given these options, without typer
            from tessera.cli import state
            from tessera.cli.tui_launch import open_tui

            state.set_global_user(plain[0])
            code = open_tui(plain[1]["user"], plain[1]["theme"])
            if code:
                sys.exit(code)
    except TesseraError as exc:
        _say(exc.message)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("tessera: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        from tessera.core.db_faults import database_error

        error = database_error(exc)  # lost or frozen mid-command: one line, and whether it committed
        if error is not None:
            _say(error.message)
            sys.exit(error.exit_code)
        if os.environ.get("TESSERA_DEBUG"):
            raise
        what = f"{type(exc).__name__}: {_one_line(exc)}"
        _say(f"internal error: {what} (set TESSERA_DEBUG=1 for a traceback)")
        sys.exit(70)


def _say(message: str) -> None:
    """An error on one line of standard error: a value quoted in it came from a stranger (a file, a
    ticket, a mail), so escape sequences and line breaks are taken out here."""
    from tessera.core.hostile_text import clean_line

    sys.stderr.write(f"tessera: {' '.join(clean_line(message).split())}\n")


def _not_utf8(args: list[str]) -> str | None:
    """Why an argument cannot be used, if one holds bytes that are not UTF-8 (Python hands them
    over as lone surrogates, which no database text, terminal or mail header can carry)."""
    for index, arg in enumerate(args, 1):
        for column, ch in enumerate(arg, 1):
            if "\udc80" <= ch <= "\udcff":  # surrogateescape: byte 0x80-0xff
                byte = ord(ch) - 0xDC00
                return f"argument {index} is not UTF-8: byte 0x{byte:02x} at column {column}"
            if "\ud800" <= ch <= "\udfff":
                return f"argument {index} is not UTF-8 at column {column}"
    return None


def _one_line(exc: BaseException) -> str:
    """An unexpected error's text on one line; a database library's wrapped error by its own
    first line (without the statement, the parameters and the library's web page)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""


def _invoke(app: Any) -> None:
    """Run the typer app; a usage error (a missing argument, a bad option value) is one line, as
    every other error is, rather than click's boxed usage panel."""
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        # click's exceptions (typer vendors click, so they are matched by shape, not by class).
        message = getattr(exc, "format_message", None)
        if message is None or not hasattr(exc, "exit_code"):
            raise
        context = getattr(exc, "ctx", None)
        if context is not None and getattr(context.command, "hidden", False) and context.parent is not None:
            context = context.parent  # `search QUERY` runs the hidden `search query`: name the one typed
        where = f" (see '{context.command_path} --help')" if context is not None else ""
        text = " ".join(str(message()).split())
        _say(f"{text}{where}")
        sys.exit(exc.exit_code)
    if type(code) is int and code:  # an explicit typer.Exit(code)
        sys.exit(code)


def _start_helper(plain: tuple[str | None, dict[str, Any]]) -> bool:
    """Fork the TUI's start-up helper now, if the command will open the TUI in a terminal."""
    top_user, options = plain
    theme = options["theme"]
    if options["keys"] or (theme is not None and theme.strip().lower() not in ("light", "dark")):
        return False
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    from tessera.tui.backend import FirstScreenHelper

    FirstScreenHelper.start(options["user"] or top_user)
    return FirstScreenHelper.pending is not None
