"""`tessera queue|user|group|right|cf`: the desk's setup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table

if TYPE_CHECKING:
    from tessera.core.context import Context
    from tessera.core.models import CustomField, Queue, User

# Core is imported inside each command, so the CLI starts without loading it.

queue_app = typer.Typer(help="Queues: list, create, change settings.")
user_app = typer.Typer(help="Users: agents (privileged) and requestors.")
group_app = typer.Typer(help="Groups of users, for granting rights.")
right_app = typer.Typer(help="Rights: grant to users, groups or roles, on a queue or globally.")
cf_app = typer.Typer(help="Custom fields: freeform, select, integer or date; global or per queue.")
user_app.add_typer(__import__("tessera.cli.ssh_cmds", fromlist=["key_app"]).key_app, name="key")
user_app.add_typer(__import__("tessera.cli.token_cmds", fromlist=["token_app"]).token_app, name="token")


def _queue_json(q: Queue) -> dict[str, Any]:
    from tessera.core.serialize import queue_json

    return queue_json(q)


@queue_app.command("list")
def queue_list(
    include_disabled: bool = typer.Option(False, "--all", help="Include disabled queues."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the queues you can see."""
    from tessera.core import queues

    with acting(user) as ctx:
        found = queues.list_queues(ctx, include_disabled=include_disabled)
        if as_json:
            print_json([_queue_json(q) for q in found])
            return
        table(
            [[q.name, q.lifecycle, q.correspond_address or "", q.description] for q in found],
            ["NAME", "LIFECYCLE", "ADDRESS", "DESCRIPTION"],
        )


@queue_app.command("create")
def queue_create(
    name: str = typer.Argument(..., help="Queue name."),
    description: str = typer.Option("", "--description", help="What the queue is for."),
    lifecycle: str = typer.Option("default", "--lifecycle", help="Lifecycle name."),
    correspond_address: str | None = typer.Option(
        None, "--correspond-address", help="Address replies come from."
    ),
    comment_address: str | None = typer.Option(None, "--comment-address", help="Address comments come from."),
    subject_tag: str | None = typer.Option(
        None, "--subject-tag", help="The queue's own subject tag: its mail says [TAG #42] (RT's SubjectTag)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a queue (needs AdminQueue)."""
    from tessera.core import queues

    with acting(user) as ctx:
        q = queues.create_queue(
            ctx,
            name,
            description=description,
            lifecycle=lifecycle,
            correspond_address=correspond_address,
            comment_address=comment_address,
            subject_tag=subject_tag,
        )
        if as_json:
            print_json(_queue_json(q))
        else:
            echo(f"created queue {q.name} (lifecycle {q.lifecycle})")


@queue_app.command("set")
def queue_set(
    name: str = typer.Argument(..., help="Queue name."),
    assignments: list[str] = typer.Argument(
        ...,
        help="FIELD=VALUE: name, description, correspond_address, comment_address, lifecycle, disabled,"
        " subject_tag.",
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a queue's settings."""
    from tessera.core import queues
    from tessera.core.tickets import parse_assignments

    changes = {k.replace("-", "_"): v for k, v in parse_assignments(assignments).items()}
    with acting(user) as ctx:
        q = queues.update_queue(ctx, name, changes)
        if as_json:
            print_json(_queue_json(q))
        else:
            echo(f"updated queue {q.name}")


queue_watcher_app = typer.Typer(help="A queue's Cc and AdminCc: people or groups (group:NAME).")
queue_app.add_typer(queue_watcher_app, name="watcher")
queue_app.add_typer(queue_watcher_app, name="watchers", hidden=True)  # the plural works too


def _queue_watchers_out(ctx: Context, name: str, as_json: bool) -> None:
    from tessera.core import queue_watchers

    found = queue_watchers.list_queue_watchers(ctx, name)
    if as_json:
        print_json([{"role": w.role, "name": w.name, "email": w.email} for w in found])
        return
    table([[w.role, w.name, w.email or ""] for w in found], ["ROLE", "NAME", "EMAIL"])


@queue_watcher_app.command("list")
def queue_watcher_list(
    name: str = typer.Argument(..., help="Queue name."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A queue's watchers (their mail is added to every ticket's, as in RT)."""
    with acting(user) as ctx:
        _queue_watchers_out(ctx, name, as_json)


@queue_watcher_app.command("add")
def queue_watcher_add(
    name: str = typer.Argument(..., help="Queue name."),
    role: str = typer.Argument(..., help="Cc or AdminCc."),
    who: str = typer.Argument(..., help="User name, email address, or group:NAME."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a queue watcher (needs AdminQueue or ModifyQueueWatchers)."""
    from tessera.core import queue_watchers

    with acting(user) as ctx:
        added = queue_watchers.add_queue_watcher(ctx, name, role, who)
        role = queue_watchers.canonical_queue_role(role)
        if as_json:
            _queue_watchers_out(ctx, name, True)
        else:
            echo(
                f"added {who} as {role} of queue {name}" if added else f"{who} already is a {role} of {name}"
            )


@queue_watcher_app.command("remove")
def queue_watcher_remove(
    name: str = typer.Argument(..., help="Queue name."),
    role: str = typer.Argument(..., help="Cc or AdminCc."),
    who: str = typer.Argument(..., help="User name, email address, or group:NAME."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a queue watcher."""
    from tessera.core import queue_watchers

    with acting(user) as ctx:
        queue_watchers.remove_queue_watcher(ctx, name, role, who)
        if as_json:
            _queue_watchers_out(ctx, name, True)
        else:
            echo(f"removed {who} as {queue_watchers.canonical_queue_role(role)} of queue {name}")


def _user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "real_name": u.real_name,
        "privileged": u.privileged,
        "disabled": u.disabled,
    }


@user_app.command("list")
def user_list(
    privileged: bool | None = typer.Option(
        None, "--privileged/--unprivileged", help="Only agents / requestors."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List users."""
    from tessera.core import users

    with acting(user) as ctx:
        found = users.list_users(ctx, privileged=privileged)
        if as_json:
            print_json([_user_json(u) for u in found])
            return
        table(
            [
                [
                    u.name,
                    u.email or "",
                    u.real_name or "",
                    "agent" if u.privileged else "requestor",
                    "disabled" if u.disabled else "",
                ]
                for u in found
            ],
            ["NAME", "EMAIL", "REAL NAME", "KIND", ""],
        )


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="Login name."),
    email: str | None = typer.Option(None, "--email", help="Email address."),
    real_name: str | None = typer.Option(None, "--real-name", help="Full name."),
    unprivileged: bool = typer.Option(False, "--unprivileged", help="A requestor, not an agent."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a user: an agent by default (needs AdminUsers)."""
    from tessera.core import users

    with acting(user) as ctx:
        u = users.add_user(ctx, name, email=email, real_name=real_name, privileged=not unprivileged)
        if as_json:
            print_json(_user_json(u))
        else:
            echo(f"added {'requestor' if unprivileged else 'agent'} {u.name}")


@user_app.command("set")
def user_set(
    name: str = typer.Argument(..., help="User name or email."),
    assignments: list[str] = typer.Argument(
        ..., help="FIELD=VALUE: name, email, real_name, privileged, disabled, notify_actor (yes|no|default)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a user."""
    from tessera.core import users
    from tessera.core.tickets import parse_assignments

    changes = {k.replace("-", "_"): v for k, v in parse_assignments(assignments).items()}
    with acting(user) as ctx:
        u = users.update_user(ctx, name, changes)
        if as_json:
            print_json(_user_json(u))
        else:
            echo(f"updated user {u.name}")


@group_app.command("list")
def group_list(user: str | None = USER_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List groups and their members."""
    from tessera.core import users

    with acting(user) as ctx:
        found = users.list_groups(ctx)
        if as_json:
            print_json(
                [
                    {
                        "id": g.id,
                        "name": g.name,
                        "description": g.description,
                        "members": [m.name for m in members],
                    }
                    for g, members in found
                ]
            )
            return
        table(
            [[g.name, ", ".join(m.name for m in members), g.description] for g, members in found],
            ["NAME", "MEMBERS", "DESCRIPTION"],
        )


@group_app.command("add")
def group_add(
    name: str = typer.Argument(..., help="Group name."),
    description: str = typer.Option("", "--description", help="What the group is for."),
    user: str | None = USER_OPTION,
) -> None:
    """Create a group (needs AdminGroups)."""
    from tessera.core import users

    with acting(user) as ctx:
        g = users.add_group(ctx, name, description)
        echo(f"created group {g.name}")


@group_app.command("member")
def group_member(
    group: str = typer.Argument(..., help="Group name."),
    member: str = typer.Argument(..., help="User name or email."),
    remove: bool = typer.Option(False, "--remove", help="Remove instead of add."),
    user: str | None = USER_OPTION,
) -> None:
    """Add a user to a group (or --remove)."""
    from tessera.core import users

    with acting(user) as ctx:
        changed = users.set_membership(ctx, group, member, member=not remove)
        verb = "removed from" if remove else "added to"
        echo(
            f"{member} {verb} {group}"
            if changed
            else f"nothing to do: {member} already {'out of' if remove else 'in'} {group}"
        )


@right_app.command("list")
def right_list(
    queue: str | None = typer.Option(None, "--queue", "-q", help="Only grants that apply to this queue."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List grants."""
    from tessera.core import grants

    with acting(user) as ctx:
        rows = grants.list_grants(ctx, queue)
        if as_json:
            print_json([{"right": r.right, "principal": r.principal, "queue": r.queue} for r in rows])
            return
        table([[r.right, r.principal, r.queue or "(global)"] for r in rows], ["RIGHT", "TO", "QUEUE"])


@right_app.command("grant")
def right_grant(
    right: str = typer.Argument(..., help="Right name, e.g. ReplyToTicket."),
    to: str = typer.Argument(
        ..., help="user:NAME, group:NAME or role:Requestor|Cc|AdminCc|Owner|Everyone|Privileged."
    ),
    queue: str | None = typer.Option(None, "--queue", "-q", help="On this queue (default: globally)."),
    user: str | None = USER_OPTION,
) -> None:
    """Grant a right."""
    from tessera.core import grants

    with acting(user) as ctx:
        added = grants.grant(ctx, right, to, queue)
        where = f"on {queue}" if queue else "globally"
        echo(f"granted {right} to {to} {where}" if added else f"{to} already has {right} {where}")


@right_app.command("revoke")
def right_revoke(
    right: str = typer.Argument(..., help="Right name."),
    to: str = typer.Argument(..., help="user:NAME, group:NAME or role:NAME."),
    queue: str | None = typer.Option(None, "--queue", "-q", help="On this queue (default: globally)."),
    user: str | None = USER_OPTION,
) -> None:
    """Revoke a right."""
    from tessera.core import grants

    with acting(user) as ctx:
        removed = grants.revoke(ctx, right, to, queue)
        echo(f"revoked {right} from {to}" if removed else f"{to} had no such grant")


def _cf_json(cf: CustomField, scopes: dict[int, str]) -> dict[str, Any]:
    from tessera.core.serialize import custom_field_json

    return custom_field_json(cf, scopes)


@cf_app.command("list")
def cf_list(
    queue: str | None = typer.Option(None, "--queue", "-q", help="Only fields that apply to this queue."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List custom fields."""
    from tessera.core import customfields

    with acting(user) as ctx:
        found = customfields.list_fields(ctx, queue)
        scopes = customfields.scope_names(ctx, found)
        if as_json:
            print_json([_cf_json(cf, scopes) for cf in found])
            return
        table(
            [
                [
                    cf.name,
                    cf.type + (" (multiple)" if cf.multiple else ""),
                    ", ".join(o.value for o in cf.options),
                    "global" if cf.queue_id is None else f"queue {scopes.get(cf.queue_id, cf.queue_id)}",
                    "disabled" if cf.disabled else "",
                ]
                for cf in found
            ],
            ["NAME", "TYPE", "VALUES", "SCOPE", "STATE"],
        )


@cf_app.command("create")
def cf_create(
    name: str = typer.Argument(..., help="Field name."),
    type_: str = typer.Option("freeform", "--type", help="freeform, select, integer or date."),
    multiple: bool = typer.Option(False, "--multiple", help="Allow several values."),
    value: list[str] | None = typer.Option(
        None, "--value", help="An allowed value of a select field (repeatable)."
    ),
    queue: str | None = typer.Option(None, "--queue", "-q", help="Only for this queue (default: global)."),
    pattern: str | None = typer.Option(
        None, "--pattern", help="A regular expression every value must match."
    ),
    description: str = typer.Option("", "--description", help="What the field is for."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a custom field (needs AdminCustomField)."""
    from tessera.core import customfields

    with acting(user) as ctx:
        cf = customfields.create_field(
            ctx,
            name,
            type_=type_,
            multiple=multiple,
            values=value or [],
            queue=queue,
            pattern=pattern,
            description=description,
        )
        if as_json:
            print_json(_cf_json(cf, customfields.scope_names(ctx, [cf])))
        else:
            echo(f"created custom field {cf.name} ({cf.type})")


@cf_app.command("set")
def cf_set(
    name: str = typer.Argument(..., help="Field name."),
    assignments: list[str] | None = typer.Argument(
        None,
        help="FIELD=VALUE: name, description, pattern (empty clears it), queue (empty: every queue),"
        " multiple, disabled (yes or no).",
    ),
    value: list[str] | None = typer.Option(
        None, "--value", help="The allowed values of a select field, in order (repeatable; replaces them)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a custom field, all at once or none (needs AdminCustomField); its type stays."""
    from tessera.core import customfield_admin, customfields
    from tessera.core.tickets import parse_assignments

    changes = customfield_admin.changes_from_text(parse_assignments(assignments or []), value or None)
    with acting(user) as ctx:
        cf = customfield_admin.update_field(ctx, name, **changes)
        if as_json:
            print_json(_cf_json(cf, customfields.scope_names(ctx, [cf])))
        else:
            echo(f"updated custom field {cf.name}")


def _cf_switch(names: list[str], disabled: bool, user: str | None, as_json: bool) -> None:
    from tessera.core import customfield_admin, customfields

    with acting(user) as ctx:
        fields = customfield_admin.set_disabled(ctx, names, disabled)
        if as_json:
            scopes = customfields.scope_names(ctx, fields)
            print_json([_cf_json(cf, scopes) for cf in fields])
            return
    for cf in fields:
        echo(f"custom field {cf.name} {'disabled' if disabled else 'enabled'}")


@cf_app.command("disable")
def cf_disable(
    names: list[str] = typer.Argument(..., help="Field names."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Disable custom fields, all in one transaction (needs AdminCustomField). As in RT a field is
    never deleted: its values stay in the tickets' history, and `cf enable` brings it back."""
    _cf_switch(names, True, user, as_json)


@cf_app.command("enable")
def cf_enable(
    names: list[str] = typer.Argument(..., help="Field names."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Enable disabled custom fields again (needs AdminCustomField)."""
    _cf_switch(names, False, user, as_json)
