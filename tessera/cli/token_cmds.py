"""`tessera user token`: bearer tokens for the HTTP API."""

from __future__ import annotations

from typing import Any

import typer

from tessera.cli.common import JSON_OPTION, USER_OPTION, acting, echo, print_json, table

token_app = typer.Typer(help="API tokens: how scripts and integrations act as a user over HTTP.")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _token_json(token: Any, owner: Any) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": owner.name,
        "prefix": token.prefix,
        "label": token.label,
        "created": token.created,
        "expires": token.expires,
        "last_used": token.last_used,
        "revoked": token.revoked,
    }


@token_app.command("add")
def token_add(
    name: str = typer.Argument(..., help="The user the token acts as."),
    label: str = typer.Option("", "--label", help="What the token is for (e.g. 'monitoring')."),
    expires: str | None = typer.Option(None, "--expires", help="Lifetime: 90d, 12h, 2w; default never."),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a token and print it once: only its hash is stored. Needs AdminUsers, except for your own."""
    from tessera.core import tokens

    with acting(user) as ctx:
        made = tokens.add_token(ctx, name, label=label, expires=expires)
        if as_json:
            print_json({**_token_json(made.token, made.token_user), "token": made.secret})
            return
        echo(made.secret)
        ends = f", expires {_when(made.token.expires)} UTC" if made.token.expires else ""
        typer.echo(f"token {made.token.id} for {name}{ends}: shown once, store it now", err=True)


@token_app.command("list")
def token_list(
    name: str | None = typer.Argument(
        None, help="Only this user's tokens (default: every token you may see)."
    ),
    user: str | None = USER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List tokens (never the tokens themselves): label, created, expires, last used."""
    from tessera.core import tokens

    with acting(user) as ctx:
        found = tokens.list_tokens(ctx, name)
        if as_json:
            print_json([_token_json(t, u) for t, u in found])
            return
        if not found:
            echo(
                "no API tokens"
                + (f" for {name}" if name else "")
                + ": add one with `tessera user token add NAME`"
            )
            return
        table(
            [
                [
                    str(t.id),
                    u.name,
                    t.prefix + "…",
                    t.label,
                    _when(t.created),
                    _when(t.expires) or "never",
                    _when(t.last_used) or "never",
                    "revoked" if t.revoked else "",
                ]
                for t, u in found
            ],
            ["ID", "USER", "TOKEN", "LABEL", "CREATED", "EXPIRES", "LAST USED", ""],
        )


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Argument(..., help="The user whose token it is."),
    which: str = typer.Argument(..., help="The token's id or prefix as `token list` prints it."),
    user: str | None = USER_OPTION,
) -> None:
    """Revoke a token: requests with it are refused from now on (401)."""
    from tessera.core import tokens

    with acting(user) as ctx:
        revoked = tokens.revoke_token(ctx, name, which)
        echo(f"revoked token {revoked.id} ({revoked.prefix}…) of {name}")
