"""The rights table, through the CLI: every right an operation needs, granted through every kind
of grantee (the user, a group, Everyone, Privileged, a ticket role, globally; and the ones that do
not reach the actor: Unprivileged, a role the actor does not hold, another user, another group,
another queue), for every read and write a person does to a ticket. No read leaks, no write gets
through, nothing granted is refused; and no right stands in for another one it does not imply.

Each case: a fresh ticket (ann is its requestor), the grants, one `tessera` command as ann, what
the ticket shows afterwards, the grants taken back. The table runs the CLI in this process (the
same argument parsing, errors and exit codes, without a Python start-up per case); a sample of it
runs the real program to show they answer alike. Then the same table through a live `tessera api`
(HTTP as ann, with her token), for every operation the API offers (all but the watchers)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import typer.main
from sqlalchemy import text

from tessera.cli import state
from tessera.core import grants, queues, tokens, users
from tessera.core.context import open_context, scrips_off
from tessera.core.rights import QUEUE_RIGHTS
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.tickets import comment, create_ticket
from tests.support.api import start_server
from tests.support.cli import Result, run

pytestmark = pytest.mark.fault

SECRET = "internal: the password is hunter2"


@dataclass(frozen=True)
class Op:
    """A CLI command ann runs; `needs`: the sets of rights any one of which lets her (RT's rules)."""

    args: tuple[str, ...]
    needs: tuple[frozenset[str], ...]
    read: bool = False
    owned: bool = False  # the ticket is olga's (steal)
    on_ticket: bool = True  # ticket roles can apply (not to a create: there is no ticket yet)


def _needs(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s.split()) for s in sets)


OPS: dict[str, Op] = {
    "show": Op(("ticket", "show", "{id}"), _needs("ShowTicket"), read=True),
    "search": Op(("search", "id = {id}", "--json"), _needs("ShowTicket"), read=True),
    "read comments": Op(
        ("ticket", "show", "{id}", "--history", "--json"), _needs("ShowTicket ShowTicketComments"), read=True
    ),
    "reply": Op(
        ("ticket", "reply", "{id}", "--body", "hello"),
        _needs("ShowTicket ReplyToTicket", "ShowTicket ModifyTicket"),
    ),
    "comment": Op(
        ("ticket", "comment", "{id}", "--body", "note"),
        _needs("ShowTicket CommentOnTicket", "ShowTicket ModifyTicket"),
    ),
    "forward": Op(
        ("ticket", "forward", "{id}", "--to", "vendor@partner.example"), _needs("ShowTicket ForwardMessage")
    ),
    "subject": Op(("ticket", "set", "{id}", "subject=renamed"), _needs("ShowTicket ModifyTicket")),
    "status": Op(("ticket", "set", "{id}", "status=open"), _needs("ShowTicket ModifyTicket")),
    "delete": Op(("ticket", "set", "{id}", "status=deleted"), _needs("ShowTicket DeleteTicket")),
    "take": Op(
        ("ticket", "take", "{id}"),
        _needs(
            "ShowTicket OwnTicket TakeTicket",
            "ShowTicket OwnTicket ModifyTicket",
            "ShowTicket OwnTicket ReassignTicket",
        ),
    ),
    "steal": Op(
        ("ticket", "steal", "{id}"),
        _needs(
            "ShowTicket OwnTicket StealTicket",
            "ShowTicket OwnTicket ModifyTicket",
            "ShowTicket OwnTicket ReassignTicket",
        ),
        owned=True,
    ),
    "give": Op(
        ("ticket", "give", "{id}", "bob"), _needs("ShowTicket ModifyTicket", "ShowTicket ReassignTicket")
    ),
    "watch": Op(
        ("ticket", "watcher", "add", "{id}", "Cc", "ann"),
        _needs("ShowTicket Watch", "ShowTicket ModifyTicket"),
    ),
    "watch as AdminCc": Op(
        ("ticket", "watcher", "add", "{id}", "AdminCc", "ann"),
        _needs("ShowTicket WatchAsAdminCc", "ShowTicket ModifyTicket"),
    ),
    "create": Op(
        ("ticket", "create", "--queue", "General", "--subject", "made by ann"),
        _needs("CreateTicket"),
        on_ticket=False,
    ),
}

# (principal, queue, reaches ann on her ticket, reaches ann when she creates one)
GRANTEES: dict[str, tuple[str, str | None, bool, bool]] = {
    "ann": ("user:ann", "General", True, True),
    "ann, globally": ("user:ann", None, True, True),
    "ann's group": ("group:Helpers", "General", True, True),
    "Everyone": ("role:Everyone", "General", True, True),
    "Privileged": ("role:Privileged", "General", True, True),
    "Requestor (ann is)": ("role:Requestor", "General", True, False),
    "Unprivileged": ("role:Unprivileged", "General", False, False),
    "Cc (ann is not)": ("role:Cc", "General", False, False),
    "Owner (ann is not)": ("role:Owner", "General", False, False),
    "another user": ("user:olga", "General", False, False),
    "another group": ("group:Others", "General", False, False),
    "ann, on another queue": ("user:ann", "Network", False, False),
}


@dataclass(frozen=True)
class Case:
    op: str
    base: frozenset[str]  # granted to ann on General
    right: str | None  # granted to `grantee`
    grantee: str | None
    extra: frozenset[str] = frozenset()  # rights no way of doing `op` needs, granted to ann too
    expect: bool = False

    @property
    def name(self) -> str:
        if self.right is None:
            return f"{self.op}: {'+'.join(sorted(self.base)) or 'nothing'} and every unneeded right"
        rest = "+".join(sorted(self.base))
        return f"{self.op}: {self.right} to {self.grantee}" + (f" (+{rest} to ann)" if rest else "")


def _cases() -> list[Case]:
    cases: list[Case] = []
    for name, op in OPS.items():
        needed_anywhere = frozenset().union(*op.needs)
        unneeded = frozenset(QUEUE_RIGHTS) - needed_anywhere
        for needs in op.needs:
            for right in sorted(needs):
                base = needs - {right}
                for grantee, (_, _, on_ticket, on_create) in GRANTEES.items():
                    reaches = on_ticket if op.on_ticket else on_create
                    cases.append(Case(name, base, right, grantee, expect=reaches))
                # The near miss: all but `right`, with every right the operation does not need.
                cases.append(Case(name, base, None, None, extra=unneeded - {right}, expect=False))
    unique = {(c.op, c.base, c.right, c.grantee, c.extra): c for c in cases}
    return list(unique.values())


CASES = _cases()


class Desk:
    """The table's desk: root, ann (an agent, the tickets' requestor), olga and bob (owners),
    groups Helpers (ann) and Others (olga); queues General and Network; nothing granted to ann."""

    def __init__(self, database) -> None:
        self.database = database
        with database.session() as s:
            root = open_context(s, "root")
            queues.create_queue(root, "General")
            queues.create_queue(root, "Network")
            for name in ("ann", "olga", "bob"):
                users.add_user(root, name, email=f"{name}@desk.example", privileged=True)
            users.add_group(root, "Helpers")
            users.set_membership(root, "Helpers", "ann", member=True)
            users.add_group(root, "Others")
            users.set_membership(root, "Others", "olga", member=True)
            for name in ("olga", "bob"):
                grants.grant(root, "OwnTicket", f"user:{name}")
                grants.grant(root, "ShowTicket", f"user:{name}")

    def tickets(self, owned: list[bool]) -> list[int]:
        """A fresh ticket for each case (olga's where `owned`), made in one session up front."""
        made_ids = []
        with self.database.session() as s, scrips_off(open_context(s, "root")) as root:
            for olgas in owned:
                made = create_ticket(
                    root,
                    TicketCreate(
                        queue="General",
                        subject="the table's ticket",
                        requestors=["ann@desk.example"],
                        owner="olga" if olgas else None,
                        message=MessageIn(body="public words"),
                    ),
                )
                comment(root, made.id, MessageIn(body=SECRET))
                made_ids.append(made.id)
        return made_ids

    def grants(self, case: Case) -> list[tuple[str, str, str | None]]:
        given = [(right, "user:ann", "General") for right in sorted(case.base | case.extra)]
        if case.right is not None and case.grantee is not None:
            principal, queue, _, _ = GRANTEES[case.grantee]
            given.append((case.right, principal, queue))
        return given

    def apply(self, given: list[tuple[str, str, str | None]]) -> list[int]:
        """The grants, written straight into the table (granting is not what is tested here, and
        the table grants thousands): their ids, for `take_back`."""
        ids = []
        with self.database.session() as s:
            for right, who, queue in given:
                kind, _, name = who.partition(":")
                row = s.execute(
                    text(
                        "INSERT INTO grants (right_name, principal_kind, user_id, group_id, role, queue_id)"
                        " VALUES (:right, CAST(:kind AS text),"
                        " (SELECT id FROM users WHERE name = :name AND CAST(:kind AS text) = 'user'),"
                        " (SELECT id FROM groups WHERE name = :name AND CAST(:kind AS text) = 'group'),"
                        " CASE WHEN CAST(:kind AS text) = 'role' THEN CAST(:name AS text) END,"
                        " (SELECT id FROM queues WHERE name = :queue)) RETURNING id"
                    ),
                    {"right": right, "kind": kind, "name": name, "queue": queue},
                ).scalar_one()
                ids.append(row)
            s.commit()
        return ids

    def take_back(self, ids: list[int]) -> None:
        with self.database.session() as s:
            s.execute(text("DELETE FROM grants WHERE id = ANY(:ids)"), {"ids": ids})
            s.commit()

    def state(self, ticket_id: int) -> tuple[Any, ...]:
        with self.database.session() as s:
            row = s.execute(
                text(
                    "SELECT t.version, t.status, t.owner_id, t.subject,"
                    " (SELECT count(*) FROM transactions x WHERE x.ticket_id = t.id),"
                    " (SELECT count(*) FROM watchers w WHERE w.ticket_id = t.id),"
                    " (SELECT count(*) FROM tickets WHERE subject = 'made by ann')"
                    " FROM tickets t WHERE t.id = :t"
                ),
                {"t": ticket_id},
            ).one()
            return tuple(row)


def cli_in_process(args: list[str]) -> Result:
    """`tessera ARGS` in this process: the program's own entry point, output captured."""
    from tessera.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    argv = sys.argv
    sys.argv = ["tessera", *args]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main.run()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    if code is None:
        code = 0
    return Result(code if isinstance(code, int) else 1, out.getvalue(), err.getvalue())


def _allowed(op: Op, result: Result, before: tuple[Any, ...], after: tuple[Any, ...], ticket_id: int) -> bool:
    """Did ann get what she asked for? A refusal must also leave no trace and say so in one line."""
    if op.read:
        if op.args[0] == "search":
            return result.code == 0 and f'"id": {ticket_id}' in result.out
        if "--history" in op.args:
            return result.code == 0 and SECRET in result.out
        return result.code == 0
    if result.code == 0:
        assert after != before, f"exit 0 but nothing changed: {result}"
        return True
    assert after == before, f"refused (exit {result.code}) but the ticket changed: {before} -> {after}"
    assert result.code in (4, 6), result  # not found (may not see it) or permission denied
    assert len([line for line in result.err.splitlines() if line.strip()]) == 1, result.err
    return False


def _built_once(get_command: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """typer's `get_command`, remembering what it built. typer converts the registered commands to
    click's on every call (~0.1 s for the `ticket` group): a `tessera` process pays it once, the
    table paid it once a case. Built again whenever a command group has been registered since."""
    built: dict[tuple[int, int, int], Any] = {}

    def get(app: Any) -> Any:
        key = (id(app), len(app.registered_groups), len(app.registered_commands))
        if key not in built:
            built[key] = get_command(app)
        return built[key]

    return get


@pytest.fixture
def table(database, monkeypatch) -> Iterator[Desk]:
    monkeypatch.setenv("TESSERA_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TESSERA_USER", "ann")
    with database.session() as s:
        from tessera.core.bootstrap import bootstrap

        bootstrap(s, "root")
    state._db = None
    monkeypatch.setattr(typer.main, "get_command", _built_once(typer.main.get_command))
    yield Desk(database)
    if state._db is not None:
        state._db.dispose()
    state._db = None


def _run_table(table: Desk, cases: list[Case], send: Callable[[str, int], Result]) -> list[str]:
    """Each case; `send(op, ticket_id)` does the operation as ann. The cases answered wrong."""
    wrong = []
    ticket_ids = table.tickets([OPS[case.op].owned for case in cases])
    for case, ticket_id in zip(cases, ticket_ids, strict=True):
        op = OPS[case.op]
        granted = table.apply(table.grants(case))
        try:
            before = table.state(ticket_id)
            result = send(case.op, ticket_id)
            after = table.state(ticket_id)
            got = _allowed(op, result, before, after, ticket_id)
        finally:
            table.take_back(granted)
        if got != case.expect:
            wrong.append(f"{case.name}: {'allowed' if got else 'refused'} ({result.err.strip() or 'exit 0'})")
    return wrong


def _cli(runner: Callable[[list[str]], Result]) -> Callable[[str, int], Result]:
    return lambda op, ticket_id: runner([a.replace("{id}", str(ticket_id)) for a in OPS[op].args])


def _figure(cases: list[Case]) -> str:
    reads = [c for c in cases if OPS[c.op].read]
    writes = [c for c in cases if not OPS[c.op].read]
    return (
        f"{len(cases)} cases (each right it needs x {len(GRANTEES)} kinds of grantee, and a near miss "
        f"each): 0 leaks in {sum(not c.expect for c in reads)} forbidden reads, 0 of "
        f"{sum(not c.expect for c in writes)} forbidden writes got through, 0 of "
        f"{sum(c.expect for c in cases)} granted ones refused"
    )


FAST = ("show", "reply")  # in the default run; the rest with the slow tests


@pytest.mark.parametrize("op", [pytest.param(op, marks=() if op in FAST else pytest.mark.slow) for op in OPS])
def test_the_rights_table_through_the_cli(table, op: str) -> None:
    cases = [c for c in CASES if c.op == op]
    wrong = _run_table(table, cases, _cli(cli_in_process))
    assert not wrong, f"{len(wrong)} of {len(cases)} cases wrong:\n" + "\n".join(wrong)
    print(f"fault: rights table, {op}: {_figure(cases)}")


@pytest.mark.slow
def test_the_real_program_answers_the_table_as_the_cli_in_process_does(table, cli_env) -> None:
    """One granted and one refused case of each operation, run as `tessera` processes."""
    env = {**cli_env, "TESSERA_USER": "ann"}
    sample = []
    for name in OPS:
        granted = next(c for c in CASES if c.op == name and c.grantee == "ann")
        refused = next(c for c in CASES if c.op == name and c.grantee == "Unprivileged")
        sample += [granted, refused]
    wrong = _run_table(table, sample, _cli(lambda args: run(args, env)))
    assert not wrong, "\n".join(wrong)
    print(f"fault: rights table, {len(sample)} cases through the real program: as in process")


# -- the same table through the HTTP API ------------------------------------------------------------

# What ann sends for each operation the API offers (watchers are the CLI's and the TUI's only):
# method, path, query parameters, JSON body.
API: dict[str, tuple[str, str, dict[str, str] | None, dict[str, str] | None]] = {
    "show": ("GET", "/tickets/{id}", None, None),
    "search": ("GET", "/tickets", {"query": "id = {id}"}, None),
    "read comments": ("GET", "/tickets/{id}/transactions", None, None),
    "reply": ("POST", "/tickets/{id}/reply", None, {"body": "hello"}),
    "comment": ("POST", "/tickets/{id}/comment", None, {"body": "note"}),
    "subject": ("PATCH", "/tickets/{id}", None, {"subject": "renamed"}),
    "status": ("PATCH", "/tickets/{id}", None, {"status": "open"}),
    "delete": ("PATCH", "/tickets/{id}", None, {"status": "deleted"}),
    "take": ("PATCH", "/tickets/{id}", None, {"owner": "ann"}),
    "steal": ("PATCH", "/tickets/{id}", None, {"owner": "ann"}),
    "give": ("PATCH", "/tickets/{id}", None, {"owner": "bob"}),
    "create": ("POST", "/tickets", None, {"queue": "General", "subject": "made by ann"}),
}
API_FAST = ("show", "reply")
# The API's answer in the CLI's terms, so that one judge (`_allowed`) rules on both.
API_EXIT = {404: 4, 403: 6}


@pytest.fixture
def api_as_ann(table, cli_env) -> Iterator[Callable[[str, int], Result]]:
    """A live `tessera api` on the table's desk, and a function sending operation OP on ticket ID as ann."""
    with table.database.session() as s:
        secret = tokens.add_token(open_context(s, "root"), "ann").secret
    process, base = start_server(cli_env)
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60)

    def send(op: str, ticket_id: int) -> Result:
        method, path, params, body = API[op]
        if params is not None:
            params = {k: v.replace("{id}", str(ticket_id)) for k, v in params.items()}
        response = client.request(method, path.replace("{id}", str(ticket_id)), params=params, json=body)
        if response.is_success:
            return Result(0, json.dumps(response.json()), "")
        detail = response.json().get("detail", response.text)
        if response.status_code == 422 and detail.startswith("unknown queue "):
            # A queue in the body that ann may not see is named as a missing one (no oracle): the
            # API calls that a bad body, 422, where the CLI says not found, exit 4.
            return Result(4, "", f"{detail}\n")
        assert response.status_code in API_EXIT, (response.status_code, detail)
        return Result(API_EXIT[response.status_code], "", f"{detail}\n")

    try:
        yield send
    finally:
        client.close()
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    "op", [pytest.param(op, marks=() if op in API_FAST else pytest.mark.slow) for op in API]
)
def test_the_rights_table_through_the_api(table, api_as_ann, op: str) -> None:
    cases = [c for c in CASES if c.op == op]
    method, path, _, _ = API[op]
    wrong = _run_table(table, cases, api_as_ann)
    assert not wrong, f"{len(wrong)} of {len(cases)} cases wrong:\n" + "\n".join(wrong)
    print(f"fault: rights table through the API, {op} ({method} {path}): {_figure(cases)}")
