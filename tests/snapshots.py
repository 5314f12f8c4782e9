"""Worlds built once per test process, then copied into each new installation.

Many tests start from the same world: a force, its cameras, people with tokens, recordings
in the store. Building it through the services is most of such a test's cost. The first
test to ask for a world builds it and keeps what the installation then holds: its data dir
(the store's objects, the keys they are sealed with, the server key that signed their
receipts) and its database (a copy of the SQLite file, or of the PostgreSQL database kept as
a template). Each later test's installation is made that copy, its System rebuilt on it in
place (so the `system` fixture the test holds is the world's), its clock set and its
recorded jobs given as the build left them, and it gets a deep copy of the world's own
Python objects (ids, tokens, footage), rebound to its System, clock and jobs.

Where a world cannot be copied (an installation not new, a clock that moves by itself, jobs
that are not recorded, objects kept outside the data dir), it is built in place.
"""

from __future__ import annotations

import atexit
import copy
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from custody.bootstrap import build_system
from custody.db.models import User
from custody.domain.clock import ManualClock
from custody.services.system import System
from tests.conftest import POSTGRES_ADMINS, PostgresAdmin, RecordedJobs

W = TypeVar("W")

# Where an installation lives: not what makes two worlds differ.
PLACES = {"data_dir", "database_url", "storage_url", "queue_url", "kek_file"}
_KEPT_DIR = Path(tempfile.mkdtemp(prefix="custody-worlds-"))
atexit.register(shutil.rmtree, _KEPT_DIR, ignore_errors=True)


def sqlite_path(system: System) -> Path | None:
    url = make_url(system.settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def database_name(system: System) -> str:
    name = make_url(system.settings.resolved_database_url).database
    assert name
    return name


def postgres() -> PostgresAdmin:
    assert POSTGRES_ADMINS, "a PostgreSQL installation without the tests' PostgresAdmin"
    return POSTGRES_ADMINS[-1]


def snapshot_key(system: System) -> str | None:
    """What a kept installation must match, or None where none may be used: recorded jobs
    the copy would not replay, a clock that moves by itself, or an installation not new."""
    backend = make_url(system.settings.resolved_database_url).get_backend_name()
    if backend == "sqlite" and sqlite_path(system) is None:
        return None
    if backend == "postgresql" and not POSTGRES_ADMINS:
        return None
    if not isinstance(system.clock, ManualClock):
        return None
    if not isinstance(system.jobs, RecordedJobs) or any(vars(system.jobs).values()):
        return None
    with system.sessions() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
    settings = system.settings.model_dump(exclude=PLACES)
    return repr((backend, sorted(settings.items()), system.clock.now()))


def keep_database(system: System, kept: Path) -> Any:
    """The database as it is now: a file copied to `kept`, or a PostgreSQL template's name.
    The system's pool is emptied first (a template's source may have no sessions)."""
    system.engine.dispose()
    source = sqlite_path(system)
    if source is None:
        return postgres().keep(database_name(system))
    # Fold the write-ahead log into the file, so that the file alone is the database.
    with closing(sqlite3.connect(source)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, kept)
    return kept


def replace_database(system: System, kept: Any) -> None:
    """Make the system's database a copy of what `keep_database` kept."""
    system.engine.dispose()
    target = sqlite_path(system)
    if target is None:
        postgres().replace(database_name(system), kept)
        return
    for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(kept, target)


@dataclass
class _Kept:
    world: Any
    system: System  # the System the world was built on, which its objects refer to
    data_dir: Path
    database: Any
    settings: dict[str, Any]  # as the build left them (a world may change some)
    time: datetime
    jobs: dict[str, list[Any]]


_WORLDS: dict[str, _Kept] = {}


def world_of(builder: Callable[..., W], system: System, *args: Any) -> W:
    """`builder(system, *args)`, built once per process for each setting and clock time, and
    copied into `system` (a new installation) after that. `args` must be what makes two
    worlds differ (they are part of the key, by their repr; bytes by their digest)."""
    key = _key(builder, system, args)
    if key is None:
        return builder(system, *args)
    kept = _WORLDS.get(key)
    if kept is None:
        world = builder(system, *args)
        _WORLDS[key] = _keep(system, world)
        return world
    return _copy(kept, system)


def _key(builder: Callable[..., Any], system: System, args: tuple[Any, ...]) -> str | None:
    settings = system.settings
    if settings.storage_url is not None or settings.kek_file is not None:
        return None  # objects or keys outside the data dir: a copy of it would not hold them
    installation = snapshot_key(system)
    if installation is None:
        return None
    named = [sha256(arg).hexdigest() if isinstance(arg, bytes) else repr(arg) for arg in args]
    return repr((builder.__module__, builder.__qualname__, named, installation))


def _keep(system: System, world: Any) -> _Kept:
    assert isinstance(system.clock, ManualClock) and isinstance(system.jobs, RecordedJobs)
    place = Path(tempfile.mkdtemp(prefix="world-", dir=_KEPT_DIR))
    database = keep_database(system, place / "custody.db")
    # A SQLite database inside the data dir is copied by keep_database, its log folded in.
    logs = shutil.ignore_patterns("*-wal", "*-shm")
    shutil.copytree(system.settings.data_dir, place / "data", symlinks=True, ignore=logs)
    memo = {id(system): system, id(system.clock): system.clock, id(system.jobs): system.jobs}
    return _Kept(
        # The world as built, before the test that built it changes any of it.
        world=copy.deepcopy(world, memo),
        system=system,
        data_dir=place / "data",
        database=database,
        settings=system.settings.model_dump(exclude=PLACES),
        time=system.clock.now(),
        jobs={name: list(done) for name, done in vars(system.jobs).items()},
    )


def _copy(kept: _Kept, system: System) -> Any:
    clock, jobs = system.clock, system.jobs
    assert isinstance(clock, ManualClock) and isinstance(jobs, RecordedJobs)
    system.engine.dispose()
    data_dir = system.settings.data_dir
    shutil.rmtree(data_dir)
    shutil.copytree(kept.data_dir, data_dir, symlinks=True)
    replace_database(system, kept.database)
    for name, value in kept.settings.items():
        setattr(system.settings, name, value)
    clock.set(kept.time)
    for name, done in kept.jobs.items():
        getattr(jobs, name)[:] = done
    # The System the test holds, rebuilt on the copy: its server key, store and its keys.
    rebuilt = build_system(system.settings, clock=clock, jobs=jobs)
    for each in fields(System):
        setattr(system, each.name, getattr(rebuilt, each.name))
    built_on = kept.system
    memo = {id(built_on): system, id(built_on.clock): clock, id(built_on.jobs): jobs}
    return copy.deepcopy(kept.world, memo)
