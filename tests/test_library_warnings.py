"""No library's warning reaches a user: imports that warn are silenced where Tessera makes them,
and the program hides any other library warning unless asked (-W, TESSERA_DEBUG)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.cli import run


def test_ssh_modules_import_without_any_warning_even_under_w_error() -> None:
    # -W error turns cryptography's DSA deprecation (asyncssh 2.x) into an exception at import.
    code = (
        "import tessera.ssh.server\n"
        "from tessera.core.sshkeys import parse_public_key\n"
        "key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b'\n"
        "print(parse_public_key(key).key_type)\n"
    )
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ssh-ed25519"
    assert proc.stderr == ""


def test_key_and_server_commands_print_no_library_warning(cli_env: dict[str, str]) -> None:
    listed = run(["user", "key", "list"], cli_env, fresh=True)  # warnings at import time too
    assert "Warning" not in listed.err, listed.err
    refused = run(["ssh-server", "--port", "70000"], cli_env, fresh=True)
    assert refused.code != 0
    assert "Warning" not in refused.err and len(refused.err.strip().splitlines()) == 1, refused.err


def test_psycopgs_log_of_a_lost_pipeline_does_not_reach_the_terminal() -> None:
    """A connection lost inside a pipeline (the COMMIT sent with the scrips' writes) makes psycopg
    log "error ignored terminating <Pipeline>"; the error is reported in one line already."""
    code = (
        "import logging, tessera.core.db_wait\n"
        "logging.getLogger('psycopg').warning('error ignored terminating <psycopg.Pipeline [BAD]>')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
