"""The review step before a message goes out, and the rendering of a scrip dry-run.

A reply is mail to a stranger: like aerc and mutt, Tessera shows it as it will go, with what the
scrips will send alongside it (the same dry-run as `tessera ticket preview`), before anything is
recorded. Send, edit again, postpone (the draft stays on disk) or discard (y/N).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tessera.tui import safe
from tessera.tui.actions import bindings_for
from tessera.tui.screens import ConfirmScreen

SEND, EDIT, POSTPONE, DISCARD = "send", "edit", "postpone", "discard"


class ReviewScreen(ModalScreen[str]):
    """Dismisses with SEND, EDIT, POSTPONE or DISCARD (discard only after y/N)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for(
        "review.send", "review.edit", "review.postpone", "review.discard"
    )

    def __init__(
        self,
        kind: str,
        targets: str,
        to: list[str],
        cc: list[str],
        body: str,
        plan: dict[str, Any] | None,
        subject: str = "",
        once: tuple[list[str], list[str]] = ([], []),
        fields: dict[str, str] | None = None,
    ) -> None:
        """`kind`: "reply", "comment" or "create" (a new ticket: `to` its requestors, `fields` the
        custom field values it gets; no postponing)."""
        super().__init__(classes="dialog-screen")
        self.kind = kind
        self.targets = targets
        self.to = to
        self.cc = cc
        self.body = body
        self.plan = plan
        self.subject = subject
        self.once = once
        self.fields = fields or {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="review"):
            title = {"reply": "Review reply to", "create": "Review", "forward": "Review forward of"}.get(
                self.kind, "Review comment on"
            )
            yield Label(safe.line(f"{title} {self.targets}", "bold"), classes="title")
            with VerticalScroll(id="review-scroll"):
                yield Static(self.render_message(), id="review-message")
                if self.plan is not None:
                    yield Static(render_plan(self.plan, skip_body=self.body), id="review-plan")
            hint = (
                "y = create    e = edit again    n = discard"
                if self.kind == "create"
                else ("y = send    e = edit again    p = postpone    n = discard")
            )
            yield Label(hint, classes="hint", id="review-hint")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A new ticket has no draft to postpone to: its p leaves the footer and does nothing."""
        return not (self.kind == "create" and action == "choose" and parameters == (POSTPONE,))

    def on_mount(self) -> None:
        self.query_one("#review-scroll").focus()  # arrows and page keys scroll a long review

    def render_message(self) -> Text:
        out = Text()
        if self.kind == "create":
            out.append("Requestors: ", style="bold")
            out.append(safe.clean_line(", ".join(self.to) or "-") + "\n")
            out.append("Subject: ", style="bold")
            out.append(safe.clean_line(self.subject) + "\n")
            for name, value in self.fields.items():
                out.append(safe.clean_line(f"{name}: "), style="bold")
                out.append(safe.clean_line(value) + "\n")
        elif self.kind == "reply":
            _people("To:", self.to, out)
            _people("Cc:", self.cc, out)
        elif self.kind == "forward":
            _people("Forward to: ", self.to, out)
            out.append("with the ticket's conversation (not its comments)\n")
        else:
            out.append("Internal comment: not sent to requestors\n", style="bold")
        for label, people in zip(("Once, Cc: ", "Once, Bcc: "), self.once, strict=True):
            if people:
                _people(label, people, out)
        out.append("\n")
        out.append(safe.clean(self.body))
        out.append("\n")
        return out

    def action_choose(self, choice: str) -> None:
        if choice == DISCARD:
            self.confirm_discard()
        else:
            self.dismiss(choice)

    @work(group="compose")
    async def confirm_discard(self) -> None:
        if await self.app.push_screen_wait(ConfirmScreen("Discard this message?")):
            self.dismiss(DISCARD)


def _people(label: str, people: list[str], out: Text) -> None:
    out.append(f"{label:<4}", style="bold")
    out.append(safe.clean_line(", ".join(people) or "-"))
    out.append("\n")


def render_plan(plan: dict[str, Any], skip_body: str | None = None) -> Text:
    """The scrip dry-run of a change: which scrips fire, the mail they would send, the field changes.

    `skip_body`: the message under review, so mail quoting it in full is not shown twice.
    """
    if plan.get("set"):
        return render_set_plan(plan)
    out = Text()
    out.append("Dry run of the scrips\n", style="bold underline")
    fired = [s for s in plan.get("scrips", []) if s.get("fires")]
    quiet = len(plan.get("scrips", [])) - len(fired)
    for scrip in fired:
        out.append("  fires  ", style="bold")
        out.append(safe.clean_line(scrip.get("description") or f"scrip {scrip.get('id')}"))
        out.append("\n")
    if not fired:
        out.append("  no scrip fires\n")
    if quiet:
        out.append(f"  ({quiet} other scrip{'s do' if quiet > 1 else ' does'} not apply)\n", style="dim")
    messages = plan.get("messages", [])
    out.append(f"\nMail that would be queued: {len(messages)}\n", style="bold underline")
    for message in messages:
        for label in ("to", "cc", "bcc"):
            people = message.get(label) or []
            if people:
                out.append(f"  {label.capitalize()}: ", style="bold")
                out.append(safe.clean_line(", ".join(people)) + "\n")
        out.append("  Subject: ", style="bold")
        out.append(safe.clean_line(message.get("subject") or "") + "\n")
        body = safe.clean(message.get("body") or "").strip()
        if skip_body and skip_body.strip() and skip_body.strip() in body:
            out.append("  │ (your message", style="dim")
            rest = body.replace(skip_body.strip(), "").strip()
            out.append(f", with {len(rest.splitlines())} more lines)\n" if rest else ")\n", style="dim")
            continue
        lines = body.split("\n")
        for body_line in lines[:4]:
            out.append("  │ " + body_line + "\n", style="dim")
        if len(lines) > 4:
            out.append(f"  │ … {len(lines) - 4} more lines\n", style="dim")
    changes = plan.get("changes", [])
    if changes:
        out.append("\nChanges\n", style="bold underline")
        for change in changes:
            who = " (by a scrip)" if change.get("by_scrip") else ""
            if change.get("old") is None and change.get("new") is None:
                line = f"  {change.get('type') or change.get('field')}{who}"  # a message, not a field
            else:
                old, new = change.get("old") or "-", change.get("new") or "-"
                line = f"  {change.get('field')}: {old} → {new}{who}"
            out.append(safe.clean_line(line) + "\n")
    return out


def render_set_plan(plan: dict[str, Any]) -> Text:
    """The dry-run of one change to each ticket of a set (`scrips.preview.preview_set`): the
    tickets it would refuse, each named with why; the mail counted and grouped by the scrip that
    would send it, to whom; the changes counted; and how a refusal is handled."""
    from tessera.core.bulk import EACH_ON_ITS_OWN

    out = Text()
    refused = plan.get("refused") or []
    applies = plan.get("applies") or []
    out.append(f"Dry run on {plan.get('total', 0)} tickets: ", style="bold underline")
    out.append(f"{len(applies)} would change, {len(refused)} refused\n", style="bold underline")
    for item in refused:
        out.append("  refused  ", style="bold")
        out.append(safe.clean_line(item.get("line") or f"{item['ticket']}: {item['reason']}") + "\n")
    out.append(f"\nMail that would be queued: {plan.get('mails', 0)}\n", style="bold underline")
    for group in plan.get("groups") or []:
        count, tickets = group["count"], len(group.get("tickets") or [])
        out.append(f"  {count} × ", style="bold")
        out.append(safe.clean_line(group["scrip"]))
        out.append(f" ({tickets} ticket{'s' if tickets != 1 else ''})\n", style="dim")
        for label in ("to", "cc", "bcc"):
            people = group.get(label) or []
            if people:
                out.append(f"      {label.capitalize()}: ", style="bold")
                out.append(safe.clean_line(", ".join(people)) + "\n")
    changes = plan.get("changes") or []
    if changes:
        out.append("\nChanges\n", style="bold underline")
        for change in changes:
            what = f"{change['field']} → {change['new']}" if change.get("new") else change["field"]
            out.append(safe.clean_line(f"  {what}: {change['count']} ticket(s)") + "\n")
    out.append("\n" + EACH_ON_ITS_OWN + "\n", style="bold")
    return out
