"""Staging leftovers: every partial upload ends, and no staged byte outlives its upload.

Three things end an upload that its dock will not finish: its expiry passing, the
recording being stored by another upload of it (a dock whose answer to `POST /uploads`
was lost opens a second one), and a crash that left a staging file behind with no
upload still receiving into it (the server died between creating the file and
committing its row, or between ending an upload and deleting its bytes). The hourly
job (`expire_uploads`) cleans all three, so nothing is left that no job will clean.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from custody.db.models import Recording, Upload
from custody.domain.uploads import UploadState
from custody.services.system import System, UnitOfWork

STORED_ELSEWHERE = "the recording was stored by another upload"
# Ids asked about per query: well under SQLite's limit on bound parameters.
_BATCH = 500


def close_siblings(uow: UnitOfWork, recording_id: str, committed: str, now: datetime) -> list[str]:
    """End the other uploads still receiving for a recording that `committed` just stored.

    Runs in the commit's own transaction; returns their ids, whose staging files the
    caller deletes once that transaction has committed (`discard_staged`). A sibling
    that is complete is left to its own commit, which may be hashing its file right now
    (it then finds the recording stored); its expiry ends it if no commit comes.
    """
    unfinished = (
        Upload.recording_id == recording_id,
        Upload.id != committed,
        Upload.state == UploadState.RECEIVING,
        Upload.offset < Upload.length,
    )
    siblings = list(uow.session.scalars(select(Upload.id).where(*unfinished)))
    if siblings:
        uow.session.execute(
            update(Upload)
            .where(Upload.id.in_(siblings), *unfinished)
            .values(state=UploadState.TERMINATED, failure=STORED_ELSEWHERE, updated_at=now)
        )
    return siblings


def discard_staged(system: System, upload_ids: Iterable[str]) -> None:
    """Delete the staging files of uploads that have ended (missing ones are fine)."""
    for upload_id in upload_ids:
        system.staging.discard(upload_id)


def expire_uploads(system: System) -> int:
    """End abandoned uploads and delete every staged byte no receiving upload owns.

    Returns how many uploads it ended: those past their expiry (the camera still holds
    the footage) and the unfinished ones whose recording another upload stored. Then
    every staging file whose upload is not receiving, or has no row at all, goes. That is
    safe at any moment: a file whose upload is being created and not yet committed holds
    no byte, and the upload's first chunk (at offset 0) re-creates a missing staging file.
    """
    with system.unit_of_work() as uow:
        now = uow.now()
        expired = uow.session.scalars(
            select(Upload).where(Upload.state == UploadState.RECEIVING, Upload.expires_at <= now)
        ).all()
        for upload in expired:
            upload.state = UploadState.TERMINATED
            upload.failure = "expired"
            upload.updated_at = now
        # A complete one is left to its own commit, as in `close_siblings`.
        stored = uow.session.scalars(
            select(Upload).where(
                Upload.state == UploadState.RECEIVING,
                Upload.offset < Upload.length,
                Upload.recording_id.in_(select(Recording.id)),
            )
        ).all()
        for upload in stored:
            upload.state = UploadState.TERMINATED
            upload.failure = STORED_ELSEWHERE
            upload.updated_at = now
        ended = [u.id for u in expired] + [u.id for u in stored]
        uow.commit()
    discard_staged(system, ended)
    discard_staged(system, _orphans(system))
    return len(ended)


def _orphans(system: System) -> list[str]:
    """Staged files whose upload is not receiving into them: ended, or never committed."""
    staged = system.staging.staged_ids()
    if not staged:
        return []
    names = sorted(staged)
    receiving: set[str] = set()
    with system.unit_of_work() as uow:
        for start in range(0, len(names), _BATCH):
            receiving.update(
                uow.session.scalars(
                    select(Upload.id).where(
                        Upload.id.in_(names[start : start + _BATCH]),
                        Upload.state == UploadState.RECEIVING,
                    )
                )
            )
    return [name for name in names if name not in receiving]
