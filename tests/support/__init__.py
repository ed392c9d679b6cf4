"""What the tests share: fixtures, desks, and drivers for the program, mail, SSH and the TUI.

No tests live here (pytest collects only `test_*.py`). Modules:
  fixtures  the pytest fixtures (registered by tests/conftest.py): databases, sessions, and the
            desks: desk (rolled back), committed_desk (a database of its own), tui_desk (ticket
            ids of a committed desk)
  pg        the test PostgreSQL: a migrated template, cloned per test that commits
  desks     the desks tests run on (superuser, queues, agents, tickets)
  rights    the rights an ordinary agent holds
  cli       running the real `tessera` program and its one-line error contract
  cli_zygote  the forking server `cli.run` starts each command line from (imports done once)
  mail      a customer's message, delivered through the gateway, and what it left behind
  smtp      a real SMTP server on loopback that records what it receives
  net       free loopback ports
  scrips    the scrip engine switched on
  ssh       SSH keys as a user keeps them; terminal output as plain text
  tui       keys by action id, async Pilot tests, waiting on the app's workers
  desk_clock  PARIS, paris(...) and the `at` fixture that sets the desk's clock (registered)
  wait      wait_until / async_wait_until: poll a condition instead of sleeping a fixed time;
            until_loop_time: the moment a server sharing the test's event loop has run its timers
  lockwait  one session holds a change's row locks while another waits on them (seen in pg_locks)
  live      whether a LISTEN connection is open (live updates can be expected from then on)
  terminal  a real terminal (tmux): keys in, screen out, waits on what the screen shows
  api       a live `tessera api` process with tokens
"""
