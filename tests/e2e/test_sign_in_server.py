"""Sign-in against a real `custody serve`: what a caller's headers can make it believe, and
how much memory forty sign-ins at once can make it take.

The server runs with real argon2 (64 MiB a hash), not the suite's cheap test hashes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, add_with_password, custody, free_port

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "a long test password"
MIB = 1024 * 1024
# What argon2 takes for one hash at its defaults (RFC 9106's low-memory profile).
HASH_MEMORY = 64 * MIB
HASHES_AT_ONCE = 2
# The bound this test states: however many sign-ins arrive at once, the server's peak
# resident memory grows by at most the hashes it runs at once and 64 MiB of slack (their
# requests, threads and sessions). Unbounded, forty at once took 40 x 64 MiB, about 2.5 GiB;
# the eight here would take 512 MiB, well past the bound (each real hash costs a core a
# third of a second, which forty would spend for nothing more).
GROWTH_BOUND = HASHES_AT_ONCE * HASH_MEMORY + 64 * MIB
PARALLEL = 8
assert PARALLEL * HASH_MEMORY > 2 * GROWTH_BOUND, "too few at once to prove the bound"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    add_with_password(data_dir, "alice", "officer", PASSWORD)
    running = ServerProcess(
        data_dir,
        free_port(),
        {
            "CUSTODY_TEST_CHEAP_PASSWORD_HASHES": "0",
            "CUSTODY_PASSWORD_HASHES_AT_ONCE": str(HASHES_AT_ONCE),
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def login_form(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    found = FORM_TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def post_login(
    client: httpx.Client, username: str, password: str, token: str, **headers: str
) -> httpx.Response:
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
    )


def sign_in_addresses(data_dir: Path) -> list[str | None]:
    with sqlite3.connect(data_dir / "custody.db") as db:
        rows = db.execute(
            "SELECT address FROM audit_events WHERE tag = 'user:session:sign_in' ORDER BY seq"
        ).fetchall()
    return [address for (address,) in rows]


def peak_memory(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def test_forwarded_headers_from_a_caller_are_not_believed(server: ServerProcess) -> None:
    """Without CUSTODY_TRUSTED_PROXY, X-Forwarded-For/-Proto are the caller's own words:
    they neither change the audited address nor make the session cookie Secure."""
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        wrong = post_login(client, "alice", "not the password", login_form(client), **forged)
        assert wrong.status_code == 401
        right = post_login(client, "alice", PASSWORD, login_form(client), **forged)
        assert right.status_code == 303
    cookie = next(
        header
        for header in right.headers.get_list("set-cookie")
        if header.startswith("custody_session=")
    )
    assert "secure" not in cookie.lower()
    assert sign_in_addresses(server.data_dir) == ["127.0.0.1", "127.0.0.1"]


def test_eight_sign_ins_at_once_keep_the_server_under_its_memory_bound(
    server: ServerProcess,
) -> None:
    assert server.process is not None
    pid = server.process.pid
    clients = [httpx.Client(base_url=server.url, timeout=120) for _ in range(PARALLEL)]
    try:
        forms = [login_form(client) for client in clients]
        before = peak_memory(pid)
        start = threading.Barrier(PARALLEL)
        statuses: list[int] = []

        def sign_in(index: int) -> None:
            start.wait(timeout=60)
            answer = post_login(clients[index], f"sprayed{index}", "Winter2026!", forms[index])
            statuses.append(answer.status_code)

        threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        for client in clients:
            client.close()
    growth = peak_memory(pid) - before
    # Every one was checked (a refusal without a hash would prove nothing about memory)...
    assert statuses == [401] * PARALLEL
    # ...with real argon2 (a cheap hash would not take a hash's memory even once)...
    assert growth >= HASH_MEMORY - 8 * MIB, f"grew {growth // MIB} MiB: no real hash?"
    # ...and no more of them at once than the bound allows.
    assert growth <= GROWTH_BOUND, f"grew {growth // MIB} MiB, bound {GROWTH_BOUND // MIB} MiB"
