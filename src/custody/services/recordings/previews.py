"""Previews: a strip of frames taken evenly along a recording, for the portal's timeline.

The strip is one JPEG (the frames side by side), stored content-addressed like the
thumbnail and linked to the recording by `preview_sha256`; the retention sweep deletes
it with the footage, as it does every `*_sha256` object of a recording. The original is
read through the store's range reads and never written (invariant 3). A strip is made
by the job that probes a new recording, or on demand when someone first opens an older
one; looking at it is a view of the footage and audited like the thumbnail.

Footage can probe as playable (its container and streams read) and still not decode: then
there is no strip, the job logs why, and the portal is told so (404), never a 500.
"""

from __future__ import annotations

import io
import logging

import av
from PIL import Image
from sqlalchemy import or_, select

from custody.db.models import Recording
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.errors import NotFound
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import open_recording
from custody.services.object_keys import shred
from custody.services.recordings.media import PLAYABLE, StoreReader
from custody.services.system import System, UnitOfWork

logger = logging.getLogger(__name__)

STRIP_FRAMES = 10
FRAME_WIDTH = 160
STRIP_QUALITY = 72
PREVIEW_TAG = "system:recording:preview"
VIEW_TAG = "user:recording:strip"


def strip_times(duration: float, count: int = STRIP_FRAMES) -> list[float]:
    """The moments the strip shows: the middle of each of `count` equal parts."""
    return [(index + 0.5) * duration / count for index in range(count)]


def _frames(source: StoreReader, times: list[float]) -> list[Image.Image]:
    """One decoded picture at (or just after) each time, seeking to the keyframe before it."""
    images: list[Image.Image] = []
    with av.open(source, mode="r") as container:
        video = container.streams.video[0]
        time_base = video.time_base
        if time_base is None:
            raise ValueError("the video stream has no time base to seek by")
        for target in times:
            container.seek(int(target / time_base), stream=video, backward=True)
            chosen = None
            for frame in container.decode(video):
                chosen = frame
                if frame.time is not None and frame.time >= target:
                    break
            if chosen is None:
                raise ValueError(f"no picture at {target:.1f} s")
            # PyAV's stub leaves to_image untyped; it answers a PIL image.
            images.append(chosen.to_image())  # type: ignore[no-untyped-call]
    return images


def compose_strip(images: list[Image.Image], width: int = FRAME_WIDTH) -> bytes:
    """The pictures scaled to `width` and laid side by side, as one JPEG."""
    first = images[0]
    height = max(1, round(width * first.height / first.width))
    strip = Image.new("RGB", (width * len(images), height))
    for index, image in enumerate(images):
        scaled = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        strip.paste(scaled, (index * width, 0))
    out = io.BytesIO()
    strip.save(out, format="JPEG", quality=STRIP_QUALITY, optimize=True)
    return out.getvalue()


def make_strip(system: System, recording_id: str) -> str | None:
    """Make and link a playable recording's strip; returns its SHA-256 (None: nothing to show).

    Idempotent: an existing strip is kept, and making one again stores nothing new.
    """
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None or recording.state != PLAYABLE or not recording.duration_seconds:
            return None
        if recording.preview_sha256 and system.store.exists(recording.preview_sha256):
            return recording.preview_sha256
        sha256, duration = recording.sha256, recording.duration_seconds
    # Decoding happens outside any transaction: a transaction holds SQLite's write lock.
    try:
        images = _frames(StoreReader(system.store, sha256), strip_times(duration))
    except (av.FFmpegError, ValueError, OSError) as exc:
        # Probed as playable, yet no pictures come of it (corrupt or truncated packets).
        logger.warning("recording %s does not decode into a strip: %s", recording_id, exc)
        return None
    preview = system.store.put_stream([compose_strip(images)]).sha256
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id, with_for_update=True)
        if recording is None or recording.state == DELETED:
            # Deleted while we decoded: its frames must not outlive it.
            if not _in_use(uow, preview):
                shred(uow, [preview])
                system.store.delete(preview)
                uow.commit()
            return None
        recording.preview_sha256 = preview
        uow.audit(
            PREVIEW_TAG,
            Actor.system(),
            object_type="recording",
            object_id=recording_id,
            details={"preview_sha256": preview, "frames": STRIP_FRAMES},
        )
        uow.commit()
    return preview


def make_strip_quietly(system: System, recording_id: str) -> None:
    """Make a strip from a job: a failure is logged, since the portal makes one on demand."""
    try:
        make_strip(system, recording_id)
    except Exception:
        logger.exception("making the preview strip of recording %s failed", recording_id)


def _in_use(uow: UnitOfWork, sha256: str) -> bool:
    found = uow.session.scalar(
        select(Recording.id)
        .where(
            Recording.state != DELETED,
            or_(Recording.preview_sha256 == sha256, Recording.thumbnail_sha256 == sha256),
        )
        .limit(1)
    )
    return found is not None


def _checked(uow: UnitOfWork, principal: Principal, recording_id: str, actor: Actor) -> Recording:
    recording = open_recording(
        uow, principal, recording_id, Action.VIEW, actor, VIEW_TAG, allow_deleted=True
    ).recording
    if recording.state == DELETED:
        raise NotFound(f"recording {recording_id} was deleted")
    return recording


def open_strip(system: System, principal: Principal, recording_id: str, actor: Actor) -> bytes:
    """A recording's strip as JPEG, made now if it has none yet; the view is audited."""
    with system.unit_of_work() as uow:
        preview = _checked(uow, principal, recording_id, actor).preview_sha256
    if preview is None or not system.store.exists(preview):
        preview = make_strip(system, recording_id)
        if preview is None:
            raise NotFound(
                "this recording has no preview: not probed yet, or its footage does not decode"
            )
    with system.unit_of_work() as uow:
        _checked(uow, principal, recording_id, actor)
        uow.audit(
            VIEW_TAG,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"preview_sha256": preview},
        )
        uow.commit()
    return b"".join(system.store.read(preview))
