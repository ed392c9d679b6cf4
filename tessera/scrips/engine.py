"""The scrip engine: RT's two phases on every unit of work, with a trace of every scrip considered.

Core runs it on every unit of work (it is core's `ScripRunner`, found through
`tessera.core.scrip_runner`): when an operation is about to commit, core hands over the transactions
it recorded. Then, inside the same database transaction:

* TransactionCreate stage, for each transaction in order: the enabled scrips of the ticket's queue
  and the global ones whose condition accepts the transaction's type, in one shared sort order.
  Phase 1: each condition is evaluated and, when true, the action prepares (templates rendered,
  recipients and new values computed; nothing is written but the trace). Phase 2: every prepared
  action commits, in order. A commit that changes the ticket goes through core (as the desk: rights
  bypassed, lifecycle still checked) inside a savepoint and records transactions of its own; the
  scrips of those run at once, one level deeper, before the next commit. Past `max_depth()` levels
  they are not run, and a `depth limit` trace row says so.
* TransactionBatch stage, once per ticket per unit of work: a batch scrip is considered when any of
  the unit's transactions has a type its condition accepts; the condition is tried on each such
  transaction in order and the first that satisfies it is handed to prepare and commit (at most
  once per batch).

What aborts the whole operation (nothing is committed, the caller gets the error): database errors
(lost connection, serialization failure, a row the outbox cannot store) and bugs in the engine
itself. What is only recorded in the trace, the triggering change and the other scrips being kept:
a condition or expression that raises, a template that fails (syntax, undefined name, refused by the
sandbox), an action whose prepare fails, and a commit that fails (its savepoint is rolled back).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tessera.core import fast_sql, live
from tessera.core.context import Context, savepoint
from tessera.core.errors import NotFound
from tessera.core.fast_sql import Ride, driver_execute
from tessera.core.json_time import json_time
from tessera.core.models import (
    OutboxMessage,
    Scrip,
    ScripRun,
    Ticket,
    Transaction,
    User,
    display_id,
)
from tessera.scrips import actions as action_registry
from tessera.scrips import conditions as condition_registry
from tessera.scrips import limits, sandbox
from tessera.scrips.scrip_context import AnyScrip, Part, Person, ScripContext, ScripRow, SharedViews
from tessera.scrips.simple import SimpleSource
from tessera.scrips.views import MESSAGE_TYPES

STAGES = ("TransactionCreate", "TransactionBatch")
MAX_DEPTH_ENV = "TESSERA_SCRIP_MAX_DEPTH"
DEFAULT_MAX_DEPTH = 5

# Trace outcomes.
CONDITION_FALSE = "condition false"
CONDITION_FAILED = "condition failed"
SKIPPED = "skipped"
PREPARE_FAILED = "prepare failed"
PREPARED = "prepared"
COMMITTED = "committed"
COMMIT_FAILED = "commit failed"
DEPTH_LIMIT = "depth limit"


def max_depth() -> int:
    raw = os.environ.get(MAX_DEPTH_ENV, "")
    return int(raw) if raw.strip().isdigit() else DEFAULT_MAX_DEPTH


# A TransactionCreate candidate: the scrip, its condition's check (None: it cannot be made) and why.
Candidate = tuple[AnyScrip, Callable[[ScripContext], bool] | None, str]


@dataclass(frozen=True)
class Catalog:
    """The parsed catalog and its token; replaced whole (never changed) when the token changes."""

    token: str | None
    scrips: dict[str, tuple[ScripRow, ...]]
    templates: dict[tuple[str, int | None], str]
    desk: frozenset[str]
    # The TransactionCreate candidates per (queue, transaction type), worked out from this
    # catalog once (`_create_candidates`): the only part that grows as it is used.
    candidates: dict[tuple[int, str], tuple[object, tuple[Candidate, ...]]] = field(
        default_factory=dict, compare=False
    )


_catalog = Catalog(None, {}, {}, frozenset())


@dataclass(slots=True, eq=False)
class TraceRow:
    """One `scrip_runs` row being built (written with the unit's others in one statement)."""

    scrip_id: int | None
    ticket_id: int
    transaction_id: int
    stage: str
    depth: int
    fired: bool
    outcome: str
    reason: str
    created: datetime
    id: int | None = None


OutboxRow = action_registry.OutboxRow


@dataclass
class EngineState:
    """Everything the engine keeps for one unit of work."""

    scrips: dict[str, list[ScripRow]] = field(default_factory=dict)
    templates: dict[tuple[str, int | None], str] = field(default_factory=dict)
    loaded: bool = False
    runs: list[TraceRow] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    # OutboxRow from the built-in actions; an installed action may append an OutboxMessage.
    outbox: list[OutboxRow | OutboxMessage] = field(default_factory=list)
    people: dict[int, dict[str, list[Person]]] = field(default_factory=dict)
    queue_people: dict[int, dict[str, list[Person]]] = field(default_factory=dict)
    squelched: dict[int, set[str]] = field(default_factory=dict)  # RT's SquelchMailTo, per ticket
    messages: dict[int, list[Part]] = field(default_factory=dict)
    runs_written: int = 0
    outbox_written: int = 0
    _desk: set[str] = field(default_factory=set)
    _privileged: set[str] | None = None
    catalog: Catalog | None = None  # what `prefetch` copied `scrips` from

    def prefetch(self, ctx: Context, transactions: list[Transaction], ride: Ride | None = None) -> None:
        from tessera.scrips.compose import fallback_address

        ticket_ids = sorted({t.ticket_id for t in transactions})
        queue_ids = set()
        for ticket_id in ticket_ids:
            ticket = ctx.session.get(Ticket, ticket_id)
            if ticket is not None:
                queue_ids.add(ticket.queue_id)
        message_ids = [t.id for t in transactions if t.type in MESSAGE_TYPES]
        global _catalog
        params: dict[str, Any] = {
            "tickets": ticket_ids,
            "queues": sorted(queue_ids),
            "messages": message_ids,
        }
        if isinstance(ride, PrefetchRide) and ride.rows is not None and ride.fits(params):
            catalog, rows = ride.catalog, ride.rows
        else:
            catalog = _catalog
            params["known"] = catalog.token
            rows = driver_execute(ctx.session, fast_sql.SCRIP_PREFETCH, params).fetchall()  # no flush
        token = None
        scrips: list[ScripRow] = []
        templates: dict[tuple[str, int | None], str] = {}
        desk: set[str] = set()
        for ticket_id in ticket_ids:
            self.people[ticket_id] = {"Requestor": [], "Cc": [], "AdminCc": []}
            self.squelched[ticket_id] = set()
        for queue_id in queue_ids:
            self.queue_people[queue_id] = {"Cc": [], "AdminCc": []}
        for message_id in message_ids:
            self.messages[message_id] = []
        for kind, row in rows:
            if kind == "w":
                self.people[row[0]].setdefault(row[1], []).append(Person(*row[2:]))
            elif kind == "v":
                self.queue_people[row[0]].setdefault(row[1], []).append(Person(*row[2:]))
            elif kind == "x":
                self.squelched[row[0]].add(row[1])
            elif kind == "a":
                self.messages[row[0]].append(Part(*row[1:]))
            elif kind == "d":
                token = row
            elif kind == "s":
                scrips.append(ScripRow(*row))
            elif kind == "t":
                templates[(row[0], row[1])] = SimpleSource(row[2]) if row[3] == "simple" else row[2]
            else:
                desk.update(a.lower() for a in row if a)
        if token != catalog.token:  # changed (or first use): the rows came, parse them
            scrips.sort(key=lambda r: (r.sort_order, r.id))
            stages: dict[str, list[ScripRow]] = {name: [] for name in STAGES}
            for scrip in scrips:
                stages.setdefault(scrip.stage, []).append(scrip)
            catalog = Catalog(token, {k: tuple(v) for k, v in stages.items()}, templates, frozenset(desk))
            _catalog = catalog
        for people in (*self.people.values(), *self.queue_people.values()):
            for role, members in people.items():
                # a person in the role and in a group in the role too is there once
                people[role] = sorted({p.id: p for p in members}.values(), key=lambda p: p.id)
        for parts in self.messages.values():
            parts.sort(key=lambda p: p.id)
        # This state's own copies: nothing done to them reaches the process's catalog.
        self.scrips = {name: list(rows) for name, rows in catalog.scrips.items()}
        self.catalog = catalog
        self.templates = dict(catalog.templates)
        self._desk = set(catalog.desk)
        self._desk.add(fallback_address().lower())
        self.loaded = True

    def _load(self, ctx: Context) -> None:
        self.prefetch(ctx, [])

    def scrips_for(self, ctx: Context, stage: str, queue_id: int) -> list[ScripRow]:
        if not self.loaded:
            self._load(ctx)
        return [s for s in self.scrips.get(stage, []) if s.queue_id is None or s.queue_id == queue_id]

    def template(self, ctx: Context, name: str, queue_id: int) -> str | None:
        if not self.loaded:
            self._load(ctx)
        key = name.lower()
        found = self.templates.get((key, queue_id))
        return found if found is not None else self.templates.get((key, None))

    def desk_addresses(self, ctx: Context) -> set[str]:
        if not self.loaded:
            self._load(ctx)
        return self._desk

    def privileged_addresses(self, ctx: Context) -> set[str]:
        if self._privileged is None:
            with ctx.session.no_autoflush:
                self._privileged = {
                    e.lower()
                    for e in ctx.session.scalars(
                        select(User.email).where(User.privileged.is_(True), User.email.is_not(None))
                    )
                    if e is not None
                }
        return self._privileged


Check = Callable[["ScripContext"], bool]
# Conditions already made, for the registry they were looked up in (a new registry starts afresh).
_conditions: dict[tuple[str | None, str, str | None], tuple[tuple[str, ...], Check]] = {}
_conditions_registry: list[object] = [None]


def condition_of(scrip: AnyScrip) -> tuple[tuple[str, ...], Callable[[ScripContext], bool]]:
    """The transaction types a scrip's condition looks at, and the check; kept per process, as
    they depend only on the condition's name, argument and expression (and the registry)."""
    registry = condition_registry.registry()
    if _conditions_registry[0] is not registry:
        _conditions.clear()
        _conditions_registry[0] = registry
    key = (scrip.condition, scrip.condition_argument, scrip.condition_expression)
    found = _conditions.get(key)
    if found is None:
        found = _condition_of(scrip)
        if len(_conditions) > 1024:
            _conditions.clear()
        _conditions[key] = found
    return found


def _condition_of(scrip: AnyScrip) -> tuple[tuple[str, ...], Callable[[ScripContext], bool]]:
    if scrip.condition_expression:
        expression = scrip.condition_expression

        def by_expression(sc: ScripContext) -> bool:
            return bool(sandbox.evaluate(expression, sc.variables()))

        return condition_registry.ANY, by_expression
    fn = condition_registry.lookup(scrip.condition or "")
    argument = scrip.condition_argument
    return condition_registry.types_of(fn), lambda sc: bool(fn(sc, argument))


def _why(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        return message
    return sandbox.reason(exc)


@dataclass
class PrefetchRide(Ride):
    """The prefetch read along with a unit's one-change write (core's `Ride`), and the catalog its
    `known` token came from."""

    catalog: Catalog = field(default=_catalog)

    def fits(self, params: dict[str, Any]) -> bool:
        return (
            self.rows is not None
            and all(self.params[key] == value for key, value in params.items())
            and self.current()
        )


class Engine:
    """Core's `ScripRunner`."""

    def run(self, ctx: Context, transactions: list[Transaction], ride: Ride | None = None) -> str | None:
        return run_unit(ctx, EngineState(), transactions, ride)

    def ride(self, ctx: Context, ticket: Ticket) -> Ride | None:
        """The unit's prefetch, read in the statement that writes its one change: a status, owner
        or field change then costs one round trip fewer (no messages to read: none were posted)."""
        catalog = _catalog
        params = {"tickets": [ticket.id], "queues": [ticket.queue_id], "messages": [], "known": catalog.token}
        return PrefetchRide(fast_sql.SCRIP_PREFETCH, params, catalog=catalog)
        # (A new ticket's, id None, is read by the create's INSERT: fast_sql.insert_ticket.)


def run_unit(
    ctx: Context, state: EngineState, transactions: list[Transaction], ride: Ride | None = None
) -> str | None:
    """The scrips of a unit's transactions, their trace and outbox written; returns the live-update
    notice sent with that write (None when nothing was written)."""
    ctx.session.flush()
    state.prefetch(ctx, transactions, ride)
    # The unit's templates and expressions share limits.UNIT_SECONDS: its tickets are locked
    # meanwhile, so no template holds another agent's change up for longer than that.
    with limits.unit():
        for txn in transactions:
            run_create_stage(ctx, state, txn, 0)
        by_ticket: dict[int, list[Transaction]] = {}
        for txn in transactions:
            by_ticket.setdefault(txn.ticket_id, []).append(txn)
        for ticket_id, txns in by_ticket.items():
            run_batch_stage(ctx, state, ticket_id, txns)
    return write_results(ctx, state)


def write_results(ctx: Context, state: EngineState) -> str | None:
    """The unit's trace and outbox rows in one statement, which also sends the unit's live-update
    notice (returned); None when there is nothing to write."""
    if not state.runs and not state.outbox:
        return None
    runs = [
        {
            "scrip_id": r.scrip_id,
            "ticket_id": r.ticket_id,
            "transaction_id": r.transaction_id,
            "stage": r.stage,
            "depth": r.depth,
            "fired": r.fired,
            "outcome": r.outcome,
            "reason": r.reason,
            "created": r.created,
        }
        for r in state.runs
    ]
    mail = [
        {
            "ticket_id": m.ticket_id,
            "transaction_id": m.transaction_id,
            "scrip_id": m.scrip_id,
            "message_id": m.message_id,
            "mail_from": m.mail_from,
            "recipients": m.recipients,
            "summary": m.summary,
            "message": m.message,
            "next_attempt": m.next_attempt,
            "created": m.created,
        }
        for m in state.outbox
    ]
    # The unit's live-update notice rides along (the operation then does not send it again): the
    # tickets are final here, the scrips having run.
    body = live.payload({t.ticket_id for t in ctx.batch} | set(ctx.touched), ctx.origin)
    sent = fast_sql.write_trace_and_outbox(ctx.session, runs, mail, live.CHANNEL, body)
    state.runs_written, state.outbox_written = len(runs), len(mail)
    return body if sent else None


def _trace(
    ctx: Context, state: EngineState, scrip: AnyScrip | None, txn: Transaction, stage: str, depth: int
) -> TraceRow:
    run = TraceRow(
        scrip.id if scrip else None, txn.ticket_id, txn.id, stage, depth, False, CONDITION_FALSE, "", ctx.now
    )
    # Added to the session when the unit's scrips are done: one batched INSERT, and a scrip's
    # savepoint rollback never takes trace rows with it.
    state.runs.append(run)
    return run


def _plan(state: EngineState, scrip: AnyScrip, run: TraceRow, action: Any = None) -> dict[str, Any]:
    plan = {"scrip": scrip, "run": run, "action": action}
    state.plans.append(plan)
    return plan


def _prepare(
    ctx: Context, state: EngineState, scrip: AnyScrip, sc: ScripContext, run: TraceRow
) -> action_registry.ScripAction | None:
    run.fired = True
    try:
        action_cls = action_registry.lookup(scrip.action)
        action = action_cls(sc, scrip.action_argument)
        action.prepare()
    except action_registry.Skip as exc:
        run.outcome, run.reason = SKIPPED, str(exc)
        return None
    except Exception as exc:
        run.outcome, run.reason = PREPARE_FAILED, _why(exc)
        return None
    run.outcome, run.reason = PREPARED, ""
    return action


def run_create_stage(ctx: Context, state: EngineState, txn: Transaction, depth: int) -> None:
    ticket = ctx.session.get(Ticket, txn.ticket_id)
    if ticket is None:
        return
    candidates = _create_candidates(ctx, state, ticket.queue_id, txn.type)
    if not candidates:
        return
    shared = SharedViews(ctx, txn, ticket, state)
    prepared: list[tuple[AnyScrip, action_registry.ScripAction, TraceRow, ScripContext]] = []
    for scrip, check, problem in candidates:
        run = _trace(ctx, state, scrip, txn, "TransactionCreate", depth)
        plan = _plan(state, scrip, run)
        if check is None:
            run.outcome, run.reason = CONDITION_FAILED, problem
            continue
        sc = ScripContext(ctx, state, scrip, txn, ticket, shared, "TransactionCreate", depth)
        try:
            applies = check(sc)
        except Exception as exc:
            run.outcome, run.reason = CONDITION_FAILED, _why(exc)
            continue
        if not applies:
            continue
        action = _prepare(ctx, state, scrip, sc, run)
        plan["action"] = action
        if action is not None:
            prepared.append((scrip, action, run, sc))
    for scrip, action, run, _sc in prepared:
        _commit(ctx, state, scrip, action, run, txn, depth)


def _create_candidates(ctx: Context, state: EngineState, queue_id: int, txn_type: str) -> Sequence[Candidate]:
    """The TransactionCreate scrips of the queue whose condition looks at `txn_type`, each with its
    check (None and why, when the condition cannot be made). They depend only on the catalog, the
    condition registry and the type: kept with the catalog (every unit asks, a catalog changes
    seldom), unless the state picks its scrips itself (a draft's)."""
    catalog = state.catalog
    registry = condition_registry.registry()
    cached = catalog is not None and type(state).scrips_for is EngineState.scrips_for
    if catalog is not None and cached:
        found = catalog.candidates.get((queue_id, txn_type))
        if found is not None and found[0] is registry:
            return found[1]
    candidates: list[Candidate] = []
    for row in state.scrips_for(ctx, "TransactionCreate", queue_id):
        try:
            types, condition = condition_of(row)
        except Exception as exc:
            candidates.append((row, None, _why(exc)))
            continue
        if condition_registry.applies_to_type(types, txn_type):
            candidates.append((row, condition, ""))
    if catalog is not None and cached:
        if len(catalog.candidates) > 1024:
            catalog.candidates.clear()
        catalog.candidates[(queue_id, txn_type)] = (registry, tuple(candidates))
    return candidates


def run_batch_stage(ctx: Context, state: EngineState, ticket_id: int, txns: list[Transaction]) -> None:
    ticket = ctx.session.get(Ticket, ticket_id)
    if ticket is None:
        return
    scrips = state.scrips_for(ctx, "TransactionBatch", ticket.queue_id)
    if not scrips:
        return
    shared_by_txn: dict[int, SharedViews] = {}
    prepared = []
    for scrip in scrips:
        try:
            types, check = condition_of(scrip)
        except Exception as exc:
            run = _trace(ctx, state, scrip, txns[0], "TransactionBatch", 0)
            run.outcome, run.reason = CONDITION_FAILED, _why(exc)
            _plan(state, scrip, run)
            continue
        matching = [t for t in txns if condition_registry.applies_to_type(types, t.type)]
        if not matching:
            continue
        chosen: tuple[Transaction, ScripContext] | None = None
        failure = ""
        for txn in matching:
            if txn.id not in shared_by_txn:
                shared_by_txn[txn.id] = SharedViews(ctx, txn, ticket, state)
            sc = ScripContext(ctx, state, scrip, txn, ticket, shared_by_txn[txn.id], "TransactionBatch", 0)
            try:
                if check(sc):
                    chosen = (txn, sc)
                    break
            except Exception as exc:
                failure = _why(exc)
        run = _trace(ctx, state, scrip, chosen[0] if chosen else matching[0], "TransactionBatch", 0)
        plan = _plan(state, scrip, run)
        if chosen is None:
            if failure:
                run.outcome, run.reason = CONDITION_FAILED, failure
            continue
        run.reason = ""
        action = _prepare(ctx, state, scrip, chosen[1], run)
        plan["action"] = action
        if action is not None:
            prepared.append((scrip, action, run, chosen[0]))
    for scrip, action, run, txn in prepared:
        _commit(ctx, state, scrip, action, run, txn, 0)


def _commit(
    ctx: Context,
    state: EngineState,
    scrip: AnyScrip,
    action: action_registry.ScripAction,
    run: TraceRow,
    txn: Transaction,
    depth: int,
) -> None:
    session = ctx.session
    before = len(ctx.batch)
    was_system = ctx.system
    ctx.system = True
    try:
        if action.changes_ticket:
            with savepoint(ctx):  # failing, it takes its own rows and transactions with it
                action.commit()
                _made_by(ctx.batch[before:], scrip, txn)  # written with them, not updated after
        else:
            action.commit()  # records no transaction (its outgoing message is the unit's outbox row)
        run.outcome = COMMITTED
    except Exception as exc:
        run.outcome, run.reason = COMMIT_FAILED, _why(exc)
        return
    finally:
        ctx.system = was_system
    new = ctx.batch[before:]
    if not new:
        return
    _made_by(new, scrip, txn)
    session.flush()
    if depth + 1 >= max_depth():
        for made in new:
            limit = _trace(ctx, state, None, made, "TransactionCreate", depth + 1)
            limit.outcome = DEPTH_LIMIT
            limit.reason = f"scrips not run on this transaction: the depth bound ({max_depth()}) was reached"
        return
    for made in new:
        run_create_stage(ctx, state, made, depth + 1)


def _made_by(made: list[Transaction], scrip: AnyScrip, cause: Transaction) -> None:
    """Note on each transaction a scrip's action recorded which scrip made it and why."""
    for txn in made:
        mark = {"scrip_id": scrip.id, "scrip": scrip.description, "cause": cause.id}
        if any((txn.data or {}).get(key) != value for key, value in mark.items()):
            txn.data = {**(txn.data or {}), **mark}


ENGINE = Engine()


def scrip_by_id(ctx: Context, scrip_id: int) -> Scrip:
    scrip = ctx.session.get(Scrip, scrip_id)
    if scrip is None:
        raise NotFound(f"no scrip {scrip_id}")
    return scrip


def test_scrip(ctx: Context, scrip: AnyScrip, txn: Transaction) -> dict[str, Any]:
    """Condition and prepare of one scrip on one transaction; nothing is written."""
    ticket = ctx.session.get(Ticket, txn.ticket_id)
    assert ticket is not None
    state = EngineState()
    shared = SharedViews(ctx, txn, ticket)
    sc = ScripContext(ctx, state, scrip, txn, ticket, shared, scrip.stage, 0)
    out: dict[str, Any] = {
        "scrip": scrip.id,
        "description": scrip.description,
        "ticket": ticket.display_id,
        "transaction": txn.id,
        "transaction_type": txn.type,
        "fires": False,
        "outcome": CONDITION_FALSE,
        "reason": "",
        "message": None,
        "changes": [],
    }
    try:
        types, check = condition_of(scrip)
        if not condition_registry.applies_to_type(types, txn.type):
            out["reason"] = f"the condition does not look at {txn.type} transactions"
            return out
        if not check(sc):
            return out
    except Exception as exc:
        out["outcome"], out["reason"] = CONDITION_FAILED, _why(exc)
        return out
    out["fires"] = True
    try:
        action = action_registry.lookup(scrip.action)(sc, scrip.action_argument)
        action.prepare()
    except action_registry.Skip as exc:
        out["outcome"], out["reason"] = SKIPPED, str(exc)
        return out
    except Exception as exc:
        out["outcome"], out["reason"] = PREPARE_FAILED, _why(exc)
        return out
    out["outcome"] = PREPARED
    if action.outgoing is not None:
        out["message"] = action.outgoing.summary()
    out["changes"] = action.changes
    return out


def scrip_log(
    ctx: Context, scrip_id: int | None = None, ticket_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    query = (
        select(ScripRun, Scrip.description)
        .outerjoin(Scrip, Scrip.id == ScripRun.scrip_id)
        .order_by(ScripRun.id.desc())
        .limit(limit)
    )
    if scrip_id is not None:
        query = query.where(ScripRun.scrip_id == scrip_id)
    if ticket_id is not None:
        query = query.where(ScripRun.ticket_id == ticket_id)
    return [
        {
            "id": run.id,
            "scrip": run.scrip_id,
            "description": description,
            "ticket": display_id(run.ticket_id),
            "transaction": run.transaction_id,
            "stage": run.stage,
            "depth": run.depth,
            "fired": run.fired,
            "outcome": run.outcome,
            "reason": run.reason,
            "created": json_time(run.created),
        }
        for run, description in ctx.session.execute(query)
    ]


__all__ = [
    "ENGINE",
    "STAGES",
    "EngineState",
    "ScripContext",
    "max_depth",
    "scrip_by_id",
    "scrip_log",
    "test_scrip",
]
