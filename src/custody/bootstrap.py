"""The composition root: builds the system from settings and wires the job queue into it."""

from __future__ import annotations

from custody.config import Settings
from custody.db.engine import make_engine, make_session_factory
from custody.domain.clock import Clock, SystemClock
from custody.private import private_dir, tighten
from custody.services import keys
from custody.services.object_keys import open_sealed_store
from custody.services.system import JobQueue, NoJobs, System


def build_system(
    settings: Settings,
    *,
    clock: Clock | None = None,
    jobs: JobQueue | None = None,
    create: bool = False,
) -> System:
    """A System on the configured database, store and key.

    With `create`, a new installation is made ready first: data dir, schema, server key.
    `jobs` defaults to the configured Huey queue.
    """
    # The data dir and all in it are the service's alone, an older installation's too.
    private_dir(settings.data_dir)
    tighten(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    if create:
        # Alembic is heavy to import and only needed to make or upgrade a schema.
        from custody.db import migrate

        migrate.upgrade(engine)
        server_key = keys.create_server_key(settings.keys_dir)
    else:
        server_key = keys.load_server_key(settings.keys_dir)
    sessions = make_session_factory(engine)
    clock = clock or SystemClock(settings.clock_offset)
    system = System(
        settings=settings,
        engine=engine,
        sessions=sessions,
        # Sealed at rest; a wrong key-encryption key is refused here, at start.
        store=open_sealed_store(settings, engine, sessions, clock),
        clock=clock,
        server_key=server_key,
        jobs=NoJobs(),
    )
    system.jobs = jobs if jobs is not None else _queue_for(system)
    return system


def _queue_for(system: System) -> JobQueue:
    from custody.jobs.queue import HueyJobs

    return HueyJobs.for_system(system)
