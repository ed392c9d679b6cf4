"""SSH keys in core and the CLI (`tessera user key ...`), the login decision, server options."""

from __future__ import annotations

import json
from pathlib import Path

import asyncssh
import pytest

from tessera.core import sshkeys, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tests.support.cli import assert_one_line_error, run
from tests.support.ssh import write_key

# -- core -----------------------------------------------------------------------------------------


@pytest.fixture
def root(session):
    bootstrap(session, "root")
    ctx = open_context(session, "root")
    users.add_user(ctx, "alice")
    users.add_user(ctx, "bob")
    users.add_user(ctx, "carol", privileged=False)
    return ctx


def test_keys_are_parsed_fingerprinted_and_unique(root, tmp_path: Path) -> None:
    key, path = write_key(tmp_path, "alice")
    added = sshkeys.add_key(root, "alice", path.read_text())
    assert added.fingerprint == key.get_fingerprint("sha256")
    assert added.key_type == "ssh-ed25519" and added.comment == "alice@laptop"
    assert added.public_key == key.export_public_key("openssh").decode().split(" alice@")[0]
    with pytest.raises(InvalidInput, match=r"is already registered to alice"):
        sshkeys.add_key(root, "bob", path.read_text())
    with pytest.raises(InvalidInput, match="is a private key"):
        sshkeys.add_key(root, "bob", (tmp_path / "alice").read_text())
    with pytest.raises(InvalidInput, match="not an SSH public key"):
        sshkeys.add_key(root, "bob", "ssh-ed25519 AAAAnope")
    with pytest.raises(InvalidInput, match="is empty"):
        sshkeys.add_key(root, "bob", "  \n")
    with pytest.raises(NotFound):
        sshkeys.add_key(root, "nobody", path.read_text())
    # A non-ASCII comment, and a line copied from authorized_keys with its options, are fine.
    copied = asyncssh.generate_private_key("ssh-ed25519", comment="Jürgen's laptop ✓")
    line = 'restrict,from="10.0.0.1,10.0.0.2" ' + copied.export_public_key("openssh").decode()
    from_authorized_keys = sshkeys.add_key(root, "carol", line)
    assert from_authorized_keys.fingerprint == copied.get_fingerprint("sha256")
    assert from_authorized_keys.comment == "Jürgen's laptop ✓"
    sshkeys.remove_key(root, "carol", from_authorized_keys.fingerprint)
    # RFC 4716 form is accepted too.
    other = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    rfc = other.export_public_key("rfc4716").decode()
    assert sshkeys.add_key(root, "bob", rfc).fingerprint == other.get_fingerprint("sha256")
    assert [(k.fingerprint, u.name) for k, u in sshkeys.list_keys(root)] == [
        (key.get_fingerprint("sha256"), "alice"),
        (other.get_fingerprint("sha256"), "bob"),
    ]
    removed = sshkeys.remove_key(root, "alice", added.fingerprint.removeprefix("SHA256:"))
    assert removed.fingerprint == added.fingerprint
    assert [u.name for _, u in sshkeys.list_keys(root)] == ["bob"]
    with pytest.raises(NotFound, match="has no SSH key"):
        sshkeys.remove_key(root, "alice", added.fingerprint)


def test_agents_manage_only_their_own_keys(root, session, tmp_path: Path) -> None:
    _, alice_pub = write_key(tmp_path, "alice")
    _, bob_pub = write_key(tmp_path, "bob")
    sshkeys.add_key(root, "bob", bob_pub.read_text())
    alice = open_context(session, "alice")
    sshkeys.add_key(alice, "alice", alice_pub.read_text())
    assert [u.name for _, u in sshkeys.list_keys(alice)] == ["alice"]
    with pytest.raises(PermissionDenied, match="may not add SSH keys of user bob"):
        sshkeys.add_key(alice, "bob", write_key(tmp_path, "x")[1].read_text())
    with pytest.raises(PermissionDenied):
        sshkeys.list_keys(alice, "bob")
    [(bob_key, _)] = sshkeys.list_keys(root, "bob")
    with pytest.raises(PermissionDenied):
        sshkeys.remove_key(alice, "bob", bob_key.fingerprint)


def test_the_login_decision(root, session, tmp_path: Path) -> None:
    fingerprints = {}
    for name in ("alice", "bob", "carol"):
        fingerprints[name] = sshkeys.add_key(root, name, write_key(tmp_path, name)[1].read_text()).fingerprint
    users.update_user(root, "bob", {"disabled": "yes"})
    alice_id = users.get_user(root, "alice").id

    def decide(name: str, active: dict[int, int] | None = None, limit: int = 2) -> sshkeys.LoginDecision:
        return sshkeys.decide_login(
            session,
            fingerprints.get(name, "SHA256:unknown"),
            active_sessions=active or {},
            max_sessions=limit,
        )

    unknown = decide("stranger")
    assert (unknown.allowed, unknown.code, unknown.user_name) == (False, "unknown_key", None)
    assert "SHA256:unknown is not registered" in unknown.reason
    assert decide("bob").code == "disabled"
    assert decide("carol").code == "unprivileged"
    assert decide("alice", {alice_id: 2}).code == "session_limit"
    assert decide("alice", {alice_id: 99}, limit=0).allowed  # 0 = no limit
    ok = decide("alice", {alice_id: 1})
    assert (ok.allowed, ok.code, ok.user_name, ok.user_id) == (True, "ok", "alice", alice_id)
    [(key, _)] = sshkeys.list_keys(root, "alice")
    session.refresh(key)
    assert key.last_used is not None
    owner = sshkeys.key_owner(session, fingerprints["alice"])
    assert owner is not None and owner.user_name == "alice"
    assert sshkeys.key_owner(session, "SHA256:unknown") is None


# -- the CLI --------------------------------------------------------------------------------------


def test_user_key_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["db", "upgrade"], cli_env).code == 0
    assert run(["user", "add", "alice", "--user", "root"], cli_env).code == 0
    key, pub = write_key(tmp_path, "alice")
    fingerprint = key.get_fingerprint("sha256")

    added = run(["user", "key", "add", "alice", str(pub), "--user", "root"], cli_env)
    assert added.code == 0, added
    assert added.out.strip() == f"added ssh-ed25519 key {fingerprint} (alice@laptop) for alice"

    listed = run(["user", "key", "list", "--user", "root"], cli_env)
    assert listed.code == 0
    assert listed.out.splitlines()[0].split() == ["USER", "FINGERPRINT", "TYPE", "COMMENT", "LAST", "USED"]
    assert listed.out.splitlines()[1].split() == [
        "alice",
        fingerprint,
        "ssh-ed25519",
        "alice@laptop",
        "never",
    ]
    as_json = json.loads(run(["user", "key", "list", "alice", "--json", "--user", "root"], cli_env).out)
    assert [(k["user"], k["fingerprint"], k["type"], k["last_used"]) for k in as_json] == [
        ("alice", fingerprint, "ssh-ed25519", None)
    ]

    assert_one_line_error(
        run(["user", "key", "add", "root", str(pub), "--user", "root"], cli_env),
        "already registered to alice",
    )
    assert_one_line_error(
        run(["user", "key", "add", "alice", str(tmp_path / "missing.pub"), "--user", "root"], cli_env),
        "cannot read",
    )
    piped = run(
        ["user", "key", "add", "root", "-", "--user", "root"],
        cli_env,
        stdin=write_key(tmp_path, "r")[1].read_text(),
    )
    assert piped.code == 0 and "for root" in piped.out

    assert_one_line_error(
        run(["user", "key", "remove", "alice", "SHA256:nope", "--user", "root"], cli_env), "has no SSH key"
    )
    for wrong, message in [
        ("MD5:4b:f3:c9:da", "is not a SHA256 fingerprint"),
        (str(tmp_path / "gone.pub"), "no such file"),
        (str(tmp_path / "alice"), "is a private key"),
    ]:
        assert_one_line_error(
            run(["user", "key", "remove", "alice", wrong, "--user", "root"], cli_env), message
        )
    removed = run(["user", "key", "remove", "alice", fingerprint, "--user", "root"], cli_env)
    assert removed.code == 0 and removed.out.strip() == f"removed key {fingerprint} of alice"
    assert run(["user", "key", "list", "alice", "--json", "--user", "root"], cli_env).out.strip() == "[]"
    listed = run(["user", "key", "list", "alice", "--user", "root"], cli_env)
    assert listed.code == 0 and listed.out.startswith("no SSH keys for alice")
    # A key can be named by its public key file too.
    assert run(["user", "key", "add", "alice", str(pub), "--user", "root"], cli_env).code == 0
    removed = run(["user", "key", "remove", "alice", str(pub), "--user", "root"], cli_env)
    assert removed.code == 0 and removed.out.strip() == f"removed key {fingerprint} of alice"
    # A key for a user who cannot log in over SSH is kept, with a warning saying why.
    assert (
        run(["user", "add", "rita@customer.example", "--unprivileged", "--user", "root"], cli_env).code == 0
    )
    for_requestor = run(["user", "key", "add", "rita@customer.example", str(pub), "--user", "root"], cli_env)
    assert for_requestor.code == 0, for_requestor
    assert "rita@customer.example is not privileged" in for_requestor.err


def test_ssh_server_options_are_checked(cli_env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], cli_env).code == 0
    assert_one_line_error(run(["ssh-server", "--idle-timeout", "soon"], cli_env), "--idle-timeout", "soon")
    assert_one_line_error(
        run(["ssh-server"], {**cli_env, "TESSERA_SSH_MAX_SESSIONS": "-1"}), "TESSERA_SSH_MAX_SESSIONS"
    )
    assert_one_line_error(run(["ssh-server", "--port", "70000"], cli_env), "--port")
    for endless in ("inf", "nan", "-1m"):
        assert_one_line_error(run(["ssh-server", "--idle-timeout", endless], cli_env), "--idle-timeout")
