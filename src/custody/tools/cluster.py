"""A whole deployment on one machine, as processes: server nodes, HAProxy, workers.

For the end-to-end tests and `benchmarks/shift_change.py`, and as a worked example of
`docs/deploy.md`: each `custody serve` node has a data dir of its own holding only the
installation's keys (copied from the one `custody init` made), and shares nothing else
with the others but PostgreSQL, the S3 store and Redis (named in `env`). HAProxy
balances the nodes round-robin and takes a node out once its health check fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from custody.private import private_dir

HEALTH = "/api/v1/health"
READY = "/api/v1/ready"
# Generous: on a loaded machine importing Custody alone has taken half a minute.
START_SECONDS = 180.0
# Requests a node serves at once; the rest queue in HAProxy. A node's memory then does not
# grow with the number of docks, and its requests never wait on its own database pool
# (`db.engine`: 10 kept, 30 at most, per process) for longer than a request takes.
NODE_MAXCONN = 24
# HAProxy's limit of connections from docks and people together.
GLOBAL_MAXCONN = 8000


def haproxy_binary() -> str | None:
    """Debian's HAProxy (`make haproxy` installs it), if this machine has it."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(p)), None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def copy_keys(primary: Path, node_dir: Path) -> None:
    """A node's data dir: the installation's keys (server signing key, storage KEK) alone."""
    private_dir(node_dir)
    shutil.copytree(primary / "keys", node_dir / "keys", dirs_exist_ok=True)


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    # One client for every try: a new one loads the CA bundle each time, a core's work
    # taken from the process starting beside it.
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url} exited: see {log}")
            try:
                if client.get(url + READY).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start in {START_SECONDS:.0f} s: see {log}")


@dataclass
class Process:
    """A `custody` process of the deployment, with its log file."""

    name: str
    data_dir: Path
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "custody", *self.args],
                env={**os.environ, "CUSTODY_DATA_DIR": str(self.data_dir), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no goodbye, as when a machine is lost."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for the process to end (SIGKILL after `timeout`)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Node(Process):
    """`custody serve` on its own port, without in-process workers (workers run apart)."""

    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawn()
        wait_healthy(self.url, self.process, self.log)

    # A server-protocol object for tests/proxy.py: killed by a planned fault, started again
    # only if the test says so.
    def restart(self) -> None:
        self.start()


def node(primary: Path, root: Path, name: str, env: dict[str, str], port: int = 0) -> Node:
    """A node named `name` under `root`, with the keys of the installation at `primary`."""
    data_dir = root / name
    copy_keys(primary, data_dir)
    port = port or free_port()
    return Node(
        name,
        data_dir,
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"],
        env,
        port=port,
    )


def worker(
    primary: Path, root: Path, name: str, env: dict[str, str], *, threads: int = 2
) -> Process:
    """`custody worker` named `name` (PostgreSQL sees it by that application name)."""
    data_dir = root / name
    copy_keys(primary, data_dir)
    return Process(name, data_dir, ["worker", "--workers", str(threads)], env)


@dataclass
class Balancer:
    """HAProxy in front of the nodes: round-robin, health-checked, a node out at two failures."""

    root: Path
    backends: list[tuple[str, int]]
    port: int = 0
    check_ms: int = 250
    timeout_s: int = 120
    node_maxconn: int = NODE_MAXCONN
    process: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def log(self) -> Path:
        return self.root / "haproxy.log"

    def write_config(self) -> None:
        self.config.write_text(
            haproxy_config(
                self.port,
                self.backends,
                self.check_ms,
                self.timeout_s,
                self.extra,
                node_maxconn=self.node_maxconn,
            )
        )

    def start(self) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("HAProxy is not installed (make haproxy)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.write_config()
        check = subprocess.run([binary, "-c", "-q", "-f", str(self.config)], capture_output=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration: {check.stderr.decode()}")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_healthy(self.url, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def haproxy_config(
    port: int,
    backends: Iterable[tuple[str, int]],
    check_ms: int = 2000,
    timeout_s: int = 120,
    extra: Iterable[str] = (),
    *,
    node_maxconn: int = NODE_MAXCONN,
) -> str:
    """HAProxy's configuration for Custody nodes (docs/deploy.md explains each line)."""
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{p} check maxconn {node_maxconn}" for name, p in backends
    )
    more = "\n".join(f"    {line}" for line in extra)
    return f"""\
global
    # Docks' connections, waiting or served: each takes a descriptor (and one more toward a
    # node while served), within ulimit -n. A shift change opens one or more per bay.
    maxconn {GLOBAL_MAXCONN}

defaults
    mode http
    option http-server-close
    # A dock that gave up waiting has its request dropped from the queue, not served.
    option abortonclose
    option forwardfor
    timeout connect 2s
    timeout client {timeout_s}s
    timeout server {timeout_s}s
    timeout http-request 30s
    # A request beyond a node's maxconn waits here, in HAProxy's queue, rather than in the
    # node's memory; at a shift change it may wait as long as it would take to be served.
    timeout queue {timeout_s}s
    # A busy node answers its health check late, not never: only silence takes it out.
    timeout check 5s
    # A request that found its node dead before the node answered goes to another node.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend custody
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET {READY}
    http-check expect status 200
    default-server inter {check_ms}ms fastinter {check_ms}ms downinter {check_ms}ms fall 2 rise 2
{servers}
{more}
"""
