"""The tasks and periodic sweeps, registered on a Huey instance for one System.

Tasks are registered per Huey instance, not at import, because the instance
depends on settings (SQLite or Redis). Each task runs against the System it was
registered with, so it uses that system's database, store and clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from huey import crontab

from custody.services.audit_trail import search as audit_search
from custody.services.audit_trail import trail
from custody.services.disclosure import bundle_exports, shares
from custody.services.ingest import expiry
from custody.services.objects import fixity as object_fixity
from custody.services.recordings import media, previews
from custody.services.redaction import redactions
from custody.services.redaction import scans as redaction_scans
from custody.services.retention import locks, review
from custody.services.speech import transcripts
from custody.services.system import System

logger = logging.getLogger(__name__)

# A probe fails only when the store does (bad footage is an outcome): retry a few times,
# then leave it to the reconciler.
PROBE_RETRIES = 3
PROBE_RETRY_DELAY_SECONDS = 60
RECONCILE_MINUTES = 5
# The latest signed checkpoint trails the log by at most about this long (an auditor reads
# "the checkpoint covers N events" beside the log's size: it must not lag far behind).
CHECKPOINT_SECONDS = 60
# Hourly sweeps run off the hour, away from everything else that runs on it.
HOURLY_AT_MINUTE = 17
FIXITY_AT_MINUTE = 47


@dataclass(frozen=True)
class Tasks:
    """The Huey task handles of one registration (calling one enqueues it)."""

    probe_recording: Any
    reconcile_probes: Any
    expire_uploads: Any
    retention_sweep: Any
    audit_checkpoint: Any
    verify_audit: Any
    expire_shares: Any
    build_bundle: Any
    detect_faces: Any
    render_redaction: Any
    transcribe: Any
    fixity: Any
    renew_object_locks: Any


def register_tasks(huey: Any, system: System) -> Tasks:
    """Register Custody's tasks on `huey`, each running against `system`."""

    def probe_recording(recording_id: str) -> None:
        # Once: a probe delivered again (its worker died, or the reconciler re-sent it
        # while the first was queued) finds the recording probed and writes nothing.
        media.probe_recording(system, recording_id, once=True)
        # The portal's timeline strip, made once here rather than when someone first looks.
        previews.make_strip_quietly(system, recording_id)

    def reconcile_probes() -> None:
        once_per_slot(huey, "reconcile_probes", RECONCILE_MINUTES * 60, lambda: _reconcile(system))

    def expire_uploads() -> None:
        once_per_slot(huey, "expire_uploads", 3600, lambda: _expire_uploads(system))

    def retention_sweep() -> None:
        once_per_slot(huey, "retention_sweep", 3600, lambda: _retention_sweep(system))

    def audit_checkpoint() -> None:
        once_per_slot(
            huey, "audit_checkpoint", CHECKPOINT_SECONDS, lambda: _audit_checkpoint(system)
        )

    def verify_audit(verification_id: int) -> None:
        audit_search.run_verification(system, verification_id)

    def expire_shares() -> None:
        once_per_slot(huey, "expire_shares", RECONCILE_MINUTES * 60, lambda: _expire_shares(system))

    def build_bundle(export_id: str) -> None:
        bundle_exports.build_bundle(system, export_id)

    def detect_faces(scan_id: str) -> None:
        # A scan that failed keeps its reason on its row; a crash leaves it `scanning`.
        redaction_scans.run_scan(system, scan_id)

    def render_redaction(redaction_id: str) -> None:
        redactions.run_render(system, redaction_id)

    def transcribe(transcript_id: str) -> None:
        # A transcript that failed keeps its reason on its row; a crash leaves it `transcribing`.
        transcripts.run_transcription(system, transcript_id)

    def fixity() -> None:
        once_per_slot(huey, "fixity", 3600, lambda: _fixity(system))

    def renew_object_locks() -> None:
        once_per_slot(huey, "renew_object_locks", 86400, lambda: _renew_object_locks(system))

    # Huey's decorators are untyped: applied as calls, the functions above keep their types.
    every_few_minutes = crontab(minute=f"*/{RECONCILE_MINUTES}")
    every_minute = crontab(minute="*")
    hourly = crontab(minute=str(HOURLY_AT_MINUTE))
    tasks = Tasks(
        probe_recording=huey.task(
            name="probe_recording", retries=PROBE_RETRIES, retry_delay=PROBE_RETRY_DELAY_SECONDS
        )(probe_recording),
        reconcile_probes=huey.periodic_task(every_few_minutes, name="reconcile_probes")(
            reconcile_probes
        ),
        expire_uploads=huey.periodic_task(hourly, name="expire_uploads")(expire_uploads),
        # Non-evidential footage is due a day before its 31-day limit: 24 sweeps of slack.
        retention_sweep=huey.periodic_task(hourly, name="retention_sweep")(retention_sweep),
        # A signed checkpoint every minute, when there are new events to sign over.
        audit_checkpoint=huey.periodic_task(every_minute, name="audit_checkpoint")(
            audit_checkpoint
        ),
        verify_audit=huey.task(name="verify_audit")(verify_audit),
        # A share's link dies at its expiry whatever runs; this records the end in the log.
        expire_shares=huey.periodic_task(every_few_minutes, name="expire_shares")(expire_shares),
        # A bundle's build keeps its failure on its row: retrying would only repeat it.
        build_bundle=huey.task(name="build_bundle")(build_bundle),
        detect_faces=huey.task(name="detect_faces")(detect_faces),
        render_redaction=huey.task(name="render_redaction")(render_redaction),
        transcribe=huey.task(name="transcribe")(transcribe),
        # A slice of fixity every hour (settings bound its time and rate), oldest proof first,
        # half an hour away from the sweep.
        fixity=huey.periodic_task(crontab(minute=str(FIXITY_AT_MINUTE)), name="fixity")(fixity),
        # Object Lock rolls forward a day at a time, well inside its six days' reach.
        renew_object_locks=huey.periodic_task(
            crontab(hour="3", minute=str(HOURLY_AT_MINUTE)), name="renew_object_locks"
        )(renew_object_locks),
    )
    return tasks


def _fixity(system: System) -> None:
    settings = system.settings
    report = object_fixity.run_fixity(
        system,
        bytes_per_second=settings.fixity_mb_per_second * 1e6,
        seconds=settings.fixity_minutes_per_hour * 60,
        resume=True,
    )
    if report.problems:
        logger.error("fixity: %d of %d object(s) not intact", len(report.problems), report.checked)
    else:
        logger.info("fixity: %d object(s) proven intact", report.checked)


def _audit_checkpoint(system: System) -> None:
    published = trail.publish_checkpoint(system)
    if published is not None:
        logger.info("audit checkpoint %d signed over %d events", published.id, published.size)


def _expire_shares(system: System) -> None:
    ended = shares.expire_due(system)
    if ended:
        logger.info("%d share(s) expired", ended)


def _reconcile(system: System) -> None:
    media.reprobe_pending(system)


def _retention_sweep(system: System) -> None:
    report = review.sweep(system)
    if report.deleted or report.failures:
        logger.info(
            "retention sweep: %d deleted, %d failed", len(report.deleted), len(report.failures)
        )


def _renew_object_locks(system: System) -> None:
    renewal = locks.renew_locks(system)
    if renewal.told:
        logger.info(
            "Object Lock renewed on %d object(s), %d recording(s) read",
            renewal.told,
            renewal.considered,
        )


def _expire_uploads(system: System) -> None:
    expired = expiry.expire_uploads(system)
    if expired:
        logger.info("expired %d abandoned upload(s)", expired)


def once_per_slot(huey: Any, name: str, period_seconds: int, run: Callable[[], None]) -> bool:
    """Run `run` if no other consumer sharing this queue has run `name` in this period yet.

    Every consumer's scheduler (each `custody serve` node, each `custody worker`)
    enqueues the periodic tasks; the first to claim the period in the shared queue
    storage runs it and the rest skip. The claim names the job that made it: on a queue
    with leases, that same job delivered again (its worker died mid-run) runs again,
    so a period's work is not lost with its worker. Returns whether this call ran it.
    """
    # Wall time, not the system clock: the slots follow Huey's scheduler, which is wall time.
    slot = int(time.time() // period_seconds)
    key = _slot_key(huey, name, slot)
    job_id = huey.current_job_id() if hasattr(huey, "current_job_id") else None
    claimant = job_id or "1"
    if not huey.put_if_empty(key, claimant):
        if job_id is None or huey.get(key, peek=True) != job_id:
            logger.debug("%s already ran in this period elsewhere", name)
            return False
        logger.warning("%s: running again the period's job whose worker stopped", name)
    # Keep the claims from piling up; two periods back is long settled.
    huey.delete(_slot_key(huey, name, slot - 2))
    run()
    return True


def _slot_key(huey: Any, name: str, slot: int) -> str:
    return f"{huey.name}.periodic.{name}.{slot}"
