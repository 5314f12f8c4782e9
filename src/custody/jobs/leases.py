"""A Redis queue in which a job taken by a worker is leased, not gone, until it is done.

Huey's own Redis storage pops a job off the list: a worker killed mid-job (SIGKILL, a
machine lost) takes the job with it. Here the pop and the lease are one atomic step (a
Lua script): the job moves from the queue into a sorted set of leases scored by when the
lease ends, on Redis's own clock so that workers' clocks do not matter. A living worker
renews its leases every third of the lease; when the job is over (done, failed or sent
again for a retry) its lease is dropped. Any worker finding a lease past its end puts
the job back at the head of the queue, and another worker runs it: so a job runs at
least once, and every job's effects are made safe to repeat (`docs/deploy.md`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from huey.api import Huey
from huey.storage import RedisStorage

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
# Expired leases put back per sweep (the rest wait for the next one, a third of a lease on).
REAP_BATCH = 100

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: queue, leases. ARGV: lease seconds. The job taken, or nothing.
TAKE_LUA = (
    _NOW
    + """
local data = redis.call('RPOP', KEYS[1])
if not data then return false end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), data)
return data
"""
)

# KEYS: leases. ARGV: lease seconds, then the jobs whose leases to extend (only held ones).
RENEW_LUA = (
    _NOW
    + """
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return renewed
"""
)

# KEYS: queue, leases. ARGV: how many at most. Expired jobs back at the head of the queue.
REAP_LUA = (
    _NOW
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, data in ipairs(expired) do
  redis.call('ZREM', KEYS[2], data)
  redis.call('RPUSH', KEYS[1], data)
end
return #expired
"""
)

# KEYS: queue, leases. ARGV: jobs to give back now (a worker stopping before they ended).
RELEASE_LUA = """
local released = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    released = released + 1
  end
end
return released
"""


class LeasedRedisStorage(RedisStorage):  # type: ignore[misc]
    """Huey's Redis storage with leased dequeues (`take`, `renew`, `drop`, `reap`, `release`)."""

    def __init__(
        self, name: str = "huey", lease_seconds: float = DEFAULT_LEASE_SECONDS, **kwargs: Any
    ) -> None:
        # Not blocking: a Lua script cannot block; idle workers poll with Huey's backoff.
        kwargs["blocking"] = False
        super().__init__(name=name, **kwargs)
        if lease_seconds <= 0:
            raise ValueError("a lease lasts some time")
        self.lease_seconds = lease_seconds
        self.leases_key = f"huey.leases.{self.name}"
        self._take = self.conn.register_script(TAKE_LUA)
        self._renew = self.conn.register_script(RENEW_LUA)
        self._reap = self.conn.register_script(REAP_LUA)
        self._release = self.conn.register_script(RELEASE_LUA)

    def dequeue(self) -> bytes | None:
        data: bytes | None = self._take(
            keys=[self.queue_key, self.leases_key], args=[self.lease_seconds]
        )
        return data or None

    def renew(self, jobs: list[bytes]) -> int:
        if not jobs:
            return 0
        return int(self._renew(keys=[self.leases_key], args=[self.lease_seconds, *jobs]))

    def drop(self, job: bytes) -> None:
        self.conn.zrem(self.leases_key, job)

    def reap(self) -> int:
        return int(self._reap(keys=[self.queue_key, self.leases_key], args=[REAP_BATCH]))

    def release(self, jobs: list[bytes]) -> int:
        if not jobs:
            return 0
        return int(self._release(keys=[self.queue_key, self.leases_key], args=jobs))

    def leased(self) -> int:
        return int(self.conn.zcard(self.leases_key))

    def flush_queue(self) -> None:
        super().flush_queue()
        self.conn.delete(self.leases_key)


class LeasedRedisHuey(Huey):  # type: ignore[misc]
    """Huey on `LeasedRedisStorage`: each job's lease dropped when its run is over.

    `current_job_id()` names the job this thread runs, so that a periodic job can tell a
    second delivery of itself (its first worker died) from another consumer's copy.
    """

    storage_class = LeasedRedisStorage

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[str, bytes] = {}
        self._held_lock = threading.Lock()
        self._running = threading.local()

    def dequeue(self) -> Any:
        data = self.storage.dequeue()
        if data is None:
            return None
        try:
            task = self.deserialize_task(data)
        except Exception:
            # A job no code here can read (another version's task, say) would come back
            # for ever: drop it, loudly.
            logger.exception("dropping a job that cannot be read")
            self.storage.drop(data)
            return None
        with self._held_lock:
            self._held[task.id] = data
        return task

    def execute(self, task: Any, timestamp: Any = None) -> Any:
        self._running.job_id = task.id
        try:
            return super().execute(task, timestamp)
        finally:
            self._running.job_id = None
            # Done, failed for good, or queued again by Huey for its retry: this delivery
            # is over either way.
            with self._held_lock:
                data = self._held.pop(task.id, None)
            if data is not None:
                try:
                    self.storage.drop(data)
                except Exception:
                    # The lease ends by itself and the job runs again: its effects are
                    # safe to repeat.
                    logger.exception("could not drop the lease of job %s", task.id)

    def current_job_id(self) -> str | None:
        job_id: str | None = getattr(self._running, "job_id", None)
        return job_id

    def keep_leases(self) -> None:
        """Renew this process's leases and put back the jobs of leases that ran out."""
        with self._held_lock:
            held = list(self._held.values())
        renewed = self.storage.renew(held)
        if renewed < len(held):
            logger.warning(
                "%d running job(s) lost their lease and may run elsewhere too",
                len(held) - renewed,
            )
        if reaped := self.storage.reap():
            logger.warning("%d job(s) of a worker that stopped answering queued again", reaped)

    def release_leases(self) -> int:
        """Give back at once the jobs still running here (a stop that cannot wait for them)."""
        with self._held_lock:
            held = list(self._held.values())
            self._held.clear()
        released = int(self.storage.release(held))
        if released:
            logger.warning("%d unfinished job(s) given back to the queue", released)
        return released
