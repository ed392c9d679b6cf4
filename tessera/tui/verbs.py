"""The ticket verbs: reply, comment, status, resolve, take (or steal), assign, move, edit, and save
an attachment. Each works on the `Targets` the screen hands it (the marked set, else the open
ticket from the reading panes, else the highlighted row), asks what it needs in dialogs (y/N before
anything that changes several tickets or mails someone), runs the change through the `Backend`
it is given, and posts `Applied` (or `Saved`, after an edit) for the screen to bring the panes up
to date. It owns no state of the panes.

A widget without a look (`display: none`): its dialogs run in its own workers, and its messages
reach the screen like any pane's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widget import Widget

from tessera.core.bulk import EACH_ON_ITS_OWN
from tessera.core.errors import TesseraError
from tessera.core.listing import QueueInfo, TicketView
from tessera.tui import drafts, quoting, remote, review, safe, ticket_ops
from tessera.tui.backend import Backend
from tessera.tui.history import size_text
from tessera.tui.review import ReviewScreen, render_plan
from tessera.tui.screens import (
    Choice,
    ComposeScreen,
    ConfirmScreen,
    CreateScreen,
    EditScreen,
    PickerScreen,
    PromptScreen,
)
from tessera.tui.ticket_ops import Outcome

if TYPE_CHECKING:
    from tessera.core.context import Context

NOBODY = ("", "Nobody")


@dataclass(frozen=True)
class Targets:
    """The tickets a verb acts on, with what the panes know of them (no database needed)."""

    ids: list[int]
    names: dict[int, str] = field(default_factory=dict)  # display ids (TKT-0042) known
    subjects: dict[int, str] = field(default_factory=dict)  # subjects known
    owners: dict[int, str | None] = field(default_factory=dict)  # None: nobody owns it
    view: TicketView | None = None  # the open ticket, if any
    queue: QueueInfo | None = None  # the queue the queue pane shows
    queues: list[QueueInfo] = field(default_factory=list)
    # The list moved under the cursor (a reload hid the row you had chosen): ids is the row it
    # landed on, which the screen confirms before acting.
    unsure: bool = False

    def title(self) -> str:
        """What a dialog names: the ticket and its subject (one ticket), or the count."""
        described = self.describe()
        subject = self.subjects.get(self.ids[0]) if len(self.ids) == 1 else None
        return f"{described} · {safe.clean_line(subject)}" if subject else described

    def describe(self, ids: list[int] | None = None) -> str:
        ids = self.ids if ids is None else ids
        if len(ids) == 1:
            return self.names.get(ids[0], f"#{ids[0]}")
        return f"{len(ids)} tickets"


class TicketVerbs(Widget):
    class Applied(Message):
        """A verb ran on `ids`; it changed `done` (the others were refused, and said why)."""

        def __init__(self, ids: list[int], done: list[int]) -> None:
            super().__init__()
            self.ids = ids
            self.done = done

    class Created(Message):
        """A new ticket, `ticket_id`, was made."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    class Saved(Message):
        """The fields of ticket `ticket_id` were edited."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    def __init__(self, backend: Backend) -> None:
        super().__init__(id="ticket-verbs")
        self.backend = backend

    def _need(self, targets: Targets) -> bool:
        if not targets.ids:
            self.notify("No ticket: highlight one or mark some with x", severity="warning", markup=False)
            return False
        return True

    def _need_one(self, targets: Targets, verb: str) -> bool:
        """A verb that works on one ticket: refused, saying how, when tickets are marked."""
        if not self._need(targets):
            return False
        if len(targets.ids) > 1:
            self.notify(
                f"{verb} works on one ticket: clear the marks with esc", severity="warning", markup=False
            )
            return False
        return True

    # -- applying a change --------------------------------------------------------------------------

    @work(group="act")
    async def apply(
        self,
        verb: str,
        targets: Targets,
        call: Callable[[], Awaitable[Outcome | None]],
        draft: Path | None = None,
    ) -> None:
        outcome = await call()
        if draft is not None:
            if outcome is not None and not outcome.errors:
                drafts.remove(draft)
            else:
                self.notify(f"The message is kept as a draft in {draft}", severity="warning", markup=False)
        if outcome is None:
            return
        verb = outcome.verb or verb
        if len(targets.ids) > 1 and outcome.errors:
            # A set: one notice naming each refused ticket and why; the others were changed.
            refused = "\n".join(outcome.errors)
            done = f"{verb}: {len(outcome.done)} of {len(targets.ids)} tickets"
            self.notify(
                f"{done}. Refused (the rest applied):\n{refused}", severity="error", markup=False, timeout=12
            )
        else:
            for error in outcome.errors:
                self.notify(error, severity="error", markup=False, timeout=8)
            if outcome.done:
                self.notify(f"{verb}: {targets.describe(outcome.done)}", markup=False, timeout=3)
        self.post_message(self.Applied(targets.ids, outcome.done))

    def _apply_each(
        self,
        verb: str,
        targets: Targets,
        act: Callable[..., Outcome],
        *args: Any,
    ) -> None:
        ids = targets.ids
        self.apply(verb, targets, lambda: self.backend.ask(act, ids, *args))

    def confirm_then(self, question: str, then: Callable[[], Any]) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmScreen(question), answer)

    # -- reply and comment ----------------------------------------------------------------------------

    @work(group="compose")
    async def compose_message(self, kind: str, targets: Targets, quote: bool = False) -> None:
        """r / c: write in the composer (a draft on disk as you type), review with the scrips'
        dry-run (one ticket), then send, edit again, postpone or discard. `quote`: a reply to one
        ticket starts with the message it answers quoted (tessera.tui.quoting)."""
        if not self._need(targets):
            return
        ids = targets.ids
        to: list[str] = []
        cc: list[str] = []
        start = ""
        if len(ids) == 1:
            view = targets.view
            if view is None or view.ticket["id"] != ids[0]:
                view = await self.backend.ask(ticket_ops.view, ids[0], mark_seen=False)
                if view is None:
                    return
            to, cc = list(view.ticket["requestors"]), list(view.ticket["cc"])
            if quote and kind == "reply":
                history = view.history
                if not view.history_complete and not quoting.answers_in(history, self.backend.user):
                    full = await self.backend.ask(ticket_ops.view, ids[0], mark_seen=False)  # all of it
                    history = full.history if full is not None else history
                start = quoting.quote(history, self.backend.user)
        else:
            to = ["the requestors of each ticket"]
        draft = drafts.draft_path(self.backend.user or "me", kind, ids)
        backend = self.backend
        described = targets.title()
        once: tuple[list[str], list[str]] = ([], [])
        while True:
            composer = ComposeScreen(kind, described, to, cc, draft, start, once)
            body = await self.app.push_screen_wait(composer)
            if body is None:
                return
            once = composer.once
            try:
                ticket_ops.check_once(*once)
            except TesseraError as exc:  # a malformed address: said in one line, back to the message
                self.notify(exc.message, severity="error", markup=False, timeout=8)
                continue
            # One ticket: the review shows what the scrips will mail with it (nothing is recorded).
            if len(ids) == 1:
                plan = await backend.ask(ticket_ops.message_preview, ids[0], kind, body, *once)
            else:  # a set: the same message on each, its mail grouped, refusals named
                plan = await backend.ask(ticket_ops.message_set_preview, ids, kind, body, *once)
            choice = await self.app.push_screen_wait(
                ReviewScreen(kind, described, to, cc, body, plan, once=once)
            )
            if choice != review.EDIT:
                break
        if choice == review.POSTPONE:
            self.notify(f"Draft kept in {draft}; it comes back next time", markup=False, timeout=4)
        elif choice == review.DISCARD:
            drafts.remove(draft)
            self.notify("Message discarded", markup=False, timeout=3)
        elif kind == "reply":
            self.apply(
                "Replied", targets, lambda: backend.ask(ticket_ops.reply, ids, body, *once), draft=draft
            )
        else:
            self.apply(
                "Commented", targets, lambda: backend.ask(ticket_ops.comment, ids, body, *once), draft=draft
            )

    @work(group="compose")
    async def forward(self, targets: Targets) -> None:
        """w: RT's Forward: the ticket's public conversation to people outside it, below a note
        (a draft on disk as you type), reviewed with the scrips' dry-run before it is sent."""
        if not self._need_one(targets, "Forward"):
            return
        ids = targets.ids
        described = targets.title()
        to = await self.app.push_screen_wait(
            PromptScreen(f"Forward {described} to (addresses, comma separated)")
        )
        if not to or not to.strip():
            return
        addresses = ticket_ops.split_addresses(to)
        draft = drafts.draft_path(self.backend.user or "me", "forward", ids)
        backend = self.backend
        while True:
            body = await self.app.push_screen_wait(ComposeScreen("forward", described, addresses, [], draft))
            if body is None:
                return
            plan = await backend.ask(ticket_ops.forward_preview, ids[0], to, body)
            if plan is None:  # refused (said in one line, e.g. an address): the note stays a draft
                self.notify(f"The note is kept as a draft in {draft}", severity="warning", markup=False)
                return
            choice = await self.app.push_screen_wait(
                ReviewScreen("forward", described, addresses, [], body, plan)
            )
            if choice != review.EDIT:
                break
        if choice == review.POSTPONE:
            self.notify(f"Draft kept in {draft}; it comes back next time", markup=False, timeout=4)
        elif choice == review.DISCARD:
            drafts.remove(draft)
            self.notify("Forward discarded", markup=False, timeout=3)
        else:
            self.apply(
                "Forwarded", targets, lambda: backend.ask(ticket_ops.forward, ids, to, body), draft=draft
            )

    # -- a new ticket ---------------------------------------------------------------------------------

    @work(group="compose")
    async def create(self, queue: QueueInfo | None, queues: list[QueueInfo]) -> None:
        """n: the queue (the one shown first), then the form, then the review with the scrips'
        dry-run (the autoreply and notifications it would send), then y creates it."""
        picks = [Choice(q.name, q.name, q.description) for q in sorted(queues, key=lambda q: q != queue)]
        name = await self.app.push_screen_wait(PickerScreen("New ticket in which queue?", picks))
        if not name:
            return
        backend = self.backend
        fields = await backend.ask(ticket_ops.create_form, name)
        if fields is None:
            return
        new: ticket_ops.NewTicket | None = None
        while True:
            new = await self.app.push_screen_wait(CreateScreen(name, fields, new))
            if new is None:
                return
            plan = await backend.ask(ticket_ops.create_preview, new)
            if plan is None:
                continue  # refused (said in one line): back to the form, nothing typed lost
            filled = {field: value for field, value in new.custom_fields.items() if value.strip()}
            review_screen = ReviewScreen(
                "create",
                f"new ticket in {name}",
                new.requestors,
                [],
                new.body,
                plan,
                subject=new.subject,
                fields=filled,
            )
            choice = await self.app.push_screen_wait(review_screen)
            if choice == review.EDIT:
                continue
            if choice != review.SEND:
                self.notify("New ticket discarded", markup=False, timeout=3)
                return
            made = await backend.ask(ticket_ops.create, new)
            if made is None:
                continue
            self.notify(f"Created {made[1]}: {safe.clean_line(new.subject)}", markup=False, timeout=4)
            self.post_message(self.Created(made[0]))
            return

    # -- status ---------------------------------------------------------------------------------------

    @work(group="compose")
    async def status(self, targets: Targets) -> None:
        """s: a status the lifecycle allows from here, then y/N with the scrips' dry-run."""
        if not self._need(targets):
            return
        ids = targets.ids
        choices = await self.backend.ask(ticket_ops.status_choices, ids[0])
        if choices is None:
            return
        if not choices:
            self.notify("The lifecycle allows you no status change here", severity="warning", markup=False)
            return
        picks = [Choice(c.status, c.label, f"→ {c.status} ({c.category})") for c in choices]
        status = await self.app.push_screen_wait(PickerScreen(f"Status of {targets.describe()}", picks))
        if not status:
            return
        chosen = next((c for c in choices if c.status == status), None)
        if chosen is not None and chosen.action and chosen.update != "none" and len(ids) == 1:
            # RT's action menu: the action's update (a reply or a comment) in the composer first,
            # then the message and the status change in one unit (`ticket action ID ACTION --body`).
            await self._action_with_message(targets, chosen.label, chosen.status, chosen.update)
            return
        if not await self.confirm_status(targets, status):
            return
        if chosen is not None and chosen.action:  # the lifecycle's action: core's one-step run
            self._apply_each(f"{chosen.label}", targets, ticket_ops.run_action, chosen.label)
            return
        self._apply_each(f"Status {status}", targets, ticket_ops.set_status, status)

    async def _action_with_message(self, targets: Targets, label: str, status: str, update: str) -> None:
        """The composer for a lifecycle action's update (a reply when it is `respond`, else a
        comment; an empty message runs the action alone), the y/N with the status dry-run, then
        core's `run_action` with the message: one transaction batch, as RT's action menu."""
        ids = targets.ids
        kind = "reply" if update == "respond" else "comment"
        view = targets.view
        if view is None or view.ticket["id"] != ids[0]:
            view = await self.backend.ask(ticket_ops.view, ids[0], mark_seen=False)
            if view is None:
                return
        to, cc = (list(view.ticket["requestors"]), list(view.ticket["cc"])) if kind == "reply" else ([], [])
        draft = drafts.draft_path(self.backend.user or "me", kind, ids)
        once: tuple[list[str], list[str]] = ([], [])
        while True:
            composer = ComposeScreen(
                kind, f"{label}: {targets.title()}", to, cc, draft, "", once, optional=True
            )
            body = await self.app.push_screen_wait(composer)
            if body is None:
                return
            once = composer.once
            try:
                ticket_ops.check_once(*once)
            except TesseraError as exc:  # a malformed address: said in one line, back to the message
                self.notify(exc.message, severity="error", markup=False, timeout=8)
                continue
            break
        if not await self.confirm_status(targets, status):
            if body.strip():
                self.notify(f"The message is kept as a draft in {draft}", severity="warning", markup=False)
            return
        backend = self.backend
        self.apply(
            label, targets, lambda: backend.ask(ticket_ops.run_action, ids, label, body, *once), draft=draft
        )

    async def confirm_status(self, targets: Targets, status: str | None) -> bool:
        """y/N before a status change; for one ticket, with the scrip dry-run (who gets mailed, what)."""
        described = targets.describe()
        verb = f"Set {described} to {status}?" if status else f"Resolve {described}?"
        if len(targets.ids) == 1:
            plan = await self.backend.ask(ticket_ops.status_preview, targets.ids[0], status)
            if plan is None:
                return False
            verb = f"Set {described} to {plan['status']}?"
        else:  # the dry-run on each ticket, grouped: how many mails, to whom; the refused named
            plan = await self.backend.ask(ticket_ops.status_set_preview, targets.ids, status)
            if plan is None:
                return False
            if plan["refused"]:
                verb = verb[:-1] + f" ({len(plan['refused'])} refused, the rest apply)?"
        detail = render_plan(plan)
        answer: bool = await self.app.push_screen_wait(ConfirmScreen(verb, detail))
        return bool(answer)

    @work(group="compose")
    async def resolve(self, targets: Targets) -> None:
        """X: resolve (the lifecycle's resolved status), after y/N."""
        if not self._need(targets):
            return
        if await self.confirm_status(targets, None):
            self._apply_each("Resolved", targets, ticket_ops.resolve)

    # -- owner and queue ------------------------------------------------------------------------------

    def take(self, targets: Targets) -> None:
        """t: own it; someone else's is a steal, asked first (RT's rule), as is taking several."""
        if not self._need(targets):
            return
        ids = targets.ids
        owner = targets.owners.get(ids[0]) if len(ids) == 1 else None
        if len(ids) > 1:
            self.take_set(targets)
        elif owner and owner != self.backend.user:
            self.confirm_then(
                f"{targets.describe()} is owned by {owner}. Steal it?",
                lambda: self._apply_each("Stolen", targets, ticket_ops.steal),
            )
        else:
            self._apply_each("Taken", targets, ticket_ops.take)

    @work(group="compose")
    async def reminders(self, targets: Targets) -> None:
        """M: the ticket's reminders: add one (its subject, then its due date), or pick one to
        resolve it (or reopen it, when resolved), as `ticket reminder add|resolve|open`."""
        if not self._need_one(targets, "Reminders"):
            return
        found = await self.backend.ask(ticket_ops.reminders, targets.ids[0])
        if found is None:
            return
        picks = [Choice("new", "+ New reminder", "its subject, then its due date")]
        for r in found:
            verb = "reopen" if r["resolved"] else "resolve"
            detail = f"{r['owner'] or 'Nobody'}, due {(r['due'] or '-')[:16]}; enter: {verb}"
            picks.append(Choice(str(r["id"]), f"#{r['id']} [{r['status']}] {r['subject']}", detail))
        chosen = await self.app.push_screen_wait(PickerScreen(f"Reminders of {targets.describe()}", picks))
        if not chosen:
            return
        if chosen == "new":
            subject = await self.app.push_screen_wait(PromptScreen("Reminder: what to be reminded of"))
            if not subject or not subject.strip():
                return
            due = await self.app.push_screen_wait(
                PromptScreen("Due (2026-12-01, tomorrow, in 3 days; empty for none)")
            )
            if due is None:
                return
            self._apply_each("Reminder added", targets, ticket_ops.add_reminder, subject, due)
            return
        reminder = next(r for r in found if str(r["id"]) == chosen)
        resolve = not reminder["resolved"]
        verb = "Reminder resolved" if resolve else "Reminder reopened"
        self._apply_each(verb, targets, ticket_ops.change_reminder, reminder["id"], resolve)

    def bookmark(self, targets: Targets) -> None:
        """b: bookmark the tickets for yourself, or remove their bookmarks (each toggled)."""
        if self._need(targets):
            self._apply_each("Bookmark toggled", targets, ticket_ops.bookmark)

    @work(group="compose")
    async def take_set(self, targets: Targets) -> None:
        """t on a marked set: who owns what is read first; tickets others own are stolen only if
        you say so (as one `t` asks), else left to them; yours already are left out."""
        found = await self.backend.ask(ticket_ops.owners, targets.ids)
        if found is None:
            return
        free, others = found.free, found.others
        yours = f" ({len(found.mine)} already yours)" if found.mine else ""
        if not free and not others:
            self.notify(f"All {len(targets.ids)} tickets are yours already", markup=False, timeout=3)
            return
        if not others:
            question = f"Take {targets.describe(free)}?{yours}"
            if await self.app.push_screen_wait(ConfirmScreen(question, Text(EACH_ON_ITS_OWN))):
                self._take(targets, free, steal=False)
            return
        whose = ", ".join(f"{targets.names.get(t, f'#{t}')} ({name})" for t, name in others.items())
        title = f"Take {targets.describe()}? {len(others)} owned by others"
        detail = f"Owned by others: {whose}{yours}.\n{EACH_ON_ITS_OWN}"
        picks = [Choice("cancel", "Cancel", "change nothing")]
        if free:
            picks.append(
                Choice("take", f"Take the {len(free)} unowned only", "leave the others to their owners")
            )
        picks.append(
            Choice("steal", f"Take {len(free)} and steal {len(others)}", "as t does on one, after asking")
        )
        choice = await self.app.push_screen_wait(PickerScreen(title, picks, detail))
        if choice == "take":
            self._take(targets, free, steal=False)
        elif choice == "steal":
            self._take(targets, [t for t in targets.ids if t in others or t in free], steal=True)

    def _take(self, targets: Targets, ids: list[int], *, steal: bool) -> None:
        verb = "Taken and stolen" if steal else "Taken"
        acted = replace(targets, ids=ids)
        self.apply(verb, acted, lambda: self.backend.ask(ticket_ops.take_set, ids, steal))

    @work(group="compose")
    async def assign(self, targets: Targets) -> None:
        """a: give to one of those who may own tickets in the queue shown (or to nobody)."""
        if not self._need(targets) or targets.queue is None:
            return
        names = await self.backend.ask(ticket_ops.owner_choices, targets.queue.id)
        if names is None:
            return
        picks = [Choice("Nobody", "Nobody", "unassign"), *(Choice(n, n) for n in names)]
        await self._pick_then_apply(
            targets,
            PickerScreen(f"Owner of {targets.describe()}", picks),
            "Give {targets} to {choice}?",
            "Owner {choice}",
            ticket_ops.assign,
        )

    @work(group="compose")
    async def move(self, targets: Targets) -> None:
        """m: move to another queue."""
        if not self._need(targets):
            return
        picks = [Choice(q.name, q.name, q.description) for q in targets.queues if q != targets.queue]
        await self._pick_then_apply(
            targets,
            PickerScreen(f"Move {targets.describe()} to", picks),
            "Move {targets} to {choice}?",
            "Moved to {choice}",
            ticket_ops.move,
        )

    async def _pick_then_apply(
        self,
        targets: Targets,
        picker: PickerScreen,
        question: str,
        done: str,
        act: Callable[[Context, list[int], str], Outcome],
    ) -> None:
        """Pick a value, confirm when several tickets are affected, then apply it to each."""
        choice = await self.app.push_screen_wait(picker)
        if not choice:
            return
        if len(targets.ids) > 1 and not await self.app.push_screen_wait(
            ConfirmScreen(question.format(targets=targets.describe(), choice=choice), Text(EACH_ON_ITS_OWN))
        ):
            return
        self._apply_each(done.format(choice=choice), targets, act, choice)

    # -- fields ---------------------------------------------------------------------------------------

    @work(group="compose")
    async def edit(self, targets: Targets) -> None:
        """e: the ticket's fields in a form; a refusal keeps the form open with the reason."""
        if not self._need_one(targets, "Edit"):
            return
        ids = targets.ids
        view = targets.view
        if view is None or view.ticket["id"] != ids[0]:
            view = await self.backend.ask(ticket_ops.view, ids[0], mark_seen=False)
            if view is None:
                return
        backend = self.backend
        version = int(view.ticket["version"])

        async def submit(changes: dict[str, str]) -> str | None:
            outcome = await backend.ask(ticket_ops.edit, ids[0], changes, version)
            if outcome is None:
                return "Not saved: the database did not answer (your changes are still here)"
            return "; ".join(outcome.errors) or None

        changes = await self.app.push_screen_wait(EditScreen(view.ticket, submit))
        if changes:
            self.notify(f"Saved: {targets.describe()}", markup=False, timeout=3)
            self.post_message(self.Saved(ids[0]))

    # -- attachments ----------------------------------------------------------------------------------

    @work(group="compose")
    async def save_attachment(self, view: TicketView | None) -> None:
        """o: save one of the open ticket's attachments to a file (never over SSH)."""
        if view is None:
            self.notify("Open a ticket first (enter)", severity="warning", markup=False)
            return
        if not view.history_complete:  # the panes read only the newest page of the history
            full = await self.backend.ask(ticket_ops.view, view.ticket["id"], mark_seen=False)
            if full is None:
                return
            view = full
        files = [
            (att, event)
            for event in view.history
            for att in ((event.get("message") or {}).get("attachments") or [])
        ]
        if not files:
            self.notify("This ticket has no attachments", markup=False)
            return
        if remote.over_ssh():
            self.notify(remote.NO_SAVE, severity="warning", markup=False, timeout=8)
            return
        picks = [
            Choice(str(att["id"]), att["filename"] or f"attachment-{att['id']}", size_text(att["size"]))
            for att, _event in files
        ]
        chosen = (
            picks[0].value
            if len(picks) == 1
            else await self.app.push_screen_wait(PickerScreen("Save which attachment?", picks))
        )
        if not chosen:
            return
        name = safe_filename(next(c.label for c in picks if c.value == chosen))
        target = await self.app.push_screen_wait(PromptScreen("Save to", str(save_dir() / name)))
        if not target:
            return
        path = Path(target).expanduser()
        if path.exists() and not await self.app.push_screen_wait(ConfirmScreen(f"Overwrite {path}?")):
            return
        data = await self.backend.ask(ticket_ops.attachment, int(chosen))
        if data is None:
            return
        try:
            await asyncio.to_thread(path.write_bytes, data.data)  # a file, not the database
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror}", severity="error", markup=False)
            return
        self.notify(f"Saved {path} ({size_text(len(data.data))})", markup=False)


def save_dir() -> Path:
    """Where attachments are saved unless you say otherwise: ~/Downloads if it exists, else ~."""
    home = Path.home()
    downloads = home / "Downloads"
    return downloads if downloads.is_dir() else home


def safe_filename(name: str) -> str:
    cleaned = safe.clean_line(os.path.basename(name.replace("\\", "/"))).strip().lstrip(".")
    return cleaned or "attachment"
