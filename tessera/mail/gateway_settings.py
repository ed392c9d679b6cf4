"""How the mail gateway is told what to do: its settings (from the environment), the action an
MTA asks for (RT's chains such as `take-correspond`, and plus-addressing through `$EXTENSION`), the
exit codes an MTA reads, and what the gateway did with a message (`Outcome`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tessera.core.errors import InvalidInput, TesseraError
from tessera.core.schemas import normalise_email
from tessera.mail.decoding import storable
from tessera.mail.handoff import EX_DATAERR as EX_DATAERR
from tessera.mail.handoff import EX_OK as EX_OK
from tessera.mail.handoff import EX_TEMPFAIL as EX_TEMPFAIL

MAX_BYTES_ENV = "TESSERA_MAIL_MAX_BYTES"
ROBOTS_ENV = "TESSERA_MAIL_ROBOTS"
CC_ENV = "TESSERA_MAIL_CC_WATCHERS"
OWNER_ENV = "TESSERA_OWNER_EMAIL"
NOTICE_LIMIT_ENV = "TESSERA_OWNER_NOTICES_PER_HOUR"
STORE_LOOPS_ENV = "TESSERA_MAIL_STORE_LOOPS"
DEFAULT_NOTICE_LIMIT = 10
NOTICE_KINDS = ("loop", "bounce")  # dropped mail the desk's owner is told about (RT: LoopsToRTOwner)
NOTICE_KIND = "owner-notice"  # the outbox rows' summary kind, counted for the rate limit
_NOTICE_LOCK = 0x7E55_E4A0  # pg_advisory_xact_lock key: notices are counted one gateway at a time
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_CC_WATCHERS = 25
MAX_ADDRESS = 200  # a user's name holds 200 characters, and the gateway names new users by address
ACTIONS = ("correspond", "comment")  # what records the message
STEPS = ("take", "resolve")  # RT's Take and Resolve mail plugins, chained with '-'
EXTENSIONS = ("queue", "action", "ticket")  # what `--extension` takes from $EXTENSION
MAX_ACTION = 64


@dataclass
class Settings:
    max_bytes: int = DEFAULT_MAX_BYTES
    robots: str = "comment"  # comment | drop
    # Off, as RT's $ParseNewMessageForTicketCcs: on, anyone who may open a ticket by mail has the
    # desk send their text (the Cc's notice on create) from its own address to any address they
    # put in To or Cc.
    cc_watchers: bool = False
    owner_email: str | None = None  # RT's $OwnerEmail: told of dropped loops and bounces
    owner_notices_per_hour: int = DEFAULT_NOTICE_LIMIT
    store_loops: bool = False  # RT's $StoreLoops: our own mail coming back is kept on its ticket

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        settings = cls()
        raw = env.get(MAX_BYTES_ENV, "").strip()
        if raw:
            try:
                settings.max_bytes = int(raw)
            except ValueError:
                raise InvalidInput(f"{MAX_BYTES_ENV}={raw!r} is not a number of bytes") from None
            if settings.max_bytes <= 0:
                raise InvalidInput(f"{MAX_BYTES_ENV}={raw!r}: the limit must be a positive number of bytes")
        robots = env.get(ROBOTS_ENV, "").strip().lower()
        if robots:
            if robots not in ("comment", "drop"):
                raise InvalidInput(f"{ROBOTS_ENV}={robots!r}: use comment or drop")
            settings.robots = robots
        cc = env.get(CC_ENV, "").strip().lower()
        if cc:
            settings.cc_watchers = _flag(cc)
        owner = env.get(OWNER_ENV, "").strip()
        if owner:
            try:
                settings.owner_email = normalise_email(owner)
            except TesseraError:
                raise InvalidInput(f"{OWNER_ENV}={owner!r} is not an email address") from None
        limit = env.get(NOTICE_LIMIT_ENV, "").strip()
        if limit:
            try:
                settings.owner_notices_per_hour = int(limit)
            except ValueError:
                raise InvalidInput(f"{NOTICE_LIMIT_ENV}={limit!r} is not a number of messages") from None
            if settings.owner_notices_per_hour < 0:
                raise InvalidInput(f"{NOTICE_LIMIT_ENV}={limit!r}: use 0 (none) or more")
        store = env.get(STORE_LOOPS_ENV, "").strip().lower()
        if store:
            settings.store_loops = _flag(store)
        return settings


def _flag(value: str) -> bool:
    return value not in ("0", "no", "false", "off")


def parse_action(action: str) -> tuple[str, tuple[str, ...]]:
    """RT's chained `--action` (`take-correspond`, `correspond-resolve`, `take-comment`): the action
    that records the message (correspond or comment) and the others (take, resolve) in the order
    given. A chain of take/resolve alone records the message as correspondence (RT would drop it)."""
    text = action.strip().lower()
    words = text.split("-")
    if not text or len(text) > MAX_ACTION or any(not w for w in words):
        raise InvalidInput(
            f"bad action {storable(action[:MAX_ACTION])!r} (use correspond or comment, "
            "chained with take or resolve: take-correspond, correspond-resolve)"
        )
    for word in words:
        if word not in (*ACTIONS, *STEPS):
            raise InvalidInput(
                f"unknown action {storable(word[:40])!r} in {storable(text)!r} (use correspond or comment, "
                "chained with take or resolve: take-correspond, correspond-resolve)"
            )
    if len(set(words)) != len(words) or sum(w in ACTIONS for w in words) > 1:
        raise InvalidInput(f"action {text!r} names an action twice, or both correspond and comment")
    recording = next((w for w in words if w in ACTIONS), "correspond")
    return recording, tuple(w for w in words if w in STEPS)


def from_extension(
    kind: str | None, value: str | None, queue: str, action: str
) -> tuple[str, str, str | None]:
    """rt-mailgate's `--extension queue|action|ticket`: the MTA's $EXTENSION (the `take` of
    `support+take@desk`) stands for the queue, the action or the ticket; with no extension the
    command's own --queue and --action stand (RT's fallback). (queue, action, ticket or None)."""
    if kind is None:
        return queue, action, None
    kind = kind.strip().lower()
    if kind not in EXTENSIONS:
        raise InvalidInput(f"--extension {kind!r}: use queue, action or ticket")
    text = storable(" ".join((value or "").split()))[:200]
    if not text:
        return queue, action, None
    if kind == "queue":
        return text, action, None
    if kind == "action":
        return queue, text, None
    return queue, action, text


@dataclass
class Outcome:
    action: str  # create | correspond | comment | dropped
    ticket: int | None
    reason: str
    classification: str | None = None
    inbound_id: int | None = None
    exit_code: int = EX_OK

    def as_dict(self) -> dict[str, Any]:
        """The CLI contract of `tessera mailgate --json`: exactly these three keys."""
        return {"action": self.action, "ticket": self.ticket, "reason": self.reason}


# -- the gateway ----------------------------------------------------------------------------------
