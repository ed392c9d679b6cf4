"""Errors a user can act on.

Every failure that reaches a person is a `TesseraError`: the CLI prints its message as one line
and exits with its `exit_code`; the TUI shows it in a notification. Anything else is a bug.
"""

from __future__ import annotations


class TesseraError(Exception):
    """A failure explained in one line; `exit_code` is what the CLI exits with."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TesseraError):
    """The environment or a setting is wrong (bad URL, unwritable data dir, ...)."""

    exit_code = 2
    kind = "config"


class DatabaseUnavailable(TesseraError):
    """The database server cannot be reached or started, or failed in the middle of a command.

    `committed` says what became of the change: False when it was not made (the usual case: the
    connection failed before the commit), True when the commit's answer was lost but a check found
    it committed, None when that could not be checked (see `tessera.core.db_faults`)."""

    exit_code = 3
    kind = "database"
    committed: bool | None = False


class SchemaOutOfDate(TesseraError):
    """The database is not at the migration head this code expects."""

    exit_code = 3
    kind = "schema"


class NotFound(TesseraError):
    exit_code = 4
    kind = "not_found"


class InvalidInput(TesseraError):
    exit_code = 5
    kind = "invalid"


class PermissionDenied(TesseraError):
    exit_code = 6
    kind = "permission"


class Conflict(TesseraError):
    """A change was based on a stale version of a record."""

    exit_code = 7
    kind = "conflict"
