"""Ticket operations: the only code that changes tickets.

Each public function decorated with `@operation` is one database transaction that checks rights
(and the lifecycle), records one transaction row per change with RT's types, and commits or rolls
back as a whole. A change based on a stale version (`expected_version`) is refused as a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from tessera.core import fast_sql, ownership, scrip_runner, sla, statuses
from tessera.core.context import Context, new_transaction, operation, record
from tessera.core.customfields import (
    field_for_ticket,
    fields_for_queue,
    is_required,
    normalise_values,
    pattern_requires_a_value,
    split_values,
)
from tessera.core.desk_addresses import ALL_QUEUE_ADDRESSES, desk_addresses, loop_address, refuse
from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.knowable import may_know_queue
from tessera.core.lifecycles.desk import lifecycle_of
from tessera.core.messages import new_message_id, plain_message_part, store_message
from tessera.core.models import (
    CustomField,
    CustomFieldValue,
    Queue,
    ServiceLevelsRecord,
    Ticket,
    Transaction,
    User,
    Watcher,
)
from tessera.core.queues import get_queue
from tessera.core.schemas import INT_MAX, INT_MIN, MessageIn, TicketCreate, parse_datetime, parse_int
from tessera.core.spelling import did_you_mean
from tessera.core.ticket_read import for_change, locked_for_change
from tessera.core.ticket_read import get_ticket as get_ticket  # the public read, also offered here
from tessera.core.ticket_read import parse_ref as parse_ref
from tessera.core.users import address_keys, get_user, known_users, user_for_address

DATE_FIELDS = ("due", "starts")
INT_FIELDS = ("priority", "initial_priority", "final_priority", "time_worked", "time_estimated", "time_left")
SETTABLE_FIELDS = ("subject", "status", "owner", "queue", "sla", *INT_FIELDS, *DATE_FIELDS)
MAX_SUBJECT = 200


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
# The desk's service levels come along (`sla.load_config` then finds the row in the session):
# a create reads them anyway, and this saves it a round trip.
# The queue's custom fields with a pattern (some may be required: `customfields.is_required`).
_PATTERNED = (
    select(func.json_agg(func.json_build_array(CustomField.name, CustomField.pattern)))
    .where(
        CustomField.pattern.is_not(None),
        CustomField.disabled.is_(False),
        or_(CustomField.queue_id.is_(None), CustomField.queue_id == Queue.id),
    )
    .scalar_subquery()
)
_QUEUE_AND_PEOPLE = (
    select(Queue, User, ALL_QUEUE_ADDRESSES, ServiceLevelsRecord, _PATTERNED)
    .select_from(Queue)
    .outerjoin(User, or_(func.lower(User.name) == any_(_KEYS), func.lower(User.email) == any_(_KEYS)))
    .outerjoin(ServiceLevelsRecord, ServiceLevelsRecord.id == 1)
    .where(func.lower(Queue.name) == bindparam("queue"))
)


def _queue_and_people(
    ctx: Context, data: TicketCreate
) -> tuple[Queue, dict[str, User], set[str], ServiceLevelsRecord | None, list[str] | None]:
    """The queue, the known users among the ticket's addresses, the desk's own addresses (which
    may watch no ticket), the service-level row (`sla.UNREAD` when not read) and the names of the
    queue's required custom fields (None when not read), in one round trip."""
    keys = address_keys([*data.requestors, *data.cc, *data.admincc])
    name = data.queue.strip()
    if not keys:
        return get_queue(ctx, data.queue), {}, set(), sla.UNREAD, None
    if name.isdigit():
        return get_queue(ctx, data.queue), {}, desk_addresses(ctx.session), sla.UNREAD, None
    if fast_sql.fast():  # the same rows on the driver's cursor: the ORM's load is most of a create's Python
        rows: Sequence[Any] = fast_sql.queue_and_people(ctx.session, name.lower(), sorted(keys))
    else:
        rows = ctx.session.execute(_QUEUE_AND_PEOPLE, {"queue": name.lower(), "keys": sorted(keys)}).all()
    if not rows or not may_know_queue(ctx, rows[0][0]):
        # not found (or not to be known): its usual error
        return get_queue(ctx, data.queue), {}, desk_addresses(ctx.session), sla.UNREAD, None
    own = desk_addresses(ctx.session, rows[0][2] or [])
    required = [name for name, pattern in rows[0][4] or () if pattern_requires_a_value(pattern)]
    return rows[0][0], known_users(keys, [r[1] for r in rows]), own, rows[0][3], required


def _check_required_fields(
    ctx: Context, queue: Queue, given: dict[str, list[str]], required: list[str] | None
) -> None:
    """RT's mandatory fields, for every caller that can give them (RT checks them in its web UI
    only, so its REST and command-line creates skip them): one line naming each one missing."""
    if required is None:
        required = [cf.name for cf in fields_for_queue(ctx, queue.id) if is_required(cf)]
    missing = [name for name in required if not any(v.strip() for v in given.get(name, []))]
    if missing:
        names = ", ".join(missing)
        raise InvalidInput(
            f"queue {queue.name} requires {names}: give {'it' if len(missing) == 1 else 'them'} "
            f"(CLI: --cf '{missing[0]}=VALUE'; API: custom_fields)"
        )


@operation
def create_ticket(
    ctx: Context, data: TicketCreate, *, from_mail: bool = False, ticket_id: int | None = None
) -> Ticket:
    """A new ticket. `from_mail`: a message can carry no custom fields, so a queue's required
    ones are not asked of it (the ticket is filed; an agent fills them in). `ticket_id`: the
    number to give it instead of the next one (a dry-run's likely next number)."""
    queue, people, own, levels, required = _queue_and_people(ctx, data)
    if queue.disabled:
        raise InvalidInput(f"queue {queue.name} is disabled")
    ctx.require("CreateTicket", "create tickets", f"in queue {queue.name}", queue_id=queue.id)
    status = statuses.creation_status(ctx, queue, data.status)
    lifecycle = lifecycle_of(ctx.session, queue)
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
    if ticket_id is not None:
        ticket.id = ticket_id
    ticket.queue = queue
    statuses.apply_dates(ctx, ticket, lifecycle, None, status)
    watchers: list[Watcher] = []
    for role, addresses in (("Requestor", data.requestors), ("Cc", data.cc), ("AdminCc", data.admincc)):
        seen: set[int] = set()
        for address in addresses:
            if (looped := loop_address(None, address, own)) is not None:
                raise refuse(looped, role, "a ticket")  # before a user is made for it
            user = user_for_address(ctx, address, people)
            if (looped := loop_address(user, address, own)) is not None:
                raise refuse(looped, role, "a ticket")
            if user.id not in seen:
                seen.add(user.id)
                watchers.append(Watcher(role=role, user_id=user.id))
    values: list[CustomFieldValue] = []
    given: dict[str, list[str]] = {}
    for name, raw in data.custom_fields.items():
        cf = field_for_ticket(ctx, name, queue)
        given[cf.name] = normalise_values(cf, split_values(cf, raw))
        for value in given[cf.name]:
            values.append(CustomFieldValue(custom_field_id=cf.id, value=value))
    if not from_mail:
        _check_required_fields(ctx, queue, given, required)
    level = sla.level_for_new_ticket(
        ctx,
        queue,
        data.sla,
        [w.user_id for w in watchers if w.role == "Requestor"],
        given,
        row=levels,
    )
    if level is not None:
        ticket.sla = level.name  # Starts and Due: the SLA scrips
    message = data.message
    if message.subject is None:
        message = message.model_copy(update={"subject": ticket.subject})
    has_message = not message.is_empty()
    plain = has_message and message.mime is None and not message.attachments
    message_id = (message.message_id or new_message_id(queue)) if has_message else None
    txn_data: dict[str, object] = {"message_id": message_id} if has_message else {}
    txn_data.update(one_time_recipients(ctx, message, "a new ticket"))
    txn = new_transaction(ctx, ticket, "Create", data=txn_data or None)
    part = plain_message_part(None, message, message_id, ctx.now) if plain and message_id else None
    # The scrips' prefetch rides along when the message is all written here (no parts to come).
    ride = _create_ride(ctx, ticket) if plain or not has_message else None
    # One statement for all of it (the ORM's way inside fast_sql.plain_orm, for the tests).
    fast_sql.insert_ticket(ctx.session, ticket, watchers, values, txn, part, ride)
    if ride is not None and ride.rows is not None:
        ctx.ride = ride
    ctx.batch.append(txn)  # as `record` does; a new ticket starts at version 1
    ctx.made.append(ticket)
    if has_message and not plain:
        store_message(ctx, txn, queue, message.model_copy(update={"message_id": message_id}))
    return ticket


def _create_ride(ctx: Context, ticket: Ticket) -> fast_sql.Ride | None:
    """The scrip runner's prefetch for the new ticket, to be read by its INSERT (None: none)."""
    runner = scrip_runner.runner() if ctx.scrips else None
    ride = runner.ride(ctx, ticket) if runner is not None else None
    return ride if ride is not None and fast_sql.rides_with_create(ride) else None


def message_ride(ctx: Context, ticket: Ticket, txn: Transaction) -> fast_sql.Ride | None:
    """The scrips' prefetch for a unit whose last write records `txn`'s message on `ticket` (the
    mail gateway's record: `fast_sql.write_inbound` reads it in the same round trip). None: no
    scrips run."""
    runner = scrip_runner.runner() if ctx.scrips else None
    ride = runner.ride(ctx, ticket) if runner is not None else None
    if ride is not None:
        ride.params["messages"] = [txn.id]
    return ride


def one_time_recipients(ctx: Context, message: MessageIn, where: str) -> dict[str, list[str]]:
    """RT's RT-Send-Cc/RT-Send-Bcc: extra recipients of this one message, kept on its transaction
    for the Notify Other Recipients scrips, and RT's squelch list: addresses none of this message's
    notifications go to. Only an agent (a privileged user) gives them, never a received message;
    the desk's own addresses are refused as recipients (the desk would mail itself)."""
    if not (message.cc or message.bcc or message.squelch):
        return {}
    if not ctx.system and not ctx.actor.privileged:
        raise PermissionDenied(f"only agents may add one-time Cc, Bcc or squelched recipients to {where}")
    own = desk_addresses(ctx.session)
    found: dict[str, list[str]] = {}
    for key, addresses in (("cc", message.cc), ("bcc", message.bcc), ("squelch", message.squelch)):
        for address in addresses:
            if key != "squelch" and address.strip().lower() in own:
                raise refuse(address, key.capitalize(), where)
        if addresses:
            found[key] = list(dict.fromkeys(a.strip() for a in addresses))
    return found


def _post(ctx: Context, ticket: Ticket, kind: str, message: MessageIn) -> Transaction:
    if message.is_empty():
        raise InvalidInput("no message: the body is empty and nothing is attached")
    data: dict[str, object] = {"time_taken": message.time_taken} if message.time_taken else {}
    data.update(one_time_recipients(ctx, message, ticket.display_id))
    txn = record(ctx, ticket, kind, data=data or None)
    if message.subject is None:
        message = message.model_copy(update={"subject": ticket.subject})
    if message.time_taken:  # (before the message: written in its statement)
        ticket.time_worked += message.time_taken
    store_message(ctx, txn, ticket.queue, message)
    return txn


@operation
def correspond(
    ctx: Context, ref: str | int, message: MessageIn, *, expected_version: int | None = None
) -> Transaction:
    """A public reply: it goes to the requestors and Ccs."""
    ticket = for_change(ctx, ref, expected_version)
    ctx.require(
        ("ReplyToTicket", "ModifyTicket"),
        "reply to",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )
    if "Requestor" not in ctx.rights.roles_on(ctx.session, ticket):
        ticket.told = ctx.now  # (set before the message: written in its statement, not after)
    return _post(ctx, ticket, "Correspond", message)


@operation
def comment(
    ctx: Context, ref: str | int, message: MessageIn, *, expected_version: int | None = None
) -> Transaction:
    """A private comment: staff only."""
    ticket = for_change(ctx, ref, expected_version)
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
    ticket, depends = locked_for_change(ctx, ref, expected_version)
    return statuses.change_status(ctx, ticket, status, force=force, depends=depends)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`FIELD=VALUE` words from the CLI (or a TUI form) into an ordered dict; keys lower-cased.
    `FIELD+=N` and `FIELD-=N` come out as keys `field+` and `field-` (see `set_fields`)."""
    changes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"expected FIELD=VALUE, got {pair!r}")
        changes[field_key(key)] = value
    return changes


def field_key(key: str) -> str:
    """A field's name as `set_fields` takes it: lower-cased, but a custom field's name as it is
    (`cf.Team`); `priority+` and `priority-` add. A name holding `=` or nothing is refused."""
    key = key.strip()
    if not key or "=" in key[:-1] or key in ("+", "-"):
        raise InvalidInput(f"{key!r} is not a field name (fields: {', '.join(SETTABLE_FIELDS)}, cf.NAME)")
    return "cf." + key[3:] if key.lower().startswith("cf.") else key.lower()


def _set_column(ctx: Context, ticket: Ticket, field: str, value: object) -> Transaction | None:
    old = getattr(ticket, field)
    if old == value:
        return None
    setattr(ticket, field, value)
    name = "".join(part.capitalize() for part in field.split("_"))
    return record(ctx, ticket, "Set", field=name, old=_as_text(old), new=_as_text(value))


def _as_text(value: object) -> object:
    """A transaction's old or new value: dates as ISO text, the rest as they are."""
    return value.isoformat() if isinstance(value, datetime) else value


def _adding(key: str) -> tuple[str, int]:
    """`priority+` (from `priority+=N`) -> ("priority", 1); `priority-` -> -1; a plain key -> 0."""
    if key[-1:] in ("+", "-") and len(key) > 1:
        return key[:-1], 1 if key[-1] == "+" else -1
    return key, 0


@operation
def set_fields(
    ctx: Context,
    ref: str | int,
    changes: Mapping[str, str | list[str]],
    *,
    expected_version: int | None = None,
    force: bool = False,
) -> list[Transaction]:
    """Change several fields at once: queue first (it decides the lifecycle), then status, then the rest.

    `FIELD+=N` and `FIELD-=N` (keys `field+`/`field-` from `parse_assignments`) add to a number:
    the sum is taken from the value read under the ticket's row lock and written with the change,
    so increments from many agents at once all count (a client's read-then-set would lose some).
    `force`: a status change passes the dependency gate (with the ForceStatus right)."""
    ticket = for_change(ctx, ref, expected_version)
    for key in changes:
        base = _adding(key)[0]
        if base not in SETTABLE_FIELDS and not base.startswith("cf."):
            raise InvalidInput(
                f"unknown field {key!r}{did_you_mean(base, SETTABLE_FIELDS)} (fields: "
                f"{', '.join(SETTABLE_FIELDS)}, cf.NAME; numbers also take += and -=)"
            )
        if isinstance(changes[key], list) and not key.startswith("cf."):
            raise InvalidInput(f"{key} takes one value, not a list (a list is a custom field's values)")
    order = sorted(changes, key=lambda k: (k != "queue", k != "status"))
    txns: list[Transaction | None] = []
    for key in order:
        values = changes[key]
        if isinstance(values, list):  # a custom field's values, each as it is
            txns.append(set_custom_field(ctx, ticket, key[3:], values))
            continue
        raw = values
        base, sign = _adding(key)
        if sign:
            txns.append(_add_to(ctx, ticket, base, sign, raw))
        elif key == "queue":
            txns.extend(move_to_queue(ctx, ticket, raw))
        elif key == "status":
            txns.append(statuses.change_status(ctx, ticket, raw, force=force))
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
            elif key == "sla":
                txns.append(sla.set_level(ctx, ticket, raw))
            elif key in INT_FIELDS:
                txns.append(_set_column(ctx, ticket, key, parse_int(raw, field=key)))
            else:
                txns.append(_set_column(ctx, ticket, key, parse_datetime(raw, field=key)))
    return [t for t in txns if t is not None]


def _sum(field: str, current: int, amount: int) -> int:
    total = current + amount
    if not INT_MIN <= total <= INT_MAX:
        raise InvalidInput(f"{field}: {current} {'+' if amount >= 0 else '-'} {abs(amount)} is out of range")
    return total


def _add_to(ctx: Context, ticket: Ticket, field: str, sign: int, raw: str) -> Transaction | None:
    """`field += raw` (`sign` -1: `-=`) on a locked ticket: a number column or an integer field."""
    if not field.startswith("cf.") and field not in INT_FIELDS:
        raise InvalidInput(
            f"{field} is not a number: += and -= apply to {', '.join(INT_FIELDS)} and integer cf.NAME"
        )
    amount = sign * parse_int(raw, field=f"{field}{'+' if sign > 0 else '-'}=")
    if field.startswith("cf."):
        return add_to_custom_field(ctx, ticket, field[3:], amount)
    ctx.require(
        "ModifyTicket", f"change {field} of", ticket.display_id, queue_id=ticket.queue_id, ticket=ticket
    )
    return _set_column(ctx, ticket, field, _sum(field, getattr(ticket, field), amount))


def add_to_custom_field(ctx: Context, ticket: Ticket, name: str, amount: int) -> Transaction | None:
    """`cf.NAME += amount` on a locked ticket: a single-value integer field; no value counts as 0."""
    cf = field_for_ticket(ctx, name, ticket.queue)
    if cf.type != "integer" or cf.multiple:
        kind = "several values" if cf.multiple else f"{cf.type} values"
        raise InvalidInput(f"custom field {cf.name!r} holds {kind}: += and -= need one integer")
    current = ctx.session.scalars(
        select(CustomFieldValue.value).where(
            CustomFieldValue.ticket_id == ticket.id, CustomFieldValue.custom_field_id == cf.id
        )
    ).first()
    total = _sum(f"cf.{cf.name}", int(current) if current is not None else 0, amount)
    return set_custom_field(ctx, ticket, name, [str(total)])


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
        statuses.apply_dates(ctx, ticket, lifecycle_of(ctx.session, target), old_status, new_status)
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
    if not new and is_required(cf):  # RT's mandatory field: given at creation, kept by every edit
        raise InvalidInput(f"custom field {cf.name!r} is required: it may be changed but not emptied")
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
    ticket = for_change(ctx, ref, expected_version)
    return set_custom_field(ctx, ticket, name, values)
