"""Where things are: the database URL and the data dir, read from the environment.

SQLAlchemy is imported by the functions that need it, so the TUI can start drawing before it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tessera.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DATABASE_URL_ENV = "TESSERA_DATABASE_URL"
DATA_DIR_ENV = "TESSERA_DATA_DIR"
USER_ENV = "TESSERA_USER"
# Set by `tessera ssh-server` in every session's environment (to the peer): the TUI it runs then
# serves a remote agent and refuses what would act on the server (an editor, saving a file).
SSH_SESSION_ENV = "TESSERA_SSH_SESSION"


def login_name() -> str:
    """The OS login, used when neither --user nor TESSERA_USER names the actor."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def wanted_user(name: str | None = None) -> str:
    """Who acts: `--user NAME`, else `$TESSERA_USER`, else the OS login."""
    return name or os.environ.get(USER_ENV) or login_name()


def data_dir() -> Path:
    """`$TESSERA_DATA_DIR`, else the platform's user data dir for "tessera"."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("tessera")).resolve()


def parse_database_url(raw: str, *, source: str = DATABASE_URL_ENV) -> URL:
    """Accept `postgresql://` and `postgresql+psycopg://` URLs; anything else is a clear error.

    The scheme is read from the text, not by loading SQLAlchemy's dialect for it: `postgres://`
    (Heroku's spelling) has no dialect of that name, and an unknown one would not be a clear error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expected = "(expected postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME)"
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ConfigError(f"{source} is not a valid database URL: {raw!r} {expected}") from None
    except ValueError:  # a port that is not a number, an unclosed [IPv6] bracket
        raise ConfigError(
            f"{source} is not a valid database URL: {raw!r} (its HOST:PORT cannot be read)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{source} names a {backend!r} database; Tessera needs PostgreSQL (postgresql+psycopg://...)"
        )
    if driver not in ("psycopg", ""):
        raise ConfigError(
            f"{source} asks for driver {driver!r}; Tessera uses psycopg 3 (postgresql+psycopg://)"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"{source} has port {url.port}, which is not a TCP port (1-65535)")
    if url.host is None and not url.query.get("host") and url.database is None:
        raise ConfigError(f"{source} names no host and no database: {raw!r}")
    return url.set(drivername="postgresql+psycopg")


def configured_database_url() -> URL | None:
    """The URL from `$TESSERA_DATABASE_URL`, or None when the embedded server is to be used."""
    raw = os.environ.get(DATABASE_URL_ENV)
    if raw is None or not raw.strip():
        return None
    return parse_database_url(raw)


def describe_url(url: URL) -> str:
    """A URL for people: password hidden, socket dirs shown plainly."""
    return url.render_as_string(hide_password=True)
