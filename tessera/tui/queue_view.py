"""What the queue pane shows: a queue or a TicketSQL search, its sort and its quick filter.

One value, saved as the user's `tui.view` preference and read back at start, by the start-up
helper (which reads the first page before the app has drawn) and by the queue pane alike, so the
two ask for the same page. Imports nothing heavy: the helper and the first paint use it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from tessera.core.listing import SORT_KEYS, QueueInfo

PAGE = 100  # rows per page the queue pane asks for
PREF_VIEW = "tui.view"
# "Breaching soon" (D): tickets due within this much business time, or overdue; the Due column
# shows the same rows in the "close" look.
BREACHING_HOURS = 4
BREACHING = timedelta(hours=BREACHING_HOURS)
BREACHING_QUERY = "Status = '__Active__'"  # of every queue you may see, still open
DESCENDING_FIRST = {"updated", "created", "priority", "id"}  # a new sort key starts newest/highest first
# What each of core's sort keys is called (the sort picker lists them in this order).
SORT_LABELS = {
    "id": "ID",
    "subject": "Subject",
    "status": "Status",
    "owner": "Owner",
    "priority": "Priority",
    "created": "Age (created)",
    "updated": "Last update",
    "requestor": "Requestor",
    "due": "Due (time left)",
}


@dataclass(frozen=True)
class QueueView:
    queue: str | None = None  # the queue's name (a search spans every queue, but remembers it)
    search: str = ""  # TicketSQL; "" shows the queue
    sort: str = "updated"
    descending: bool = True
    filter: str = ""  # the quick filter's words
    # In a search: the queue's own sort, put back when you leave the search (a saved view's
    # order is the view's, not the queue's).
    queue_sort: tuple[str, bool] | None = None
    breaching: bool = False  # the "breaching soon" view (D): every queue's, by due
    name: str = ""  # the saved view's name, while its search shows (the titles show it)

    @classmethod
    def from_preference(cls, value: object) -> QueueView:
        """The saved view; anything malformed falls back to the default of that part."""
        saved: dict[str, Any] = value if isinstance(value, dict) else {}
        sort, descending = "updated", True
        if saved.get("sort") in SORT_KEYS:
            sort, descending = str(saved["sort"]), bool(saved.get("descending", True))
        text = saved["filter"] if isinstance(saved.get("filter"), str) and saved["filter"] else ""
        search = saved["search"] if isinstance(saved.get("search"), str) else ""
        queue = saved.get("queue")
        home = saved.get("queue_sort")
        queue_sort = None
        breaching = saved.get("breaching") is True
        if (search or breaching) and isinstance(home, list) and len(home) == 2 and home[0] in SORT_KEYS:
            queue_sort = (str(home[0]), bool(home[1]))
        name = queue if isinstance(queue, str) else None
        view_name = saved["name"] if isinstance(saved.get("name"), str) and search and not breaching else ""
        return cls(
            name, "" if breaching else search, sort, descending, text, queue_sort, breaching, view_name
        )

    def preference(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "sort": self.sort,
            "descending": self.descending,
            "filter": self.filter,
            "search": self.search,
            "queue_sort": list(self.queue_sort) if self.queue_sort else None,
            "breaching": self.breaching,
            "name": self.name,
        }

    def searching(self, query: str, sorting: tuple[str, bool] | None, name: str = "") -> QueueView:
        """This view showing the TicketSQL `query` (sorted by `sorting`, if the search has an
        order; `name`: the saved view's), the queue's own sort kept to come back to."""
        home = self.queue_sort if self.search or self.breaching else (self.sort, self.descending)
        view = replace(self, search=query, queue_sort=home, breaching=False, name=name)
        if sorting is not None:
            view = replace(view, sort=sorting[0], descending=sorting[1])
        return view

    def breaching_soon(self) -> QueueView:
        """The "breaching soon" view: every queue's open tickets due within BREACHING business
        hours or overdue, soonest first (the queue's own sort kept to come back to)."""
        home = self.queue_sort if self.search or self.breaching else (self.sort, self.descending)
        return replace(
            self, search="", breaching=True, sort="due", descending=False, queue_sort=home, name=""
        )

    def home(self, queue: str | None = None) -> QueueView:
        """Back to the queue (`queue`, else the one it was on), in the queue's own sort."""
        sort, descending = self.queue_sort or (self.sort, self.descending)
        return replace(
            self,
            queue=queue or self.queue,
            search="",
            sort=sort,
            descending=descending,
            queue_sort=None,
            breaching=False,
            name="",
        )

    def sorted_by(self, key: str) -> QueueView:
        """Sorted by `key`: the same key again flips the direction."""
        if key == self.sort:
            return replace(self, descending=not self.descending)
        return replace(self, sort=key, descending=key in DESCENDING_FIRST)

    def choose(self, queues: list[QueueInfo]) -> QueueInfo | None:
        """The queue this view names, else the first one the user may see."""
        return next((q for q in queues if q.name == self.queue), queues[0] if queues else None)

    def request(self, queue: QueueInfo, after: Any = None) -> tuple[int | None, dict[str, Any]]:
        """The `listing.list_tickets` call for a page of this view: (queue id or None, options)."""
        options: dict[str, Any] = {
            "query": self.search,
            "sort": self.sort,
            "descending": self.descending,
            "text": self.filter,
            "limit": PAGE,
            "time_left": True,  # the Due column
        }
        if self.breaching:
            options["query"], options["due_within"] = BREACHING_QUERY, BREACHING
        if after is not None:
            options["after"] = after
        return (None if self.search or self.breaching else queue.id), options
