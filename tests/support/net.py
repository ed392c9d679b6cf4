"""Loopback ports for the servers tests start (SMTP, LMTP, SSH, the API)."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999 by default): a port handed out by the kernel for some
# other test's outgoing connection can then never be the one a server here is about to listen on
# (seen as an SSH server's "cannot listen" in a full run).
_PORTS = range(20000, 32768)
_CHOICE = random.Random()  # its own: a test that seeds the global generator must not pin the ports


def free_port() -> int:
    """A loopback port nothing listens on now, outside the ephemeral range."""
    for _ in range(200):
        port = _CHOICE.choice(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # a machine with that range all taken: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
