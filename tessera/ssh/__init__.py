"""`tessera ssh-server`: the TUI over SSH, one pty and one process per session."""
