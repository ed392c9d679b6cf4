"""The one registry of TUI actions: bindings, footer, help screen, command palette and the key-map
file are all made from `ACTIONS`, so none of them can drift from the others.

Each action has an id (the key-map file and Textual's `set_keymap` use it), the Textual action it
runs, the scope whose widget binds it, its default keys, and whether it changes tickets in a way
that asks for confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

# Where a binding lives: the main screen (global and ticket verbs), the ticket table, the queue
# list, the history pane, or modal dialogs.
SCOPES = {
    "global": "Everywhere",
    "ticket": "Ticket actions (highlighted row, open ticket or marked set)",
    "queue": "Ticket list",
    "queues": "Queue list",
    "history": "Detail and history panes",
    "dialog": "Dialogs",
    "admin": "Admin area",
    "scrips": "Admin: scrip list",
    "templates": "Admin: template list",
    "editor": "Admin: scrip and template editor",
    "lifecycles": "Admin: lifecycles",
    "queueadmin": "Admin: queues",
    "cfadmin": "Admin: custom fields",
}


@dataclass(frozen=True)
class ActionSpec:
    id: str
    action: str
    description: str
    scope: str
    keys: str
    footer: bool = False
    palette: bool = True
    destructive: bool = False
    priority: bool = False

    def binding(self, keys: str | None = None) -> Binding:
        first = (keys or self.keys).split(",")[0]
        return Binding(
            keys or self.keys,
            self.action,
            self.description,
            show=self.footer,
            id=self.id,
            priority=self.priority,
            key_display=display_key(first),
        )


ACTIONS: tuple[ActionSpec, ...] = (
    # global (main screen)
    ActionSpec("help", "help", "Help", "global", "question_mark,f1", footer=True),
    # Textual's footer already shows ^p for the palette, so ":" stays off it.
    ActionSpec("palette", "app.command_palette", "Commands", "global", "colon,ctrl+p"),
    ActionSpec("back", "back", "Back / quit", "global", "q", footer=True),
    ActionSpec("next_pane", "next_pane", "Next pane", "global", "tab,l", palette=False),
    ActionSpec("prev_pane", "prev_pane", "Previous pane", "global", "shift+tab,h", palette=False),
    ActionSpec("refresh", "refresh", "Refresh", "global", "ctrl+r,f5"),
    ActionSpec("maximize", "maximize", "Maximise the focused pane / restore", "global", "z"),
    ActionSpec("toggle_theme", "toggle_theme", "Light/dark theme", "global", "T"),
    # No key: a setting, turned on and off from the command palette (and remembered).
    ActionSpec("toggle_quote", "toggle_quote", "Replies start quoted: on / off", "global", ""),
    ActionSpec("cancel", "cancel", "Clear filter / marks", "global", "escape", palette=False),
    # ticket verbs
    ActionSpec("create", "create", "New ticket", "global", "n"),
    ActionSpec("reply", "reply", "Reply", "ticket", "r", footer=True),
    ActionSpec("reply_blank", "reply(False)", "Reply without the quote", "ticket", "R"),
    ActionSpec("comment", "comment", "Comment", "ticket", "c", footer=True),
    ActionSpec("forward", "forward", "Forward the ticket to someone outside it", "ticket", "w"),
    ActionSpec("status", "status", "Status", "ticket", "s", footer=True),
    ActionSpec("take", "take", "Take", "ticket", "t", footer=True),
    ActionSpec("assign", "assign", "Assign owner", "ticket", "a"),
    ActionSpec("resolve", "resolve", "Resolve", "ticket", "X", footer=True, destructive=True),
    ActionSpec("move", "move", "Move to queue", "ticket", "m"),
    ActionSpec("edit", "edit", "Edit fields", "ticket", "e"),
    ActionSpec("next_ticket", "next_ticket", "Next ticket", "ticket", "J"),
    ActionSpec("prev_ticket", "prev_ticket", "Previous ticket", "ticket", "K"),
    ActionSpec("save_attachment", "save_attachment", "Save attachment", "ticket", "o"),
    ActionSpec("history_filter", "history_filter", "History: all / replies / + comments", "ticket", "f"),
    ActionSpec("toggle_trace", "toggle_trace", "Show / hide the scrip trace", "ticket", "i"),
    ActionSpec("bookmark", "bookmark", "Bookmark / remove the bookmark", "ticket", "b"),
    ActionSpec("reminders", "reminders", "Reminders: add, resolve, reopen", "ticket", "M"),
    # ticket table
    ActionSpec("queue.down", "cursor_down", "Down", "queue", "j", palette=False),
    ActionSpec("queue.up", "cursor_up", "Up", "queue", "k", palette=False),
    ActionSpec("queue.first", "first_row", "First ticket", "queue", "g,home", palette=False),
    ActionSpec("queue.last", "last_row", "Last ticket", "queue", "G,end", palette=False),
    # ctrl+j: an Enter typed before the app has the terminal in raw mode reaches it as a line feed.
    ActionSpec("queue.open", "open_ticket", "Open ticket", "queue", "enter,ctrl+j"),
    ActionSpec("queue.mark", "toggle_mark", "Mark / unmark", "queue", "x,space"),
    ActionSpec("queue.filter", "filter", "Filter", "global", "slash", footer=True),
    ActionSpec("queue.sort", "sort", "Sort by column", "queue", "S"),
    ActionSpec("search", "search", "Search (TicketSQL)", "global", "F", footer=True),
    ActionSpec("views", "views", "Saved views (show, save, rename, delete)", "global", "V"),
    ActionSpec("save_view", "save_view", "Save this list as a view (mine or shared)", "global", "W"),
    ActionSpec(
        "breaching",
        "breaching",
        "Breaching soon: overdue or due within 4 business hours (again: back)",
        "global",
        "D",  # not in the footer: at 120 columns it is full (? help and the palette list it)
    ),
    *(
        ActionSpec(f"view.{n}", f"view({n})", f"Saved view {n}", "global", str(n), palette=False)
        for n in range(1, 10)
    ),
    # queue list
    ActionSpec("queues.down", "cursor_down", "Down", "queues", "j", palette=False),
    ActionSpec("queues.up", "cursor_up", "Up", "queues", "k", palette=False),
    ActionSpec("queues.pick", "pick_queue", "Choose a queue", "global", "Q"),
    # history
    ActionSpec("history.down", "scroll_down", "Scroll down", "history", "j", palette=False),
    ActionSpec("history.up", "scroll_up", "Scroll up", "history", "k", palette=False),
    ActionSpec("history.top", "scroll_home", "Top", "history", "g", palette=False),
    ActionSpec("history.bottom", "scroll_end", "Bottom", "history", "G", palette=False),
    # dialogs
    ActionSpec("confirm.yes", "answer(True)", "Yes (confirm)", "dialog", "y", footer=True, palette=False),
    ActionSpec(
        "confirm.no", "answer(False)", "No (cancel)", "dialog", "n,q,escape,enter", footer=True, palette=False
    ),
    ActionSpec(
        "compose.send",
        "send",
        "Review and send",
        "dialog",
        "ctrl+s,f2",
        footer=True,
        palette=False,
        priority=True,
    ),
    ActionSpec(
        "compose.discard",
        "discard",
        "Leave message: keep editing, postpone or discard (y/N)",
        "dialog",
        "escape",
        footer=True,
        palette=False,
    ),
    ActionSpec(
        "compose.editor", "editor", "Edit message in $EDITOR", "dialog", "f4", footer=True, palette=False
    ),
    ActionSpec("review.send", "choose('send')", "Send it", "dialog", "y", footer=True, palette=False),
    ActionSpec(
        "review.edit", "choose('edit')", "Edit again", "dialog", "e,escape", footer=True, palette=False
    ),
    ActionSpec(
        "review.postpone",
        "choose('postpone')",
        "Postpone (keep the draft)",
        "dialog",
        "p",
        footer=True,
        palette=False,
    ),
    ActionSpec(
        "review.discard", "choose('discard')", "Discard (y/N)", "dialog", "n,d", footer=True, palette=False
    ),
    ActionSpec(
        "edit.save", "save", "Save fields", "dialog", "ctrl+s,f2", footer=True, palette=False, priority=True
    ),
    ActionSpec("dialog.cancel", "cancel", "Cancel", "dialog", "escape", footer=True, palette=False),
    ActionSpec(
        "views.rename", "choose('rename')", "Rename the view", "dialog", "f2", footer=True, palette=False
    ),
    ActionSpec(
        "views.delete",
        "choose('delete')",
        "Delete the view",
        "dialog",
        "delete",
        footer=True,
        palette=False,
        destructive=True,
    ),
    ActionSpec(
        "help.close", "close", "Close help", "dialog", "escape,q,question_mark,f1", footer=True, palette=False
    ),
    # the help's own movement: vim keys, as in the panes (arrows and page keys work too)
    ActionSpec("help.down", "scroll_help('down')", "Help: scroll down", "dialog", "j", palette=False),
    ActionSpec("help.up", "scroll_help('up')", "Help: scroll up", "dialog", "k", palette=False),
    ActionSpec("help.top", "scroll_help('top')", "Help: top", "dialog", "g", palette=False),
    ActionSpec("help.bottom", "scroll_help('bottom')", "Help: bottom", "dialog", "G", palette=False),
    # the admin area (scrips, templates, lifecycles, queues, custom fields)
    ActionSpec("admin.open", "admin", "Admin: scrips, templates, lifecycles, queues", "global", "f9"),
    ActionSpec(
        "admin.close", "close", "Leave the admin area", "admin", "escape,q", footer=True, palette=False
    ),
    *(
        ActionSpec(f"admin.tab.{n}", f"tab({n})", f"Admin tab {n}", "admin", str(n), palette=False)
        for n in range(1, 6)
    ),
    ActionSpec("admin.down", "list('down')", "Down in the list", "admin", "j", palette=False),
    ActionSpec("admin.up", "list('up')", "Up in the list", "admin", "k", palette=False),
    ActionSpec("admin.top", "list('top')", "First row", "admin", "g", palette=False),
    ActionSpec("admin.bottom", "list('bottom')", "Last row", "admin", "G", palette=False),
    ActionSpec("scrips.new", "new", "New scrip", "scrips", "n", footer=True, palette=False),
    ActionSpec("scrips.edit", "edit", "Edit scrip", "scrips", "e", footer=True, palette=False),
    ActionSpec(
        "scrips.toggle", "toggle_enabled", "Enable / disable", "scrips", "space", footer=True, palette=False
    ),
    ActionSpec("scrips.up", "move(-1)", "Move up (runs earlier)", "scrips", "K", footer=True, palette=False),
    ActionSpec("scrips.down", "move(1)", "Move down (runs later)", "scrips", "J", footer=True, palette=False),
    ActionSpec("scrips.delete", "delete", "Delete scrip", "scrips", "d", palette=False, destructive=True),
    ActionSpec("scrips.history", "history", "History and revert", "scrips", "H", footer=True, palette=False),
    ActionSpec(
        "scrips.queue", "scope", "Scrips that run for a queue, in order", "scrips", "Q", palette=False
    ),
    ActionSpec("scrips.deleted", "restore", "Restore a deleted scrip", "scrips", "U", palette=False),
    ActionSpec("templates.new", "new", "New template", "templates", "n", footer=True, palette=False),
    ActionSpec("templates.edit", "edit", "Edit template", "templates", "e", footer=True, palette=False),
    ActionSpec(
        "templates.delete", "delete", "Delete template", "templates", "d", palette=False, destructive=True
    ),
    ActionSpec("templates.history", "history", "History and revert", "templates", "H", palette=False),
    ActionSpec(
        "editor.save",
        "save",
        "Save (a revision)",
        "editor",
        "ctrl+s,f2",
        footer=True,
        palette=False,
        priority=True,
    ),
    ActionSpec(
        "editor.dry_run",
        "dry_run",
        "Dry-run on a ticket",
        "editor",
        "ctrl+t",
        footer=True,
        palette=False,
        priority=True,
    ),
    ActionSpec("editor.find", "find", "Find", "editor", "ctrl+f", footer=True, palette=False, priority=True),
    ActionSpec("editor.find_next", "find_next", "Find next", "editor", "f3", palette=False),
    ActionSpec("editor.goto", "goto", "Go to line", "editor", "ctrl+g", palette=False, priority=True),
    ActionSpec(
        "editor.problem",
        "next_problem",
        "Jump to the next problem",
        "editor",
        "f8",
        footer=True,
        palette=False,
    ),
    # priority: the template and expression boxes (TextArea) bind F6 and F7 to select line / all.
    ActionSpec(
        "editor.history", "history", "History and revert", "editor", "f6", palette=False, priority=True
    ),
    ActionSpec(
        "editor.dry_panel",
        "dry_panel",
        "Show / hide the dry-run",
        "editor",
        "f7",
        palette=False,
        priority=True,
    ),
    ActionSpec("editor.external", "external", "Edit the text in $EDITOR", "editor", "f4", palette=False),
    ActionSpec(
        "revisions.revert",
        "revert",
        "Revert to the highlighted revision",
        "dialog",
        "r",
        footer=True,
        palette=False,
    ),
    ActionSpec(
        "editor.close",
        "close",
        "Leave (y/N if unsaved)",
        "editor",
        "escape",
        footer=True,
        palette=False,
        priority=True,
    ),
    # admin panes for lifecycles, queues and custom fields
    ActionSpec(
        "admin.lifecycle.edit", "edit", "Edit lifecycle", "lifecycles", "e", footer=True, palette=False
    ),
    ActionSpec(
        "admin.lifecycle.new", "new", "New lifecycle (a copy)", "lifecycles", "n", footer=True, palette=False
    ),
    ActionSpec(
        "admin.lifecycle.save", "save", "Save lifecycle", "lifecycles", "ctrl+s", footer=True, palette=False
    ),
    ActionSpec(
        "admin.lifecycle.cancel",
        "cancel",
        "Leave (y/N if unsaved)",
        "lifecycles",
        "escape",
        footer=True,
        palette=False,
    ),
    ActionSpec(
        "admin.lifecycle.reload", "reload", "Reload", "lifecycles", "ctrl+r", footer=True, palette=False
    ),
    ActionSpec("admin.queue.new", "new", "New queue", "queueadmin", "n", footer=True, palette=False),
    ActionSpec("admin.queue.edit", "edit", "Edit queue", "queueadmin", "e", footer=True, palette=False),
    ActionSpec("admin.queue.save", "save", "Save queue", "queueadmin", "ctrl+s", footer=True, palette=False),
    ActionSpec("admin.queue.cancel", "cancel", "Cancel", "queueadmin", "escape", footer=True, palette=False),
    ActionSpec("admin.queue.reload", "reload", "Reload", "queueadmin", "ctrl+r", footer=True, palette=False),
    ActionSpec(
        "admin.queue.unwatch", "remove_watcher", "Remove watcher", "queueadmin", "d,delete", palette=False
    ),
    ActionSpec("admin.cf.new", "new", "New custom field", "cfadmin", "n", footer=True, palette=False),
    ActionSpec("admin.cf.edit", "edit", "Edit custom field", "cfadmin", "e", footer=True, palette=False),
    ActionSpec("admin.cf.save", "save", "Save custom field", "cfadmin", "ctrl+s", footer=True, palette=False),
    ActionSpec("admin.cf.cancel", "cancel", "Cancel", "cfadmin", "escape", footer=True, palette=False),
    ActionSpec("admin.cf.reload", "reload", "Reload", "cfadmin", "ctrl+r", footer=True, palette=False),
)

BY_ID = {spec.id: spec for spec in ACTIONS}

_DISPLAY = {
    "question_mark": "?",
    "colon": ":",
    "slash": "/",
    "space": "space",
    "escape": "esc",
    "enter": "enter",
}


def display_key(key: str) -> str:
    key = key.strip()
    return _DISPLAY.get(key, key)


def bindings(scope: str, keymap: dict[str, str] | None = None) -> list[BindingType]:
    """Textual bindings for one scope; `keymap` (id -> keys) overrides the defaults."""
    keymap = keymap or {}
    return [
        spec.binding(keymap.get(spec.id))
        for spec in ACTIONS
        if spec.scope == scope and (keymap.get(spec.id) or spec.keys)
    ]


def bindings_for(*ids: str) -> list[BindingType]:
    return [BY_ID[i].binding() for i in ids]


def effective_keys(spec: ActionSpec, keymap: dict[str, str] | None = None) -> list[str]:
    keys = (keymap or {}).get(spec.id) or spec.keys
    return [display_key(k) for k in keys.split(",") if k.strip()]
