"""The fleet's rules: camera statuses and what may happen to a camera in each, issue modes,
firmware versions and roll-out phases. Plain Python, no I/O.

A camera is `in_stock` until it is issued, either to one officer (personal issue) or to
a borough's pool (any carded officer takes it from a dock). It may go `in_repair` and
come back to stock. `lost` is reported by the force and may be undone if the camera
turns up; `retired` is final. Who held a camera when is kept as assignment history,
never overwritten, so the officer behind a recording can always be established.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date


class CameraStatus(enum.StrEnum):
    IN_STOCK = "in_stock"
    ISSUED = "issued"
    IN_REPAIR = "in_repair"
    RETIRED = "retired"
    LOST = "lost"


class IssueMode(enum.StrEnum):
    PERSONAL = "personal"  # one officer holds the camera until it is returned
    POOL = "pool"  # a carded officer takes it from a dock until it is docked again


class AssignmentEnd(enum.StrEnum):
    """Why an assignment ended: kept with it, so the history explains itself."""

    DOCKED = "docked"  # a pool camera came back to a dock
    CHECKOUT = "checkout"  # another officer took the pool camera before it was reported docked
    REISSUED = "reissued"
    RETURNED = "returned"
    REPAIR = "repair"
    RETIRED = "retired"
    LOST = "lost"
    POOLED = "pooled"  # a personal camera moved to a pool


class PhaseStatus(enum.StrEnum):
    PLANNED = "planned"
    ISSUING = "issuing"
    COMPLETE = "complete"


CAMERA_STATUSES = tuple(CameraStatus)
PHASE_STATUSES = tuple(PhaseStatus)
# Statuses in which a camera is out of service: its reports and footage are flagged.
OUT_OF_SERVICE = frozenset({CameraStatus.RETIRED, CameraStatus.LOST})


class Refusal(Exception):
    """A rule said no; the message says why, in the fleet manager's words."""


def check_issue(status: str, serial: str) -> None:
    """A camera may be issued (to an officer or a pool) from stock, or re-issued."""
    if status == CameraStatus.RETIRED:
        raise Refusal(f"camera {serial} is retired: a retired camera is never issued again")
    if status == CameraStatus.LOST:
        raise Refusal(f"camera {serial} is reported lost: return it to stock when it is found")
    if status == CameraStatus.IN_REPAIR:
        raise Refusal(f"camera {serial} is in repair: return it to stock first")


def check_return(status: str, serial: str) -> None:
    """A camera comes back to stock (or goes to repair) unless it is retired."""
    if status == CameraStatus.RETIRED:
        raise Refusal(f"camera {serial} is retired")


def check_retire(status: str, serial: str) -> None:
    if status == CameraStatus.RETIRED:
        raise Refusal(f"camera {serial} is retired already")


def check_lost(status: str, serial: str) -> None:
    if status == CameraStatus.RETIRED:
        raise Refusal(f"camera {serial} is retired")
    if status == CameraStatus.LOST:
        raise Refusal(f"camera {serial} is reported lost already")


def check_checkout(status: str, pool: bool, serial: str) -> None:
    """Only a pool camera in service may be taken by card at a dock."""
    if not pool:
        raise Refusal(f"camera {serial} is a personal-issue camera, not a pool camera")
    if status != CameraStatus.ISSUED:
        raise Refusal(f"camera {serial} is {status.replace('_', ' ')}, not in service in a pool")


# --- firmware versions ---

_RELEASE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)(.*)$")


@dataclass(frozen=True, order=True)
class Version:
    """A firmware version ordered the way people expect: 1.10 after 1.9, 2.0rc1 before 2.0."""

    release: tuple[int, ...]
    # A final release sorts after its pre-releases (1 for final, 0 for "rc1", "beta"...).
    final: int
    suffix: str


def parse_version(text: str) -> Version | None:
    """The comparable form of a firmware version, or None if it has no numbers to compare."""
    match = _RELEASE.match(text.strip())
    if match is None:
        return None
    numbers = tuple(int(part) for part in match.group(1).split("."))
    # Trailing zeros do not make a version newer: 1.4 == 1.4.0.
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers = numbers[:-1]
    suffix = match.group(2).strip(" .-_+").lower()
    return Version(numbers, 0 if suffix else 1, suffix)


def newest_versions(seen: list[tuple[str, str]]) -> dict[str, str]:
    """The newest firmware seen for each model, from (model, firmware) pairs."""
    newest: dict[str, tuple[Version, str]] = {}
    for model, firmware in seen:
        version = parse_version(firmware)
        if version is None:
            continue
        current = newest.get(model)
        if current is None or version > current[0]:
            newest[model] = (version, firmware)
    return {model: firmware for model, (_, firmware) in newest.items()}


def is_behind(firmware: str, newest: str | None) -> bool:
    """Whether `firmware` is older than `newest` (unknown versions are never called behind)."""
    if newest is None:
        return False
    mine, theirs = parse_version(firmware), parse_version(newest)
    return mine is not None and theirs is not None and mine < theirs


# --- roll-out ---


@dataclass(frozen=True)
class BoroughFigures:
    """How far a borough has come, as counted by the database."""

    borough: str
    officers: int
    cameras_issued: int
    officers_with_camera: int
    officers_uploaded: int
    cameras_idle: int


@dataclass(frozen=True)
class PhaseProgress:
    """A borough's phase and figures, with what a fleet manager reads off them."""

    borough: str
    phase: int | None
    target_date: date | None
    status: str
    figures: BoroughFigures
    equipped_percent: int
    uploaded_percent: int
    overdue: bool


def _percent(part: int, whole: int) -> int:
    return 0 if whole <= 0 else min(100, (100 * part) // whole)


def progress(
    borough: str,
    phase: int | None,
    target_date: date | None,
    status: str,
    figures: BoroughFigures,
    today: date,
) -> PhaseProgress:
    """A borough's progress: the share of its officers equipped and uploading; late or not."""
    overdue = target_date is not None and today > target_date and status != PhaseStatus.COMPLETE
    return PhaseProgress(
        borough,
        phase,
        target_date,
        status,
        figures,
        _percent(figures.officers_with_camera, figures.officers),
        _percent(figures.officers_uploaded, figures.officers),
        overdue,
    )
