"""Who may see and change scrips and templates, and who may open the admin area at all.

Rights are checked here, in the scrips layer, never in a front end: ShowScrips/ModifyScrips for
scrips, ShowTemplate/ModifyTemplate for templates, on the object's queue or globally (SuperUser has
them all).
"""

from __future__ import annotations

from sqlalchemy import select

from tessera.core.context import Context
from tessera.core.errors import PermissionDenied
from tessera.core.models import Queue

SHOW_SCRIPS = ("ShowScrips", "ModifyScrips")


SHOW_TEMPLATES = ("ShowTemplate", "ModifyTemplate", "ShowScrips", "ModifyScrips")


ADMIN_RIGHTS = (
    "ShowScrips",
    "ModifyScrips",
    "ShowTemplate",
    "ModifyTemplate",
    "AdminQueue",
    "AdminLifecycles",
    "AdminCustomField",
)


def anywhere(ctx: Context, rights: tuple[str, ...], queue_ids: list[int]) -> bool:
    """Whether the actor holds one of `rights` globally or on one of the queues."""
    return ctx.can_any(rights) or any(ctx.can_any(rights, q) for q in queue_ids)


def access(ctx: Context) -> dict[str, bool]:
    """What the actor may do in the admin area (globally or on some queue); none at all is refused."""
    queue_ids = list(ctx.session.scalars(select(Queue.id)))
    out = {
        "show_scrips": anywhere(ctx, SHOW_SCRIPS, queue_ids),
        "modify_scrips": anywhere(ctx, ("ModifyScrips",), queue_ids),
        "show_templates": anywhere(ctx, SHOW_TEMPLATES, queue_ids),
        "modify_templates": anywhere(ctx, ("ModifyTemplate",), queue_ids),
        "admin_queues": anywhere(ctx, ("AdminQueue",), queue_ids),
        "admin_lifecycles": ctx.can("AdminLifecycles"),
        "admin_custom_fields": ctx.can("AdminCustomField"),
        "superuser": ctx.can("SuperUser"),
    }
    if not any(out.values()):
        raise PermissionDenied(
            f"{ctx.actor.name} may not open the admin area (needs ShowScrips, ModifyScrips, "
            "ModifyTemplate, AdminQueue or SuperUser)"
        )
    return out


def require_show_scrip(ctx: Context, queue_id: int | None) -> None:
    ctx.require(SHOW_SCRIPS, "see", "scrips", queue_id=queue_id)


def require_modify_scrip(ctx: Context, queue_id: int | None, queues: dict[int, str]) -> None:
    where = f"the scrips of queue {queues.get(queue_id, queue_id)}" if queue_id else "global scrips"
    ctx.require("ModifyScrips", "change", where, queue_id=queue_id)


def require_modify_template(ctx: Context, queue_id: int | None, queues: dict[int, str]) -> None:
    where = f"the templates of queue {queues.get(queue_id, queue_id)}" if queue_id else "global templates"
    ctx.require("ModifyTemplate", "change", where, queue_id=queue_id)
