"""`tessera import FILE.jsonl`: tickets with their history from RT or another desk."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, progress_bar
from tessera.core.errors import InvalidInput
from tessera.core.ids import display_id


def _lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def import_(
    file: str = typer.Argument(..., help="JSON Lines, one ticket a line with its transactions ('-': stdin)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and write everything, then roll back."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import tickets with their history, all in one transaction (a bad line: nothing is written).

    Original times and actors need the Import right; no scrip runs and no mail is sent."""
    from tessera.core.import_records import parse_lines
    from tessera.core.importing import import_records

    started = time.perf_counter()
    records = list(parse_lines(_lines(file)))
    with acting(user) as ctx, progress_bar("importing", len(records), log_as="import") as progress:
        done = import_records(ctx, records, dry_run=dry_run, progress=progress)
    seconds = time.perf_counter() - started
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "count": len(done),
                "seconds": round(seconds, 3),
                "tickets": [
                    {
                        "line": d.line,
                        "id": d.id,
                        "display_id": None if d.id is None else display_id(d.id),
                        "origin": d.origin,
                    }
                    for d in done
                ],
            }
        )
        return
    if dry_run:
        echo(f"dry run: {len(done)} tickets would be imported; nothing was written")
        return
    first, last = (done[0].id, done[-1].id) if done else (None, None)
    span = f" ({display_id(first)} to {display_id(last)})" if first is not None and last is not None else ""
    echo(f"imported {len(done)} tickets{span} in {seconds:.1f}s")
