"""A realistic demo desk: queues, agents, requestors, rights, custom fields and tickets with history.

Set-up (queues, people, grants, fields) goes through the ordinary operations and is idempotent.
Tickets take the import's path (`importing.write_records`, what `tessera import` runs): each story
is an import record with its history, checked and written in bulk without scrips, because 10,000
tickets through one operation each would take minutes. The whole seeding is one database
transaction: interrupted, it leaves nothing behind. Run again, it adds more tickets and reuses
everything else.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from tessera.core.context import Context, find_user, operation, scrips_off
from tessera.core.import_records import ImportReminder, ImportTicket, ImportTransaction
from tessera.core.importing import write_records
from tessera.core.models import (
    CustomField,
    Queue,
    Ticket,
    User,
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
    "ForwardMessage",
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
REMINDERS = [
    "Check the fix held",
    "Follow up with the requestor",
    "Order the replacement part",
    "Confirm with the vendor",
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
    from tessera.core.lifecycles.desk import lifecycle_of

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
    fields: dict[str, Callable[[str], object]] = {
        "Severity": lambda name: customfields.create_field(ctx, name, type_="select", values=SEVERITY),
        "Category": lambda name: customfields.create_field(
            ctx, name, type_="select", multiple=True, values=CATEGORIES
        ),
        "Asset Tag": lambda name: customfields.create_field(
            ctx, name, type_="freeform", pattern=r"[A-Z]{2}-\d{4}", queue="Hardware"
        ),
        "Affected Users": lambda name: customfields.create_field(ctx, name, type_="integer"),
    }
    for name, create in fields.items():
        if customfields.find_field(ctx, name) is None:
            create(name)
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


def _story(rng: random.Random, cast: Cast, now: datetime) -> ImportTicket:
    """One ticket's life, as a line of `tessera import` would give it."""
    queue = rng.choice(cast.queues)
    requestor = rng.choice(cast.requestors)
    agent = rng.choice(cast.agents)
    subject = rng.choice(SUBJECTS.get(queue.name, SUBJECTS["General"])).format(
        x=rng.choice(THINGS), n=rng.randint(2, 12)
    )
    final = rng.choices([s for s, _ in FINAL_STATUSES], weights=[w for _, w in FINAL_STATUSES])[0]
    created = now - timedelta(minutes=rng.randint(30, 180 * 24 * 60))
    clock = created
    name = (requestor.real_name or requestor.name).split()[0]
    txns = [
        ImportTransaction(
            type="Create",
            actor=requestor.name,
            created=created,
            body=rng.choice(OPENINGS).format(s=subject, name=name),
        )
    ]

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
            ImportTransaction(
                type=kind, actor=actor.name, created=clock, field=field, old=old, new=new, body=body
            )
        )

    status, owner = "new", None
    if final != "new":
        step("Take", agent, field="Owner", old="Nobody", new=agent.name)
        owner = agent.name
        step("Correspond", agent, body=rng.choice(REPLIES))
        step("Status", agent, field="Status", old="new", new="open")
        status = "open"
        for _ in range(rng.randint(0, 3)):
            step("Correspond", requestor, body=rng.choice(FOLLOW_UPS))
            if rng.random() < 0.5:
                step("Comment", agent, body=rng.choice(COMMENTS))
            step("Correspond", agent, body=rng.choice(REPLIES))
        if final != "open":
            step("Status", agent, field="Status", old=status, new=final)
            status = final
    priority = rng.choice([0, 0, 10, 20, 50, 80])
    cc: list[str] = []
    admincc: list[str] = []
    if rng.random() < 0.3:
        other = rng.choice(cast.requestors)
        if other.id != requestor.id:
            cc.append(other.name)
    if rng.random() < 0.2:
        admincc.append(rng.choice(cast.agents).name)
    cf: dict[str, str | list[str]] = {}
    severity = rng.choice(SEVERITY)
    if severity in cast.severities and _applies(cast.severity, queue):
        cf[cast.severity.name] = severity
    if rng.random() < 0.6 and cast.categories and _applies(cast.category, queue):
        picked = rng.sample(CATEGORIES, rng.randint(1, 2) if cast.category.multiple else 1)
        kept = [value for value in picked if value in cast.categories]
        if kept:
            cf[cast.category.name] = kept
    if queue.name == "Hardware" and rng.random() < 0.7 and _applies(cast.asset, queue):
        tag = f"{rng.choice(['LT', 'PR', 'MN'])}-{rng.randint(1000, 9999)}"
        if _accepted(cast.asset, [tag]):
            cf[cast.asset.name] = tag
    reminders = []
    if status in ("open", "stalled") and rng.random() < 0.15:
        reminders.append(
            ImportReminder(
                subject=rng.choice(REMINDERS), owner=agent.name, due=now + timedelta(days=rng.randint(-2, 7))
            )
        )
    return ImportTicket(
        queue=queue.name,
        subject=subject,
        status=status,
        owner=owner,
        creator=requestor.name,
        requestors=[requestor.name],
        cc=cc,
        admincc=admincc,
        priority=priority,
        final_priority=0,
        created=created,
        updated=clock,
        time_worked=rng.choice([0, 0, 15, 30, 45, 90]) if status != "new" else 0,
        due=created + timedelta(days=rng.choice([1, 3, 7])) if rng.random() < 0.3 else None,
        custom_fields=cf,
        reminders=reminders,
        transactions=txns,
    )


def seed(ctx: Context, tickets: int = 10_000, progress: Callable[[int, int], None] | None = None) -> int:
    """Add `tickets` tickets (and the desk around them, if missing) in one transaction. A bulk load:
    no scrips run (RT's ActivateScrips), and it acts on the desk's behalf."""
    was_system, ctx.system = ctx.system, True
    try:
        with scrips_off(ctx):
            return _seed(ctx, tickets, progress)
    finally:
        ctx.system = was_system


@operation
def _seed(ctx: Context, tickets: int, progress: Callable[[int, int], None] | None) -> int:
    session = ctx.session
    already = session.scalar(select(func.count()).select_from(Ticket)) or 0
    rng = random.Random(20261127 + already)
    cast = _setup(ctx, rng)  # ordinary operations, joined into this one
    session.flush()
    now = ctx.now
    # The import's own path (`importing.write_records`): each story is a line it checks and writes.
    stories = ((n, _story(rng, cast, now)) for n in range(1, tickets + 1))
    return len(write_records(ctx, stories, progress))
