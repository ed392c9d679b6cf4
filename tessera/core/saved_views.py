"""Saved views: what a list shows (a queue or TicketSQL search, its quick filter and order), saved
as the user's own or shared, and the queue pane's sort for one. The TUI's keys 1-9 and V/W; the
searches themselves are TicketSQL's saved searches (tessera.core.search.service).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera.core.errors import InvalidInput
from tessera.core.listing import SORT_KEYS, list_order, list_query

if TYPE_CHECKING:
    from tessera.core.context import Context


@dataclass(frozen=True)
class View:
    name: str
    query: str
    shared: bool
    order_by: str = ""


def saved_views(ctx: Context) -> list[View]:
    """The user's saved searches, then the shared ones: the TUI's views (keys 1-9)."""
    from tessera.core.search.service import list_saved

    return [View(s.name, s.query, s.shared, s.order_by) for s in list_saved(ctx)]


def save_view(
    ctx: Context,
    name: str,
    *,
    queue: str | None,
    query: str,
    words: str,
    sort: str,
    descending: bool,
    shared: bool,
) -> View:
    """Save (or replace) what a list shows as a view (`list_query`, in the list's order): yours,
    or (`shared`, agents only) everyone's."""
    from tessera.core.search.service import save_search, where_clause

    def compiles(condition: str) -> bool:
        try:
            where_clause(ctx, condition)
        except InvalidInput:
            return False
        return True

    text = list_query(queue, query, words, compiles)
    if not text:
        raise InvalidInput("nothing to save: the list shows no queue or search")
    saved = save_search(ctx, name, text, list_order(sort, descending), shared=shared)
    return View(saved.name, saved.query, saved.shared, saved.order_by)


def rename_view(ctx: Context, name: str, new_name: str, shared: bool) -> View:
    from tessera.core.search.service import rename_saved

    saved = rename_saved(ctx, name, new_name, shared=shared)
    return View(saved.name, saved.query, saved.shared, saved.order_by)


def delete_view(ctx: Context, name: str, shared: bool) -> None:
    from tessera.core.search.service import delete_saved

    delete_saved(ctx, name, shared=shared)


# TicketSQL sort keys the queue pane can sort by, and the pane's name for each.
_PANE_SORTS = {
    **{key: key for key in SORT_KEYS},
    "lastupdated": "updated",
    "requestors": "requestor",
}


def view_sort(query: str, order_by: str = "") -> tuple[str, bool] | None:
    """The pane's (sort, descending) for a view: the first key of its order (`order_by`, else the
    query's own ORDER BY), or None when it has none the pane sorts by (the pane keeps its sort)."""
    keys = order_by.strip()
    if not keys:
        from tessera.core.search.parser import SearchError, parse_with_order

        try:
            keys = parse_with_order(query)[1]
        except SearchError:
            return None
    words = keys.replace("|", ",").split(",")[0].split()
    if not words:
        return None
    name, descending = words[0], len(words) > 1 and words[1].upper() == "DESC"
    if name.startswith("-"):
        name, descending = name[1:], True
    sort = _PANE_SORTS.get(name.lower())
    return (sort, descending) if sort else None
