"""A proxy in front of PostgreSQL that cuts a connection at its next COMMIT, on purpose.

The one failure a client cannot reason its way out of is a COMMIT whose answer never comes: the
server may have committed or not. This proxy makes each case happen exactly when asked:
`cut_at_commit("after")` hands the COMMIT to the server and then closes the client's side before
the answer can come back (the server commits: the bytes precede the end of the stream it reads);
`cut_at_commit("before")` drops the COMMIT and closes both sides (the server rolls back). Other
connections, and everything after the cut, pass through untouched, so the client's check after
reconnecting goes through it too.

Clients reach it over TCP on loopback with `sslmode=disable` (the proxy reads the protocol in
clear); it reaches the server on its Unix socket or TCP address.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL


@dataclass
class CommitCutter:
    upstream: URL
    port: int = 0
    armed: str | None = None  # "after" or "before": what the next COMMIT meets
    cuts: list[str] = field(default_factory=list)
    _server: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> CommitCutter:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, daemon=True, name="pgproxy").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def url(self) -> URL:
        """The database URL a client uses to go through the proxy."""
        return URL.create(
            "postgresql+psycopg",
            username=self.upstream.username,
            password=self.upstream.password,
            host="127.0.0.1",
            port=self.port,
            database=self.upstream.database,
            query={"sslmode": "disable", "gssencmode": "disable"},
        )

    def cut_at_commit(self, when: str) -> None:
        assert when in ("after", "before")
        with self._lock:
            self.armed = when

    # -- plumbing --------------------------------------------------------------------------------

    def _connect_upstream(self) -> socket.socket:
        query = dict(self.upstream.query)
        host = str(query.get("host") or self.upstream.host or "localhost")
        port = int(query.get("port") or self.upstream.port or 5432)
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(Path(host) / f".s.PGSQL.{port}"))
            return sock
        return socket.create_connection((host, port))

    def _accept(self) -> None:
        while self._server is not None:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = self._connect_upstream()
            except OSError:
                client.close()
                continue
            muted = threading.Event()
            threading.Thread(target=_copy, args=(upstream, client, muted), daemon=True).start()
            threading.Thread(target=self._pump_forward, args=(client, upstream, muted), daemon=True).start()

    def _pump_forward(self, client: socket.socket, upstream: socket.socket, muted: threading.Event) -> None:
        """Client to server, message by message after the start-up packet, watching for COMMIT."""
        buffer = b""
        started = False
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                buffer += data
                chunk, buffer, started, commit = _complete_messages(buffer, started)
                when = None
                if commit:
                    with self._lock:
                        when, self.armed = self.armed, None
                if when == "before":
                    self.cuts.append("before")
                    break  # the COMMIT never reaches the server
                if when == "after":
                    muted.set()  # from here nothing the server says reaches the client
                upstream.sendall(chunk)
                if when == "after":
                    self.cuts.append("after")
                    # The server has the COMMIT; the client hears nothing more.
                    with contextlib.suppress(OSError):
                        client.shutdown(socket.SHUT_RDWR)
                    break
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _copy(src: socket.socket, dst: socket.socket, muted: threading.Event) -> None:
    try:
        while (data := src.recv(65536)) and not muted.is_set():
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _complete_messages(buffer: bytes, started: bool) -> tuple[bytes, bytes, bool, bool]:
    """(whole messages, the rest, start-up seen, a COMMIT among them). A simple query ('Q') or a
    parse ('P') whose text is COMMIT counts."""
    out = b""
    commit = False
    while True:
        if not started:
            if len(buffer) < 4:
                break
            (length,) = struct.unpack("!I", buffer[:4])
            if len(buffer) < length:
                break
            out, buffer, started = out + buffer[:length], buffer[length:], True
            continue
        if len(buffer) < 5:
            break
        kind = buffer[:1]
        (length,) = struct.unpack("!I", buffer[1:5])
        if len(buffer) < 1 + length:
            break
        body = buffer[5 : 1 + length]
        if kind == b"Q":
            commit = commit or body.rstrip(b"\0").strip().upper() == b"COMMIT"
        elif kind == b"P":
            _name, _, rest = body.partition(b"\0")
            commit = commit or rest.split(b"\0", 1)[0].strip().upper() == b"COMMIT"
        out, buffer = out + buffer[: 1 + length], buffer[1 + length :]
    return out, buffer, started, commit
