"""Rules for what people write about footage: titles, references, notes, tags, bookmarks,
reasons, cases and holds. Plain checks that raise InvalidInput with a clear message."""

from __future__ import annotations

import re
from datetime import datetime

from custody.domain.errors import InvalidInput
from custody.domain.retention import HoldKind

MAX_TITLE = 200
MAX_REFERENCE = 64
MAX_NOTE = 4000
MAX_REASON = 1000
MAX_TAGS = 30
MAX_BOOKMARK_LABEL = 200
TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Crime and incident references: CAD 1234/01OCT26, CRIS 0101234/26, 01/123456/26 ...
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 /._-]*$")
# At most this long after its closure a case keeps its footage before categories decide
# again; the least is the pending notice, so nothing in a just-closed case goes unseen.
MIN_DISPOSAL_DAYS = 7
MAX_DISPOSAL_DAYS = 100 * 366


def check_reason(reason: str | None, what: str) -> str:
    """A reason is required, non-blank and bounded; returns it stripped."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(f"{what} needs a reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters")
    return text


def optional_reason(reason: str | None) -> str | None:
    """A reason that may be left out; blank counts as none."""
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters")
    return text or None


def check_title(title: str) -> str:
    text = title.strip()
    if len(text) > MAX_TITLE:
        raise InvalidInput(f"a title has at most {MAX_TITLE} characters")
    return text


def check_reference(reference: str) -> str:
    """A crime or incident reference, as the force writes it."""
    text = reference.strip()
    if not text:
        return text
    if len(text) > MAX_REFERENCE or not REFERENCE.match(text):
        raise InvalidInput(
            f"a reference is up to {MAX_REFERENCE} letters, digits, spaces, '/', '.', '_' or '-'"
        )
    return text


def check_tags(tags: list[str]) -> list[str]:
    """Tags are lower-case words; duplicates collapse; order does not matter."""
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags")
    cleaned = sorted({t.strip().lower() for t in tags})
    for tag in cleaned:
        if not TAG.match(tag):
            raise InvalidInput(f"tag {tag!r}: 1 to 40 lower-case letters, digits, '_' or '-'")
    return cleaned


def check_note(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("a note cannot be empty")
    if len(cleaned) > MAX_NOTE:
        raise InvalidInput(f"a note has at most {MAX_NOTE} characters")
    return cleaned


def check_bookmark(at_seconds: float, label: str, duration_seconds: float | None) -> str:
    """A bookmark sits at a moment inside the recording and says what happens there."""
    if not at_seconds >= 0:  # also refuses NaN
        raise InvalidInput("a bookmark's at_seconds cannot be negative")
    if duration_seconds is not None and at_seconds > duration_seconds + 1:
        raise InvalidInput(
            f"a bookmark at {at_seconds:.1f} s is past the end of the recording "
            f"({duration_seconds:.1f} s)"
        )
    text = label.strip()
    if not text or len(text) > MAX_BOOKMARK_LABEL:
        raise InvalidInput(f"a bookmark label is 1 to {MAX_BOOKMARK_LABEL} characters")
    return text


def check_disposal_days(days: int | None) -> int | None:
    """A case's disposal: kept N days after closure (at least the notice), or None: kept."""
    if days is None:
        return None
    if not MIN_DISPOSAL_DAYS <= days <= MAX_DISPOSAL_DAYS:
        raise InvalidInput(
            f"disposal_days must be {MIN_DISPOSAL_DAYS} to {MAX_DISPOSAL_DAYS}, or null to keep "
            "the footage until it is manually deleted"
        )
    return days


def parse_hold_kind(kind: str) -> HoldKind:
    try:
        return HoldKind(kind)
    except ValueError:
        raise InvalidInput("kind must be legal or complaint") from None


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is None or until is None:
        raise InvalidInput("a hold on an officer's footage needs since and until")
    if until <= since:
        raise InvalidInput("until must be after since")


MAX_COMPLAINT_OFFICERS = 20
# Professional standards' references (CO-2026-0142): no '/', so that one is a URL segment.
COMPLAINT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def complaint_covers(
    since: datetime, until: datetime, started_at: datetime, ended_at: datetime
) -> bool:
    """Whether a complaint's window [since, until) touches a recording: any overlap counts,
    so that footage started before the incident and still running through it is held."""
    return started_at < until and ended_at > since


def check_complaint_reference(reference: str | None) -> str:
    text = (reference or "").strip()
    if not text:
        raise InvalidInput("a complaint needs its reference")
    if len(text) > 64:
        raise InvalidInput("a complaint reference has at most 64 characters")
    if not COMPLAINT_REFERENCE.match(text):
        raise InvalidInput(
            "a complaint reference is letters, digits, '.', '_' and '-' (for example CO-2026-0142)"
        )
    return text


def check_complaint_officers(warrant_numbers: list[str]) -> list[str]:
    """The officers a complaint names: at least one, each once, at most a bounded number."""
    cleaned = sorted({w.strip() for w in warrant_numbers if w.strip()})
    if not cleaned:
        raise InvalidInput("a complaint names at least one officer (warrant number)")
    if len(cleaned) > MAX_COMPLAINT_OFFICERS:
        raise InvalidInput(f"a complaint names at most {MAX_COMPLAINT_OFFICERS} officers")
    return cleaned
