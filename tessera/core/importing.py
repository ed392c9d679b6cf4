"""Imports that keep history: tickets from RT or another desk, with their original times, actors and
transactions (`tessera import FILE.jsonl`), and the demo seed, which takes the same path.

* **One database transaction per file.** Every line is read and checked first; then all tickets are
  written in one unit of work. A bad line (not JSON, an unknown queue, status, user or type, a time
  in the future, a right missing) is one error naming its line, and nothing of the file is written.
  Running a file again imports it again (as new tickets): an import is not a sync.
* **Times and actors.** A line may give the ticket's created/updated/started/resolved/told times, its
  creator, and each transaction's time and actor; that needs the global `Import` right (checked
  here, in core). Without it, everything happens now and by the importer. No time may be in the
  future. Left out: created = the first transaction's time, else now; a transaction's time = the
  one before it; updated = the last transaction's; started and resolved follow RT's rules from the
  Status transactions (or created/updated); a missing Create transaction is added first.
* **No scrips, no mail.** The unit runs with scrips off (RT's ActivateScrips = 0, as RT's importer
  does), so no scrip sees the imported transactions and nothing reaches the outbox: history is not
  news. Each imported transaction carries `data.imported`.
* Rows are written with COPY, in batches, with a progress callback after each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from tessera.core.context import Context, find_user, operation, rolled_back, scrips_off
from tessera.core.customfields import field_for_ticket, normalise_values, split_values
from tessera.core.desk_addresses import desk_addresses, loop_address, refuse
from tessera.core.errors import InvalidInput, PermissionDenied, TesseraError
from tessera.core.fast_sql import driver_connection
from tessera.core.import_records import (
    MESSAGE_TYPES,
    TRANSACTION_TYPES,
    ImportTicket,
    ImportTransaction,
)
from tessera.core.lifecycles.desk import lifecycle_of
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.live import announce
from tessera.core.messages import new_message_id
from tessera.core.models import (
    Attachment,
    CustomField,
    CustomFieldValue,
    Queue,
    Reminder,
    Ticket,
    Transaction,
    User,
    Watcher,
)
from tessera.core.queues import get_queue
from tessera.core.reminders import reminder_statuses
from tessera.core.users import user_for_address

IMPORT_RIGHT = "Import"
BATCH = 500
MAX_SUBJECT = 200
_TYPES = {t.lower(): t for t in TRANSACTION_TYPES}

Progress = Callable[[int, int], None]


@dataclass
class Imported:
    """One imported ticket: its line, its new id (None in a dry run) and where it came from."""

    line: int
    id: int | None
    origin: str | None


@dataclass
class _Rows:
    """One ticket's rows, before ids exist."""

    ticket: dict[str, Any]
    watchers: list[tuple[str, int]]
    values: list[tuple[int, str]]
    txns: list[tuple[dict[str, Any], dict[str, Any] | None]]  # (row, message part or None)
    reminders: list[dict[str, Any]]
    queue: Queue


@dataclass
class _Resolver:
    """Names to rows, each looked up once per import."""

    ctx: Context
    may_import: bool
    users: dict[str, User] = field(default_factory=dict)
    queues: dict[str, tuple[Queue, Lifecycle]] = field(default_factory=dict)
    fields: dict[tuple[str, int], CustomField] = field(default_factory=dict)
    own: set[str] | None = None
    domains: dict[int, str] = field(default_factory=dict)

    def queue(self, name: str) -> tuple[Queue, Lifecycle]:
        key = name.strip().lower()
        found = self.queues.get(key)
        if found is None:
            queue = get_queue(self.ctx, name)
            if queue.disabled:
                raise InvalidInput(f"queue {queue.name} is disabled")
            self.ctx.require("CreateTicket", "create tickets", f"in queue {queue.name}", queue_id=queue.id)
            found = self.queues[key] = (queue, lifecycle_of(self.ctx.session, queue))
        return found

    def person(self, who: str) -> User:
        """A name or an address: an unknown address becomes an unprivileged user, as in RT."""
        key = who.strip().lower()
        user = self.users.get(key)
        if user is None:
            user = self.users[key] = user_for_address(self.ctx, who)
        return user

    def actor(self, who: str | None, what: str) -> User:
        if who is None:
            return self.ctx.actor
        user = self.person(who)
        if user.id != self.ctx.actor.id and not self.may_import:
            raise PermissionDenied(f"{what}: acting as {who} needs the {IMPORT_RIGHT} right")
        return user

    def agent(self, who: str, what: str) -> User:
        user = self.users.get(who.strip().lower()) or find_user(self.ctx.session, who)
        if user is None:
            raise InvalidInput(f"{what}: unknown user {who!r}")
        self.users[who.strip().lower()] = user
        return user

    def field(self, name: str, queue: Queue) -> CustomField:
        key = (name.strip().lower(), queue.id)
        cf = self.fields.get(key)
        if cf is None:
            cf = self.fields[key] = field_for_ticket(self.ctx, name, queue)
        return cf

    def domain(self, queue: Queue) -> str:
        """The domain of the queue's Message-IDs (as `messages.new_message_id` writes them)."""
        found = self.domains.get(queue.id)
        if found is None:
            found = self.domains[queue.id] = new_message_id(queue).rsplit("@", 1)[1].rstrip(">")
        return found

    def desk(self) -> set[str]:
        if self.own is None:
            self.own = desk_addresses(self.ctx.session)
        return self.own


def _subject(text: str) -> str:
    subject = " ".join(text.split())
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(f"subject is {len(subject)} characters; at most {MAX_SUBJECT}")
    return subject


class _Clock:
    """The times a line gives, checked: never in the future, and only with the Import right."""

    def __init__(self, r: _Resolver) -> None:
        self.now = r.ctx.now
        self.may_import = r.may_import

    def __call__(self, value: datetime | None, what: str) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value > self.now:
            raise InvalidInput(f"{what} {value.isoformat()} is in the future")
        if not self.may_import:
            raise PermissionDenied(f"{what}: giving a ticket its own times needs the {IMPORT_RIGHT} right")
        return value


def _transactions(
    r: _Resolver, rec: ImportTicket, creator: User, created: datetime | None, clock: _Clock
) -> tuple[datetime, list[tuple[ImportTransaction, str, User, datetime]]]:
    """The ticket's creation time and its transactions in order, each typed, with actor and time."""
    given = list(rec.transactions)
    added = not given or _TYPES.get(given[0].type.strip().lower()) != "Create"
    if added:
        given.insert(0, ImportTransaction(type="Create"))
    out: list[tuple[ImportTransaction, str, User, datetime]] = []
    previous: datetime | None = None
    for i, txn in enumerate(given):
        where = f"transactions[{i - 1 if added else i}]" if i or not added else "created"
        kind = _TYPES.get(txn.type.strip().lower())
        if kind is None:
            raise InvalidInput(
                f"{where}.type: unknown type {txn.type!r} (types: {', '.join(TRANSACTION_TYPES)})"
            )
        if kind == "Create" and i:
            raise InvalidInput(f"{where}: a Create transaction must come first")
        when = clock(txn.created, f"{where}.created")
        if i == 0:
            when = when or created or clock.now
            created = created or when
            if when < created:
                raise InvalidInput(f"{where}.created is before the ticket was created")
            actor = r.actor(txn.actor, f"{where}.actor") if txn.actor else creator
        else:
            assert previous is not None
            when = when or previous
            if when < previous:
                raise InvalidInput(f"{where}.created is before the transaction above it (keep them in order)")
            actor = r.actor(txn.actor, f"{where}.actor")
        if kind in ("Correspond", "Comment") and not (txn.body or "").strip():
            raise InvalidInput(f"{where}: a {kind} needs a body")
        if txn.body is not None and kind not in MESSAGE_TYPES:
            raise InvalidInput(f"{where}: a {kind} transaction carries no body")
        if txn.content_type not in ("text/plain", "text/html"):
            raise InvalidInput(f"{where}.content_type: text/plain or text/html, not {txn.content_type!r}")
        out.append((txn, kind, actor, when))
        previous = when
    assert created is not None
    return created, out


def _dates(
    lifecycle: Lifecycle, status: str, created: datetime, txns: list[tuple[Any, str, User, datetime]]
) -> tuple[datetime | None, datetime | None]:
    """RT's Started and Resolved, from the Status transactions when the line does not give them."""
    started = resolved = None
    if lifecycle.category(status) != "initial":
        started = next(
            (
                w
                for t, k, _, w in txns
                if k == "Status" and lifecycle.category(t.new) not in (None, "initial")
            ),
            created,
        )
    if lifecycle.category(status) == "inactive":
        into = [w for t, k, _, w in txns if k == "Status" and lifecycle.category(t.new) == "inactive"]
        resolved = into[-1] if into else txns[-1][3]
    return started, resolved


def _rows(r: _Resolver, rec: ImportTicket) -> _Rows:
    """Check one line and turn it into rows (nothing is written here)."""
    clock = _Clock(r)
    queue, lifecycle = r.queue(rec.queue)
    status = (rec.status or lifecycle.on_create).strip().lower()
    if not lifecycle.is_valid(status):
        allowed = ", ".join(lifecycle.statuses)
        raise InvalidInput(f"status: {rec.status!r} is no status of lifecycle '{lifecycle.name}' ({allowed})")
    creator = r.actor(rec.creator, "creator")
    created, txns = _transactions(r, rec, creator, clock(rec.created, "created"), clock)
    updated = clock(rec.updated, "updated") or txns[-1][3]
    if updated < created:
        raise InvalidInput("updated is before created")
    started, resolved = _dates(lifecycle, status, created, txns)
    started = clock(rec.started, "started") or started
    resolved = clock(rec.resolved, "resolved") or resolved
    owner = r.agent(rec.owner, "owner") if rec.owner and rec.owner.strip().lower() != "nobody" else None
    watchers: list[tuple[str, int]] = []
    for role, addresses in (("Requestor", rec.requestors), ("Cc", rec.cc), ("AdminCc", rec.admincc)):
        seen: set[int] = set()
        for address in addresses:
            if (looped := loop_address(None, address, r.desk())) is not None:
                raise refuse(looped, role, "an imported ticket")
            user = r.person(address)
            if (looped := loop_address(user, address, r.desk())) is not None:
                raise refuse(looped, role, "an imported ticket")
            if user.id not in seen:
                seen.add(user.id)
                watchers.append((role, user.id))
    values: list[tuple[int, str]] = []
    for name, raw in rec.custom_fields.items():
        cf = r.field(name, queue)
        values += [(cf.id, v) for v in normalise_values(cf, split_values(cf, raw))]
    subject = _subject(rec.subject)
    initial = rec.initial_priority if rec.initial_priority is not None else (rec.priority or 0)
    worked = rec.time_worked if rec.time_worked is not None else sum(t.time_taken for t, *_ in txns)
    ticket = {
        "queue_id": queue.id,
        "subject": subject,
        "status": status,
        "owner_id": owner.id if owner else None,
        "priority": rec.priority if rec.priority is not None else initial,
        "initial_priority": initial,
        "final_priority": rec.final_priority or 0,
        "time_worked": worked,
        "time_estimated": rec.time_estimated,
        "time_left": rec.time_left if rec.time_left is not None else rec.time_estimated,
        "due": rec.due,
        "starts": rec.starts,
        "started": started,
        "resolved": resolved,
        "told": clock(rec.told, "told"),
        "created": created,
        "updated": updated,
        "creator_id": creator.id,
        "updated_by_id": txns[-1][2].id,
    }
    txn_rows: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    domain = r.domain(queue)
    for i, (txn, kind, actor, when) in enumerate(txns):
        data: dict[str, Any] = {"imported": True}
        if i == 0 and rec.origin:
            data["origin"] = rec.origin
        if txn.time_taken:
            data["time_taken"] = txn.time_taken
        row = {
            "type": kind,
            "field": txn.field or ("Status" if kind == "Status" else None),
            "old_value": txn.old,
            "new_value": txn.new,
            "actor_id": actor.id,
            "created": when,
            "data": data,
        }
        part = None
        if kind in MESSAGE_TYPES and txn.body is not None and txn.body.strip():
            part = {
                "content_type": txn.content_type,
                "content": txn.body,
                "subject": " ".join((txn.subject or subject).split()),
                "size": len(txn.body.encode()),
                "message_id": domain,  # made whole once the transaction has its id (`_write`)
                "created": when,
            }
        txn_rows.append((row, part))
    opened, closed = reminder_statuses(lifecycle)
    reminders = []
    for i, rem in enumerate(rec.reminders):
        where = f"reminders[{i}]"
        state = (rem.status or opened).strip().lower()
        if state not in (opened, closed):
            raise InvalidInput(
                f"{where}.status: {opened} or {closed} (lifecycle '{lifecycle.name}'), not {state!r}"
            )
        rem_owner = r.agent(rem.owner, f"{where}.owner") if rem.owner else owner
        rem_created = clock(rem.created, f"{where}.created") or created
        rem_resolved = clock(rem.resolved, f"{where}.resolved") or (updated if state == closed else None)
        reminders.append(
            {
                "subject": _subject(rem.subject) or "(no subject)",
                "owner_id": rem_owner.id if rem_owner else None,
                "due": rem.due,
                "status": state,
                "created": rem_created,
                "creator_id": creator.id,
                "resolved": rem_resolved,
            }
        )
    return _Rows(ticket, watchers, values, txn_rows, reminders, queue)


def _ids(ctx: Context, table: str, count: int) -> list[int]:
    """Reserve ids from the identity sequence, so bulk inserts need no RETURNING round trips."""
    if not count:
        return []
    return list(
        ctx.session.scalars(
            select(func.nextval(func.pg_get_serial_sequence(table, "id"))).select_from(
                func.generate_series(1, count)
            )
        )
    )


def _copy(ctx: Context, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk rows through COPY (about 4x faster than an INSERT each). Every row of a table has the
    same keys; columns left out take their server defaults."""
    if not rows:
        return
    columns = list(rows[0])
    cursor = driver_connection(ctx.session.connection()).cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _write(ctx: Context, batch: list[_Rows]) -> list[int]:
    import json

    ids = _ids(ctx, Ticket.__tablename__, len(batch))
    tickets, watchers, values, txn_rows, parts, reminders = [], [], [], [], [], []
    for ticket_id, rows in zip(ids, batch, strict=True):
        tickets.append({**rows.ticket, "id": ticket_id})
        watchers += [{"ticket_id": ticket_id, "role": role, "user_id": u} for role, u in rows.watchers]
        values += [{"ticket_id": ticket_id, "custom_field_id": c, "value": v} for c, v in rows.values]
        reminders += [{**rem, "ticket_id": ticket_id} for rem in rows.reminders]
        for row, part in rows.txns:
            txn_rows.append(({**row, "ticket_id": ticket_id}, part))
    _copy(ctx, Ticket.__tablename__, tickets)
    _copy(ctx, Watcher.__tablename__, watchers)
    _copy(ctx, CustomFieldValue.__tablename__, values)
    _copy(ctx, Reminder.__tablename__, reminders)
    for (row, part), txn_id in zip(
        txn_rows, _ids(ctx, Transaction.__tablename__, len(txn_rows)), strict=True
    ):
        row["id"] = txn_id
        row["data"] = json.dumps(row["data"])  # jsonb, as text
        if part is not None:
            message_id = f"<tessera.import.{txn_id}@{part['message_id']}>"
            parts.append({**part, "transaction_id": txn_id, "message_id": message_id})
    _copy(ctx, Transaction.__tablename__, [row for row, _ in txn_rows])
    _copy(ctx, Attachment.__tablename__, parts)
    return ids


def write_records(
    ctx: Context, records: Iterable[tuple[int, ImportTicket]], progress: Progress | None = None
) -> list[Imported]:
    """Check and write `records` ((line, record)) inside the caller's unit of work: all of them or,
    on the first bad line (an error naming it), none. The demo seed calls this too."""
    if not ctx.depth:
        raise RuntimeError("write_records is part of an operation: call import_records")
    resolver = _Resolver(ctx, may_import=ctx.can(IMPORT_RIGHT))
    checked: list[tuple[int, ImportTicket, _Rows]] = []
    for line, record in records:
        try:
            checked.append((line, record, _rows(resolver, record)))
        except TesseraError as exc:
            exc.message = f"line {line}: {exc.message}"
            exc.args = (exc.message,)
            raise exc from None
    ctx.session.flush()  # users made for new addresses
    done: list[Imported] = []
    for start in range(0, len(checked), BATCH):
        chunk = checked[start : start + BATCH]
        ids = _write(ctx, [rows for _, _, rows in chunk])
        done += [
            Imported(line, ticket_id, rec.origin)
            for (line, rec, _), ticket_id in zip(chunk, ids, strict=True)
        ]
        if progress is not None:
            progress(len(done), len(checked))
    announce(ctx.session, None)  # open TUIs reload what they show
    return done


@operation
def _import(
    ctx: Context, records: list[tuple[int, ImportTicket]], progress: Progress | None
) -> list[Imported]:
    return write_records(ctx, records, progress)


def import_records(
    ctx: Context,
    records: Iterable[tuple[int, ImportTicket]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[Imported]:
    """Import `records` in one database transaction, with scrips off; `dry_run` checks and writes
    everything, then rolls it back (the ids it reports are None)."""
    items = list(records)
    with scrips_off(ctx):
        if not dry_run:
            return _import(ctx, items, progress)
        with rolled_back(ctx):
            return [Imported(i.line, None, i.origin) for i in write_records(ctx, items, progress)]
