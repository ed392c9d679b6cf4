"""`tessera db`: where the database is, and its schema."""

from __future__ import annotations

import typer

from tessera.cli.common import database, echo, print_json

app = typer.Typer(help="Database: apply migrations, report where the database is and its revision.")


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration (safe to run at any time, from several processes at once)."""
    from tessera.core import migrate
    from tessera.core.bootstrap import bootstrap_database

    db = database(migrate=False)
    before = migrate.current_revision(db)
    after = migrate.upgrade(db)
    first = bootstrap_database(db)
    if before == after.current:
        echo(f"{db.location}: already at head ({after.current})")
    else:
        echo(f"{db.location}: upgraded {before or 'empty'} -> {after.current}")
    if first is not None:
        echo(f"created superuser {first.name!r} (your login name) on this new desk")


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Say where the database is and its schema revision against head."""
    from tessera.core import config
    from tessera.core.schema_version import status_if_current

    # The embedded default upgrades and bootstraps itself on opening; a shared server is only
    # looked at (`tessera db upgrade` changes it). Alembic is imported only when not at head.
    db = database(migrate=config.configured_database_url() is None)
    state = status_if_current(db)
    if state is None:
        from tessera.core import migrate

        state = migrate.status(db)
    if as_json:
        print_json(
            {
                "location": db.location,
                "url": config.describe_url(db.url),
                "embedded": db.embedded,
                "data_dir": str(config.data_dir()) if db.embedded else None,
                "revision": state.current,
                "head": state.head,
                "up_to_date": state.up_to_date,
            }
        )
        return
    echo(f"database: {db.location}")
    echo(f"url:      {config.describe_url(db.url)}")
    verdict = "up to date" if state.up_to_date else "behind: run `tessera db upgrade`"
    echo(f"revision: {state.current or 'none (empty database)'} (head {state.head}) - {verdict}")
    if not state.up_to_date:
        raise typer.Exit(1)


@app.command("stop")
def stop() -> None:
    """Stop the embedded PostgreSQL server (it starts again on the next command)."""
    from tessera.core import config
    from tessera.core.embedded import stop_server

    if config.configured_database_url() is not None:
        echo("TESSERA_DATABASE_URL is set: there is no embedded server to stop")
        return
    stopped = stop_server(config.data_dir())
    echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
