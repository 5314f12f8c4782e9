"""The recording manifest: what a camera says it recorded, signed with the device key.

The format is documented in docs/camera-format.md. Parsing is strict: a manifest
that does not parse is refused before any footage moves.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import ManifestInvalid
from custody.domain.uploads import MAX_UPLOAD_BYTES

MANIFEST_FORMAT = "custody-manifest/1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Footage is split by the camera at 4 hours; anything far beyond is not a real recording.
MAX_RECORDING_SECONDS = 6 * 3600
# The fields of the format (docs/camera-format.md): "A camera MUST NOT add other fields".
FIELDS = frozenset(
    {
        "format",
        "recording_id",
        "device_serial",
        "officer_id",
        "started_at",
        "ended_at",
        "pre_event_seconds",
        "file",
        "size",
        "sha256",
        "gps",
        "signature",
    }
)
GPS_FIELDS = frozenset({"at", "lat", "lon"})
# Text is bounded before it is copied anywhere (flags, the audit log, error messages): a
# serial as the force registers it, an officer id as long as a warrant number could
# reasonably be written, a time in ISO 8601, and an Ed25519 signature in base64 (88).
MAX_RECORDING_ID = 36
MAX_SERIAL = 64
MAX_OFFICER_ID = 64
MAX_TIME_TEXT = 40
MAX_SIGNATURE = 128
# A fix a second for the longest credible recording; a fix every 5 s is usual.
MAX_GPS_FIXES = MAX_RECORDING_SECONDS + 1
# The most bytes a manifest's JSON can need: every field at its bound and the GPS track
# at MAX_GPS_FIXES, pretty-printed (about 130 bytes a fix), with room to spare.
MAX_MANIFEST_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class GpsPoint:
    at: datetime
    lat: float
    lon: float

    def to_json(self) -> dict[str, Any]:
        return {"at": isoformat(self.at), "lat": self.lat, "lon": self.lon}


@dataclass(frozen=True)
class Manifest:
    recording_id: str
    device_serial: str
    officer_id: str | None
    started_at: datetime
    ended_at: datetime
    pre_event_seconds: int
    file: str
    size: int
    sha256: str
    gps: tuple[GpsPoint, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The unsigned manifest document."""
        return {
            "format": MANIFEST_FORMAT,
            "recording_id": self.recording_id,
            "device_serial": self.device_serial,
            "officer_id": self.officer_id,
            "started_at": isoformat(self.started_at),
            "ended_at": isoformat(self.ended_at),
            "pre_event_seconds": self.pre_event_seconds,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
            "gps": [p.to_json() for p in self.gps],
        }

    @property
    def duration_seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def parse_manifest(document: Any) -> Manifest:
    """Validate a manifest document's shape and values; ManifestInvalid names the fault."""
    if not isinstance(document, dict):
        raise ManifestInvalid("a manifest is a JSON object")
    if document.get("format") != MANIFEST_FORMAT:
        raise ManifestInvalid(f"format must be {MANIFEST_FORMAT!r}")
    unknown = set(document) - FIELDS
    if unknown:
        # Named only by count: an unknown key may be anything, of any length.
        raise ManifestInvalid(
            f"{len(unknown)} field(s) the camera format does not have: it allows "
            + ", ".join(sorted(FIELDS))
        )
    recording_id = _text(document, "recording_id", MAX_RECORDING_ID)
    try:
        if str(uuid.UUID(recording_id)) != recording_id:
            raise ValueError
    except ValueError:
        raise ManifestInvalid("recording_id must be a lower-case UUID") from None
    serial = _text(document, "device_serial", MAX_SERIAL)
    officer = document.get("officer_id")
    if officer is not None and (
        not isinstance(officer, str) or not officer.strip() or len(officer) > MAX_OFFICER_ID
    ):
        raise ManifestInvalid(
            f"officer_id must be a non-empty string of at most {MAX_OFFICER_ID} characters, or null"
        )
    signature = document.get("signature")
    if signature is not None and (not isinstance(signature, str) or len(signature) > MAX_SIGNATURE):
        raise ManifestInvalid("signature must be the base64 of an Ed25519 signature")
    started = _time(document, "started_at")
    ended = _time(document, "ended_at")
    if ended < started:
        raise ManifestInvalid("ended_at is before started_at")
    if (ended - started).total_seconds() > MAX_RECORDING_SECONDS:
        raise ManifestInvalid("a recording longer than 6 hours is not credible")
    pre_event = document.get("pre_event_seconds")
    if not isinstance(pre_event, int) or isinstance(pre_event, bool) or not 0 <= pre_event <= 120:
        raise ManifestInvalid("pre_event_seconds must be a whole number from 0 to 120")
    file_name = _text(document, "file", len(recording_id) + len(".mp4"))
    if file_name != f"{recording_id}.mp4":
        # Echoed: it is at most an id's length (checked above).
        raise ManifestInvalid(f"file must be <recording_id>.mp4, not {file_name!r}")
    size = document.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ManifestInvalid("size must be a positive whole number of bytes")
    if size > MAX_UPLOAD_BYTES:
        # It could never be uploaded (Tus-Max-Size): refused before anything waits for it.
        raise ManifestInvalid(f"size passes the largest recording accepted ({MAX_UPLOAD_BYTES})")
    sha = _text(document, "sha256", 64)
    if not SHA256_HEX.match(sha):
        raise ManifestInvalid("sha256 must be 64 lower-case hex digits")
    return Manifest(
        recording_id=recording_id,
        device_serial=serial,
        officer_id=officer,
        started_at=started,
        ended_at=ended,
        pre_event_seconds=pre_event,
        file=file_name,
        size=size,
        sha256=sha,
        gps=_gps(document.get("gps", [])),
    )


def _text(document: dict[str, Any], name: str, longest: int) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ManifestInvalid(f"{name} must be a non-empty string")
    if len(value) > longest:
        raise ManifestInvalid(f"{name} is longer than {longest} characters")
    return value


def _time(document: dict[str, Any], name: str) -> datetime:
    value = _text(document, name, MAX_TIME_TEXT)
    try:
        return parse_time(value)
    except ValueError:
        raise ManifestInvalid(f"{name} must be an ISO 8601 time") from None


def _gps(points: Any) -> tuple[GpsPoint, ...]:
    if not isinstance(points, list):
        raise ManifestInvalid("gps must be a list of points")
    if len(points) > MAX_GPS_FIXES:
        raise ManifestInvalid(f"gps has more than {MAX_GPS_FIXES} fixes (one a second)")
    track = []
    for index, point in enumerate(points):
        if not isinstance(point, dict):
            raise ManifestInvalid(f"gps[{index}] must be an object")
        if set(point) - GPS_FIELDS:
            raise ManifestInvalid(f"gps[{index}] has fields besides at, lat and lon")
        lat, lon = point.get("lat"), point.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise ManifestInvalid(f"gps[{index}] needs numeric lat and lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ManifestInvalid(f"gps[{index}] is not on Earth")
        at_text = point.get("at")
        if not isinstance(at_text, str) or len(at_text) > MAX_TIME_TEXT:
            raise ManifestInvalid(f"gps[{index}].at must be an ISO 8601 time")
        try:
            at = parse_time(at_text)
        except ValueError:
            raise ManifestInvalid(f"gps[{index}].at must be an ISO 8601 time") from None
        track.append(GpsPoint(at=at, lat=float(lat), lon=float(lon)))
    return tuple(track)
