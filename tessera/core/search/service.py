"""Running searches: TicketSQL with ordering and paging, counts, saved searches and completion."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, select

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.lifecycles.rules import DELETED
from tessera.core.models import SavedSearch, Ticket, User
from tessera.core.search.compiler import Compiler
from tessera.core.search.completion import suggestions
from tessera.core.search.fields import FIELD_NAMES
from tessera.core.search.ordering import order_clauses
from tessera.core.search.parser import OPERATORS, SearchError, parse_with_order
from tessera.core.search.visibility import visible_filter

MAX_LIMIT = 10_000


def where_clause(ctx: Context, query: str) -> ColumnElement[bool]:
    """The compiled query plus the implicit filters: visibility, deleted and merged tickets."""
    return _compiled(ctx, query)[0]


def _compiled(ctx: Context, query: str, also: str = "") -> tuple[ColumnElement[bool], str]:
    """The WHERE of `query` (AND `also`, a caller's own TicketSQL filters, compiled apart so that
    an error in `query` names the column the user typed it at) and the keys of its trailing
    ORDER BY ("" if none)."""
    node, order_by = parse_with_order(query)
    compiler = Compiler(ctx)
    parts = [compiler.compile(node), visible_filter(ctx)]
    if also.strip():
        try:
            parts.append(compiler.compile(parse_with_order(also)[0]))
        except SearchError as exc:  # the caller's filter, not text the user typed: no column
            place = f" at column {exc.column}" if exc.column is not None else ""
            raise SearchError(exc.message.replace(place, "", 1) if place else exc.message) from None
    if not compiler.asks_for_merged:
        parts.append(Ticket.merged_into_id.is_(None))
    if not compiler.asks_for_deleted:
        parts.append(Ticket.status != DELETED)
    return and_(*parts), order_by


def statement(
    ctx: Context, query: str, order_by: str = "", limit: int = 50, offset: int = 0, also: str = ""
) -> Select[Ticket]:
    """The page's SELECT; `order_by` (as `--order-by` takes it) wins over the query's ORDER BY."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0 or offset > 2**31 - 1:
        raise InvalidInput("offset must be between 0 and 2147483647")
    where, in_query = _compiled(ctx, query, also)
    return (
        select(Ticket)
        .where(where)
        .order_by(*order_clauses(order_by.strip() or in_query))
        .limit(limit)
        .offset(offset)
    )


def search(
    ctx: Context, query: str, order_by: str = "", limit: int = 50, offset: int = 0, also: str = ""
) -> list[Ticket]:
    """The tickets the actor may see that match (and match `also`), in order."""
    from tessera.core.fast_sql import planned_each_time

    found = statement(ctx, query, order_by, limit, offset, also)
    with planned_each_time(ctx.session, page=bool(limit)):
        return list(ctx.session.scalars(found))


def count(ctx: Context, query: str) -> int:
    from tessera.core.fast_sql import planned_each_time

    counted = select(func.count()).select_from(Ticket).where(where_clause(ctx, query))
    with planned_each_time(ctx.session):
        return ctx.session.scalar(counted) or 0


# -- saved searches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    name: str
    query: str
    order_by: str
    shared: bool
    owner: str | None


def _saved(row: SavedSearch, owner: str | None) -> Saved:
    return Saved(row.name, row.query, row.order_by, row.owner_id is None, owner)


@operation
def save_search(ctx: Context, name: str, query: str, order_by: str = "", *, shared: bool = False) -> Saved:
    """Save (or replace) a search; it is checked first, so a saved search always runs."""
    name = name.strip()
    if not name:
        raise InvalidInput("a saved search needs a name")
    where_clause(ctx, query)
    order_clauses(order_by)
    if shared and not ctx.actor.privileged:
        raise InvalidInput("only agents may share searches")
    if len(name) > 200:
        raise InvalidInput("a saved search name may be at most 200 characters")
    owner_id = None if shared else ctx.actor.id
    existing = ctx.session.scalars(
        select(SavedSearch).where(
            func.lower(SavedSearch.name) == name.lower(),
            SavedSearch.owner_id.is_(None) if owner_id is None else SavedSearch.owner_id == owner_id,
        )
    ).first()
    if existing is None:
        existing = SavedSearch(
            name=name, owner_id=owner_id, query=query, order_by=order_by, created_by_id=ctx.actor.id
        )
        ctx.session.add(existing)
    else:
        existing.query, existing.order_by = query, order_by
    return Saved(name, query, order_by, shared, None if shared else ctx.actor.name)


def list_saved(ctx: Context) -> list[Saved]:
    """The actor's own searches, then the shared ones."""
    rows = ctx.session.execute(
        select(SavedSearch, User.name)
        .outerjoin(User, User.id == SavedSearch.owner_id)
        .where((SavedSearch.owner_id == ctx.actor.id) | SavedSearch.owner_id.is_(None))
        .order_by(SavedSearch.owner_id.is_(None), func.lower(SavedSearch.name))
    ).all()
    return [_saved(row, owner) for row, owner in rows]


def get_saved(ctx: Context, name: str) -> Saved:
    for saved in list_saved(ctx):
        if saved.name.lower() == name.strip().lower():
            return saved
    raise NotFound(f"no saved search named {name!r} (see `tessera search list`)")


@operation
def delete_saved(ctx: Context, name: str, *, shared: bool = False) -> None:
    """Delete one of your searches, or (`shared`, agents only, as for sharing) a shared one."""
    if shared and not ctx.actor.privileged:
        raise InvalidInput("only agents may delete shared searches")
    owner = SavedSearch.owner_id.is_(None) if shared else SavedSearch.owner_id == ctx.actor.id
    row = ctx.session.scalars(
        select(SavedSearch).where(func.lower(SavedSearch.name) == name.strip().lower(), owner)
    ).first()
    if row is None:
        where = "no shared search" if shared else "you have no saved search"
        hint = "" if shared else " (a shared one? add --shared)"
        raise NotFound(f"{where} named {name!r}{hint}")
    ctx.session.delete(row)


@operation
def rename_saved(ctx: Context, name: str, new_name: str, *, shared: bool = False) -> Saved:
    """Rename one of your searches, or (`shared`, agents only) a shared one; the new name must be
    free among them."""
    new_name = new_name.strip()
    if not new_name:
        raise InvalidInput("a saved search needs a name")
    if len(new_name) > 200:
        raise InvalidInput("a saved search name may be at most 200 characters")
    if shared and not ctx.actor.privileged:
        raise InvalidInput("only agents may rename shared searches")
    owner = SavedSearch.owner_id.is_(None) if shared else SavedSearch.owner_id == ctx.actor.id
    rows = ctx.session.scalars(
        select(SavedSearch).where(
            func.lower(SavedSearch.name).in_([name.strip().lower(), new_name.lower()]), owner
        )
    ).all()
    row = next((r for r in rows if r.name.lower() == name.strip().lower()), None)
    if row is None:
        raise NotFound(f"{'no shared search' if shared else 'you have no saved search'} named {name!r}")
    if any(r is not row and r.name.lower() == new_name.lower() for r in rows):
        raise InvalidInput(f"there is already a {'shared' if shared else 'saved'} search named {new_name!r}")
    row.name = new_name
    return Saved(new_name, row.query, row.order_by, shared, None if shared else ctx.actor.name)


# -- completion ----------------------------------------------------------------------------------


def complete(ctx: Context, text: str) -> list[str]:
    """Suggestions for the last word of a query being typed: fields, operators or values."""
    return suggestions(ctx, text)


__all__ = ["FIELD_NAMES", "OPERATORS", "SearchError", "count", "search", "statement"]
