"""What every command shares: opening the database, the acting user, JSON, one-line errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tessera.cli import state

# (re-exported: commands import them from here)
from tessera.cli.state import database as database
from tessera.cli.state import set_global_user as set_global_user
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.hostile_text import clean, clean_line
from tessera.core.json_time import json_time

if TYPE_CHECKING:
    from tessera.core.context import Context

USER_OPTION = typer.Option(
    None, "--user", "-u", help="Act as this user (default: $TESSERA_USER, else your login name)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON (stable keys) instead of text.")


@contextmanager
def acting(user: str | None = None) -> Iterator[Context]:
    """A session and the acting user for one command."""
    from tessera.core.context import open_context

    db = database()
    with db.session() as session:
        yield open_context(session, user or state.global_user)


def read_body(body: str | None) -> str:
    """`--body -` reads standard input, so a reply can be piped in."""
    if body == "-":
        return sys.stdin.read()
    return body or ""


def read_attachments(paths: list[Path] | None) -> list[Any]:
    import mimetypes

    from tessera.core.schemas import AttachmentIn

    out = []
    for path in paths or []:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot attach {path}: {exc.strerror}") from None
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        out.append(AttachmentIn(filename=path.name, content_type=ctype, data=data))
    return out


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return json_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


_C1 = re.compile("[\x7f-\x9f\u2028\u2029]")


def print_json(data: Any) -> None:
    """JSON escapes C0 controls itself; C1 controls (0x9b is CSI to some terminals) and the Unicode
    line separators are escaped here too, so the output is safe on a terminal and still the same JSON."""
    text = json.dumps(data, default=_default, indent=2, ensure_ascii=False)
    sys.stdout.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def echo(text: str = "") -> None:
    """Every line of the CLI's text output passes here: what a ticket, a mail or a file put in it
    reaches the terminal without its escape sequences or control characters."""
    typer.echo(clean(text))


def warn(text: str) -> None:
    sys.stderr.write(f"tessera: warning: {clean_line(text)}\n")


def table(rows: list[list[str]], headers: list[str]) -> None:
    """Plain aligned columns: readable in a terminal, greppable in a pipe."""
    rows = [[clean_line(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@contextmanager
def progress_bar(verb: str, total: int, log_as: str | None = None) -> Iterator[Callable[[int, int], None]]:
    """A bar for long work on standard error, only on a terminal (standard output stays the
    command's one summary). Off a terminal, `log_as` names the work in a line per report instead."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn(verb), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("tickets", total=total)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done)
            if log_as and not console.is_terminal and total > done:
                print(f"{log_as}: {done}/{total} tickets written", file=sys.stderr, flush=True)

        yield report


def read_config_source(source: str) -> tuple[str, str]:
    """(text, label) of a config-as-code file (lifecycle, calendar, service levels); `-` is
    standard input. The label prefixes every error about the file's content."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(source).read_text(encoding="utf-8"), source
    except FileNotFoundError:
        raise NotFound(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidInput(f"{source}: cannot read it: {reason}") from None
