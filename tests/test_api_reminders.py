"""Reminders from the API (issue 20, point 7), as `tessera ticket reminder add|list|resolve|open`:
added with an owner and a due date, listed with the ticket, resolved and reopened by the
lifecycle's reminder defaults, each change a transaction; refusals are one-line problems."""

from __future__ import annotations

from tests.support.api import Api


def test_the_api_adds_lists_resolves_and_reopens_reminders(api: Api) -> None:
    with api.client(api.agent) as client:
        tid = client.post("/tickets", json={"queue": "General", "subject": "x", "body": "b"}).json()["id"]
        made = client.post(
            f"/tickets/{tid}/reminders",
            json={"subject": "Call the vendor", "owner": "agent", "due": "2030-01-02"},
        )
        assert made.status_code == 201, made.text
        reminder = made.json()
        assert reminder["subject"] == "Call the vendor" and reminder["owner"] == "agent"
        assert reminder["status"] == "open" and reminder["due"].startswith("2030-01-02")
        listed = client.get(f"/tickets/{tid}/reminders").json()
        assert [r["id"] for r in listed] == [reminder["id"]]
        assert client.get(f"/tickets/{tid}").json()["reminders"] == listed
        done = client.post(f"/tickets/{tid}/reminders/{reminder['id']}/resolve")
        assert done.status_code == 200 and done.json()["status"] == "resolved" and done.json()["resolved"]
        again = client.post(f"/tickets/{tid}/reminders/{reminder['id']}/open")
        assert again.status_code == 200 and again.json()["status"] == "open"
        history = client.get(f"/tickets/{tid}/transactions").json()["transactions"]
        assert [t["type"] for t in history][-3:] == ["AddReminder", "ResolveReminder", "OpenReminder"]
        # Refusals: a missing reminder, an unknown owner, a bad date; one line each.
        missing = client.post(f"/tickets/{tid}/reminders/999999/resolve")
        assert missing.status_code == 404 and "no reminder #999999" in missing.json()["detail"]
        nobody = client.post(f"/tickets/{tid}/reminders", json={"subject": "s", "owner": "ghost"})
        assert nobody.status_code == 422 and "\n" not in nobody.json()["detail"]
        bad = client.post(f"/tickets/{tid}/reminders", json={"subject": "s", "due": "someday maybe"})
        assert bad.status_code == 422 and "due" in bad.json()["detail"]
    with api.client(api.viewer) as viewer:  # may see General, may not change it
        refused = viewer.post(f"/tickets/{tid}/reminders", json={"subject": "s"})
        assert refused.status_code == 403, refused.text
