"""The scrip admin's door to core: each function is one `Backend._run` call (one session, one
Context), run from a worker thread. Rights are checked in core (`tessera.scrips.admin`), not here.
"""

from __future__ import annotations

from typing import Any

from tessera.scrips import admin
from tessera.tui.backend import Backend


def access(backend: Backend) -> dict[str, bool]:
    return backend._run(admin.access)


def queue_names(backend: Backend) -> list[str]:
    def run(ctx: Any) -> list[str]:
        return sorted(admin._queue_names(ctx).values(), key=str.lower)

    return backend._run(run)


def scrips(backend: Backend, queue: str | None = None) -> list[dict[str, Any]]:
    return backend._run(lambda ctx: admin.list_scrips(ctx, queue))


def scrip(backend: Backend, scrip_id: int) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.get_scrip(ctx, scrip_id))


def template_for(backend: Backend, name: str, queue: str | None) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.template_for(ctx, name, queue))


def save_scrip(
    backend: Backend,
    scrip_id: int | None,
    spec: dict[str, Any],
    template: dict[str, Any] | None,
    expected: str | None,
    template_expected: str | None,
) -> dict[str, Any]:
    return backend._run(
        lambda ctx: admin.save_scrip(
            ctx,
            scrip_id,
            spec,
            template,
            expected_updated=expected,
            template_expected_updated=template_expected,
        )
    )


def set_enabled(backend: Backend, scrip_id: int, enabled: bool) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.set_enabled(ctx, scrip_id, enabled))


def move(backend: Backend, scrip_id: int, step: int, queue: str | None) -> list[dict[str, Any]]:
    return backend._run(lambda ctx: admin.move_scrip(ctx, scrip_id, step, queue))


def delete_scrip(backend: Backend, scrip_id: int) -> None:
    backend._run(lambda ctx: admin.delete_scrip(ctx, scrip_id))


def deleted_scrips(backend: Backend) -> list[dict[str, Any]]:
    return backend._run(admin.deleted_scrips)


def templates(backend: Backend) -> list[dict[str, Any]]:
    return backend._run(admin.list_templates)


def template(backend: Backend, template_id: int) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.get_template(ctx, template_id))


def save_template(
    backend: Backend, template_id: int | None, entry: dict[str, Any], expected: str | None
) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.save_template(ctx, template_id, entry, expected_updated=expected))


def delete_template(backend: Backend, template_id: int) -> None:
    backend._run(lambda ctx: admin.delete_template(ctx, template_id))


def revisions(backend: Backend, kind: str, object_id: int) -> list[dict[str, Any]]:
    return backend._run(lambda ctx: admin.revisions(ctx, kind, object_id))


def revert(backend: Backend, revision_id: int) -> dict[str, Any]:
    return backend._run(lambda ctx: admin.revert(ctx, revision_id))


def dry_run(
    backend: Backend,
    spec: dict[str, Any],
    template: dict[str, Any] | None,
    ticket: str,
    changes: dict[str, str],
    scrip_id: int | None,
) -> dict[str, Any]:
    from tessera.scrips.draft import dry_run as run_draft

    return backend._run(lambda ctx: run_draft(ctx, spec, template, ticket, changes, scrip_id=scrip_id))


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
