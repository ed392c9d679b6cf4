"""Ticket operations: the only code that changes tickets.

Each public function decorated with `@operation` is one database transaction that checks rights
(and the lifecycle), records one transaction row per change with RT's types, and commits or rolls
back as a whole. A change based on a stale version (`expected_version`) is refused as a conflict.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from psycopg.types.json import Jsonb
from sqlalchemy import Text, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.attributes import set_committed_value

from tessera.core import statuses
from tessera.core.context import Context, adopt, driver_execute, new_transaction, operation, record
from tessera.core.customfields import field_for_ticket, normalise_values, split_values
from tessera.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tessera.core.messages import new_message_id, store_message
from tessera.core.models import CustomFieldValue, Queue, Ticket, Transaction, User, display_id
from tessera.core.queues import get_queue
from tessera.core.rowload import loaded_columns, persistent, select_list
from tessera.core.schemas import INT_MAX, MessageIn, TicketCreate, parse_datetime, parse_int
from tessera.core.users import address_keys, get_user, known_users, user_for_address

_REF = re.compile(r"^\s*(?:(?:TKT-?)|#)?0*(\d+)\s*$", re.I)

DATE_FIELDS = ("due", "starts")
INT_FIELDS = ("priority", "initial_priority", "final_priority", "time_worked", "time_estimated", "time_left")
SETTABLE_FIELDS = ("subject", "status", "owner", "queue", *INT_FIELDS, *DATE_FIELDS)
MAX_SUBJECT = 200


def parse_ref(ref: str | int) -> int:
    """`42`, `TKT-0042`, `tkt-42`, `#42` -> 42."""
    if isinstance(ref, int):
        return ref
    match = _REF.match(ref)
    if not match:
        raise InvalidInput(f"not a ticket id: {ref!r} (use 42 or TKT-0042)")
    ticket_id = int(match.group(1))
    if ticket_id > INT_MAX:  # past any id the database can hold
        raise NotFound(f"no ticket {display_id(ticket_id)}")
    return ticket_id


_READ = select(Ticket).where(Ticket.id == bindparam("ticket_id"))


@cache
def _lock_sql() -> str:
    """The ticket, its queue and owner (what the ORM's joined load reads) and whether it depends
    on other tickets, with the ticket's row locked."""
    return (
        f"SELECT {select_list(Ticket, 't')}, {select_list(Queue, 'q')}, {select_list(User, 'u')},"
        " EXISTS (SELECT 1 FROM links l WHERE l.base_id = t.id AND l.type = 'DependsOn')"
        " FROM tickets t JOIN queues q ON q.id = t.queue_id LEFT JOIN users u ON u.id = t.owner_id"
        " WHERE t.id = %(ticket_id)s FOR UPDATE OF t"
    )


def _lock_one(ctx: Context, ticket_id: int) -> tuple[Ticket | None, bool]:
    """Read on the driver cursor: the ORM's load of the same row costs four times the Python."""
    session = ctx.session
    if session.autoflush and (session.dirty or session.new or session.deleted):
        session.flush()  # as the ORM's own read would: the row read over them must include them
    row = driver_execute(session, _lock_sql(), {"ticket_id": ticket_id}).fetchone()
    if row is None:
        return None, True
    n_ticket, n_queue = len(loaded_columns(Ticket)), len(loaded_columns(Queue))
    queue = persistent(session, Queue, row[n_ticket : n_ticket + n_queue])
    owner_row = row[n_ticket + n_queue : -1]
    owner = persistent(session, User, owner_row) if owner_row[0] is not None else None
    ticket = persistent(session, Ticket, row[:n_ticket])
    set_committed_value(ticket, "queue", queue)
    set_committed_value(ticket, "owner", owner)
    return ticket, bool(row[-1])


def _load(ctx: Context, ref: str | int, *, for_update: bool, check: bool) -> tuple[Ticket, bool]:
    """The ticket (following merges) and, when locked, whether it depends on other tickets."""
    ticket_id = parse_ref(ref)
    seen: set[int] = set()
    depends = True
    while True:
        if for_update:
            ticket, depends = _lock_one(ctx, ticket_id)
        else:
            ticket = ctx.session.scalars(_READ, {"ticket_id": ticket_id}).first()
        if ticket is None:
            raise NotFound(f"no ticket {display_id(ticket_id)}")
        if ticket.merged_into_id is None or ticket.merged_into_id in seen:
            break
        seen.add(ticket.id)
        ticket_id = ticket.merged_into_id
    if check and not ctx.can("ShowTicket", ticket.queue_id, ticket):
        # Same words as a missing ticket: a stranger learns nothing from guessing ids.
        raise NotFound(f"no ticket {display_id(parse_ref(ref))}")
    return ticket, bool(depends)


def get_ticket(ctx: Context, ref: str | int, *, for_update: bool = False, check: bool = True) -> Ticket:
    """Load a ticket; a merged id resolves to the ticket it was merged into (as RT does)."""
    return _load(ctx, ref, for_update=for_update, check=check)[0]


def _for_change(ctx: Context, ref: str | int, expected_version: int | None) -> Ticket:
    return _locked(ctx, ref, expected_version)[0]


def _locked(ctx: Context, ref: str | int, expected_version: int | None) -> tuple[Ticket, bool]:
    """The ticket locked for a change, and whether it depends on other tickets (read with the lock)."""
    ticket, depends = _load(ctx, ref, for_update=True, check=True)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict(
            f"{ticket.display_id} changed since you loaded it (version {expected_version}, "
            f"now {ticket.version}); reload it and try again"
        )
    return ticket, depends


def _clean_subject(subject: str) -> str:
    subject = " ".join(subject.split())  # RT strips newlines from subjects
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(f"subject is {len(subject)} characters; at most {MAX_SUBJECT}")
    return subject


def _check_owner(ctx: Context, user_name: str, queue: Queue) -> int:
    user = get_user(ctx, user_name)
    from tessera.core.rights import RightsCache

    if not RightsCache.load(ctx.session, user).has("OwnTicket", queue.id):
        raise PermissionDenied(f"{user.name} may not own tickets in queue {queue.name} (needs OwnTicket)")
    return user.id


_KEYS = bindparam("keys", type_=ARRAY(Text))
_QUEUE_AND_PEOPLE = (
    select(Queue, User)
    .outerjoin(User, or_(func.lower(User.name) == any_(_KEYS), func.lower(User.email) == any_(_KEYS)))
    .where(func.lower(Queue.name) == bindparam("queue"))
)


def _queue_and_people(ctx: Context, data: TicketCreate) -> tuple[Queue, dict[str, User]]:
    """The queue, and the known users among the ticket's addresses, in one round trip."""
    keys = address_keys([*data.requestors, *data.cc, *data.admincc])
    name = data.queue.strip()
    if not keys or name.isdigit():
        return get_queue(ctx, data.queue), {}
    rows = ctx.session.execute(_QUEUE_AND_PEOPLE, {"queue": name.lower(), "keys": sorted(keys)}).all()
    if not rows:
        return get_queue(ctx, data.queue), {}  # not found: its usual error
    return rows[0][0], known_users(keys, [user for _, user in rows])


# A new ticket, its watchers and custom field values, its Create transaction and (a plain message)
# the message's one attachment row, in one statement; the rows are those the ORM would write.
_CREATE = """
    WITH t AS (
      INSERT INTO tickets (queue_id, subject, status, owner_id, priority, initial_priority,
                           final_priority, time_estimated, time_left, due, starts, started, resolved,
                           told, created, updated, creator_id, updated_by_id, merged_into_id)
      VALUES (%(queue_id)s, %(subject)s, %(status)s, %(owner_id)s, %(priority)s, %(initial_priority)s,
              %(final_priority)s, %(time_estimated)s, %(time_left)s, %(due)s, %(starts)s, %(started)s,
              %(resolved)s, NULL, %(created)s, %(updated)s, %(creator_id)s, %(updated_by_id)s, NULL)
      RETURNING id, time_worked, version
    ), w AS (
      INSERT INTO watchers (ticket_id, role, user_id)
      SELECT t.id, w.role, w.user_id
        FROM t, unnest(CAST(%(w_roles)s AS text[]), CAST(%(w_users)s AS int[]))
                WITH ORDINALITY AS w(role, user_id, n)
       ORDER BY w.n
    ), v AS (
      INSERT INTO custom_field_values (ticket_id, custom_field_id, value)
      SELECT t.id, v.field, v.value
        FROM t, unnest(CAST(%(cf_fields)s AS int[]), CAST(%(cf_values)s AS text[]))
                WITH ORDINALITY AS v(field, value, n)
       ORDER BY v.n
    ), x AS (
      INSERT INTO transactions (ticket_id, type, field, old_value, new_value, actor_id, created, data)
      SELECT t.id, 'Create', NULL, NULL, NULL, %(actor_id)s, %(created)s, CAST(%(data)s AS jsonb) FROM t
      RETURNING id
    ), a AS (
      INSERT INTO attachments (transaction_id, parent_id, message_id, subject, filename, content_type,
                               headers, content, binary_content, size, created)
      SELECT x.id, NULL, %(message_id)s, %(m_subject)s, NULL, %(m_content_type)s, %(m_headers)s,
             %(m_content)s, NULL, %(m_size)s, %(created)s
        FROM x WHERE %(with_message)s
      RETURNING id
    )
    SELECT t.id, t.time_worked, t.version, x.id, (SELECT id FROM a) FROM t, x
    """


@operation
def create_ticket(ctx: Context, data: TicketCreate) -> Ticket:
    queue, people = _queue_and_people(ctx, data)
    if queue.disabled:
        raise InvalidInput(f"queue {queue.name} is disabled")
    ctx.require("CreateTicket", "create tickets", f"in queue {queue.name}", queue_id=queue.id)
    status = statuses.creation_status(ctx, queue, data.status)
    lifecycle = statuses.lifecycle_of(ctx.session, queue)
    owner_id = _check_owner(ctx, data.owner, queue) if data.owner else None
    initial = data.initial_priority if data.initial_priority is not None else (data.priority or 0)
    ticket = Ticket(
        queue_id=queue.id,
        subject=_clean_subject(data.subject),
        status=status,
        owner_id=owner_id,
        priority=data.priority if data.priority is not None else initial,
        initial_priority=initial,
        final_priority=data.final_priority or 0,
        due=data.due,
        starts=data.starts,
        time_estimated=data.time_estimated or 0,
        time_left=data.time_estimated or 0,
        started=None,
        resolved=None,
        told=None,
        created=ctx.now,
        updated=ctx.now,
        creator_id=ctx.actor.id,
        updated_by_id=ctx.actor.id,
        merged_into_id=None,
    )
    ticket.queue = queue
    statuses.apply_dates(ctx, ticket, lifecycle, None, status)
    watchers: list[tuple[str, int]] = []
    for role, addresses in (("Requestor", data.requestors), ("Cc", data.cc), ("AdminCc", data.admincc)):
        seen: set[int] = set()
        for address in addresses:
            user = user_for_address(ctx, address, people)
            if user.id not in seen:
                seen.add(user.id)
                watchers.append((role, user.id))
    values: list[tuple[int, str]] = []
    for name, raw in data.custom_fields.items():
        cf = field_for_ticket(ctx, name, queue)
        for value in normalise_values(cf, split_values(cf, raw)):
            values.append((cf.id, value))
    message = data.message
    if message.subject is None:
        message = message.model_copy(update={"subject": ticket.subject})
    has_message = not message.is_empty()
    plain = has_message and message.mime is None and not message.attachments
    message_id = (message.message_id or new_message_id(queue)) if has_message else None
    txn = new_transaction(ctx, ticket, "Create", data={"message_id": message_id} if has_message else None)
    ctx.session.flush()  # as a statement through the session would (users just made are flushed)
    ticket_id, time_worked, version, txn_id, _root = driver_execute(
        ctx.session,
        _CREATE,
        {
            "queue_id": ticket.queue_id,
            "subject": ticket.subject,
            "status": ticket.status,
            "owner_id": ticket.owner_id,
            "priority": ticket.priority,
            "initial_priority": ticket.initial_priority,
            "final_priority": ticket.final_priority,
            "time_estimated": ticket.time_estimated,
            "time_left": ticket.time_left,
            "due": ticket.due,
            "starts": ticket.starts,
            "started": ticket.started,
            "resolved": ticket.resolved,
            "created": ctx.now,
            "updated": ctx.now,
            "creator_id": ticket.creator_id,
            "updated_by_id": ticket.updated_by_id,
            "w_roles": [role for role, _ in watchers],
            "w_users": [user_id for _, user_id in watchers],
            "cf_fields": [field_id for field_id, _ in values],
            "cf_values": [value for _, value in values],
            "actor_id": txn.actor_id,
            "data": Jsonb(txn.data),
            "with_message": plain,
            "message_id": message_id,
            "m_subject": message.subject,
            "m_content_type": message.content_type,
            "m_headers": message.headers,
            "m_content": message.body,
            "m_size": len(message.body.encode()) if plain else 0,
        },
    ).fetchone()
    ticket.id, ticket.time_worked, ticket.version = ticket_id, time_worked, version
    adopt(ctx.session, ticket)
    txn.id, txn.ticket_id = txn_id, ticket_id
    adopt(ctx.session, txn)
    ctx.batch.append(txn)  # as `record` does; a new ticket starts at version 1
    if has_message and not plain:
        store_message(ctx, txn, queue, message.model_copy(update={"message_id": message_id}))
    return ticket


def _post(ctx: Context, ticket: Ticket, kind: str, message: MessageIn) -> Transaction:
    if message.is_empty():
        raise InvalidInput("no message: the body is empty and nothing is attached")
    txn = record(ctx, ticket, kind, data={"time_taken": message.time_taken} if message.time_taken else None)
    if message.subject is None:
        message = message.model_copy(update={"subject": ticket.subject})
    store_message(ctx, txn, ticket.queue, message)
    if message.time_taken:
        ticket.time_worked += message.time_taken
    return txn


@operation
def correspond(
    ctx: Context, ref: str | int, message: MessageIn, *, expected_version: int | None = None
) -> Transaction:
    """A public reply: it goes to the requestors and Ccs."""
    ticket = _for_change(ctx, ref, expected_version)
    ctx.require(
        ("ReplyToTicket", "ModifyTicket"),
        "reply to",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )
    txn = _post(ctx, ticket, "Correspond", message)
    if "Requestor" not in ctx.rights.roles_on(ctx.session, ticket):
        ticket.told = ctx.now
    return txn


@operation
def comment(
    ctx: Context, ref: str | int, message: MessageIn, *, expected_version: int | None = None
) -> Transaction:
    """A private comment: staff only."""
    ticket = _for_change(ctx, ref, expected_version)
    ctx.require(
        ("CommentOnTicket", "ModifyTicket"),
        "comment on",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )
    return _post(ctx, ticket, "Comment", message)


@operation
def set_status(
    ctx: Context, ref: str | int, status: str, *, expected_version: int | None = None, force: bool = False
) -> Transaction | None:
    ticket, depends = _locked(ctx, ref, expected_version)
    return statuses.change_status(ctx, ticket, status, force=force, depends=depends)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`FIELD=VALUE` words from the CLI (or a TUI form) into an ordered dict; keys lower-cased."""
    changes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"expected FIELD=VALUE, got {pair!r}")
        key = key.strip()
        key = "cf." + key[3:] if key.lower().startswith("cf.") else key.lower()
        changes[key] = value
    return changes


def _set_column(ctx: Context, ticket: Ticket, field: str, value: object) -> Transaction | None:
    old = getattr(ticket, field)
    if old == value:
        return None
    setattr(ticket, field, value)
    name = "".join(part.capitalize() for part in field.split("_"))
    fmt = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731
    return record(ctx, ticket, "Set", field=name, old=fmt(old), new=fmt(value))


@operation
def set_fields(
    ctx: Context, ref: str | int, changes: dict[str, str], *, expected_version: int | None = None
) -> list[Transaction]:
    """Change several fields at once: queue first (it decides the lifecycle), then status, then the rest."""
    from tessera.core import ownership

    ticket = _for_change(ctx, ref, expected_version)
    for key in changes:
        if key not in SETTABLE_FIELDS and not key.startswith("cf."):
            raise InvalidInput(f"unknown field {key!r} (fields: {', '.join(SETTABLE_FIELDS)}, cf.NAME)")
    order = sorted(changes, key=lambda k: (k != "queue", k != "status"))
    txns: list[Transaction | None] = []
    for key in order:
        raw = changes[key]
        if key == "queue":
            txns.extend(move_to_queue(ctx, ticket, raw))
        elif key == "status":
            txns.append(statuses.change_status(ctx, ticket, raw))
        elif key == "owner":
            txns.append(ownership.set_owner(ctx, ticket, raw))
        elif key.startswith("cf."):
            txns.append(set_custom_field(ctx, ticket, key[3:], raw))
        else:
            ctx.require(
                "ModifyTicket", f"change {key} of", ticket.display_id, queue_id=ticket.queue_id, ticket=ticket
            )
            if key == "subject":
                txns.append(_set_column(ctx, ticket, "subject", _clean_subject(raw)))
            elif key in INT_FIELDS:
                txns.append(_set_column(ctx, ticket, key, parse_int(raw, field=key)))
            else:
                txns.append(_set_column(ctx, ticket, key, parse_datetime(raw, field=key)))
    return [t for t in txns if t is not None]


def move_to_queue(ctx: Context, ticket: Ticket, queue_name: str) -> list[Transaction]:
    """RT's SetQueue: ModifyTicket here, CreateTicket there, the status mapped between lifecycles."""
    target = get_queue(ctx, queue_name)
    if target.id == ticket.queue_id:
        return []
    if target.disabled:
        raise InvalidInput(f"queue {target.name} is disabled")
    ctx.require("ModifyTicket", "move", ticket.display_id, queue_id=ticket.queue_id, ticket=ticket)
    ctx.require("CreateTicket", f"move {ticket.display_id} into", f"queue {target.name}", queue_id=target.id)
    new_status = statuses.mapped_status(ctx.session, ticket, target)
    old_queue = ticket.queue
    txns = [record(ctx, ticket, "Set", field="Queue", old=old_queue.name, new=target.name)]
    ticket.queue_id = target.id
    ticket.queue = target
    if new_status != ticket.status:
        old_status = ticket.status
        ticket.status = new_status
        statuses.apply_dates(ctx, ticket, statuses.lifecycle_of(ctx.session, target), old_status, new_status)
        txns.append(
            record(
                ctx, ticket, "Status", field="Status", old=old_status, new=new_status, data={"mapped": True}
            )
        )
    if ticket.owner_id is not None:
        from tessera.core.rights import RightsCache

        owner = ticket.owner
        if owner is not None and not RightsCache.load(ctx.session, owner).has("OwnTicket", target.id):
            txns.append(
                record(
                    ctx,
                    ticket,
                    "Untake",
                    field="Owner",
                    old=owner.name,
                    new="Nobody",
                    data={"reason": f"{owner.name} may not own tickets in {target.name}"},
                )
            )
            ticket.owner_id = None
            ticket.owner = None
    return txns


def set_custom_field(ctx: Context, ticket: Ticket, name: str, values: list[str] | str) -> Transaction | None:
    """`values` as a list, or as typed (`a,b` splits for a multiple-value field); empty clears."""
    cf = field_for_ticket(ctx, name, ticket.queue)
    ctx.require(
        ("ModifyCustomField", "ModifyTicket"),
        f"set {cf.name} on",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )
    new = normalise_values(cf, split_values(cf, values))
    rows = list(
        ctx.session.scalars(
            select(CustomFieldValue)
            .where(CustomFieldValue.ticket_id == ticket.id, CustomFieldValue.custom_field_id == cf.id)
            .order_by(CustomFieldValue.id)
        )
    )
    old = [r.value for r in rows]
    if old == new:
        return None
    for row in rows:
        if row.value not in new:
            ctx.session.delete(row)
    for value in new:
        if value not in old:
            ctx.session.add(CustomFieldValue(ticket_id=ticket.id, custom_field_id=cf.id, value=value))
    return record(
        ctx,
        ticket,
        "CustomField",
        field=cf.name[:64],  # transactions.field is varchar(64); a field named longer before the cap
        old=", ".join(old) or None,
        new=", ".join(new) or None,
        data={"old": old, "new": new},
    )


@operation
def set_custom_field_values(
    ctx: Context, ref: str | int, name: str, values: list[str], *, expected_version: int | None = None
) -> Transaction | None:
    ticket = _for_change(ctx, ref, expected_version)
    return set_custom_field(ctx, ticket, name, values)
