"""The HTTP API against a real `tessera api` process on loopback and a real PostgreSQL: tokens,
rights (401/403/404), the CLI's JSON shapes, ETag/If-Match, problem+json errors, idempotent
intake, dedup keys, replies with attachments, history paging and the live event stream."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.api import Api
from tests.support.cli import run


def _problem(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and isinstance(body["detail"], str) and "\n" not in body["detail"]
    assert "Traceback" not in response.text and "sqlalche" not in response.text
    for word in words:
        assert word in body["detail"], body
    return body


def test_tokens_decide_who_acts_and_what_they_may_see(api: Api, cli_env) -> None:
    with api.client(None) as anonymous:
        _problem(anonymous.get("/tickets/1"), 401, "bearer")
    with api.client("tsr_not-a-real-token") as bad:
        _problem(bad.get("/queues"), 401, "unknown")
    with api.client(api.agent) as agent:
        made = agent.post("/tickets", json={"queue": "Secret", "subject": "payroll"})
        assert made.status_code == 201, made.text
    with api.client(api.viewer) as viewer:
        missing = _problem(viewer.get("/tickets/999"), 404)
        hidden = _problem(viewer.get(f"/tickets/{made.json()['id']}"), 404)
        assert hidden["detail"].replace(made.json()["display_id"], "X") == missing["detail"].replace(
            "TKT-0999", "X"
        ), "a ticket the user may not see reads exactly as a missing one"
        _problem(viewer.post("/tickets", json={"queue": "General", "subject": "x"}), 403, "CreateTicket")
        assert [q["name"] for q in viewer.get("/queues").json()] == ["General"]
    listed = run(["user", "token", "list", "--json"], {**cli_env, "TESSERA_USER": "root"})
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)
    assert {r["user"] for r in rows} == {"root", "agent", "viewer"}
    assert all(r["last_used"] for r in rows if r["user"] in ("agent", "viewer")), "last use is recorded"
    assert all("token" not in r for r in rows), "a listed token never shows the token itself"
    revoked = run(
        ["user", "token", "revoke", "viewer", rows[-1]["prefix"]], {**cli_env, "TESSERA_USER": "root"}
    )
    assert revoked.code == 0, revoked.err
    with api.client(api.viewer) as viewer:
        _problem(viewer.get("/queues"), 401, "revoked")


def test_ticket_json_is_the_clis_and_if_match_refuses_a_stale_change(api: Api, cli_env) -> None:
    with api.client(api.agent) as agent:
        made = agent.post(
            "/tickets",
            json={
                "queue": "General",
                "subject": "printer",
                "requestors": ["ann@example.com"],
                "body": "jammed",
            },
        )
        assert made.status_code == 201 and made.headers["Location"] == f"/tickets/{made.json()['id']}"
        etag = made.headers["ETag"]
        by_display = agent.get(f"/tickets/{made.json()['display_id']}")
        cli = run(
            ["ticket", "show", made.json()["display_id"], "--json"], {**cli_env, "TESSERA_USER": "agent"}
        )
        assert by_display.json() == json.loads(cli.out), "the API answers the CLI's JSON"
        changed = agent.patch(
            f"/tickets/{made.json()['id']}", json={"priority": 5}, headers={"If-Match": etag}
        )
        assert changed.status_code == 200 and changed.json()["priority"] == 5
        assert changed.headers["ETag"] != etag
        stale = agent.patch(f"/tickets/{made.json()['id']}", json={"priority": 9}, headers={"If-Match": etag})
        _problem(stale, 412, "changed since")
        assert agent.get(f"/tickets/{made.json()['id']}").json()["priority"] == 5, (
            "a refused change wrote nothing"
        )
        free = agent.patch(f"/tickets/{made.json()['id']}", json={"status": "open", "cf.Nope": "x"})
        _problem(free, 422, "Nope")
        assert agent.get(f"/tickets/{made.json()['id']}").json()["status"] == "new", "all or nothing"
        plain = agent.patch(f"/tickets/{made.json()['id']}", json={"status": "open"})
        assert plain.status_code == 200 and plain.json()["status"] == "open"
        _problem(agent.patch(f"/tickets/{made.json()['id']}", json={"status": "bogus"}), 422, "bogus")


def test_a_patch_that_moves_the_ticket_out_of_the_callers_sight_answers_200_saying_so(
    api: Api, cli_env
) -> None:
    """The move committed: 200 with the ticket's id and `visible: false`, no ETag (there is no
    version for the caller to send), not a 404 for a ticket the caller just changed."""
    assert run(["right", "grant", "ModifyTicket", "user:viewer", "--queue", "General"], cli_env).code == 0
    # May put tickets in Secret, not see them there.
    assert run(["right", "grant", "CreateTicket", "user:viewer", "--queue", "Secret"], cli_env).code == 0
    with api.client(api.agent) as agent:
        made = agent.post("/tickets", json={"queue": "General", "subject": "payroll", "body": "x"}).json()
    with api.client(api.viewer) as viewer:
        moved = viewer.patch(f"/tickets/{made['id']}", json={"queue": "Secret"})
        assert moved.status_code == 200, moved.text
        assert moved.json() == {
            "id": made["id"],
            "display_id": made["display_id"],
            "visible": False,
            "note": f"{made['display_id']} is now out of your sight (you may no longer see it)",
        }
        assert "ETag" not in moved.headers
        assert viewer.get(f"/tickets/{made['id']}").status_code == 404  # out of sight indeed
    with api.client(api.agent) as agent:
        assert agent.get(f"/tickets/{made['id']}").json()["queue"] == "Secret"


def test_changes_whose_scrip_takes_the_ticket_out_of_sight_answer_as_made(api: Api, database) -> None:
    """olga sees General's tickets only as their owner, and a scrip gives every changed ticket back
    to Nobody: reply, comment, forward, watchers and squelch each commit, so each answers its
    success status with `visible: false` and no ETag (they answered 404 after the change)."""
    from tessera.core import grants, queues, tokens, users
    from tessera.core.context import open_context
    from tessera.core.models import Scrip
    from tessera.core.schemas import MessageIn, TicketCreate
    from tessera.core.tickets import create_ticket

    calls = [
        ("reply", {"body": "done"}, 201),
        ("comment", {"body": "noted"}, 201),
        ("reply?key", {"body": "done"}, 201),  # with an Idempotency-Key: read after the scrips too
        ("forward", {"to": ["vendor@elsewhere.example"]}, 201),
        ("watchers", {"role": "Cc", "who": "pat@customer.example"}, 200),
        ("watchers/remove", {"role": "Requestor", "who": "customer@example.com"}, 200),
        ("squelch", {"addresses": ["customer@example.com"]}, 200),
    ]
    with database.session() as s:
        root = open_context(s, "root")
        users.add_user(root, "olga", email="olga@desk.example", privileged=True)
        for right in ("ModifyTicket", "ReplyToTicket", "CommentOnTicket", "ForwardMessage", "OwnTicket"):
            grants.grant(root, right, "user:olga", "General")
        grants.grant(root, "ShowTicket", "role:Owner", "General")
        token = tokens.add_token(root, "olga").secret
        made = [
            create_ticket(
                root,
                TicketCreate(
                    queue="General",
                    subject=path.removesuffix("?key"),
                    owner="olga",
                    requestors=["customer@example.com"],
                    message=MessageIn(body="x"),
                ),
            ).id
            for path, _, _ in calls
        ]
        general = queues.get_queue(root, "General").id
        s.add(Scrip(description="give it back", queue_id=general, stage="TransactionCreate",
                    sort_order=1, enabled=True, condition="OnTransaction", action="SetOwner",
                    action_argument="Nobody"))  # fmt: skip
        s.commit()
    with api.client(token) as olga:
        for ticket_id, (path, body, status) in zip(made, calls, strict=True):
            key = {"Idempotency-Key": f"k{ticket_id}"} if path.endswith("?key") else {}
            answer = olga.post(f"/tickets/{ticket_id}/{path.removesuffix('?key')}", json=body, headers=key)
            assert answer.status_code == status, (path, answer.text)
            shown = f"TKT-{ticket_id:04d}"
            assert answer.json() == {
                "id": ticket_id,
                "display_id": shown,
                "visible": False,
                "note": f"{shown} is now out of your sight (you may no longer see it)",
            }, path
            assert "ETag" not in answer.headers, path
            assert olga.get(f"/tickets/{ticket_id}").status_code == 404, path
    with api.client(api.agent) as agent:
        assert {agent.get(f"/tickets/{t}").json()["owner"] for t in made} == {None}


def test_bad_requests_are_problems_naming_the_field(api: Api) -> None:
    with api.client(api.agent) as agent:
        raw = agent.post("/tickets", content=b"{not json", headers={"content-type": "application/json"})
        _problem(raw, 400, "JSON")
        _problem(agent.post("/tickets", json={"subject": "no queue"}), 422, "queue")
        _problem(agent.post("/tickets", json={"queue": "General", "colour": "red"}), 422, "colour")
        _problem(agent.post("/tickets", json={"queue": "General", "priority": "high"}), 422, "priority")
        _problem(agent.post("/tickets", json={"queue": "General", "priority": 2**40}), 422, "priority")
        _problem(agent.post("/tickets", json={"queue": "General", "subject": "x" * 5000}), 422, "subject")
        _problem(agent.post("/tickets", json={"queue": "Nowhere"}), 422)
        _problem(agent.get("/tickets", params={"query": "Statsu = 'open'"}), 422, "Statsu")
        _problem(agent.get("/tickets", params={"cursor": "garbage!"}), 422, "cursor")
        _problem(agent.get("/no/such/thing"), 404, "no such endpoint")
        _problem(agent.get("/custom-fields", params={"queue": "a\x00b"}), 422)  # a NUL PostgreSQL cannot hold
        huge = agent.post(
            "/tickets", content=b"x" * (26_214_400 + 10), headers={"content-type": "application/json"}
        )
        _problem(huge, 413, "limit")


def test_a_patch_takes_its_values_as_json_gives_them(api: Api) -> None:
    """true/false or a fraction is no field value (not 1); a key is a field's name whole (not
    `subject=x` setting the subject to "x=..."); a list is a custom field's values, each whole."""
    with api.client(api.root) as root:
        made = root.post("/custom-fields", json={"name": "Vendors", "multiple": True})
        assert made.status_code == 201, made.text
        tid = root.post("/tickets", json={"queue": "General", "subject": "laptops"}).json()["id"]
        _problem(root.patch(f"/tickets/{tid}", json={"priority": True}), 422, "priority", "true/false")
        made_true = root.post("/tickets", json={"queue": "General", "subject": "x", "priority": True})
        _problem(made_true, 422, "priority", "true/false")
        reply_false = root.post(f"/tickets/{tid}/reply", json={"body": "x", "time_taken": False})
        _problem(reply_false, 422, "time_taken")
        _problem(root.patch(f"/tickets/{tid}", json={"priority": 1.5}), 422, "priority", "fraction")
        _problem(root.post(f"/tickets/{tid}/preview", json={"changes": {"priority": False}}), 422, "priority")
        _problem(root.patch(f"/tickets/{tid}", json={"subject=x": "y"}), 422, "'subject=x' is not a field")
        _problem(root.patch(f"/tickets/{tid}", json={"status": ["open", "resolved"]}), 422, "not a list")
        _problem(root.patch(f"/tickets/{tid}", json={"Priority": 1, "priority": 2}), 422, "twice")
        after = root.get(f"/tickets/{tid}").json()
        assert (after["subject"], after["priority"], after["version"]) == ("laptops", 0, 1), "nothing changed"
        changed = root.patch(f"/tickets/{tid}", json={"cf.Vendors": ["Dell, Inc.", "HP"], "priority": 3})
        assert changed.status_code == 200, changed.text
        assert changed.json()["custom_fields"]["Vendors"] == ["Dell, Inc.", "HP"]
        assert changed.json()["priority"] == 3


def test_a_retried_post_with_an_idempotency_key_creates_nothing_twice(api: Api) -> None:
    body = {"queue": "General", "subject": "retry me", "body": "once"}

    def post(_: int) -> httpx.Response:
        with api.client(api.agent) as agent:
            return agent.post("/tickets", json=body, headers={"Idempotency-Key": "form-42"})

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(post, range(8)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["id"] for r in replies}) == 1, "eight concurrent retries, one ticket"
    assert [r.headers["Idempotency-Replayed"] for r in replies].count("false") == 1
    with api.client(api.agent) as agent:
        found = agent.get("/tickets", params={"query": "Subject = 'retry me'"}).json()["tickets"]
        assert len(found) == 1
        other = agent.post(
            "/tickets", json={**body, "subject": "else"}, headers={"Idempotency-Key": "form-42"}
        )
        _problem(other, 422, "different request")


def test_a_post_with_an_idempotency_key_answers_the_ticket_as_its_scrips_left_it(api: Api, database) -> None:
    """With a key, a create and a reply answered (and stored for replays) the ticket as it was
    before their scrips ran: priority 0 where a scrip had set 7 or 42, and an ETag older than the
    ticket's, which the next If-Match change was refused for. Now the same as without a key."""
    from tessera.core import queues
    from tessera.core.context import open_context
    from tessera.core.models import Scrip

    with database.session() as s:
        general = queues.get_queue(open_context(s, "root"), "General").id
        for condition, priority in (("OnCreate", "7"), ("OnCorrespond", "42")):
            s.add(Scrip(description=condition, queue_id=general, stage="TransactionCreate",
                        sort_order=1, enabled=True, condition=condition, action="SetPriority",
                        action_argument=priority))  # fmt: skip
        s.commit()
    with api.client(api.agent) as agent:
        key = {"Idempotency-Key": "made-1"}
        made = agent.post("/tickets", json={"queue": "General", "subject": "x", "body": "y"}, headers=key)
        assert made.status_code == 201 and made.json()["priority"] == 7, made.text
        shown = agent.get(f"/tickets/{made.json()['id']}")
        assert made.headers["ETag"] == shown.headers["ETag"] and made.json() == shown.json()
        for _ in range(2):  # the first answer, then its replay
            replied = agent.post(
                f"/tickets/{made.json()['id']}/reply",
                json={"body": "z"},
                headers={"Idempotency-Key": "reply-1"},
            )
            assert replied.status_code == 201 and replied.json()["priority"] == 42, replied.text
            assert replied.headers["ETag"] == agent.get(f"/tickets/{made.json()['id']}").headers["ETag"]
        assert replied.headers["Idempotency-Replayed"] == "true"
        changed = agent.patch(
            f"/tickets/{made.json()['id']}",
            json={"subject": "w"},
            headers={"If-Match": replied.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text


def test_a_dedup_key_adds_repeats_to_the_active_ticket_then_opens_a_new_one(api: Api) -> None:
    alert = {"queue": "General", "subject": "disk /var 95%", "body": "first", "dedup_key": "host1:disk"}

    def post(i: int) -> httpx.Response:
        with api.client(api.agent) as agent:
            return agent.post("/tickets", json={**alert, "body": f"repeat {i}"})

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(post, range(6)))
    assert sorted(r.status_code for r in replies) == [200] * 5 + [201], "one opens, the rest are added"
    ticket_id = {r.json()["id"] for r in replies}
    assert len(ticket_id) == 1, "concurrent repeats of one key never open two tickets"
    (tid,) = ticket_id
    with api.client(api.agent) as agent:
        history = agent.get(f"/tickets/{tid}/transactions").json()["transactions"]
        assert sum(t["type"] in ("Create", "Correspond") for t in history) == 6
        assert agent.patch(f"/tickets/{tid}", json={"status": "resolved"}).status_code == 200
        again = agent.post("/tickets", json=alert)
        assert again.status_code == 201 and again.json()["id"] != tid, "inactive: a repeat opens a new ticket"


def test_reply_and_comment_take_json_or_multipart_attachments(api: Api) -> None:
    with api.client(api.agent) as agent:
        tid = agent.post("/tickets", json={"queue": "General", "subject": "logs"}).json()["id"]
        data = base64.b64encode(b"\x00\x01binary").decode()
        reply = agent.post(
            f"/tickets/{tid}/reply",
            json={"body": "see attached", "attachments": [{"filename": "a.bin", "content_base64": data}]},
        )
        assert reply.status_code == 201, reply.text
        comment = agent.post(
            f"/tickets/{tid}/comment",
            data={"body": "internal note"},
            files={"file": ("trace.txt", b"line 1\n", "text/plain")},
        )
        assert comment.status_code == 201, comment.text
        history = agent.get(f"/tickets/{tid}/transactions").json()["transactions"]
        kinds = [(t["type"], [a["filename"] for a in (t.get("message") or {}).get("attachments", [])])
                 for t in history]  # fmt: skip
        assert ("Correspond", ["a.bin"]) in kinds and ("Comment", ["trace.txt"]) in kinds
        _problem(agent.post(f"/tickets/{tid}/reply", json={"body": ""}), 422, "no message")
        bad = agent.post(
            f"/tickets/{tid}/reply",
            json={"body": "x", "attachments": [{"filename": "a", "content_base64": "%%"}]},
        )
        _problem(bad, 422, "base64")


def test_pages_follow_the_next_link_without_gaps_or_repeats(api: Api) -> None:
    with api.client(api.agent) as agent:
        made = [
            agent.post("/tickets", json={"queue": "General", "subject": f"page {i}"}).json()["id"]
            for i in range(7)
        ]
        seen: list[int] = []
        url: str | None = "/tickets?limit=3&queue=General"
        while url:
            page = agent.get(url).json()
            seen += [t["id"] for t in page["tickets"]]
            url = page["next"]
        assert seen == made
        ordered = []
        url = "/tickets?limit=2&order_by=Subject%20DESC"
        while url:
            page = agent.get(url).json()
            ordered += [t["subject"] for t in page["tickets"]]
            url = page["next"]
        assert ordered == sorted((f"page {i}" for i in range(7)), reverse=True)


def test_preview_runs_the_scrips_dry_and_changes_nothing(api: Api) -> None:
    with api.client(api.agent) as agent:
        tid = agent.post(
            "/tickets", json={"queue": "General", "subject": "x", "requestors": ["ann@example.com"]}
        ).json()["id"]
        plan = agent.post(f"/tickets/{tid}/preview", json={"changes": {"status": "resolved"}})
        assert plan.status_code == 200, plan.text
        assert {"ticket", "changes", "scrips", "messages"} <= set(plan.json())
        assert agent.get(f"/tickets/{tid}").json()["status"] == "new"


def test_the_event_stream_shows_visible_changes_and_resumes_from_last_event_id(api: Api) -> None:
    got: list[dict] = []
    ready = threading.Event()

    def listen(last: str | None, want: int) -> list[dict]:
        headers = {"Authorization": f"Bearer {api.viewer}"}
        if last:
            headers["Last-Event-ID"] = last
        out: list[dict] = []
        with httpx.stream("GET", f"{api.base}/events", headers=headers, timeout=30) as stream:
            ready.set()
            current: dict = {}
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    current["id"] = line[4:]
                elif line.startswith("data: "):
                    current["data"] = json.loads(line[6:])
                    out.append(current)
                    current = {}
                    if len(out) >= want:
                        return out
        return out

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(listen, None, 2)
        assert ready.wait(30)  # the headers came: the stream fixed its starting point before sending them
        with api.client(api.agent) as agent:
            agent.post("/tickets", json={"queue": "Secret", "subject": "hidden"})
            tid = agent.post("/tickets", json={"queue": "General", "subject": "shown"}).json()["id"]
            agent.patch(f"/tickets/{tid}", json={"priority": 3})
        got = first.result(timeout=60)
    assert [e["data"]["ticket"] for e in got] == [tid, tid], "the Secret ticket is not in the viewer's stream"
    assert [e["data"]["type"] for e in got] == ["Create", "Set"]
    with api.client(api.agent) as agent:
        agent.post(f"/tickets/{tid}/reply", json={"body": "later"})
    resumed = listen(got[0]["id"], 2)
    assert [e["data"]["type"] for e in resumed] == ["Set", "Correspond"], "resumed after the first event"


def test_a_last_event_id_no_event_can_have_starts_the_stream_from_now(api: Api) -> None:
    """Past PostgreSQL's bigint (or a digit int() cannot read): the stream's first read failed
    after its 200 was sent, and the client saw the connection drop with no event, ever."""
    from tests.support.api import server_output

    for last in (b"99999999999999999999", "\u00b2".encode("latin-1")):
        headers = {"Authorization": f"Bearer {api.agent}".encode(), "Last-Event-ID": last}
        with httpx.stream("GET", f"{api.base}/events", headers=headers, timeout=30) as stream:
            assert stream.status_code == 200
            with api.client(api.agent) as agent:
                tid = agent.post("/tickets", json={"queue": "General", "subject": "after"}).json()["id"]
            data = next(line for line in stream.iter_lines() if line.startswith("data: "))
            assert json.loads(data[6:])["ticket"] == tid
    assert "Traceback" not in server_output(api.process)


def test_a_message_body_nested_past_the_parser_is_a_400_not_a_500(api: Api) -> None:
    deep = b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with api.client(api.agent) as agent:
        tid = agent.post("/tickets", json={"queue": "General", "subject": "deep"}).json()["id"]
        for kind in ("reply", "comment"):
            sent = agent.post(
                f"/tickets/{tid}/{kind}", content=deep, headers={"content-type": "application/json"}
            )
            _problem(sent, 400, "nested too deeply")


def test_admin_endpoints_use_the_clis_rules(api: Api) -> None:
    with api.client(api.root) as root, api.client(api.agent) as agent:
        _problem(agent.post("/queues", json={"name": "Ops"}), 403, "AdminQueue")
        made = root.post("/queues", json={"name": "Ops", "description": "servers"})
        assert made.status_code == 201 and made.json()["name"] == "Ops"
        _problem(root.post("/queues", json={"name": "ops"}), 422, "already exists")
        cf = root.post("/custom-fields", json={"name": "Host", "queue": "Ops"})
        assert cf.status_code == 201 and cf.json()["queue"] == "Ops"
        assert any(f["name"] == "Host" for f in root.get("/custom-fields").json())
        bad = root.post("/lifecycles", json={"definition": "name: x\nstatuses: {initial: [new]}\n"})
        _problem(bad, 422)
        names = [lc["name"] for lc in root.get("/lifecycles").json()]
        assert "default" in names
        scrips = root.get("/scrips").json()
        assert scrips, "RT's default scrips are listed"
        first = scrips[0]["id"]
        toggled = root.patch(f"/scrips/{first}", json={"enabled": False})
        assert toggled.status_code == 200 and toggled.json()["spec"]["enabled"] is False
        _problem(root.patch(f"/scrips/{first}", json={"colour": "red"}), 422, "colour")
        assert root.get("/templates").status_code == 200
        _problem(agent.get("/scrips"), 403)


def test_custom_fields_are_changed_disabled_and_enabled_as_cf_set_does(api: Api) -> None:
    """PATCH /custom-fields/{name}, POST /custom-fields/disable and /enable go through core's
    customfield_admin (as `tessera cf set|disable|enable`): AdminCustomField, one-line 4xx that
    name what is wrong and change nothing, several fields in one transaction."""
    with api.client(api.root) as root, api.client(api.agent) as agent:
        made = root.post(
            "/custom-fields", json={"name": "Severity", "type": "select", "values": ["low", "high"]}
        )
        assert made.status_code == 201, made.text
        _problem(agent.patch("/custom-fields/Severity", json={"description": "x"}), 403, "AdminCustomField")
        _problem(agent.post("/custom-fields/disable", json={"names": ["Severity"]}), 403, "AdminCustomField")
        changed = root.patch(
            "/custom-fields/severity",
            json={"name": "Impact", "description": "How bad", "queue": "General", "values": ["high", "low"]},
        )
        assert changed.status_code == 200, changed.text
        assert {k: changed.json()[k] for k in ("name", "description", "queue", "values", "disabled")} == {
            "name": "Impact",
            "description": "How bad",
            "queue": "General",
            "values": ["high", "low"],
            "disabled": False,
        }
        _problem(root.patch("/custom-fields/Nope", json={"description": "x"}), 404, "Nope")
        _problem(root.patch("/custom-fields/Impact", json={"queue": "Nowhere"}), 422, "Nowhere")
        _problem(root.patch("/custom-fields/Impact", json={"type": "integer"}), 422, "type")
        _problem(root.patch("/custom-fields/Impact", json={"pattern": "["}), 422, "pattern")
        _problem(root.patch("/custom-fields/Impact", json={"values": []}), 422, "at least one")
        _problem(root.patch("/custom-fields/Impact", json={}), 422, "nothing to change")
        assert root.patch("/custom-fields/Impact", json={"queue": None}).json()["queue"] is None  # global
        assert root.get("/custom-fields").json()[0]["pattern"] is None  # nothing of the refusals was kept
        ticket = agent.post("/tickets", json={"queue": "General", "subject": "x"}).json()["id"]
        root.post("/custom-fields", json={"name": "In/Out"})  # a name with a slash, %2F in the path
        both = root.post("/custom-fields/disable", json={"names": ["Impact", "In/Out"]})
        assert [(f["name"], f["disabled"]) for f in both.json()] == [("Impact", True), ("In/Out", True)]
        _problem(agent.patch(f"/tickets/{ticket}", json={"cf.Impact": "low"}), 422, "Impact")
        # Nothing of a refused enable is made: Nope is unknown, so Impact stays disabled.
        _problem(root.post("/custom-fields/enable", json={"names": ["Impact", "Nope"]}), 422, "Nope")
        assert [f["disabled"] for f in root.get("/custom-fields").json()] == [True, True]
        again = root.post("/custom-fields/enable", json={"names": ["impact"]})
        assert [(f["name"], f["disabled"]) for f in again.json()] == [("Impact", False)]
        assert root.patch("/custom-fields/In%2FOut", json={"disabled": False}).json()["disabled"] is False
        assert agent.patch(f"/tickets/{ticket}", json={"cf.Impact": "low"}).status_code == 200


def test_health_reports_the_schema_and_the_outbox(api: Api) -> None:
    health = httpx.get(f"{api.base}/health").json()
    assert health["status"] == "ok" and health["schema"]["up_to_date"] is True
    assert set(health["outbox"]) == {"pending", "oldest_pending_seconds", "failed"}


def test_openapi_describes_every_endpoint(api: Api) -> None:
    spec = httpx.get(f"{api.base}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    paths = [
        "/health",
        "/tickets",
        "/queues",
        "/scrips",
        "/templates",
        "/custom-fields",
        "/lifecycles",
        "/events",
    ]
    paths += [f"/tickets/{{ticket}}{end}" for end in ("", "/preview", "/reply", "/comment", "/transactions")]
    for path in paths:
        assert path in spec["paths"], path


def test_transactions_show_each_recipient_of_the_mail_they_sent(api: Api, cli_env) -> None:
    from tests.support.net import free_port
    from tests.support.smtp import SmtpServer, smtp_env

    smtp = SmtpServer(free_port()).start()
    smtp.answers["bad@example.com"] = "550 5.1.1 no such user"
    try:
        with api.client(api.agent) as agent:
            people = ["good@example.com", "bad@example.com"]
            wanted = {"queue": "General", "subject": "mail", "requestors": people}
            made = agent.post("/tickets", json=wanted)
            assert made.status_code == 201, made.text
            tid = made.json()["id"]
            worker = run(["worker", "--once"], {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"})
            assert worker.code == 0, worker.err
            history = agent.get(f"/tickets/{tid}/transactions").json()["transactions"]
    finally:
        smtp.stop()
    create = next(t for t in history if t["type"] == "Create")
    [mail] = create["outgoing"]
    assert mail["state"] == "failed"
    assert [(r["address"], r["state"], r["code"]) for r in mail["recipients"]] == [
        ("good@example.com", "accepted", 250),
        ("bad@example.com", "refused", 550),
    ]
    assert mail["recipients"][1]["reply"] == "550 5.1.1 no such user"
    failed = [t for t in history if t["type"] == "DeliveryFailed"]
    assert len(failed) == 1 and failed[0]["data"]["refused"][0]["address"] == "bad@example.com"
