"""Refused ingests: each one is raised as a flag for people to look at, and audited."""

from __future__ import annotations

from typing import NoReturn

from custody.db.models import IngestFlag
from custody.domain.actor import Actor
from custody.domain.errors import RecordingConflict
from custody.domain.manifest import Manifest
from custody.services.fleet.registry import DockIdentity
from custody.services.system import System


def raise_flag(
    system: System,
    kind: str,
    detail: str,
    dock: DockIdentity | None,
    *,
    recording_id: str | None = None,
    serial: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Record a refused ingest for people to look at, in its own transaction."""
    with system.unit_of_work() as uow:
        uow.session.add(
            IngestFlag(
                kind=kind,
                recording_id=recording_id,
                camera_serial=serial,
                dock_id=dock.dock_id if dock else None,
                detail=detail,
                raised_at=uow.now(),
            )
        )
        uow.audit(
            f"dock:recording:{kind}",
            actor or Actor("dock:unknown"),
            object_type="recording",
            object_id=recording_id,
            allowed=False,
            reason=detail,
            details={"camera": serial},
        )
        uow.commit()


def refuse_conflict(
    system: System, dock: DockIdentity, manifest: Manifest, actor: Actor
) -> NoReturn:
    """Flag and refuse a recording that arrived again with different content."""
    detail = (
        f"recording {manifest.recording_id} arrived again with different content "
        f"(sha256 {manifest.sha256})"
    )
    raise_flag(
        system,
        "conflict",
        detail,
        dock,
        recording_id=manifest.recording_id,
        serial=manifest.device_serial,
        actor=actor,
    )
    raise RecordingConflict(detail)
