"""A proxy between dock and server that strikes planned faults at chosen points of the exchange.

Each fault names the request it strikes (method, a piece of the path, the how-manyth of
those) and where: at a byte of the request's body, or at the server's answer once the
server has made it. It cuts the connection there, flips that byte, or SIGKILLs the server
(and starts it again). Nothing depends on timing: the dock never pipelines requests, so
the proxy relays one exchange at a time per connection and knows which request every byte
belongs to, on a fast machine or a loaded one. A test asserts that every fault struck.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Action = Literal["cut", "corrupt", "kill"]
HEAD_LIMIT = 64 * 1024


class Server(Protocol):
    port: int

    def kill(self) -> None: ...

    def start(self) -> None: ...


@dataclass
class Exchange:
    """One request through the proxy and, unless a fault struck first, its answer."""

    seq: int
    method: str
    path: str
    headers: dict[str, str]  # the request's, lower-case names
    body_length: int
    status: int | None = None
    answer_headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None

    @property
    def offset(self) -> int | None:
        """The request's Upload-Offset (tus), if it had one."""
        value = self.headers.get("upload-offset")
        return None if value is None else int(value)


@dataclass
class Fault:
    """A fault planned at one point of the exchange.

    It strikes the `nth` request with `method` whose path contains `path`: at byte
    `body_at` of its body when given (only bodies longer than that count), else at the
    server's answer, if the answer has status `status` and header `answer_header` (only
    such answers count). `cut` drops the connection there, `corrupt` flips the byte
    `body_at` and relays on, `kill` SIGKILLs the server, drops the connection and starts
    the server again. `observe`, if given, runs at the moment of the fault, and what it
    returns is kept in `observed`.
    """

    name: str
    action: Action
    method: str
    path: str = ""
    nth: int = 1
    body_at: int | None = None
    status: int | None = None
    answer_header: str | None = None
    observe: Callable[[Exchange], object] | None = None
    seen: int = 0
    struck: Exchange | None = None
    observed: object = None

    def __post_init__(self) -> None:
        if self.action == "corrupt" and self.body_at is None:
            raise ValueError("a corruption needs the byte it corrupts (body_at)")

    def _counts_request(self, exchange: Exchange) -> bool:
        return (
            self.body_at is not None
            and exchange.method == self.method
            and self.path in exchange.path
            and exchange.body_length > self.body_at
        )

    def _counts_answer(self, exchange: Exchange) -> bool:
        return (
            self.body_at is None
            and exchange.method == self.method
            and self.path in exchange.path
            and (self.status is None or exchange.status == self.status)
            and (self.answer_header is None or self.answer_header in exchange.answer_headers)
        )


class _Closed(Exception):
    """A side closed its connection."""


class _Stream:
    """Buffered reads from one side of a relayed connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        block = self.sock.recv(65536)
        if not block:
            raise _Closed
        self.buffer += block

    def head(self) -> bytes | None:
        """The head of the next message (up to the blank line); None at a clean end."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > HEAD_LIMIT:
                raise ValueError("an HTTP head larger than the proxy takes")
            try:
                self._fill()
            except _Closed:
                if self.buffer:
                    raise
                return None
        end = self.buffer.index(b"\r\n\r\n") + 4
        head = bytes(self.buffer[:end])
        del self.buffer[:end]
        return head

    def some(self, most: int) -> bytes:
        if not self.buffer:
            self._fill()
        piece = bytes(self.buffer[:most])
        del self.buffer[: len(piece)]
        return piece

    def exactly(self, count: int) -> bytes:
        parts = []
        while count:
            piece = self.some(count)
            parts.append(piece)
            count -= len(piece)
        return b"".join(parts)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        end = self.buffer.index(b"\r\n") + 2
        line = bytes(self.buffer[:end])
        del self.buffer[:end]
        return line


def _parse(head: bytes) -> tuple[list[str], dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0].split(" ", 2), headers


class FaultProxy:
    """Forwards 127.0.0.1:<port> to the server, striking the planned faults on the way."""

    def __init__(self, server: Server, faults: list[Fault]) -> None:
        self.server = server
        self.faults = faults
        self.exchanges: list[Exchange] = []
        self.kills = 0
        self.port = 0
        self._lock = threading.Lock()
        # One kill and restart at a time, should two faults strike together.
        self._killing = threading.Lock()
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def unstruck(self) -> list[str]:
        """The planned faults that did not happen (a test proves nothing while any remain)."""
        return [fault.name for fault in self.faults if fault.struck is None]

    def struck(self, name: str) -> Exchange:
        """The exchange the fault `name` struck."""
        fault = next(fault for fault in self.faults if fault.name == name)
        assert fault.struck is not None, f"fault {name!r} never struck"
        return fault.struck

    def start(self) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                self._close(sock)

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- relaying ---

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                # The server is down (being started again): the dock sees a dropped connection.
                self._close(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        dock, server = _Stream(client), _Stream(upstream)
        try:
            while not self._stop.is_set():
                head = dock.head()
                if head is None:
                    return
                (method, target, _), headers = _parse(head)
                if "chunked" in headers.get("transfer-encoding", ""):
                    raise ValueError("the proxy relays requests with a Content-Length only")
                length = int(headers.get("content-length", "0"))
                with self._lock:
                    exchange = Exchange(len(self.exchanges), method, target, headers, length)
                    self.exchanges.append(exchange)
                    fault = self._claim(exchange, Fault._counts_request)
                upstream.sendall(head)
                if not self._relay_body(dock, upstream, exchange, fault):
                    return
                answer = server.head()
                if answer is None:
                    return
                (_, status, _), answer_headers = _parse(answer)
                body = self._answer_body(server, method, int(status), answer_headers)
                with self._lock:
                    exchange.status = int(status)
                    exchange.answer_headers = answer_headers
                    fault = self._claim(exchange, Fault._counts_answer)
                if fault is not None:
                    self._strike(fault, exchange, client, upstream)
                    return
                client.sendall(answer + body)
                if answer_headers.get("connection", "").lower() == "close":
                    return
        except (OSError, _Closed):
            return
        finally:
            self._close(client)
            self._close(upstream)

    def _relay_body(
        self, dock: _Stream, upstream: socket.socket, exchange: Exchange, fault: Fault | None
    ) -> bool:
        """Relay the request body; False once a fault has ended the exchange."""
        sent = 0
        while sent < exchange.body_length:
            piece = dock.some(min(65536, exchange.body_length - sent))
            if (
                fault is not None
                and fault.body_at is not None
                and sent + len(piece) > fault.body_at
            ):
                at = fault.body_at - sent
                if fault.action == "corrupt":
                    damaged = bytearray(piece)
                    damaged[at] ^= 0xFF
                    piece = bytes(damaged)
                    self._record(fault, exchange)
                    fault = None
                else:
                    upstream.sendall(piece[:at])
                    self._strike(fault, exchange, dock.sock, upstream)
                    return False
            upstream.sendall(piece)
            sent += len(piece)
        return True

    @staticmethod
    def _answer_body(server: _Stream, method: str, status: int, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304) or status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", ""):
            parts = []
            while True:
                size_line = server.line()
                parts.append(size_line)
                size = int(size_line.split(b";")[0], 16)
                parts.append(server.exactly(size + 2))
                if size == 0:
                    return b"".join(parts)
        return server.exactly(int(headers.get("content-length", "0")))

    # --- faults ---

    def _claim(self, exchange: Exchange, counts: Callable[[Fault, Exchange], bool]) -> Fault | None:
        """The fault that strikes this exchange, counting it for every fault it matches."""
        chosen = None
        for fault in self.faults:
            if fault.struck is None and counts(fault, exchange):
                fault.seen += 1
                if fault.seen == fault.nth and chosen is None:
                    chosen = fault
        return chosen

    def _record(self, fault: Fault, exchange: Exchange) -> None:
        with self._lock:
            fault.struck = exchange
            exchange.fault = fault.name
        if fault.observe is not None:
            fault.observed = fault.observe(exchange)

    def _strike(
        self, fault: Fault, exchange: Exchange, client: socket.socket, upstream: socket.socket
    ) -> None:
        self._record(fault, exchange)
        if fault.action != "kill":
            self._close(client)
            self._close(upstream)
            return
        with self._killing:
            self.server.kill()
            with self._lock:
                self.kills += 1
            # The dock learns of it only now, with the server dead: as after a power cut.
            self._close(client)
            self._close(upstream)
            self.server.start()

    def _close(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        self._sockets.discard(sock)
