"""No existence oracle: naming a queue, custom field or user the actor may not know answers exactly
as naming one that does not exist, in searches, completion and commands; the names other
probes reach (lifecycles, groups, saved searches) answer alike too. A guesser learns nothing.

The desk: a queue Secret (its own custom field "Payroll Code", a ticket) that agent gina may not
see (she works General), and a requestor rita who sees her own ticket in Network by her role."""

from __future__ import annotations

import pytest

from tessera.core import customfields, grants, listing, queues, tickets
from tessera.core.context import open_context
from tessera.core.errors import TesseraError
from tessera.core.schemas import TicketCreate
from tessera.core.search import service
from tessera.core.search.completion import suggestions
from tests.support.cli import run
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS
from tests.support.tui import FIXED_NOW, key, run_async, settle, until

MISSING = "Nowhere"


def _secret_desk(desk: Desk) -> dict[str, int]:
    root = desk.root
    queues.create_queue(root, "Secret", lifecycle="approvals")  # a lifecycle only Secret uses
    customfields.create_field(root, "Payroll Code", queue="Secret")
    customfields.create_field(root, "Asset Tag")
    secret = tickets.create_ticket(
        root, TicketCreate(queue="Secret", subject="payroll", custom_fields={"Asset Tag": "SECRET-1"})
    )
    desk.agent("gina", *AGENT_RIGHTS, queue="General")
    desk.agent("rita", privileged=False)
    grants.grant(root, "ShowTicket", "role:Requestor")
    own = desk.ticket(queue="Network", requestors=["rita@staff.example"])
    return {"secret": secret.id, "own": own.id, "secret_queue": secret.queue_id}


@pytest.fixture
def secret(desk: Desk) -> dict[str, int]:
    return _secret_desk(desk)


def _answer(ctx, query: str) -> tuple[str, str]:
    """('rows', ids) or ('error', message) with the probed name blanked out."""
    try:
        return "rows", repr(sorted(t.id for t in service.search(ctx, query)))
    except TesseraError as exc:
        ctx.session.rollback()
        return "error", exc.message


def _same(ctx, hidden_query: str, missing_query: str, hidden: str, missing: str = MISSING) -> None:
    got_hidden, got_missing = _answer(ctx, hidden_query), _answer(ctx, missing_query)
    assert (got_hidden[0], _blank(got_hidden[1], hidden)) == (
        got_missing[0],
        _blank(got_missing[1], missing),
    ), (got_hidden, got_missing)


def _blank(text: str, name: str) -> str:
    """`text` with the quoted name it echoes blanked, so two answers compare on everything else."""
    return text.replace(f"'{name}'", "'X'")


@pytest.mark.parametrize(
    ("template", "hidden", "missing"),
    [
        ("Queue = '{}'", "Secret", MISSING),
        ("Queue != '{}'", "Secret", MISSING),
        ("Queue = {}", "SECRET_ID", "99999"),
        ("CF.{{{}}} = 'x'", "Payroll Code", "Payroll Kode"),
        ("'CF.{{{}}}' IS NULL", "Payroll Code", "Payroll Kode"),
        ("Lifecycle = '{}'", "approvals", "nonesuch"),  # public by design: both simply match nothing
    ],
)
def test_an_agent_naming_what_they_may_not_see_hears_what_a_missing_name_gets(
    desk, secret, template: str, hidden: str, missing: str
) -> None:
    gina = desk.as_("gina")
    hidden = str(secret["secret_queue"]) if hidden == "SECRET_ID" else hidden
    _same(gina, template.format(hidden), template.format(missing), hidden, missing)


def test_a_near_miss_never_suggests_a_hidden_name(desk, secret) -> None:
    gina = desk.as_("gina")
    kind, message = _answer(gina, "CF.{Payroll Cod} = 'x'")
    assert kind == "error" and "Payroll Code" not in message
    kind, message = _answer(gina, "Queue = 'Secre'")
    assert kind == "error" and "Secret" not in message


def test_a_requestor_naming_people_learns_nothing_about_who_exists(desk, secret) -> None:
    rita = desk.as_("rita")
    for field in ("Owner", "Creator", "LastUpdatedBy"):
        _same(rita, f"{field} = 'gina'", f"{field} = 'ghost'", "gina", "ghost")
        _same(rita, f"{field} != 'gina'", f"{field} != 'ghost'", "gina", "ghost")
    assert _answer(rita, "Owner = 'rita'")[0] == "rows"  # herself she may name
    # An agent, who may list the desk's people anyway, is told of a typo.
    assert _answer(desk.as_("gina"), "Owner = 'ghost'")[0] == "error"


def test_a_requestor_names_the_queue_of_their_own_ticket_and_no_other(desk, secret) -> None:
    rita = desk.as_("rita")
    assert _answer(rita, "Queue = 'Network'") == ("rows", repr([secret["own"]]))
    _same(rita, "Queue = 'General'", f"Queue = '{MISSING}'", "General")
    _same(rita, "Queue = 'Secret'", f"Queue = '{MISSING}'", "Secret")


def test_commands_naming_a_hidden_queue_field_or_user_answer_as_for_a_missing_one(
    desk, secret, roots_search
) -> None:
    gina, rita = desk.as_("gina"), desk.as_("rita")

    def outcome(fn) -> str:
        try:
            fn()
        except TesseraError as exc:
            desk.session.rollback()
            return f"{type(exc).__name__}: {exc.message}"
        desk.session.rollback()
        return "done"

    def same(make, hidden: str, missing: str) -> None:
        a, b = outcome(lambda: make(hidden)), outcome(lambda: make(missing))
        assert _blank(a, hidden) == _blank(b, missing), (a, b)

    mine = desk.ticket()  # in General, where gina works
    same(lambda q: tickets.create_ticket(gina, TicketCreate(queue=q, subject="s")), "Secret", MISSING)
    same(lambda q: tickets.set_fields(gina, mine.id, {"queue": q}), "Secret", MISSING)
    same(lambda q: listing.list_tickets(gina, q), "Secret", MISSING)  # the TUI's queue pane
    same(lambda q: customfields.list_fields(gina, q), "Secret", MISSING)
    same(lambda f: tickets.set_fields(gina, mine.id, {f"cf.{f}": "1"}), "Payroll Code", "Payroll Kode")
    same(lambda u: tickets.set_fields(rita, secret["own"], {"owner": u}), "gina", "ghost")
    same(lambda s: service.get_saved(gina, s), "Roots Own", "Nobodys")  # root's private search
    assert "Payroll Code" not in [cf.name for cf in customfields.list_fields(gina)]
    assert "Secret" not in {row.queue for row in grants.list_grants(gina)}


@pytest.fixture
def roots_search(desk, secret) -> None:
    service.save_search(desk.root, "Roots Own", "Queue = 'Secret'")


def test_completion_offers_no_hidden_queue_field_or_value(desk, secret, roots_search) -> None:
    gina = desk.as_("gina")
    assert not [s for s in suggestions(gina, "CF.{Pay") if "Payroll" in s]
    assert "CF.{Asset Tag}" in suggestions(gina, "CF.{As")
    assert not [s for s in suggestions(gina, "Queue = 'S") if "Secret" in s]
    assert suggestions(gina, "CF.{Payroll Code} = '") == []
    # A value in use on a ticket she may not see is as private as the ticket.
    assert suggestions(gina, "CF.{Asset Tag} = 'SEC") == []
    assert suggestions(desk.root, "CF.{Asset Tag} = 'SEC") == ["'SECRET-1'"]


# -- through the real program and the TUI ---------------------------------------------------------


@pytest.fixture
def cli_secret(database, cli_env):
    from tests.support.desks import make_desk

    with database.session() as session:
        _secret_desk(make_desk(session))
    return {**cli_env, "TESSERA_USER": "gina"}


def test_cli_answers_a_hidden_name_as_a_missing_one(cli_secret) -> None:
    for hidden, missing, args in (
        ("Secret", MISSING, lambda q: ["search", f"Queue = '{q}'"]),
        ("Payroll Code", "Payroll Kode", lambda f: ["search", f"CF.{{{f}}} = 'x'"]),
        ("Secret", MISSING, lambda q: ["ticket", "create", "--queue", q, "--subject", "s"]),
        ("Secret", MISSING, lambda q: ["cf", "list", "--queue", q]),
    ):
        a, b = run(args(hidden), cli_secret), run(args(missing), cli_secret)
        assert (a.code, a.out, _blank(a.err, hidden)) == (b.code, b.out, _blank(b.err, missing))
        assert a.code != 0 and len(a.err.strip().splitlines()) == 1
    listed = run(["cf", "list"], cli_secret)
    assert listed.code == 0 and "Payroll Code" not in listed.out and "Secret" not in listed.out


@run_async
async def test_tui_completion_offers_no_hidden_queue_or_field(database, tui_desk) -> None:
    from textual.widgets import OptionList

    from tessera.tui.app import TesseraApp
    from tessera.tui.search_screens import SearchScreen

    with database.session() as session:
        _secret_desk(_bare(session))
    app = TesseraApp(lambda: database, user="gina", clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = pilot.app.main
        await screen.ready.wait()
        await settle(pilot)
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        options = app.screen.query_one("#search-suggestions", OptionList)
        await pilot.press(*"CF.{")
        await until(pilot, lambda: options.option_count > 0)
        offered = {str(options.get_option_at_index(i).id) for i in range(options.option_count)}
        assert "CF.{Asset Tag}" in offered and "CF.{Payroll Code}" not in offered
        await pilot.press(*"Asset Tag} = 'SEC")
        await settle(pilot)
        assert options.option_count == 0


def _bare(session):
    """The desk on a session whose queues General and Network `build_desk` made already."""
    return Desk(session=session, root=open_context(session, "root"))


def test_api_answers_a_hidden_queue_as_a_missing_one(api) -> None:
    with api.client(api.viewer) as viewer:  # may see General only
        for request in (
            lambda q: viewer.get("/tickets", params={"query": f"Queue = '{q}'"}),
            lambda q: viewer.get("/tickets", params={"queue": q}),
            lambda q: viewer.post("/tickets", json={"queue": q, "subject": "s"}),
        ):
            hidden, missing = request("Secret"), request(MISSING)
            assert hidden.status_code == missing.status_code and hidden.status_code >= 400, hidden.text
            assert _blank(hidden.json()["detail"], "Secret") == _blank(missing.json()["detail"], MISSING)


def test_api_answers_a_hidden_custom_field_and_a_hidden_queue_in_a_change_as_missing_ones(
    api, database
) -> None:
    with database.session() as session:  # the viewer may change General's tickets, so a change gets as far
        grants.grant(open_context(session, "root"), "ModifyTicket", "user:viewer", "General")  # as the names
    with api.client(api.root) as root:
        made = root.post("/custom-fields", json={"name": "Payroll Code", "queue": "Secret"})
        assert made.status_code == 201, made.text
        ticket = root.post("/tickets", json={"queue": "General", "subject": "in view"})
        assert ticket.status_code == 201, ticket.text
    url = f"/tickets/{ticket.json()['id']}"
    with api.client(api.viewer) as viewer:  # may see General only
        for hidden, missing, request in (
            (
                "Payroll Code",
                "Payroll Kode",
                lambda f: viewer.get("/tickets", params={"query": f"CF.{{{f}}} = 'x'"}),
            ),
            ("Payroll Code", "Payroll Kode", lambda f: viewer.patch(url, json={f"CF.{f}": "1"})),
            ("Secret", MISSING, lambda q: viewer.get("/custom-fields", params={"queue": q})),
            ("Secret", MISSING, lambda q: viewer.patch(url, json={"queue": q})),
        ):
            a, b = request(hidden), request(missing)
            assert a.status_code == b.status_code and a.status_code >= 400, (a.text, b.text)
            assert _blank(a.json()["detail"], hidden) == _blank(b.json()["detail"], missing)
        listed = viewer.get("/custom-fields")
        assert listed.status_code == 200 and "Payroll Code" not in listed.text
