"""A writer for the kill -9 burst: creates tickets through core until told to stop, one line each.

Run as `python -m tests.support.burst QUEUE PREFIX OUT STOP` in the fault server's environment
(the embedded default, TESSERA_DATA_DIR): it opens the desk as any tessera process does, and
after a failure keeps going (the next create reconnects, or restarts the killed server). Each
create is one JSON line in OUT: {"token", "id"} once acknowledged (committed and answered), or
{"token", "error", "committed"} with what the one-line error said of the change, or {"token",
"crash"} for anything that is not a clean database error (the test fails on those)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(queue: str, prefix: str, out_path: str, stop_path: str) -> None:
    from tessera.core.context import open_context
    from tessera.core.db import Database, open_database
    from tessera.core.db_faults import database_error
    from tessera.core.errors import DatabaseUnavailable
    from tessera.core.schemas import MessageIn, TicketCreate
    from tessera.core.tickets import create_ticket

    db: Database | None = None
    stop = Path(stop_path)
    n = 0
    with open(out_path, "a", encoding="utf-8") as out:
        while not stop.exists():
            token = f"{prefix}-{n}"
            n += 1
            record: dict[str, object] = {"token": token}
            try:
                if db is None:
                    db = open_database()
                with db.session() as session:
                    ctx = open_context(session, "root")
                    ticket = create_ticket(
                        ctx,
                        TicketCreate(
                            queue=queue,
                            subject=token,
                            requestors=[f"{token}@customer.example"],
                            message=MessageIn(body=f"written in the burst: {token}"),
                        ),
                    )
                    record["id"] = ticket.id
            except Exception as exc:
                error = exc if isinstance(exc, DatabaseUnavailable) else database_error(exc)
                if error is not None:
                    record["error"], record["committed"] = error.message, error.committed
                else:  # anything else, a TesseraError included, is not what a kill may cause
                    record["crash"] = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps(record) + "\n")
            out.flush()
            if "id" not in record:
                time.sleep(0.1)  # the server is down or restarting: do not spin


if __name__ == "__main__":
    main(*sys.argv[1:5])
