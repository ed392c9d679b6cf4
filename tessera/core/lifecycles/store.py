"""Lifecycles as config-as-code: list, show, export and apply the definitions stored in the database.

`apply_lifecycle` is the only way a definition gets into the database after bootstrap. It refuses
anything that would leave the desk inconsistent, inside one database transaction, before writing:
a definition the pure model refuses (the message starts with the exact path), a map whose target
statuses do not exist (in either direction), or a new version that drops a status tickets in its
queues still have. Export gives the canonical YAML, so applying an export changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput
from tessera.core.lifecycles import desk
from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.load import load_lifecycle
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.models import LifecycleRecord, Queue, Ticket
from tessera.core.rights import ALL_RIGHTS

ADMIN_RIGHT = "AdminLifecycles"
ApplyResult = Literal["created", "replaced", "unchanged"]


@dataclass(frozen=True)
class LifecycleSummary:
    """One row of `lifecycle list`: the statuses by category and the queues that use it."""

    name: str
    initial: list[str]
    active: list[str]
    inactive: list[str]
    queues: list[str]
    updated: datetime | None


@dataclass(frozen=True)
class Applied:
    """What `apply_lifecycle` did, and the warnings a person should read (nothing was refused)."""

    lifecycle: Lifecycle
    result: ApplyResult
    warnings: list[str] = field(default_factory=list)


def _rows(ctx: Context) -> list[LifecycleRecord]:
    return list(ctx.session.scalars(select(LifecycleRecord).order_by(LifecycleRecord.name)))


def _queues_by_lifecycle(ctx: Context) -> dict[str, list[str]]:
    """Lower-case lifecycle name -> names of the queues using it that the actor may see."""
    found: dict[str, list[str]] = defaultdict(list)
    for queue in ctx.session.scalars(select(Queue).order_by(func.lower(Queue.name))):
        if ctx.can_any(("SeeQueue", "ShowTicket", ADMIN_RIGHT), queue.id):
            found[queue.lifecycle.lower()].append(queue.name)
    return found


def list_lifecycles(ctx: Context) -> list[LifecycleSummary]:
    """Every stored lifecycle, by name. Definitions are not secret (RT shows statuses to everyone)."""
    by_lifecycle = _queues_by_lifecycle(ctx)
    summaries = []
    for row in _rows(ctx):
        lifecycle = desk.lifecycle_by_name(ctx.session, row.name)
        summaries.append(
            LifecycleSummary(
                name=lifecycle.name,
                initial=list(lifecycle.initial),
                active=list(lifecycle.active),
                inactive=list(lifecycle.inactive),
                queues=by_lifecycle.get(row.name.lower(), []),
                updated=row.updated,
            )
        )
    return summaries


def get_lifecycle(ctx: Context, name: str) -> Lifecycle:
    """A stored lifecycle by name (any case); NotFound lists the names there are."""
    return desk.lifecycle_by_name(ctx.session, name.strip())


def queues_using(ctx: Context, name: str) -> list[str]:
    """Names of the queues (visible to the actor) whose lifecycle is `name`."""
    return _queues_by_lifecycle(ctx).get(name.strip().lower(), [])


def export_lifecycle(ctx: Context, name: str) -> str:
    """The canonical YAML of a stored lifecycle: `apply_lifecycle` of it is a no-op."""
    return get_lifecycle(ctx, name).to_yaml()


def lifecycle_rights(ctx: Context) -> list[str]:
    """Rights that stored lifecycles ask for beyond Tessera's own (RT registers such rights so that
    they can be granted), sorted."""
    named = {
        right for row in _rows(ctx) for right in desk.lifecycle_by_name(ctx.session, row.name).rights_used()
    }
    return sorted(named - set(ALL_RIGHTS))


def _canonical_rights(lifecycle: Lifecycle) -> Lifecycle:
    """Spell rights that name one of Tessera's rights in another case as that right: grants match
    rights exactly, and RT reads right names case-insensitively."""
    known = {right.lower(): right for right in ALL_RIGHTS}
    rights = {key: known.get(right.lower(), right) for key, right in lifecycle.rights.items()}
    if rights == lifecycle.rights:
        return lifecycle
    return Lifecycle.from_data({**lifecycle.to_dict(), "rights": rights})


def _right_warnings(lifecycle: Lifecycle) -> list[str]:
    known = set(ALL_RIGHTS)
    custom = dict.fromkeys(r for r in lifecycle.rights_used() if r not in known)
    return [
        f"rights: '{right}' is not one of Tessera's rights; only users granted '{right}' "
        "(or SuperUser) may make the transitions that ask it"
        for right in custom
    ]


def _check_maps(candidate: Lifecycle, others: dict[str, Lifecycle]) -> list[str]:
    """Maps from and to `candidate` against the other stored lifecycles; returns warnings, raises the
    first refusal. A map to a lifecycle not stored yet is only a warning (apply them in any order)."""
    problems: list[str] = []
    warnings: list[str] = []
    for other_name, mapping in candidate.maps.items():
        target = others.get(other_name.lower())
        if target is not None and target.name != other_name:
            problems.append(f"maps.{other_name}: the lifecycle is named '{target.name}'; write it so")
            continue
        if target is None:
            warnings.append(
                f"maps.{other_name}: there is no lifecycle named '{other_name}' yet; "
                "the map is checked when it is applied"
            )
            continue
        problems.extend(
            f"maps.{other_name}.{status}: '{mapped}' is not a status of lifecycle '{target.name}'"
            for status, mapped in mapping.items()
            if not target.is_valid(mapped)
        )
    for source in others.values():
        for other_name, mapping in source.maps.items():
            if other_name.lower() != candidate.name.lower():
                continue
            problems.extend(
                f"lifecycle '{source.name}' maps.{other_name}.{status} sends tickets to '{mapped}', "
                f"which this version of '{candidate.name}' does not have"
                for status, mapped in mapping.items()
                if not candidate.is_valid(mapped)
            )
    if problems:
        raise LifecycleInvalid(problems[0], problems)
    return warnings


def _check_ticket_statuses(ctx: Context, candidate: Lifecycle, stored_name: str) -> None:
    """Refuse a version that drops a status tickets in the lifecycle's queues still have."""
    rows = ctx.session.execute(
        select(Ticket.status, Queue.name, func.count())
        .join(Queue, Queue.id == Ticket.queue_id)
        .where(func.lower(Queue.lifecycle) == stored_name.lower())
        .group_by(Ticket.status, Queue.name)
        .order_by(Ticket.status, Queue.name)
    ).all()
    dropped: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for status, queue_name, count in rows:
        if not candidate.is_valid(status):
            dropped[status].append((queue_name, count))
    if not dropped:
        return
    detail = "; ".join(
        f"{sum(n for _, n in where)} in '{status}' (" + ", ".join(f"{q}: {n}" for q, n in where) + ")"
        for status, where in dropped.items()
    )
    raise InvalidInput(
        f"lifecycle '{candidate.name}' would drop statuses that tickets still have: {detail}; "
        "change their status or move them first"
    )


@operation
def apply_lifecycle(ctx: Context, text: str) -> Applied:
    """Create or replace a lifecycle from YAML or JSON text, all checks first, in one transaction.

    Needs AdminLifecycles (or SuperUser). Refusals are `LifecycleInvalid` (with the path) or
    `InvalidInput`; the database is then untouched. Applying what is stored already is a no-op."""
    ctx.require(ADMIN_RIGHT, "apply", "lifecycles on this desk")
    lifecycle, warnings = load_lifecycle(text)
    lifecycle = _canonical_rights(lifecycle)
    desk.ensure_builtin_lifecycles(ctx.session)
    row = ctx.session.scalars(
        select(LifecycleRecord)
        .where(func.lower(LifecycleRecord.name) == lifecycle.name.lower())
        .with_for_update()
    ).first()
    if row is not None and row.name != lifecycle.name:
        raise LifecycleInvalid(
            f"name: lifecycle '{row.name}' already exists; names ignore case, so write '{row.name}'"
        )
    others = {
        r.name.lower(): desk.lifecycle_by_name(ctx.session, r.name)
        for r in _rows(ctx)
        if r.name.lower() != lifecycle.name.lower()
    }
    warnings = [*warnings, *_right_warnings(lifecycle), *_check_maps(lifecycle, others)]
    if row is None or row.definition != lifecycle.to_dict():
        _check_ticket_statuses(ctx, lifecycle, lifecycle.name)
    if row is None:
        ctx.session.add(
            LifecycleRecord(
                name=lifecycle.name,
                definition=lifecycle.to_dict(),
                updated=ctx.now,
                updated_by_id=ctx.actor.id,
            )
        )
        result: ApplyResult = "created"
    elif row.definition == lifecycle.to_dict():
        result = "unchanged"
    else:
        row.definition = lifecycle.to_dict()
        row.updated = ctx.now
        row.updated_by_id = ctx.actor.id
        result = "replaced"
    ctx.session.flush()
    desk.forget_lifecycles(ctx.session)
    return Applied(lifecycle=lifecycle, result=result, warnings=warnings)
