"""`tessera ssh-server`: the TUI over SSH, one pty and one process per session."""

from tessera.core.thirdparty import asyncssh as _quiet_asyncssh

_quiet_asyncssh()  # the first import of asyncssh, here, without cryptography's DSA warnings
