"""SSH keys of Tessera users, and the decision whether an SSH login may open the TUI.

`tessera ssh-server` authenticates by public key only. A key belongs to exactly one user; the key,
not the SSH login name, says who is connecting. A login is allowed when the key is registered,
its user is not disabled, is privileged (an agent), and has fewer open sessions than the limit.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core.context import Context, desk_context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import SshKey, User
from tessera.core.users import get_user, require_self_or_admin

FINGERPRINT_PREFIX = "SHA256:"


@dataclass(frozen=True)
class ParsedKey:
    key_type: str
    public_key: str  # "TYPE BASE64", no comment
    comment: str
    fingerprint: str


def fingerprint_of(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (as `ssh-keygen -l` prints it)."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return FINGERPRINT_PREFIX + digest


def parse_public_key(text: str, *, source: str = "the key") -> ParsedKey:
    """One public key in OpenSSH (`id_ed25519.pub`) or RFC 4716 form; anything else is refused."""
    from tessera.core.thirdparty import asyncssh as _asyncssh

    asyncssh = _asyncssh()
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{source} is empty: expected an SSH public key such as ~/.ssh/id_ed25519.pub")
    if "PRIVATE KEY" in stripped:
        raise InvalidInput(f"{source} is a private key: give the public key (the .pub file) instead")
    lines = [line for line in stripped.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) > 1 and not stripped.startswith("---- BEGIN SSH2 PUBLIC KEY"):
        raise InvalidInput(f"{source} holds {len(lines)} lines: give exactly one public key")
    if len(lines) == 1:
        stripped = _without_options(lines[0].strip())
    try:
        key = asyncssh.import_public_key(stripped.encode())  # a str with a non-ASCII comment fails
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise InvalidInput(f"{source} is not an SSH public key ({exc})") from None
    blob = key.public_data
    algorithm = key.get_algorithm()
    comment = key.get_comment() or ""
    return ParsedKey(
        key_type=algorithm,
        public_key=f"{algorithm} {base64.b64encode(blob).decode()}",
        comment=comment.strip()[:500],
        fingerprint=fingerprint_of(blob),
    )


KEY_TYPE = re.compile(r"(?:ssh-|ecdsa-|sk-)[A-Za-z0-9@.+-]+")


def _without_options(line: str) -> str:
    """An authorized_keys line (`restrict,from="..." ssh-ed25519 AAAA... comment`) as its key."""
    tokens = line.split()
    for index, token in enumerate(tokens[:-1]):
        if KEY_TYPE.fullmatch(token) and tokens[index + 1].startswith("AAAA"):
            return " ".join(tokens[index:])
    return line


def normalise_fingerprint(raw: str) -> str:
    """`SHA256:...` as `ssh-keygen -l` and `tessera user key list` print it (the prefix optional)."""
    value = raw.strip()
    if value.upper().startswith(FINGERPRINT_PREFIX.upper()):
        value = value[len(FINGERPRINT_PREFIX) :]
    value = value.rstrip("=")
    if not value:
        raise InvalidInput("empty fingerprint: give it as `tessera user key list` prints it (SHA256:...)")
    if value.upper().startswith("MD5:") or ":" in value:
        raise InvalidInput(
            f"{raw.strip()!r} is not a SHA256 fingerprint: give it as `tessera user key list` prints it "
            "(SHA256:...), or the public key file"
        )
    return FINGERPRINT_PREFIX + value


@operation
def add_key(ctx: Context, user_name: str, key_text: str, *, source: str = "the key") -> SshKey:
    """Register a public key for a user (needs AdminUsers, except for your own keys)."""
    user = get_user(ctx, user_name)
    require_self_or_admin(ctx, user, "add SSH keys")
    parsed = parse_public_key(key_text, source=source)
    existing = ctx.session.scalars(select(SshKey).where(SshKey.fingerprint == parsed.fingerprint)).first()
    if existing is not None:
        owner = ctx.session.get(User, existing.user_id)
        who = owner.name if owner is not None else f"user #{existing.user_id}"
        raise InvalidInput(f"key {parsed.fingerprint} is already registered to {who}")
    key = SshKey(
        user_id=user.id,
        fingerprint=parsed.fingerprint,
        key_type=parsed.key_type,
        public_key=parsed.public_key,
        comment=parsed.comment,
        added_by_id=ctx.actor.id,
    )
    ctx.session.add(key)
    ctx.session.flush()
    return key


def list_keys(ctx: Context, user_name: str | None = None) -> list[tuple[SshKey, User]]:
    """A user's keys, or every key (admins) / your own keys (everyone else)."""
    query = select(SshKey, User).join(User, User.id == SshKey.user_id)
    if user_name is not None:
        user = get_user(ctx, user_name)
        require_self_or_admin(ctx, user, "list SSH keys")
        query = query.where(SshKey.user_id == user.id)
    elif not ctx.can("AdminUsers"):
        query = query.where(SshKey.user_id == ctx.actor.id)
    query = query.order_by(func.lower(User.name), SshKey.created, SshKey.id)
    return [(key, user) for key, user in ctx.session.execute(query).all()]


@operation
def remove_key(ctx: Context, user_name: str, fingerprint: str) -> SshKey:
    """Remove one of a user's keys by its fingerprint (needs AdminUsers, except for your own)."""
    user = get_user(ctx, user_name)
    require_self_or_admin(ctx, user, "remove SSH keys")
    wanted = normalise_fingerprint(fingerprint)
    key = ctx.session.scalars(
        select(SshKey).where(SshKey.user_id == user.id, SshKey.fingerprint == wanted)
    ).first()
    if key is None:
        raise NotFound(f"user {user.name} has no SSH key {wanted} (see `tessera user key list {user.name}`)")
    ctx.session.delete(key)
    return key


# -- the login decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOwner:
    user_id: int
    user_name: str
    fingerprint: str


def key_owner(session: Session, fingerprint: str) -> KeyOwner | None:
    """Who a key belongs to, or None for a key this desk does not know."""
    row = session.execute(
        select(User.id, User.name)
        .join(SshKey, SshKey.user_id == User.id)
        .where(SshKey.fingerprint == fingerprint)
    ).first()
    session.rollback()  # read-only: end the transaction so no snapshot is held
    return None if row is None else KeyOwner(row[0], row[1], fingerprint)


@dataclass(frozen=True)
class LoginDecision:
    """Whether a key may open a session; `reason` is the one-line message shown when refused."""

    allowed: bool
    code: str  # ok, unknown_key, disabled, unprivileged, session_limit
    fingerprint: str
    reason: str = ""
    user_id: int | None = None
    user_name: str | None = None


def decide_login(
    session: Session,
    fingerprint: str,
    *,
    active_sessions: Mapping[int, int],
    max_sessions: int,
    now: datetime | None = None,
) -> LoginDecision:
    """Known key, user enabled, privileged, under the session limit (0 = none): then the key's
    `last_used` is stamped and the login allowed. `active_sessions` counts open sessions per user id.
    """
    row = session.execute(
        select(SshKey, User).join(User, User.id == SshKey.user_id).where(SshKey.fingerprint == fingerprint)
    ).first()
    if row is None:
        session.rollback()
        return LoginDecision(
            False,
            "unknown_key",
            fingerprint,
            f"key {fingerprint} is not registered on this desk; an admin can add it with "
            "`tessera user key add NAME FILE`",
        )
    key, user = row
    refused = None
    if user.disabled:
        refused = ("disabled", f"user {user.name} is disabled; ask an admin to enable it")
    elif not user.privileged:
        refused = (
            "unprivileged",
            f"user {user.name} is not privileged: the Tessera TUI over SSH is for agents",
        )
    else:
        open_now = active_sessions.get(user.id, 0)
        if max_sessions > 0 and open_now >= max_sessions:
            refused = (
                "session_limit",
                f"user {user.name} already has {open_now} SSH session(s) open (limit {max_sessions}); "
                "close one and try again",
            )
    if refused is not None:
        session.rollback()
        return LoginDecision(False, refused[0], fingerprint, refused[1], user.id, user.name)
    _stamp(desk_context(session, user), key, now or datetime.now(UTC))
    return LoginDecision(True, "ok", fingerprint, "", user.id, user.name)


@operation
def _stamp(ctx: Context, key: SshKey, when: datetime) -> None:
    """The key's last use, recorded as one unit of work."""
    key.last_used = when
