"""Background jobs on Huey: the media probe, the reconciler and the periodic sweeps.

Storage comes from CUSTODY_QUEUE_URL: SQLite in the data dir by default (one
machine), Redis at scale. `custody serve` runs a consumer on threads inside the
server; `custody worker` runs consumers alone.
"""

from custody.jobs.queue import (
    HueyJobs,
    ImmediateJobs,
    make_huey,
    start_in_process_consumer,
)

__all__ = ["HueyJobs", "ImmediateJobs", "make_huey", "start_in_process_consumer"]
