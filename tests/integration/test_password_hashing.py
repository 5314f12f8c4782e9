"""Passwords are hashed at full cost wherever Custody runs; only this test suite asks for less.

The suite sets CUSTODY_TEST_CHEAP_PASSWORD_HASHES (tests/conftest.py) so that the thousands
of passwords it hashes take microseconds. These tests check what a force gets without it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from argon2 import Parameters, PasswordHasher, Type, extract_parameters, profiles
from sqlalchemy import select

from custody.db.models import User
from custody.services.identity import users
from custody.services.system import System
from tests.factories import add_user, administrator

STRONG = profiles.RFC_9106_LOW_MEMORY


def at_least_strong(found: Parameters) -> bool:
    return (
        found.type is Type.ID
        and found.time_cost >= STRONG.time_cost
        and found.memory_cost >= STRONG.memory_cost
        and found.parallelism >= STRONG.parallelism
        and found.salt_len >= STRONG.salt_len
        and found.hash_len >= STRONG.hash_len
    )


def parameters_of(hasher: PasswordHasher) -> Parameters:
    """What the hasher would hash with, without paying for a hash at that cost."""
    return Parameters(
        type=hasher.type,
        version=19,
        salt_len=hasher.salt_len,
        hash_len=hasher.hash_len,
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
    )


def test_without_the_test_switch_the_hasher_uses_rfc_9106_low_memory_or_stronger() -> None:
    hasher = users.password_hasher({})
    found = extract_parameters(hasher.hash("a long test password"))
    assert at_least_strong(found), found
    assert parameters_of(hasher) == found
    # The switch is honoured only as the suite sets it.
    for value in ("0", "", "yes", "true"):
        hasher = users.password_hasher({users.CHEAP_TEST_HASHES: value})
        assert at_least_strong(parameters_of(hasher)), value


def test_the_suite_itself_runs_on_cheap_hashes(sqlite_system: System) -> None:
    # Were this false the suite would be slow, not wrong: it shows the switch is wired.
    assert os.environ.get(users.CHEAP_TEST_HASHES) == "1"
    add_user(
        sqlite_system, administrator(sqlite_system), "alice", "officer", "a long test password"
    )
    with sqlite_system.unit_of_work() as uow:
        stored = uow.session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored is not None and not at_least_strong(extract_parameters(stored))
    users.verify_password(sqlite_system, "alice", "a long test password")


def test_a_real_installation_stores_strong_hashes(tmp_path: Path) -> None:
    """`custody init` in a process of its own, with the environment a force would have."""
    environment = {k: v for k, v in os.environ.items() if k != users.CHEAP_TEST_HASHES}
    data_dir = tmp_path / "server"
    result = subprocess.run(
        [sys.executable, "-m", "custody", "init", "--admin-password-stdin"],
        input="an administrator's password\n",
        capture_output=True,
        text=True,
        env={**environment, "CUSTODY_DATA_DIR": str(data_dir)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(data_dir / "custody.db") as db:
        row = db.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()
    stored = row[0]
    assert at_least_strong(extract_parameters(stored)), stored
