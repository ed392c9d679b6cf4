"""What the scrip admin asks of core: each a function of a Context, run by the pane's `Backend`
(`await backend.ask(scrip_ops.scrips, queue)`). Rights are checked in core
(`tessera.scrips.access`), not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tessera.scrips import access as scrip_access
from tessera.scrips import editing, specs
from tessera.scrips import revisions as scrip_revisions

if TYPE_CHECKING:
    from tessera.core.context import Context

access = scrip_access.access
scrip = editing.get_scrip
template_for = editing.template_for
set_enabled = editing.set_enabled
move = editing.move_scrip
delete_scrip = editing.delete_scrip
deleted_scrips = scrip_revisions.deleted_scrips
templates = editing.list_templates
template = editing.get_template
delete_template = editing.delete_template
revisions = scrip_revisions.revisions
revert = editing.revert


def queue_names(ctx: Context) -> list[str]:
    return sorted(specs.queue_names(ctx).values(), key=str.lower)


def scrips(ctx: Context, queue: str | None = None) -> list[dict[str, Any]]:
    return editing.list_scrips(ctx, queue)


def save_scrip(
    ctx: Context,
    scrip_id: int | None,
    spec: dict[str, Any],
    template: dict[str, Any] | None,
    expected: str | None,
    template_expected: str | None,
) -> dict[str, Any]:
    return editing.save_scrip(
        ctx,
        scrip_id,
        spec,
        template,
        expected_updated=expected,
        template_expected_updated=template_expected,
    )


def save_template(
    ctx: Context, template_id: int | None, entry: dict[str, Any], expected: str | None
) -> dict[str, Any]:
    return editing.save_template(ctx, template_id, entry, expected_updated=expected)


def dry_run(
    ctx: Context,
    spec: dict[str, Any],
    template: dict[str, Any] | None,
    ticket: str,
    changes: dict[str, str],
    scrip_id: int | None,
) -> dict[str, Any]:
    """The draft on `ticket` after `changes`; `at=MOMENT` among them runs a timer at that moment."""
    from tessera.scrips.draft import dry_run as run_draft
    from tessera.scrips.timers import parse_moment

    changes = dict(changes)
    raw = changes.pop("at", None)
    at = parse_moment(raw, label="at") if raw is not None else None
    return run_draft(ctx, spec, template, ticket, changes, scrip_id=scrip_id, at=at)


def parse_change(text: str) -> dict[str, str]:
    """`status=resolved priority=5` or `subject="Two words"` -> {field: value}; empty -> {}."""
    import shlex

    from tessera.core.errors import InvalidInput
    from tessera.core.tickets import parse_assignments

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidInput(f"cannot read the change: {exc}") from None
    return parse_assignments(words) if words else {}
