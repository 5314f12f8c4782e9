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

MANIFEST_FORMAT = "custody-manifest/1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Footage is split by the camera at 4 hours; anything far beyond is not a real recording.
MAX_RECORDING_SECONDS = 6 * 3600


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
    recording_id = _text(document, "recording_id")
    try:
        if str(uuid.UUID(recording_id)) != recording_id:
            raise ValueError
    except ValueError:
        raise ManifestInvalid("recording_id must be a lower-case UUID") from None
    serial = _text(document, "device_serial")
    officer = document.get("officer_id")
    if officer is not None and (not isinstance(officer, str) or not officer.strip()):
        raise ManifestInvalid("officer_id must be a non-empty string or null")
    started = _time(document, "started_at")
    ended = _time(document, "ended_at")
    if ended < started:
        raise ManifestInvalid("ended_at is before started_at")
    if (ended - started).total_seconds() > MAX_RECORDING_SECONDS:
        raise ManifestInvalid("a recording longer than 6 hours is not credible")
    pre_event = document.get("pre_event_seconds")
    if not isinstance(pre_event, int) or isinstance(pre_event, bool) or not 0 <= pre_event <= 120:
        raise ManifestInvalid("pre_event_seconds must be a whole number from 0 to 120")
    file_name = _text(document, "file")
    if "/" in file_name or "\\" in file_name or file_name.startswith("."):
        raise ManifestInvalid("file must be a plain file name")
    size = document.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ManifestInvalid("size must be a positive whole number of bytes")
    sha = _text(document, "sha256")
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


def _text(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ManifestInvalid(f"{name} must be a non-empty string")
    return value


def _time(document: dict[str, Any], name: str) -> datetime:
    value = _text(document, name)
    try:
        return parse_time(value)
    except ValueError:
        raise ManifestInvalid(f"{name} must be an ISO 8601 time") from None


def _gps(points: Any) -> tuple[GpsPoint, ...]:
    if not isinstance(points, list):
        raise ManifestInvalid("gps must be a list of points")
    track = []
    for index, point in enumerate(points):
        if not isinstance(point, dict):
            raise ManifestInvalid(f"gps[{index}] must be an object")
        lat, lon = point.get("lat"), point.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise ManifestInvalid(f"gps[{index}] needs numeric lat and lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ManifestInvalid(f"gps[{index}] is not on Earth")
        try:
            at = parse_time(str(point.get("at")))
        except ValueError:
            raise ManifestInvalid(f"gps[{index}].at must be an ISO 8601 time") from None
        track.append(GpsPoint(at=at, lat=float(lat), lon=float(lon)))
    return tuple(track)
