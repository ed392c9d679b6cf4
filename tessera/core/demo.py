"""A realistic demo desk: queues, agents, requestors, rights, custom fields and tickets with history.

Set-up (queues, people, grants, fields) goes through the ordinary operations and is idempotent.
Tickets are written in bulk (like an import, without scrips), because 10,000 tickets through one
operation each would take minutes; the rows are the same shape the operations write, history
included. The whole seeding is one database transaction: interrupted, it leaves nothing behind.
Run again, it adds more tickets and reuses everything else.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from tessera.core.context import Context, find_user
from tessera.core.models import (
    Attachment,
    CustomField,
    CustomFieldValue,
    Queue,
    Ticket,
    Transaction,
    User,
    Watcher,
)

QUEUES = [
    ("General", "Anything that fits nowhere else", "help@desk.example"),
    ("Network", "Wi-Fi, VPN, DNS, firewalls", "network@desk.example"),
    ("Hardware", "Laptops, printers, phones, monitors", "hardware@desk.example"),
    ("Accounts", "Logins, passwords, access requests", "accounts@desk.example"),
    ("Facilities", "Rooms, badges, desks and heating", "facilities@desk.example"),
]
AGENTS = [
    ("alice", "Alice Martin", ["Support", "Network Team"]),
    ("bob", "Bob Nguyen", ["Support"]),
    ("carol", "Carol Díaz", ["Support", "Hardware Team"]),
    ("dave", "Dave O'Neill", ["Network Team"]),
    ("erin", "Erin Kowalski", ["Hardware Team"]),
    ("farid", "Farid Haddad", ["Support"]),
]
GROUPS = {
    "Support": "First-line agents",
    "Network Team": "Second-line network engineers",
    "Hardware Team": "Second-line hardware engineers",
}
PRIVILEGED_RIGHTS = [
    "SeeQueue",
    "ShowTicket",
    "CreateTicket",
    "ModifyTicket",
    "ReplyToTicket",
    "CommentOnTicket",
    "ShowTicketComments",
    "OwnTicket",
    "TakeTicket",
    "Watch",
    "WatchAsAdminCc",
]
SUPPORT_RIGHTS = ["StealTicket", "ReassignTicket", "DeleteTicket"]
REQUESTOR_RIGHTS = ["ShowTicket", "ReplyToTicket"]


def _ascii(text: str) -> str:
    """Chloé -> chloe for an address (the real name keeps its accents)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


FIRST = [
    "Ann",
    "Ben",
    "Chloé",
    "Dmitri",
    "Eva",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Noor",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
]
LAST = [
    "Smith",
    "Okafor",
    "Müller",
    "Rossi",
    "Tanaka",
    "García",
    "Kowalczyk",
    "Dubois",
    "Andersson",
    "Novak",
    "Silva",
    "Chen",
    "Haddad",
    "Ivanova",
    "Murphy",
    "Nakamura",
    "Petersen",
    "Yilmaz",
]
SUBJECTS = {
    "General": [
        "Question about the {x} policy",
        "Who do I ask about {x}?",
        "Request: {x} for the new hire",
        "Can't find the {x} form",
        "Feedback on {x}",
    ],
    "Network": [
        "VPN drops every {n} minutes",
        "Wi-Fi slow on floor {n}",
        "Can't reach {x} from home",
        "DNS not resolving {x}",
        "Firewall rule for {x}",
        "Packet loss to {x}",
    ],
    "Hardware": [
        "Printer on floor {n} jams",
        "Laptop fan very loud",
        "Second monitor flickers",
        "Docking station not detecting {x}",
        "Phone screen cracked",
        "Keyboard missing keys",
    ],
    "Accounts": [
        "Password reset for {x}",
        "Access to {x} share",
        "Account locked after {n} tries",
        "New starter: accounts for {x}",
        "Remove access for leaver",
        "MFA device lost",
    ],
    "Facilities": [
        "Room {n} too cold",
        "Badge doesn't open {x}",
        "Desk booking for {x} team",
        "Light out in room {n}",
        "Coffee machine broken again",
    ],
}
THINGS = [
    "payroll",
    "the wiki",
    "git.internal",
    "Jira",
    "the print server",
    "Finance",
    "SharePoint",
    "expenses",
    "the CRM",
    "Building B",
    "marketing",
    "the build farm",
    "travel",
]
OPENINGS = [
    "Hi,\n\n{s}. It started this morning and it is blocking my work.\n\nThanks,\n{name}",
    "Hello team,\n\n{s} - this has happened three times this week. Could someone take a look?\n\n{name}",
    "{s}.\n\nSteps so far: restarted, logged out and back in. No change.\n\nBest regards,\n{name}",
]
REPLIES = [
    "Thanks for reporting this. Could you tell us the exact time it last happened?",
    "We're looking into it now and will update you within the hour.",
    "Could you try again now? We changed a setting on our side.",
    "This is a known issue; a fix is scheduled for tonight's maintenance window.",
]
FOLLOW_UPS = [
    "It happened again at 14:05.",
    "Works now, thank you!",
    "Still broken, I'm afraid.",
    "Attached a screenshot of the error.",
]
COMMENTS = [
    "Looks like the same root cause as last week's outage.",
    "Escalating to second line.",
    "Checked the logs: nothing obvious.",
    "Waiting on the vendor for a replacement part.",
]
# Status at the end of each ticket's story, with weights: every status of the default lifecycle.
FINAL_STATUSES = [
    ("new", 15),
    ("open", 30),
    ("stalled", 8),
    ("resolved", 35),
    ("rejected", 6),
    ("deleted", 6),
]
SEVERITY = ["Low", "Medium", "High", "Critical"]
CATEGORIES = ["Outage", "Request", "Question", "Bug"]
BATCH = 500


@dataclass
class Cast:
    queues: list[Queue]
    agents: list[User]
    requestors: list[User]
    severity: CustomField
    category: CustomField
    asset: CustomField
    # The demo's values that the desk's own definitions of these fields accept (a desk that had a
    # "Severity" of its own before the demo keeps its rules: nothing is written that it refuses).
    severities: list[str]
    categories: list[str]


def _accepted(cf: CustomField, values: list[str]) -> list[str]:
    from tessera.core.customfields import normalise_values
    from tessera.core.errors import InvalidInput

    out: list[str] = []
    for value in values:
        try:
            out += normalise_values(cf, [value])
        except InvalidInput:
            continue
    return out


def _applies(cf: CustomField, queue: Queue) -> bool:
    return cf.queue_id is None or cf.queue_id == queue.id


def _usable_queues(ctx: Context, found: list[Queue]) -> list[Queue]:
    """The demo's queues whose lifecycle has every status the stories end in (a desk may have
    moved one of them to a lifecycle of its own: its tickets would have statuses it lacks)."""
    from tessera.core.statuses import lifecycle_of

    return [
        q
        for q in found
        if not q.disabled and all(lifecycle_of(ctx.session, q).is_valid(s) for s, _ in FINAL_STATUSES)
    ]


def _setup(ctx: Context, rng: random.Random) -> Cast:
    from tessera.core import customfields, grants, queues, users

    for name, description, address in QUEUES:
        if queues.find_queue(ctx, name) is None:
            comment = address.replace("@", "-comment@")
            queues.create_queue(
                ctx, name, description=description, correspond_address=address, comment_address=comment
            )
    existing_groups = {g.name for g, _ in users.list_groups(ctx)}
    for group, description in GROUPS.items():
        if group not in existing_groups:
            users.add_group(ctx, group, description)
    for login, real_name, groups in AGENTS:
        agent = find_user(ctx.session, login)
        if agent is None:
            agent = users.add_user(ctx, login, email=f"{login}@desk.example", real_name=real_name)
        if agent.privileged and not agent.disabled:  # not a requestor of the desk's own by that name
            for group in groups:
                users.set_membership(ctx, group, agent.name, member=True)
    for right in PRIVILEGED_RIGHTS:
        grants.grant(ctx, right, "role:Privileged")
    for right in SUPPORT_RIGHTS:
        grants.grant(ctx, right, "group:Support")
    for right in REQUESTOR_RIGHTS:
        grants.grant(ctx, right, "role:Requestor")
    grants.grant(ctx, "CreateTicket", "role:Everyone")
    fields = {
        "Severity": dict(type_="select", values=SEVERITY),
        "Category": dict(type_="select", multiple=True, values=CATEGORIES),
        "Asset Tag": dict(type_="freeform", pattern=r"[A-Z]{2}-\d{4}", queue="Hardware"),
        "Affected Users": dict(type_="integer"),
    }
    for name, spec in fields.items():
        if customfields.find_field(ctx, name) is None:
            customfields.create_field(ctx, name, **spec)  # type: ignore[arg-type]
    requestors = list(ctx.session.scalars(_REQUESTORS))
    if len(requestors) < 300:
        rows = []
        taken = {u.email for u in requestors}
        for i in range(300 - len(requestors)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = _ascii(f"{first.lower()}.{last.lower()}{i}@customer.example")
            if email not in taken and find_user(ctx.session, email) is None:
                taken.add(email)
                rows.append(
                    {"name": email, "email": email, "real_name": f"{first} {last}", "privileged": False}
                )
        if rows:
            ctx.session.execute(insert(User), rows)
        requestors = list(ctx.session.scalars(_REQUESTORS))
    session = ctx.session
    names = [q[0].lower() for q in QUEUES]
    found = list(session.scalars(select(Queue).where(func.lower(Queue.name).in_(names)).order_by(Queue.id)))
    # Only agents who may own tickets: a desk may already have a requestor called "carol".
    agents = session.scalars(
        select(User)
        .where(
            func.lower(User.name).in_([a[0] for a in AGENTS]),
            User.privileged.is_(True),
            User.disabled.is_(False),
        )
        .order_by(User.id)
    )
    severity, category = customfields.get_field(ctx, "Severity"), customfields.get_field(ctx, "Category")
    cast = Cast(
        queues=_usable_queues(ctx, found),
        agents=list(agents),
        requestors=requestors,
        severity=severity,
        category=category,
        asset=customfields.get_field(ctx, "Asset Tag"),
        severities=_accepted(severity, SEVERITY),
        categories=_accepted(category, CATEGORIES),
    )
    for what, have in (("queues", cast.queues), ("agents", cast.agents), ("requestors", cast.requestors)):
        if not have:
            from tessera.core.errors import InvalidInput

            raise InvalidInput(
                f"cannot seed the demo here: no usable {what} (this desk's own {what} conflict with "
                "the demo's); seed an empty desk instead (TESSERA_DATA_DIR=... tessera demo)"
            )
    return cast


# Requestors for the stories: unprivileged users who are not disabled.
_REQUESTORS = (
    select(User).where(User.privileged.is_(False), User.disabled.is_(False)).order_by(User.id).limit(400)
)


@dataclass
class Story:
    """One ticket's life as rows, before ids exist."""

    ticket: dict[str, Any]
    watchers: list[tuple[str, int]]
    cf: list[tuple[int, str]]
    txns: list[tuple[dict[str, Any], str | None]]  # (transaction row, message body or None)


def _story(rng: random.Random, cast: Cast, now: datetime) -> Story:
    queue = rng.choice(cast.queues)
    requestor = rng.choice(cast.requestors)
    agent = rng.choice(cast.agents)
    subject = rng.choice(SUBJECTS.get(queue.name, SUBJECTS["General"])).format(
        x=rng.choice(THINGS), n=rng.randint(2, 12)
    )
    final = rng.choices([s for s, _ in FINAL_STATUSES], weights=[w for _, w in FINAL_STATUSES])[0]
    created = now - timedelta(minutes=rng.randint(30, 180 * 24 * 60))
    clock = created
    txns: list[tuple[dict[str, Any], str | None]] = []

    def step(
        kind: str,
        actor: User,
        *,
        field: str | None = None,
        old: str | None = None,
        new: str | None = None,
        body: str | None = None,
    ) -> None:
        nonlocal clock
        # Minutes to a day later, and never all at `now`: a recent ticket's story fits before it.
        gap = min(timedelta(minutes=rng.randint(5, 60 * 24)), (now - clock) * rng.uniform(0.1, 0.5))
        clock = min(clock + gap, now)
        txns.append(
            (
                {
                    "type": kind,
                    "field": field,
                    "old_value": old,
                    "new_value": new,
                    "actor_id": actor.id,
                    "created": clock,
                    "data": {},
                },
                body,
            )
        )

    name = (requestor.real_name or requestor.name).split()[0]
    txns.append(
        (
            {
                "type": "Create",
                "field": None,
                "old_value": None,
                "new_value": None,
                "actor_id": requestor.id,
                "created": created,
                "data": {},
            },
            rng.choice(OPENINGS).format(s=subject, name=name),
        )
    )
    status, owner, started, resolved = "new", None, None, None
    if final != "new":
        step("Take", agent, field="Owner", old="Nobody", new=agent.name)
        owner = agent.id
        step("Correspond", agent, body=rng.choice(REPLIES))
        step("Status", agent, field="Status", old="new", new="open")
        status, started = "open", clock
        for _ in range(rng.randint(0, 3)):
            step("Correspond", requestor, body=rng.choice(FOLLOW_UPS))
            if rng.random() < 0.5:
                step("Comment", agent, body=rng.choice(COMMENTS))
            step("Correspond", agent, body=rng.choice(REPLIES))
        if final != "open":
            step("Status", agent, field="Status", old=status, new=final)
            status = final
            if final in ("resolved", "rejected", "deleted"):
                resolved = clock
    priority = rng.choice([0, 0, 10, 20, 50, 80])
    watchers = [("Requestor", requestor.id)]
    if rng.random() < 0.3:
        other = rng.choice(cast.requestors)
        if other.id != requestor.id:
            watchers.append(("Cc", other.id))
    if rng.random() < 0.2:
        watchers.append(("AdminCc", rng.choice(cast.agents).id))
    cf: list[tuple[int, str]] = []
    severity = rng.choice(SEVERITY)
    if severity in cast.severities and _applies(cast.severity, queue):
        cf.append((cast.severity.id, severity))
    if rng.random() < 0.6 and cast.categories and _applies(cast.category, queue):
        picked = rng.sample(CATEGORIES, rng.randint(1, 2) if cast.category.multiple else 1)
        for value in picked:
            if value in cast.categories:
                cf.append((cast.category.id, value))
    if queue.name == "Hardware" and rng.random() < 0.7 and _applies(cast.asset, queue):
        tag = f"{rng.choice(['LT', 'PR', 'MN'])}-{rng.randint(1000, 9999)}"
        if _accepted(cast.asset, [tag]):
            cf.append((cast.asset.id, tag))
    ticket = {
        "queue_id": queue.id,
        "subject": subject,
        "status": status,
        "owner_id": owner,
        "priority": priority,
        "initial_priority": priority,
        "final_priority": 0,
        "created": created,
        "updated": clock,
        "started": started,
        "resolved": resolved,
        "creator_id": requestor.id,
        "updated_by_id": txns[-1][0]["actor_id"],
        "time_worked": rng.choice([0, 0, 15, 30, 45, 90]) if status != "new" else 0,
        "due": created + timedelta(days=rng.choice([1, 3, 7])) if rng.random() < 0.3 else None,
    }
    return Story(ticket=ticket, watchers=watchers, cf=cf, txns=txns)


def _ids(ctx: Context, table: str, count: int) -> list[int]:
    """Reserve ids from the identity sequence, so bulk inserts need no RETURNING round trips."""
    return list(
        ctx.session.scalars(
            select(func.nextval(func.pg_get_serial_sequence(table, "id"))).select_from(
                func.generate_series(1, count)
            )
        )
    )


def _copy(ctx: Context, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk rows through COPY: ~4x faster than one INSERT each, on both ends of the connection.
    Every row of a table has the same keys; columns left out take their server defaults, as an
    INSERT would."""
    if not rows:
        return
    columns = list(rows[0])
    cursor = ctx.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _write(ctx: Context, stories: list[Story]) -> None:
    ids = _ids(ctx, "tickets", len(stories))
    tickets, watchers, values, txn_rows, bodies = [], [], [], [], []
    for ticket_id, story in zip(ids, stories, strict=True):
        tickets.append({**story.ticket, "id": ticket_id})
        watchers += [{"ticket_id": ticket_id, "role": r, "user_id": u} for r, u in story.watchers]
        values += [{"ticket_id": ticket_id, "custom_field_id": c, "value": v} for c, v in story.cf]
        for row, body in story.txns:
            txn_rows.append({**row, "ticket_id": ticket_id})
            bodies.append((body, story.ticket["subject"]))
    _copy(ctx, Ticket.__tablename__, tickets)
    _copy(ctx, Watcher.__tablename__, watchers)
    _copy(ctx, CustomFieldValue.__tablename__, values)
    for row, txn_id in zip(txn_rows, _ids(ctx, "transactions", len(txn_rows)), strict=True):
        row["id"] = txn_id
        row["data"] = "{}"  # jsonb, as text
    _copy(ctx, Transaction.__tablename__, txn_rows)
    parts = [
        {
            "transaction_id": row["id"],
            "content_type": "text/plain",
            "content": body,
            "subject": subject,
            "size": len(body.encode()),
            "message_id": f"<demo.{row['id']}@desk.example>",
            "created": row["created"],
        }
        for (body, subject), row in zip(bodies, txn_rows, strict=True)
        if body is not None
    ]
    _copy(ctx, Attachment.__tablename__, parts)


def seed(ctx: Context, tickets: int = 10_000, progress: Callable[[int, int], None] | None = None) -> int:
    """Add `tickets` tickets (and the desk around them, if missing) in one transaction."""
    session = ctx.session
    already = session.scalar(select(func.count()).select_from(Ticket)) or 0
    rng = random.Random(20261127 + already)
    ctx.system = True  # the seeder acts on the desk's behalf
    try:
        ctx.depth = 1  # join every set-up operation into this one transaction
        cast = _setup(ctx, rng)
        session.flush()
        now = datetime.now(UTC)
        done = 0
        while done < tickets:
            count = min(BATCH, tickets - done)
            _write(ctx, [_story(rng, cast, now) for _ in range(count)])
            done += count
            if progress is not None:
                progress(done, tickets)
        from tessera.core.live import announce

        announce(session, None)  # open TUIs reload what they show
        session.commit()
        return done
    except BaseException:
        session.rollback()
        raise
    finally:
        ctx.depth = 0
        ctx.system = False
