"""API bearer tokens: made once, shown once, stored as a hash, checked on every request.

A token acts as its user with that user's rights (checked in core as for everyone else). The
token is 32 random bytes (`tsr_` + URL-safe base64); only its SHA-256 is kept, so a copy of the
database does not give anyone a way in, and a lookup is one index probe.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from tessera.core.context import Context, desk_context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import ApiToken, User
from tessera.core.users import get_user, require_self_or_admin

TOKEN_PREFIX = "tsr_"
MAX_LABEL = 200
# `last_used` is written at most this often per token: a busy integration must not turn every
# read into a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)
_DURATION = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(raw: str | None, now: datetime) -> datetime | None:
    """`90d`, `12h`, `30m`, `2w` from now; `never` or nothing: no expiry."""
    if raw is None or raw.strip().lower() in ("", "never"):
        return None
    match = _DURATION.fullmatch(raw.strip())
    if match is None or int(match.group(1)) <= 0:
        raise InvalidInput(f"--expires {raw!r}: give a duration such as 90d, 12h, 2w or 'never'")
    amount = int(match.group(1))
    if amount > 100_000:
        raise InvalidInput(f"--expires {raw!r} is too far away (at most 100000 of a unit)")
    return now + timedelta(**{_UNITS[match.group(2).lower()]: amount})


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    token_user: User
    secret: str  # shown once


@operation
def add_token(ctx: Context, user_name: str, *, label: str = "", expires: str | None = None) -> NewToken:
    """A new token for a user (needs AdminUsers, except for your own)."""
    user = get_user(ctx, user_name)
    require_self_or_admin(ctx, user, "add API tokens")
    if user.disabled:
        raise InvalidInput(f"user {user.name} is disabled: enable it before giving it a token")
    label = " ".join(label.split())
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"a token label may be at most {MAX_LABEL} characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        digest=digest_of(secret),
        prefix=secret[:8],
        label=label,
        expires=parse_expiry(expires, ctx.now),
    )
    ctx.session.add(token)
    ctx.session.flush()
    return NewToken(token, user, secret)


def list_tokens(ctx: Context, user_name: str | None = None) -> list[tuple[ApiToken, User]]:
    """A user's tokens, or every token (admins) / your own (everyone else); revoked ones too."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    if user_name is not None:
        user = get_user(ctx, user_name)
        require_self_or_admin(ctx, user, "list API tokens")
        query = query.where(ApiToken.user_id == user.id)
    elif not ctx.can("AdminUsers"):
        query = query.where(ApiToken.user_id == ctx.actor.id)
    query = query.order_by(func.lower(User.name), ApiToken.created, ApiToken.id)
    return [(token, user) for token, user in ctx.session.execute(query).all()]


@operation
def revoke_token(ctx: Context, user_name: str, which: str) -> ApiToken:
    """Revoke one of a user's tokens, named by its id or its prefix (`tsr_AbCd`)."""
    user = get_user(ctx, user_name)
    require_self_or_admin(ctx, user, "revoke API tokens")
    which = which.strip()
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    if which.isdigit():
        query = query.where(ApiToken.id == int(which))
    elif which.startswith(TOKEN_PREFIX) and len(which) > 8:
        query = query.where(ApiToken.digest == digest_of(which))  # the whole token was given
    else:
        query = query.where(ApiToken.prefix == which[:16])
    found = list(ctx.session.scalars(query))
    if not found:
        raise NotFound(
            f"user {user.name} has no API token {which!r} (see `tessera user token list {user.name}`)"
        )
    if len(found) > 1:
        raise InvalidInput(f"{which!r} names {len(found)} tokens of {user.name}: give the token's id")
    token = found[0]
    if token.revoked is None:
        token.revoked = ctx.now
    return token


@dataclass(frozen=True)
class TokenUser:
    user: User  # loaded with the token: the request's context needs no second read
    token_id: int

    @property
    def user_name(self) -> str:
        return self.user.name


def authenticate(session: Session, secret: str, now: datetime | None = None) -> TokenUser | None:
    """Who a bearer token acts as, or None (unknown, revoked, expired, or its user disabled)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = now or datetime.now(UTC)
    row = session.execute(
        select(ApiToken.id, ApiToken.expires, ApiToken.revoked, ApiToken.last_used, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.digest == digest_of(secret), User.disabled.is_(False))
    ).first()
    if row is None:
        return None
    token_id, expires, revoked, last_used, user = row
    if revoked is not None or (expires is not None and expires <= now):
        return None
    if last_used is None or now - last_used >= LAST_USED_GRANULARITY:
        _stamp(desk_context(session, user), token_id, now)
    return TokenUser(user, token_id)


@operation
def _stamp(ctx: Context, token_id: int, when: datetime) -> None:
    """The token's last use, recorded as one unit of work. Requests that find it due at the same
    moment (every minute on a busy integration) skip the row another is stamping, not wait on it."""
    due = (
        select(ApiToken.id)
        .where(ApiToken.id == token_id)
        .where(or_(ApiToken.last_used.is_(None), ApiToken.last_used <= when - LAST_USED_GRANULARITY))
        .with_for_update(skip_locked=True)
    )
    ctx.session.execute(update(ApiToken).where(ApiToken.id.in_(due.scalar_subquery())).values(last_used=when))
