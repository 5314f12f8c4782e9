"""`device.json` and the device key: who a camera is and how it signs.

The dock reads `device.json` to learn the camera's serial, its public key, its
battery and the officer it was issued to. The private key lives in a real
camera's secure element; only the simulator keeps it in a file (`.device-key`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custody.camera.files import write_atomic
from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import CustodyError, InvalidInput, NotFound, SignatureInvalid
from custody.domain.signing import load_public_key

DEVICE_FORMAT = "custody-device/1"
DEVICE_FILE = "device.json"
KEY_FILE = ".device-key"


class NotACamera(CustodyError):
    """The directory has no valid `device.json`, so it is not a Custody camera."""

    code = "not_a_camera"


@dataclass(frozen=True)
class DeviceInfo:
    """What `device.json` says: the camera's identity, key, battery, space and officer."""

    serial: str
    model: str
    firmware: str
    public_key: str
    battery_percent: int | None
    capacity_bytes: int | None
    officer_id: str | None
    undocked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The `device.json` document."""
        return {
            "format": DEVICE_FORMAT,
            "serial": self.serial,
            "model": self.model,
            "firmware": self.firmware,
            "public_key": self.public_key,
            "battery_percent": self.battery_percent,
            "capacity_bytes": self.capacity_bytes,
            "officer_id": self.officer_id,
            "undocked_at": None if self.undocked_at is None else isoformat(self.undocked_at),
        }


def parse_device(document: Any) -> DeviceInfo:
    """Validate a `device.json` document; NotACamera names the fault."""
    if not isinstance(document, dict) or document.get("format") != DEVICE_FORMAT:
        raise NotACamera(f"device.json must be an object with format {DEVICE_FORMAT!r}")
    public_key = _text(document, "public_key")
    try:
        load_public_key(public_key)
    except SignatureInvalid:
        raise NotACamera("device.json public_key is not a base64 Ed25519 public key") from None
    battery = document.get("battery_percent")
    if battery is not None and not (_whole(battery) and 0 <= battery <= 100):
        raise NotACamera("device.json battery_percent must be a whole number 0-100 or null")
    capacity = document.get("capacity_bytes")
    if capacity is not None and not (_whole(capacity) and capacity > 0):
        raise NotACamera("device.json capacity_bytes must be a positive whole number or null")
    officer = document.get("officer_id")
    if officer is not None and (not isinstance(officer, str) or not officer.strip()):
        raise NotACamera("device.json officer_id must be a non-empty string or null")
    undocked = document.get("undocked_at")
    try:
        undocked_at = None if undocked is None else parse_time(str(undocked))
    except ValueError:
        raise NotACamera("device.json undocked_at must be an ISO 8601 time or null") from None
    return DeviceInfo(
        serial=_text(document, "serial"),
        model=_text(document, "model"),
        firmware=_text(document, "firmware"),
        public_key=public_key,
        battery_percent=battery,
        capacity_bytes=capacity,
        officer_id=officer,
        undocked_at=undocked_at,
    )


def read_device(root: Path) -> DeviceInfo:
    """Read and validate `root/device.json`; NotACamera if it is missing or invalid."""
    try:
        document = json.loads((root / DEVICE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotACamera(f"{root} has no {DEVICE_FILE}: not a camera") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotACamera(f"{root / DEVICE_FILE} is unreadable: {exc}") from None
    return parse_device(document)


def write_device(root: Path, info: DeviceInfo) -> None:
    """Write `root/device.json` atomically."""
    text = json.dumps(info.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_atomic(root / DEVICE_FILE, text.encode("utf-8"))


def save_device_key(root: Path, key: Ed25519PrivateKey) -> None:
    """Keep a simulated camera's private key in `root/.device-key` (PEM, PKCS8, mode 0600)."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_atomic(root / KEY_FILE, pem, mode=0o600)


def load_device_key(root: Path) -> Ed25519PrivateKey:
    """A simulated camera's private key; real cameras never expose theirs (simulator only)."""
    try:
        pem = (root / KEY_FILE).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{root} has no {KEY_FILE}: only simulated cameras keep one") from None
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{root / KEY_FILE} is not an unencrypted PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{root / KEY_FILE} is not an Ed25519 key")
    return key


def _text(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        raise NotACamera(f"device.json {name} must be a non-empty string")
    return value


def _whole(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as int: refuse them here.
    return isinstance(value, int) and not isinstance(value, bool)
