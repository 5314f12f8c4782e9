"""A camera's storage as the dock sees it: read the footage, free it only for a receipt.

A camera is a directory (documented in docs/camera-format.md):

    device.json                  who the camera is (DeviceInfo)
    recordings/<id>.mp4          footage, written once, never edited
    recordings/<id>.json         its manifest, signed by the device key
    .device-key                  simulator only: real cameras keep the key in a secure element

Nothing here can delete or change footage except `release`, which first checks the
server's receipt against the recording's own signed manifest (invariant 1).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.camera.device import (
    DEVICE_FILE,
    DEVICE_FORMAT,
    KEY_FILE,
    DeviceInfo,
    NotACamera,
    load_device_key,
    read_device,
    write_device,
)
from custody.camera.files import unlink_durably
from custody.domain import signing
from custody.domain.clock import as_utc
from custody.domain.errors import CustodyError, InvalidInput, NotFound, ReceiptInvalid
from custody.domain.manifest import Manifest, parse_manifest
from custody.domain.receipt import verify_receipt

__all__ = [
    "DEVICE_FILE",
    "DEVICE_FORMAT",
    "KEY_FILE",
    "RECORDINGS_DIR",
    "CameraRecording",
    "CameraStorage",
    "DeviceInfo",
    "NotACamera",
    "load_device_key",
    "media_name",
    "recording_id_of",
]

RECORDINGS_DIR = "recordings"
MEDIA_SUFFIX = ".mp4"
MANIFEST_SUFFIX = ".json"


@dataclass(frozen=True)
class CameraRecording:
    """One recording on a camera: its parsed manifest, the signed document and both files."""

    manifest: Manifest
    # The signed manifest exactly as on disk, for the server to check the signature itself.
    document: dict[str, Any]
    media_path: Path
    manifest_path: Path


def recording_id_of(name: str) -> str | None:
    """The recording id a file stem names, or None unless it is a lower-case UUID."""
    try:
        parsed = str(uuid.UUID(name))
    except ValueError:
        return None
    return parsed if parsed == name else None


def _oldest_first(recording: CameraRecording) -> tuple[datetime, str]:
    return recording.manifest.started_at, recording.manifest.recording_id


def media_name(recording_id: str) -> str:
    """The footage file's name for a recording: `<recording_id>.mp4`."""
    return f"{recording_id}{MEDIA_SUFFIX}"


class CameraStorage:
    """A camera's directory, read the way a dock reads it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.recordings_dir = root / RECORDINGS_DIR
        # Refuse at once: everything else assumes a valid device.json.
        read_device(root)

    @staticmethod
    def is_camera(path: Path) -> bool:
        """Whether `path` holds a valid `device.json` (so CameraStorage(path) succeeds)."""
        try:
            read_device(path)
        except NotACamera:
            return False
        return True

    @property
    def device(self) -> DeviceInfo:
        """The camera's `device.json`, read afresh (battery and officer change while docked)."""
        return read_device(self.root)

    def assign(self, officer_id: str | None, undocked_at: datetime) -> DeviceInfo:
        """Program the camera for its next holder as it leaves the bay: rewrite `device.json`.

        The dock does this when an officer takes a pool camera by card, so the camera's
        next manifests name that officer. Only `officer_id` and `undocked_at` change; the
        file is replaced atomically (a reader sees the old or the new, never half).
        """
        if officer_id is not None and not officer_id.strip():
            raise InvalidInput("officer_id must be a non-empty string or None")
        device = dataclasses.replace(
            self.device, officer_id=officer_id, undocked_at=as_utc(undocked_at)
        )
        write_device(self.root, device)
        return device

    def recordings(self) -> list[CameraRecording]:
        """Every complete recording, oldest first; broken ones are skipped, never deleted."""
        return self._scan()[0]

    def unfinished_releases(self) -> list[CameraRecording]:
        """Manifests whose footage a release already deleted: a dock died between the two.

        Their `media_path` no longer exists. Calling `release` again with the server's
        receipt finishes the job, so the dock ships these too: it asks the server for the
        receipt instead of uploading.
        """
        return self._scan()[2]

    def outstanding(self) -> list[CameraRecording]:
        """What the dock still has to do: every complete recording, then unfinished releases."""
        found, _, unfinished = self._scan()
        return found + unfinished

    def problems(self) -> list[str]:
        """What `recordings()` skipped or did not expect, one sentence per file."""
        return self._scan()[1]

    def free_bytes(self) -> int | None:
        """Capacity minus the bytes the recordings take, or None if the capacity is unknown."""
        capacity = self.device.capacity_bytes
        if capacity is None:
            return None
        used = 0
        if self.recordings_dir.is_dir():
            used = sum(p.stat().st_size for p in self.recordings_dir.iterdir() if p.is_file())
        return max(0, capacity - used)

    def release(
        self,
        recording_id: str,
        receipt_document: dict[str, Any],
        server_public_key: Ed25519PublicKey,
    ) -> None:
        """Delete a recording's footage and then its manifest, only for a valid receipt.

        Raises ReceiptInvalid (deleting nothing) unless the receipt is signed by the
        server's key and names this recording's id, SHA-256 and size as its own signed
        manifest states them. A release interrupted after the footage went can be
        finished by calling release again with the same receipt.
        """
        if recording_id_of(recording_id) is None:
            raise NotFound(f"{recording_id!r} is not a recording id")
        manifest_path = self.recordings_dir / f"{recording_id}{MANIFEST_SUFFIX}"
        try:
            document = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(f"this camera holds no recording {recording_id}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReceiptInvalid(f"the camera's manifest is unreadable: {exc}") from None
        manifest = self._trusted_manifest(document, recording_id)
        verify_receipt(receipt_document, manifest, server_public_key)
        # Footage first: a manifest left alone by a power cut names footage already released,
        # whereas footage without its manifest could never be uploaded again.
        unlink_durably(self.recordings_dir / manifest.file)
        unlink_durably(manifest_path)

    def _trusted_manifest(self, document: Any, recording_id: str) -> Manifest:
        # An edited manifest could make a receipt for other bytes look like this recording's.
        try:
            manifest = parse_manifest(document)
            signing.verify(document, signing.load_public_key(self.device.public_key))
        except CustodyError as exc:
            raise ReceiptInvalid(f"the camera's own manifest is not trustworthy: {exc}") from exc
        if manifest.recording_id != recording_id or manifest.file != media_name(recording_id):
            raise ReceiptInvalid("the camera's manifest names another recording or file")
        return manifest

    def _scan(self) -> tuple[list[CameraRecording], list[str], list[CameraRecording]]:
        if not self.recordings_dir.is_dir():
            return [], [], []
        found: list[CameraRecording] = []
        problems: list[str] = []
        unfinished: list[CameraRecording] = []
        names = {p.name for p in self.recordings_dir.iterdir() if not p.name.startswith(".")}
        for name in sorted(names):
            stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
            where = f"{RECORDINGS_DIR}/{name}"
            if recording_id_of(stem) is None or f".{suffix}" not in (MEDIA_SUFFIX, MANIFEST_SUFFIX):
                problems.append(f"{where}: not a recording file name")
            elif f".{suffix}" == MEDIA_SUFFIX:
                if f"{stem}{MANIFEST_SUFFIX}" not in names:
                    problems.append(f"{where}: footage without a manifest")
            else:
                recording = self._read(stem, problems)
                if recording is None:
                    continue
                if recording.media_path.is_file():
                    found.append(recording)
                else:
                    problems.append(
                        f"{where}: its footage is gone (an interrupted release, "
                        "finished once the server's receipt is verified)"
                    )
                    unfinished.append(recording)
        found.sort(key=_oldest_first)
        unfinished.sort(key=_oldest_first)
        return found, problems, unfinished

    def _read(self, recording_id: str, problems: list[str]) -> CameraRecording | None:
        manifest_path = self.recordings_dir / f"{recording_id}{MANIFEST_SUFFIX}"
        where = f"{RECORDINGS_DIR}/{manifest_path.name}"
        try:
            document = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest = parse_manifest(document)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{where}: unreadable ({exc})")
            return None
        except CustodyError as exc:
            problems.append(f"{where}: {exc.message}")
            return None
        if manifest.recording_id != recording_id or manifest.file != media_name(recording_id):
            problems.append(f"{where}: names recording {manifest.recording_id} / {manifest.file}")
            return None
        return CameraRecording(
            manifest, document, self.recordings_dir / manifest.file, manifest_path
        )
