"""One recording from camera to server and back: declare, upload with resume, verify, release.

The footage leaves the camera only through `CameraStorage.release`, and only for a
receipt this module has verified against the camera's own signed manifest
(invariant 1). Whatever goes wrong, the worst outcome is footage kept for the
next pass; an upload always continues from the server's offset (invariant 2).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.camera import CameraRecording, CameraStorage
from custody.dock.backoff import Attempts, Backoff
from custody.dock.chunks import ChunkSource, next_size
from custody.dock.client import DockClient
from custody.dock.errors import FootageGone, GaveUp, Stopped, Transient
from custody.dock.progress import Fate, Outcome, Reporter
from custody.domain.errors import (
    ChecksumMismatch,
    ContentMismatch,
    CustodyError,
    OffsetMismatch,
    ReceiptInvalid,
    UploadGone,
    UploadLocked,
)
from custody.domain.receipt import verify_receipt

# A fresh upload is opened when the server lost the last one (it answered that the upload
# is gone, or is not of this file); this many in one pass means something is wrong on the
# server, and sending the file again will not mend it. A request that got no answer loses
# nothing and is not counted: the attempts' budget bounds those.
MAX_LOST_UPLOADS = 3

T = TypeVar("T")

# How long the server took to answer a chunk (a module name, so that tests can set it).
monotonic = time.monotonic


class ReceiptMissing(Transient):
    """The server committed the recording but has no receipt for it yet."""


@dataclass(frozen=True)
class Shipment:
    """Everything one recording's journey needs."""

    storage: CameraStorage
    camera: str
    recording: CameraRecording
    client: DockClient
    server_key: Ed25519PublicKey
    chunk_size: int
    backoff: Backoff
    stop: threading.Event
    reporter: Reporter
    read_ahead: Executor | None = None
    # Chunks grow from chunk_size up to this while the server answers them quickly
    # (`chunks.next_size`); None keeps every chunk at chunk_size.
    max_chunk_size: int | None = None


def ship(job: Shipment) -> Outcome:
    """Upload one recording (or find it stored), verify the receipt and free its camera space.

    A recording whose release was cut short (its footage gone, its manifest left) is only
    asked for its receipt, and its release finished.
    """
    manifest = job.recording.manifest
    rid = manifest.recording_id

    def kept(reason: str, *, retry: bool = True) -> Outcome:
        return Outcome(rid, job.camera, Fate.KEPT, reason, retry)

    try:
        fate, receipt = _Journey(job).receipt()
    except Stopped:
        return kept("the agent stopped first; the upload resumes at the next run")
    except GaveUp as exc:
        return kept(str(exc))
    except FootageGone as exc:
        return kept(str(exc), retry=False)
    except ContentMismatch as exc:
        return kept(f"the footage differs from its signed manifest: {exc.message}", retry=False)
    except CustodyError as exc:
        # Invalid manifest or signature, unknown camera, conflicting recording, refused token:
        # the server said no, and asking again in this docking would get the same answer.
        return kept(f"refused by the server ({exc.code}): {exc.message}", retry=False)
    except OSError as exc:
        return kept(f"cannot read the footage on the camera: {exc}")

    try:
        verify_receipt(receipt, manifest, job.server_key)
        job.storage.release(rid, receipt, job.server_key)
    except ReceiptInvalid as exc:
        return kept(f"the server's receipt does not verify: {exc.message}", retry=False)
    except CustodyError as exc:
        return kept(f"could not free the camera space: {exc.message}")
    except OSError as exc:
        return kept(f"could not free the camera space: {exc}")
    return Outcome(rid, job.camera, fate)


class _Journey:
    """The protocol for one recording, as a small state machine over the server's answers."""

    def __init__(self, job: Shipment) -> None:
        self.job = job
        self.client = job.client
        self.manifest = job.recording.manifest
        self.rid = self.manifest.recording_id
        self.size = self.manifest.size
        self.attempts = Attempts(job.backoff, job.stop, notify=self._retrying_note)
        self.lost_uploads = 0
        self.announced = False

    def receipt(self) -> tuple[Fate, dict[str, Any]]:
        """The server's receipt document (not yet verified), and whether bytes had to move."""
        self.attempts.check_stop()
        declared = self._retrying(
            lambda: self.client.declare(self.rid, self.job.recording.document)
        )
        if declared.stored:
            receipt = declared.receipt or self._fetch_receipt()
            return Fate.ALREADY_STORED, receipt
        if not self.job.recording.media_path.is_file():
            # A release was cut short after the footage went, yet the server has no copy:
            # nothing can be uploaded, and the manifest is kept for a person to look at.
            raise FootageGone(
                "the footage is gone from the camera but the server does not hold it; "
                "its manifest is kept"
            )
        # The one the server got furthest with wastes the fewest bytes.
        offers = sorted(declared.uploads, key=lambda o: o.offset, reverse=True)
        url = offers[0].url if offers else None
        offset = offers[0].offset if offers else None
        return Fate.UPLOADED, self._upload(url, offset)

    def _upload(self, url: str | None, offset: int | None) -> dict[str, Any]:
        """Send the bytes the server lacks, from its own offset, until it commits."""
        with ChunkSource(
            self.job.recording.media_path, self.size, self.job.chunk_size, self.job.read_ahead
        ) as source:
            while True:
                self.attempts.check_stop()
                try:
                    if url is None:
                        url = self.client.create_upload(self.rid, self.manifest.file, self.size)
                        self.attempts.answered()
                        offset = 0
                    if offset is None:
                        state = self.client.head(url)
                        self.attempts.answered()
                        if state.length != self.size:
                            # Not an upload of this file: never write into it.
                            self._lost(
                                f"upload {url} is {state.length} bytes long, not {self.size}"
                            )
                            url, offset = None, None
                            continue
                        offset = state.offset
                        self.job.reporter.advanced(self.rid, offset)
                    self._announce(offset)
                    if offset >= self.size:
                        return self._commit(url)
                    chunk = source.chunk_at(offset)
                    sent = monotonic()
                    answer = self.client.patch(url, offset, chunk.data, chunk.sha256)
                    self.attempts.succeeded()
                    self._resize(source, monotonic() - sent)
                    offset = answer.offset
                    self.job.reporter.advanced(self.rid, offset)
                    if answer.recording_id is not None:
                        return self._fetch_receipt()
                except ChecksumMismatch as exc:
                    # The bytes were damaged on the way: send the same chunk again at once.
                    self.attempts.failed(exc, pause=False)
                    source.chunk_size = self.job.chunk_size
                except OffsetMismatch as exc:
                    # The server's offset is the truth; ask for it and carry on from there.
                    self.attempts.failed(exc, pause=False)
                    offset = None
                except UploadGone as exc:
                    self.attempts.failed(exc, pause=False)
                    # It may have gone because it was committed: then there is a receipt.
                    receipt = self._retrying(lambda: self.client.receipt(self.rid))
                    if receipt is not None:
                        return receipt
                    self._lost(str(exc) or "the upload is gone")
                    url, offset = None, None
                except (Transient, UploadLocked) as exc:
                    # The network, a busy server, or a writer that still holds the upload
                    # after a dropped request: wait, then re-read the offset before writing,
                    # in chunks of the first size again (the link may be worse now).
                    self.attempts.failed(exc)
                    offset = None
                    source.chunk_size = self.job.chunk_size

    def _resize(self, source: ChunkSource, seconds: float) -> None:
        most = self.job.max_chunk_size
        if most is not None and most > self.job.chunk_size:
            source.chunk_size = next_size(source.chunk_size, seconds, self.job.chunk_size, most)

    def _lost(self, why: str) -> None:
        """The server answered that the upload in hand is not one to continue."""
        self.lost_uploads += 1
        if self.lost_uploads >= MAX_LOST_UPLOADS:
            raise GaveUp(
                f"the server lost {self.lost_uploads} uploads of this recording (last: {why})"
            )

    def _commit(self, url: str) -> dict[str, Any]:
        """Every byte is on the server: fetch the receipt, or ask the server to commit first."""
        receipt = self.client.receipt(self.rid)
        if receipt is not None:
            return receipt
        answer = self.client.finish(url, self.size)
        if answer.recording_id is None:
            raise ReceiptMissing("the server accepted every byte but did not commit")
        return self._fetch_receipt()

    def _fetch_receipt(self) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            receipt = self.client.receipt(self.rid)
            if receipt is None:
                raise ReceiptMissing(f"the server has no receipt for {self.rid} yet")
            return receipt

        return self._retrying(fetch)

    def _retrying_note(self, text: str) -> None:
        self.job.reporter.note(f"{self.job.camera} {self.rid}: {text}", warning=True)

    def _announce(self, offset: int) -> None:
        if not self.announced:
            self.announced = True
            self.job.reporter.started(self.rid, self.job.camera, self.size, offset)

    def _retrying(self, call: Callable[[], T]) -> T:
        """Call an idempotent request until it answers, within the backoff budget."""
        while True:
            self.attempts.check_stop()
            try:
                answer = call()
            except (Transient, UploadLocked) as exc:
                self.attempts.failed(exc)
            else:
                self.attempts.answered()
                return answer
