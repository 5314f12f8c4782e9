"""A TCP proxy for fault tests: it cuts connections and corrupts bytes between dock and server."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class FaultyProxy:
    """Forwards 127.0.0.1:port to the target; may cut or corrupt the dock's side of the stream.

    `cut_probability` is the chance, per forwarded block, that the connection is dropped;
    `corrupt_probability` the chance that one byte of a block is flipped.
    """

    target_port: int
    cut_probability: float = 0.0
    corrupt_probability: float = 0.0
    seed: int = 1
    cuts: int = 0
    corruptions: int = 0
    port: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _roll(self, probability: float) -> bool:
        with self._lock:
            return self._rng.random() < probability

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while not self._stop.is_set():
                block = source.recv(65536)
                if not block:
                    break
                # Headers stay intact: only large (body) blocks are damaged.
                if upstream and len(block) > 4096:
                    if self._roll(self.cut_probability):
                        with self._lock:
                            self.cuts += 1
                        sink.sendall(block[: len(block) // 2])
                        break
                    if self._roll(self.corrupt_probability):
                        damaged = bytearray(block)
                        damaged[len(damaged) // 2] ^= 0xFF
                        block = bytes(damaged)
                        with self._lock:
                            self.corruptions += 1
                sink.sendall(block)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
