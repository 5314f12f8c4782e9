"""Media probing: what a stored recording holds (codecs, size, duration) and its thumbnail.

The probe reads the original through the store's range reads, never through a
path, so it works the same on the filesystem and on an S3-compatible store, and it
never writes to or deletes the original (invariant 3). Footage that does not
decode is an outcome, not an error: the recording becomes "unplayable" with a
reason a person can read. Only a failure of the store itself raises, so that the
job is retried.

The probe decodes only the first second, for the thumbnail, but walks every video
packet: an index written at the start of a file (MP4 "faststart", Matroska) still
promises the frames of a file that was cut off, and only reading on shows them missing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import BinaryIO

import av
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image
from sqlalchemy import select

from custody.db.models import Recording
from custody.domain.actor import Actor
from custody.domain.errors import NotFound
from custody.services.system import System
from custody.storage import BlobStore

logger = logging.getLogger(__name__)

PROBE_TAG = "system:recording:probe"
THUMBNAIL_WIDTH = 320
THUMBNAIL_AT_SECONDS = 1.0
THUMBNAIL_QUALITY = 80
# Range reads of this size: few enough requests to an object store, small enough to hold.
READ_BLOCK = 4 * 1024 * 1024
# PyAV's own I/O buffer in front of our reader.
AV_BUFFER = 256 * 1024
# A recording still "stored" this long after its commit lost its probe job on the way.
STALE_AFTER = timedelta(minutes=5)
RECONCILE_BATCH = 500
# Without a frame count, video that ends this much before its declared duration is cut off.
TRUNCATION_SLACK_SECONDS = 1.0

PLAYABLE = "playable"
UNPLAYABLE = "unplayable"
STORED = "stored"
DELETED = "deleted"


@dataclass(frozen=True)
class MediaInfo:
    """What a playable recording holds, and its thumbnail as JPEG bytes."""

    duration_seconds: float
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    thumbnail_jpeg: bytes


class MediaUnplayable(Exception):
    """The bytes are not footage that plays; `reason` says why in a person's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreReadFailed(Exception):
    """The store failed while the media was being read: retry later, the footage is not at fault."""


class StoreReader:
    """A read-only, seekable file over one stored object, fetched in ranges (for PyAV)."""

    def __init__(self, store: BlobStore, sha256: str, block: int = READ_BLOCK) -> None:
        self._store = store
        self._sha256 = sha256
        self._block = block
        self._size = store.size(sha256)
        self._pos = 0
        self._window_start = 0
        self._window = b""
        # The store's own failure, kept because PyAV reports it as a media error of its own.
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"unsupported whence {whence}")
        if position < 0:
            raise ValueError("cannot seek before the start of the object")
        self._pos = position
        return position

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        if size is None or size < 0:
            size = self._size - self._pos
        offset = self._pos - self._window_start
        if not 0 <= offset < len(self._window):
            self._fetch(self._pos)
            offset = 0
        # A short read is fine: callers (PyAV included) ask again for the rest.
        data = self._window[offset : offset + size]
        self._pos += len(data)
        return data

    def _fetch(self, start: int) -> None:
        end = min(start + self._block, self._size)
        try:
            self._window = b"".join(self._store.read(self._sha256, start, end))
        except Exception as exc:
            self.failure = exc
            raise
        self._window_start = start


def inspect_media(source: BinaryIO | StoreReader) -> MediaInfo:
    """Probe a seekable binary file of footage; MediaUnplayable if it does not play."""
    try:
        container = av.open(source, mode="r", buffer_size=AV_BUFFER, metadata_errors="replace")
    except av.error.InvalidDataError:
        raise MediaUnplayable(
            "not a readable video file: corrupt, or cut off before its index"
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaUnplayable(f"the file could not be opened: {_ffmpeg_reason(exc)}") from None
    with container:
        return _inspect_container(container)


def _inspect_container(container: InputContainer) -> MediaInfo:
    videos = list(container.streams.video)
    if not videos:
        raise MediaUnplayable("the file holds no video stream")
    video = videos[0]
    audios = list(container.streams.audio)
    audio_codec = audios[0].codec_context.name if audios else None
    declared = _declared_duration(container, video)
    start = 0.0
    if video.start_time is not None and video.time_base is not None:
        start = float(video.start_time * video.time_base)
    target = start + (min(THUMBNAIL_AT_SECONDS, declared / 3) if declared else 0.0)

    chosen: VideoFrame | None = None
    latest: VideoFrame | None = None
    packets = 0
    video_end = 0.0
    try:
        for packet in container.demux(video):
            if packet.size == 0:
                # The empty packet at the end only flushes the decoder.
                continue
            packets += 1
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None and packet.time_base is not None:
                end = (stamp + (packet.duration or 0)) * packet.time_base
                video_end = max(video_end, float(end))
            if chosen is None:
                chosen, latest = _decode_towards(packet, target, latest)
    except av.error.FFmpegError as exc:
        raise MediaUnplayable(
            f"the video could not be read past {video_end:.1f} s: {_ffmpeg_reason(exc)}"
        ) from None
    if chosen is None:
        chosen = latest if latest is not None else _flush_decoder(video)
    if chosen is None:
        raise MediaUnplayable("no video frame in the file could be decoded")
    _check_complete(video, packets, video_end - start, declared)

    width = int(video.codec_context.width or chosen.width)
    height = int(video.codec_context.height or chosen.height)
    return MediaInfo(
        duration_seconds=declared if declared else max(video_end - start, 0.0),
        video_codec=str(video.codec_context.name),
        audio_codec=str(audio_codec) if audio_codec else None,
        width=width,
        height=height,
        thumbnail_jpeg=_thumbnail(chosen, video.sample_aspect_ratio),
    )


def _declared_duration(container: InputContainer, video: VideoStream) -> float | None:
    if container.duration:
        return float(container.duration / av.time_base)
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return None


def _decode_towards(
    packet: Packet[VideoStream], target: float, latest: VideoFrame | None
) -> tuple[VideoFrame | None, VideoFrame | None]:
    """Decode one packet; the first frame at or after `target` is chosen, else the latest one."""
    try:
        frames = packet.decode()
    except av.error.FFmpegError:
        # One damaged packet is not the end: a later keyframe may still decode.
        return None, latest
    for frame in frames:
        if frame.time is None or frame.time >= target:
            return frame, frame
        latest = frame
    return None, latest


def _flush_decoder(video: VideoStream) -> VideoFrame | None:
    """Frames a decoder still holds once the packets run out (decoders with delay)."""
    try:
        frames = video.codec_context.decode(None)
    except av.error.FFmpegError:
        return None
    return frames[0] if frames else None


def _check_complete(
    video: VideoStream, packets: int, video_seconds: float, declared: float | None
) -> None:
    """Index promises more video than the file holds: cut off (an index written up front)."""
    expected = int(video.frames or 0)
    if expected and packets < expected:
        raise MediaUnplayable(
            f"the file is cut off: it holds {packets} of the {expected} video frames its "
            f"index lists (video ends at {video_seconds:.1f} s of {declared or 0:.1f} s)"
        )
    if not expected and declared and video_seconds < declared - TRUNCATION_SLACK_SECONDS:
        raise MediaUnplayable(
            f"the file is cut off: video ends at {video_seconds:.1f} s of {declared:.1f} s"
        )


def _thumbnail(frame: VideoFrame, sample_aspect: Fraction | None) -> bytes:
    # PyAV's stub leaves to_image untyped; it answers a PIL image.
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    # Non-square pixels (anamorphic video) are shown at their display shape.
    aspect = float(sample_aspect) if sample_aspect else 1.0
    display_width = image.width * aspect
    height = max(1, round(THUMBNAIL_WIDTH * image.height / display_width))
    scaled = image.convert("RGB").resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    scaled.save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def _ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason).rstrip(".").lower()


def _probe_object(system: System, sha256: str) -> MediaInfo:
    """Probe a stored object; MediaUnplayable for bad footage, StoreReadFailed for a bad store."""
    try:
        reader = StoreReader(system.store, sha256)
    except NotFound:
        raise MediaUnplayable("the original is not in the object store") from None
    try:
        return inspect_media(reader)
    except MediaUnplayable:
        if reader.failure is not None:
            raise StoreReadFailed(f"reading {sha256} failed: {reader.failure}") from reader.failure
        raise
    except Exception as exc:
        if reader.failure is not None:
            raise StoreReadFailed(f"reading {sha256} failed: {reader.failure}") from reader.failure
        # Anything else the decoder throws is still this file's fault; raising would only
        # retry the same bytes for ever (the reconciler re-sends "stored" recordings).
        logger.exception("probing object %s failed unexpectedly", sha256)
        raise MediaUnplayable(f"the media could not be read ({type(exc).__name__})") from exc


def probe_recording(system: System, recording_id: str, *, once: bool = False) -> None:
    """Probe a stored recording, store its thumbnail and mark it playable or unplayable.

    Idempotent: a second run redoes the probe and writes the same result; with `once`
    (the job) a recording already probed is left as it is, so that a job delivered twice
    writes one probe and one audit event. A recording that is gone (or deleted) is left
    alone. Raises StoreReadFailed when the store fails, so that the job is retried.
    """
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None or recording.state == DELETED:
            logger.info("recording %s is gone; nothing to probe", recording_id)
            return
        if once and recording.probed_at is not None:
            logger.info("recording %s was probed already", recording_id)
            return
        sha256 = recording.sha256

    # The probe runs outside any transaction: it may read gigabytes, and a transaction
    # holds SQLite's write lock for its whole life.
    info: MediaInfo | None = None
    reason = ""
    thumbnail_sha256: str | None = None
    try:
        info = _probe_object(system, sha256)
    except MediaUnplayable as exc:
        reason = exc.reason
    else:
        # Content addressing makes a re-probe store nothing new.
        thumbnail_sha256 = system.store.put_stream([info.thumbnail_jpeg]).sha256

    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id, with_for_update=True)
        if recording is None or recording.state == DELETED:
            # Deleted while we probed: its tombstone stays as it is.
            logger.info("recording %s was deleted during its probe", recording_id)
            return
        if once and recording.probed_at is not None:
            # Another delivery of the job finished first (the row lock orders them).
            logger.info("recording %s was probed meanwhile", recording_id)
            return
        now = uow.now()
        recording.probed_at = now
        details: dict[str, object] = {"sha256": sha256}
        if info is not None:
            recording.state = PLAYABLE
            recording.media_error = None
            recording.duration_seconds = info.duration_seconds
            recording.video_codec = info.video_codec
            recording.audio_codec = info.audio_codec
            recording.width = info.width
            recording.height = info.height
            recording.thumbnail_sha256 = thumbnail_sha256
            details |= {
                "state": PLAYABLE,
                "duration_seconds": round(info.duration_seconds, 3),
                "video_codec": info.video_codec,
                "audio_codec": info.audio_codec,
                "width": info.width,
                "height": info.height,
                "thumbnail_sha256": thumbnail_sha256,
            }
        else:
            recording.state = UNPLAYABLE
            recording.media_error = reason
            # Clear what an earlier probe may have found, so nothing stale is shown.
            recording.duration_seconds = None
            recording.video_codec = None
            recording.audio_codec = None
            recording.width = None
            recording.height = None
            recording.thumbnail_sha256 = None
            details |= {"state": UNPLAYABLE, "error": reason}
        uow.audit(
            PROBE_TAG,
            Actor.system(),
            object_type="recording",
            object_id=recording_id,
            details=details,
        )
        uow.commit()
    logger.info("recording %s probed: %s", recording_id, details["state"])


def reprobe_pending(
    system: System,
    *,
    older_than: timedelta = STALE_AFTER,
    limit: int = RECONCILE_BATCH,
) -> list[str]:
    """Send the probe again for recordings still "stored" after `older_than`; returns their ids.

    The reconciler: a probe job lost between the commit and the queue (a crash, a
    queue outage) is picked up here. Oldest first, at most `limit` a run.
    """
    with system.unit_of_work() as uow:
        cutoff = uow.now() - older_than
        ids = list(
            uow.session.scalars(
                select(Recording.id)
                .where(Recording.state == STORED, Recording.stored_at <= cutoff)
                .order_by(Recording.stored_at)
                .limit(limit)
            )
        )
    for recording_id in ids:
        system.jobs.probe_recording(recording_id)
    if ids:
        logger.info("re-sent the probe of %d recording(s) still unprobed", len(ids))
    return ids
