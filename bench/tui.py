"""The TUI's two promises: a queue page in ~2 ms at any depth, and the queue screen in under 1 s.

Run: TESSERA_DATA_DIR=DIR .venv/bin/python bench/tui.py [--tickets 1000000] [--runs 51] [--starts 7]
[--keys 20] [--quiet 0.5] [--only paging|start|keys]

Paging: one page (100 rows, as the queue pane asks) of a queue holding every one of `--tickets`
tickets, through core (`tessera.core.listing.list_tickets` on an open context: rights, keyset,
first requestor, unread marker) and as the bare SQL for the same page (psycopg, same columns, ORDER
BY, keyset WHERE and LIMIT), at page 1 and after 10k, 100k and 900k rows, for the sorts in
`--sorts` (default: last update, priority, age; the ones an index serves). A deep page's cursor comes
from one query for its boundary row (no walking). Also timed: one whole TUI call (its own session,
user and rights, then the page), as `Backend.tickets` makes it.
The desk is bench/search.py's (`tessera_bench_<N>`, seeded once with COPY: ~7 minutes for 1M on
2 cores; run that first or let this run it), cloned once into `tessera_tui_<N>` with every ticket
moved to one queue (~2 minutes); later runs reuse both. The server is the embedded test server
(`$TESSERA_TEST_DATA_DIR` or the user cache dir) or `$TESSERA_BENCH_DATABASE_URL`.

Cold start: wall time from launching `tessera --user alice tui` in a pseudo-terminal (120x40) until
the first page of rows is painted with the table focused: the app writes that moment to
`$TESSERA_STARTUP_PROBE` and exits. The desk is the 10,000-ticket demo desk (`tessera demo`) in
the embedded server of `$TESSERA_DATA_DIR` (seeded once if it has no tickets, ~40 s; a server this
run started is stopped at the end). Baseline in the same run, launched the same way: a minimal
Textual app (one DataTable of 50 static rows) writing the same probe after its first paint. Both
run with bytecode caching on (PYTHONDONTWRITEBYTECODE unset), as an installed package would, after
one warm-up launch each; the runs are interleaved, and medians compared, as the machine is shared.

Keys: the time from `tmux send-keys` until the pane settles, on the same desk in tmux at 120x40:
the pane's output is read as it comes (`tmux pipe-pane`), and a key's time is that of the last
output before `--quiet` seconds without any (its first change: the first output). Keys, as an agent
uses them: `j` (next row), `enter` (open the ticket: its fields and the first page of its history),
`J` (the next ticket, from its panes) and `q` (back to the list); then on a ticket with 200
transactions (made once on the desk: the newest of alice's first queue, so the top row): `enter`,
`J` away, `K` back onto it and `q`. Each key is measured `--keys` times, interleaved with the same
key in a minimal Textual app (a DataTable; enter/J/K fill a Static beside it, q empties it) run in
the same tmux server; two warm-up rounds are not counted. Every run's figure is printed, the
median and the machine's load.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PAGE = 100
DEPTHS = (0, 10_000, 100_000, 900_000)

MINIMAL_APP = """
import sys, time
from pathlib import Path
from textual.app import App
from textual.widgets import DataTable

class Minimal(App):
    def compose(self):
        yield DataTable(cursor_type="row")

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("ID", "Subject", "Status", "Owner")
        table.add_rows([(f"TKT-{i:04}", f"subject {i}", "open", "alice") for i in range(50)])
        table.focus()
        self.call_after_refresh(self.reached)

    def reached(self):
        Path(sys.argv[1]).write_text(f"{time.time():.6f}\\n")
        self.exit()

Minimal().run()
"""


# -- cold start ---------------------------------------------------------------------------------


def _controlling_tty() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def launch(cmd: list[str], env: dict[str, str], probe: Path, timeout: float = 60) -> float:
    """Seconds from launch until the program wrote its probe, run in a 120x40 pseudo-terminal."""
    probe.unlink(missing_ok=True)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(env, TESSERA_STARTUP_PROBE=str(probe), TERM="xterm-256color", COLUMNS="120", LINES="40")
    started = time.time()
    proc = subprocess.Popen(
        cmd, env=env, stdin=slave, stdout=slave, stderr=slave, preexec_fn=_controlling_tty, close_fds=True
    )
    os.close(slave)
    tail = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # EIO: the program closed the terminal
                    break
                if not data:
                    break
                tail = (tail + data)[-4000:]
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise SystemExit(f"{cmd} did not start within {timeout} s")
        proc.wait(timeout=10)
    finally:
        os.close(master)
    if proc.returncode != 0 or not probe.exists():
        raise SystemExit(f"{cmd} exited {proc.returncode} without its probe; screen tail: {tail[-400:]!r}")
    return float(probe.read_text().split()[0]) - started


def desk_env() -> tuple[dict[str, str], Path]:
    """The environment of every program this benchmark starts, on the desk of $TESSERA_DATA_DIR."""
    data = os.environ.get("TESSERA_DATA_DIR")
    if not data:
        raise SystemExit(
            "set TESSERA_DATA_DIR: the data dir of the desk to measure (its embedded PostgreSQL)"
        )
    env = dict(os.environ, TESSERA_DATA_DIR=data)
    env.setdefault("TESSERA_CONFIG_DIR", str(Path(data) / "bench-config"))
    # Bytecode is cached, as in an installed package (the warm-up run writes what is missing).
    for name in ("TESSERA_DATABASE_URL", "TESSERA_DEBUG", "TESSERA_USER", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env, Path(data)


def demo_desk(env: dict[str, str]) -> None:
    """The 10,000-ticket demo desk, seeded once (a desk with tickets is taken as it is)."""
    found = subprocess.run(
        [str(BIN / "tessera"), "search", "id = 1", "--user", "root", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 0 and found.stdout.strip() not in ("", "[]"):
        return
    print("seeding the 10,000-ticket demo desk (once, ~40 s)...", flush=True)
    started = time.perf_counter()
    subprocess.run([str(BIN / "tessera"), "demo", "--tickets", "10000"], env=env, check=True)
    print(f"seeded in {time.perf_counter() - started:.0f} s")


def cold_start(starts: int, env: dict[str, str], work: Path) -> None:
    minimal = work / "minimal_app.py"
    minimal.write_text(MINIMAL_APP)
    probe = work / "probe"
    tessera = [str(BIN / "tessera"), "--user", "alice", "tui"]
    baseline = [sys.executable, str(minimal), str(probe)]
    launch(tessera, env, probe)  # warm the page cache and the server's buffers, as a second start is
    launch(baseline, env, probe)
    ours, theirs = [], []
    for _ in range(starts):  # interleaved, so a burst of load elsewhere hits both alike
        ours.append(launch(tessera, env, probe))
        theirs.append(launch(baseline, env, probe))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"cold start to first rows painted, median of {starts} (10,000-ticket demo desk, 120x40 pty)")
    print(f"  tessera tui (queue screen, 100 rows):   {a * 1000:7.0f} ms  (min {min(ours) * 1000:.0f})")
    print(f"  minimal Textual app (50-row DataTable): {b * 1000:7.0f} ms  (min {min(theirs) * 1000:.0f})")
    print(f"  ratio {a / b:.2f}x; target < 1000 ms: {'met' if a < 1.0 else 'NOT met'}")


# -- key latency in tmux --------------------------------------------------------------------------

MINIMAL_KEYS_APP = """
from textual.app import App
from textual.binding import Binding
from textual.widgets import DataTable, Static

class Minimal(App):
    CSS = "DataTable { height: 18; } Static { height: 1fr; }"
    BINDINGS = [Binding("enter", "open", priority=True), Binding("J", "step(1)"), Binding("K", "step(-1)"),
                Binding("q", "back")]

    def compose(self):
        yield DataTable(cursor_type="row")
        yield Static(id="detail")

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("ID", "Subject", "Status", "Owner")
        table.add_rows([(f"TKT-{i:04}", f"subject {i}", "open", "alice") for i in range(500)])
        table.focus()

    def action_open(self):
        row = self.query_one(DataTable).cursor_row
        self.query_one(Static).update(f"TKT-{row:04}\\n" + "".join(f"line {i} of {row}\\n" for i in range(30)))

    def action_step(self, step):
        table = self.query_one(DataTable)
        table.move_cursor(row=table.cursor_row + step)
        self.action_open()

    def action_back(self):
        self.query_one(Static).update("")

    def on_key(self, event):
        if event.key == "j":
            self.query_one(DataTable).action_cursor_down()

Minimal().run()
"""


class Pane:
    """A program in a tmux window (120x40), its output read as it comes, with the time of each."""

    def __init__(self, socket: str, name: str, command: str, work: Path) -> None:
        self.socket, self.name = socket, name
        self.events: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        fifo = work / f"{name}.out"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        self.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", command)
        self.tmux("pipe-pane", "-O", "-t", name, f"cat > {fifo}")
        self._fd = os.open(fifo, os.O_RDONLY)
        threading.Thread(target=self._read, daemon=True).start()

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False)
        return done.stdout

    def _read(self) -> None:
        while True:
            data = os.read(self._fd, 1 << 16)
            if not data:
                return
            with self._lock:
                self.events.append((time.perf_counter(), len(data)))

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, test, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not test(self.screen()):
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: never saw {what}; the screen:\n{self.screen()}")
            time.sleep(0.05)

    def quiet(self, seconds: float) -> None:
        """Wait until the pane has written nothing for `seconds`."""
        while True:
            with self._lock:
                last = self.events[-1][0] if self.events else 0.0
            idle = time.perf_counter() - last
            if idle >= seconds:
                return
            time.sleep(seconds - idle)

    def key(self, key: str, quiet: float, timeout: float = 20) -> tuple[float, float]:
        """Seconds from sending `key` to its first output and to the last before `quiet` s of none."""
        with self._lock:
            start = len(self.events)
        sent = time.perf_counter()
        self.tmux("send-keys", "-t", self.name, key)
        while True:
            time.sleep(0.01)
            now = time.perf_counter()
            with self._lock:
                got = self.events[start:]
            if got and now - got[-1][0] >= quiet:
                return got[0][0] - sent, got[-1][0] - sent
            if not got and now - sent > timeout:
                raise SystemExit(f"{self.name}: no output within {timeout} s of {key!r}")


def big_ticket(env: dict[str, str], size: int = 200) -> str:
    """A ticket with `size` transactions at the top of alice's list (made once): its display id.

    alice's list is set to her first queue by last update, and the newest ticket there gets its
    transactions (replies, comments and priority changes, through core, scrips on)."""
    os.environ["TESSERA_DATA_DIR"] = env["TESSERA_DATA_DIR"]
    from sqlalchemy import func, select

    from tessera.core import listing
    from tessera.core.bootstrap import open_desk
    from tessera.core.context import open_context
    from tessera.core.models import Ticket, Transaction
    from tessera.core.schemas import MessageIn
    from tessera.core.tickets import comment, correspond, set_fields
    from tessera.tui.queue_view import PREF_VIEW

    db = open_desk()
    with db.session() as session:
        ctx = open_context(session, "alice")
        first = listing.queues(ctx)[0]
        listing.set_preference(ctx, PREF_VIEW, {"queue": first.name, "sort": "updated", "descending": True})
        newest = (
            select(Ticket.id)
            .where(Ticket.queue_id == first.id)
            .order_by(Ticket.updated.desc(), Ticket.id.desc())
        )
        made = session.scalar(  # one made by an earlier run
            select(Transaction.ticket_id)
            .join(Ticket, Ticket.id == Transaction.ticket_id)
            .where(Ticket.queue_id == first.id)
            .group_by(Transaction.ticket_id)
            .having(func.count() >= size)
            .limit(1)
        )
        ticket_id = made or session.scalar(newest)
        have = session.scalar(select(func.count()).where(Transaction.ticket_id == ticket_id)) or 0
        if have >= size and session.scalar(newest) != ticket_id:  # back to the top of the list
            set_fields(ctx, ticket_id, {"priority": str(have % 90)})
        for n in range(have, size):
            if n % 3 == 0:
                correspond(ctx, ticket_id, MessageIn(body=f"Update {n}: still looking into it.\nMore soon."))
            elif n % 3 == 1:
                comment(ctx, ticket_id, MessageIn(body=f"Note {n}: checked the logs."))
            else:
                set_fields(ctx, ticket_id, {"priority": str(n % 90)})
        display = session.get(Ticket, ticket_id).display_id
    db.dispose()
    return display


def keys(rounds: int, quiet: float, env: dict[str, str], work: Path) -> None:
    big = big_ticket(env)
    socket = f"tessera-bench-{os.getpid()}"
    minimal = work / "minimal_keys.py"
    minimal.write_text(MINIMAL_KEYS_APP)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith(("TESSERA_", "PATH")))
    ours = Pane(
        socket, "tessera", f"env TERM=xterm-256color {exports} {BIN / 'tessera'} --user alice tui", work
    )
    theirs = Pane(socket, "minimal", f"env TERM=xterm-256color {sys.executable} {minimal}", work)
    try:
        ours.wait_for(lambda s: s.count("TKT-") > 10 and big in s, f"the list with {big}")
        theirs.wait_for(lambda s: "TKT-0010" in s, "the minimal app's table")
        ours.quiet(2.0)
        plain = ("j", "Enter", "J", "q")
        on_big = ("g", "Enter", "J", "K", "q")
        names = {"Enter": "enter"}
        results: dict[str, list[tuple[float, float]]] = {}
        baseline: dict[str, list[tuple[float, float]]] = {}

        def step(label: str, key: str, counted: bool) -> None:
            if key == "g":  # to the top row, not measured (it may be there already: no output)
                ours.tmux("send-keys", "-t", ours.name, key)
                time.sleep(0.05)
                ours.quiet(quiet)
                return
            a = ours.key(key, quiet)
            b = theirs.key(key, quiet)
            if counted:
                results.setdefault(label, []).append(a)
                baseline.setdefault(label, []).append(b)

        for n in range(rounds + 2):  # two warm-up rounds: the first enter imports what opening needs
            for key in plain:
                step(names.get(key, key), key, n >= 2)
        for n in range(rounds + 1):
            for key in on_big:
                step(f"{names.get(key, key)} (200-txn)", key, n >= 1 and key != "g")
    finally:
        ours.tmux("kill-server")
    load = os.getloadavg()
    print(f"\nkey latency in tmux (120x40), {rounds} runs each, interleaved with a minimal Textual app;")
    print(f"settled = last output before {quiet * 1000:.0f} ms without any; 200-txn ticket: {big}")
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores (shared machine)"
    )
    worst = 0.0
    for label, runs in results.items():
        first = statistics.median(r[0] for r in runs) * 1000
        settled = statistics.median(r[1] for r in runs) * 1000
        base = statistics.median(r[1] for r in baseline[label]) * 1000
        worst = max(worst, settled)
        print(
            f"  {label:<17} first change {first:6.1f} ms, settled {settled:6.1f} ms; minimal app {base:6.1f} ms"
        )
        print("    tessera: " + " ".join(f"{r[1] * 1000:.0f}" for r in runs))
        print("    minimal: " + " ".join(f"{r[1] * 1000:.0f}" for r in baseline[label]))
    print(f"  slowest median: {worst:.1f} ms; target <= 100 ms: {'met' if worst <= 100 else 'NOT met'}")


# -- paging -------------------------------------------------------------------------------------


def one_queue_desk(n: int):
    """bench/search.py's desk, cloned once with every ticket in one queue."""
    import search  # bench/search.py: its desk and its seeding

    base, admin = search.server()
    source, name = f"tessera_bench_{n}", f"tessera_tui_{n}"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return base.set(database=name)
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (source,)).fetchone():
            print(f"seeding {source} as bench/search.py does (once; ~7 minutes for 1M)...", flush=True)
            conn.execute(f'CREATE DATABASE "{source}"')
            search.seed(base.set(database=source), n)
        started = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    from tests.support import pg

    with psycopg.connect(pg.conninfo(base, name), autocommit=True) as conn:
        first = conn.execute("SELECT min(id) FROM queues WHERE name = 'Queue 1'").fetchone()[0]
        conn.execute("UPDATE tickets SET queue_id = %s WHERE queue_id <> %s", (first, first))
        conn.execute("VACUUM ANALYZE tickets, watchers, users")  # as autovacuum would, in time
    print(f"cloned {source} into {name}, all tickets in Queue 1: {time.perf_counter() - started:.0f} s")
    return base.set(database=name)


# Bare SQL for the same page: the columns the queue pane shows (the first requestor is a column of
# the ticket, kept by triggers: migration 0011), the unread flag.
BARE = {
    "updated": ("t.updated", "DESC"),
    "priority": ("t.priority", "DESC"),
    "created": ("t.created", "DESC"),
    "id": ("t.id", "DESC"),
    # No index serves these at this scale (each page sorts the queue): pass --sorts to see them.
    "subject": ("lower(t.subject)", "ASC"),
    "status": ("t.status", "ASC"),
}


def bare_page(conn: psycopg.Connection, queue: int, me: int, sort: str, cursor) -> list:
    key, direction = BARE[sort]
    op = "<" if direction == "DESC" else ">"
    if sort == "id":
        where = f" AND t.id {op} %(i)s" if cursor else ""
    else:
        where = f" AND ({key}, t.id) {op} (%(v)s, %(i)s)" if cursor else ""
    sql = (
        f"SELECT t.id, {key}, t.subject, t.status, o.name, t.priority, t.created, t.updated,"
        " (t.updated_by_id IS DISTINCT FROM %(me)s AND (s.seen_at IS NULL OR s.seen_at < t.updated)),"
        " t.requestor"
        " FROM tickets t LEFT JOIN users o ON o.id = t.owner_id"
        " LEFT JOIN ticket_seen s ON s.ticket_id = t.id AND s.user_id = %(me)s"
        " WHERE t.queue_id = %(q)s AND t.status <> 'deleted' AND t.merged_into_id IS NULL"
        f"{where} ORDER BY {key + ' ' + direction + ', ' if sort != 'id' else ''}t.id {direction}"
        f" LIMIT {PAGE + 1}"
    )
    params = {"me": me, "q": queue, "v": cursor[0] if cursor else None, "i": cursor[1] if cursor else None}
    return conn.execute(sql, params, prepare=True).fetchall()


def boundary(conn: psycopg.Connection, queue: int, sort: str, depth: int):
    """The cursor after `depth` rows: one index-ordered query for the boundary row, no paging."""
    if depth == 0:
        return None
    key, direction = BARE[sort]
    row = conn.execute(
        f"SELECT {key}, t.id FROM tickets t WHERE t.queue_id = %s AND t.status <> 'deleted'"
        f" AND t.merged_into_id IS NULL ORDER BY {key} {direction}, t.id {direction} OFFSET %s LIMIT 1",
        (queue, depth - 1),
    ).fetchone()
    return (row[0], row[1]) if row else None


def medians_ms(fns: list, runs: int) -> list[float]:
    """Median ms of each function, run in turn (so a burst of load elsewhere hits all alike)."""
    for fn in fns * 3:  # warm caches; psycopg prepares a statement on its fifth run
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, samples, strict=True):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return [statistics.median(out) for out in samples]


def paging(n: int, runs: int, sorts: list[str]) -> None:
    from tessera.core import listing, migrate
    from tessera.core.context import open_context
    from tessera.core.db import open_database
    from tests.support import pg

    url = one_queue_desk(n)
    db = open_database(url)
    migrate.upgrade(db)
    raw = psycopg.connect(pg.conninfo(url), autocommit=True)
    raw.execute("SET TIME ZONE 'UTC'")
    queue = raw.execute("SELECT id FROM queues WHERE name = 'Queue 1'").fetchone()[0]
    user = "agent7"
    me = raw.execute("SELECT id FROM users WHERE name = %s", (user,)).fetchone()[0]
    total = raw.execute("SELECT count(*) FROM tickets WHERE queue_id = %s", (queue,)).fetchone()[0]

    session = db.session()
    ctx = open_context(session, user)

    def core(sort: str, cursor):
        descending = BARE[sort][1] == "DESC"
        return listing.list_tickets(ctx, queue, sort=sort, descending=descending, limit=PAGE, after=cursor)

    def call(sort: str, cursor):
        # One TUI call (Backend.tickets): its own session, the acting user and rights, the page.
        with db.session() as fresh:
            descending = BARE[sort][1] == "DESC"
            return listing.list_tickets(
                open_context(fresh, user), queue, sort=sort, descending=descending, limit=PAGE, after=cursor
            )

    print(
        f"one queue of {total:,} tickets; a page of {PAGE} as agent7 (sees 3 of 5 queues), median of {runs}"
    )
    print("core = listing.list_tickets on an open context; TUI call = + its own session, user and rights")
    print(
        f"{'sort':<14} {'after rows':>10} {'core':>8} {'bare SQL':>9} {'ratio':>6} {'TUI call':>9} {'rows':>5}"
        "  same rows"
    )
    worst = 0.0
    for sort in sorts:
        for depth in DEPTHS:
            if depth >= total:
                continue
            cursor = boundary(raw, queue, sort, depth)
            page = core(sort, cursor)
            bare = bare_page(raw, queue, me, sort, cursor)[:PAGE]
            same = [r.id for r in page.rows] == [r[0] for r in bare]
            a, b, c = medians_ms(
                [
                    lambda s=sort, c=cursor: core(s, c),
                    lambda s=sort, c=cursor: bare_page(raw, queue, me, s, c),
                    lambda s=sort, c=cursor: call(s, c),
                ],
                runs,
            )
            worst = max(worst, a)
            label = f"{sort} {BARE[sort][1].lower()}"
            print(
                f"{label:<14} {depth:>10,} {a:>6.2f}ms {b:>7.2f}ms {a / b:>5.1f}x {c:>7.2f}ms {len(page.rows):>5}"
                f"  {same}"
            )
    print(f"slowest core page: {worst:.2f} ms; target <= 2 ms: {'met' if worst <= 2 else 'NOT met'}")
    session.close()
    raw.close()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--keys", type=int, default=20, help="runs of each key")
    parser.add_argument("--quiet", type=float, default=1.0, help="seconds without output: settled")
    parser.add_argument("--only", choices=("paging", "start", "keys"))
    parser.add_argument("--sorts", default="updated,priority,created", help=f"of: {', '.join(BARE)}")
    args = parser.parse_args()
    if args.only in (None, "start", "keys"):
        from tessera.core.embedded import ready_server, stop_server

        env, data = desk_env()
        was_running = ready_server(data) is not None
        try:
            demo_desk(env)
            with tempfile.TemporaryDirectory(prefix="tessera-bench-tui-") as work:
                if args.only in (None, "start"):
                    cold_start(args.starts, env, Path(work))
                if args.only in (None, "keys"):
                    keys(args.keys, args.quiet, env, Path(work))
        finally:
            if not was_running:  # the server this run started
                stop_server(data)
    if args.only in (None, "paging"):
        if args.only is None:
            print()
        paging(args.tickets, args.runs, [s for s in args.sorts.split(",") if s in BARE])


if __name__ == "__main__":
    main()
