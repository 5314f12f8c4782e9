"""The disclosure rules, as pure functions: schedule uses, exhibit references, what may leave.

An exhibit reference is the producer's initials and a number, as forces write them on
exhibit labels: ``LJ/1``, ``LJ/2``, ``ABC/12``. It is unique within a case. Material
marked *unused — sensitive* is never shared or exported outside the force.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from custody.domain.errors import InvalidInput


class Use(StrEnum):
    EXHIBIT = "exhibit"
    UNUSED_NOT_SENSITIVE = "unused_not_sensitive"
    UNUSED_SENSITIVE = "unused_sensitive"


USE_LABELS: dict[Use, str] = {
    Use.EXHIBIT: "Exhibit",
    Use.UNUSED_NOT_SENSITIVE: "Unused — not sensitive",
    Use.UNUSED_SENSITIVE: "Unused — sensitive",
}

_REFERENCE = re.compile(r"^([A-Z]{1,4})/([1-9][0-9]{0,4})$")


def normalise_reference(text: str) -> str:
    """``lj / 1`` → ``LJ/1``; InvalidInput naming the expected form otherwise."""
    cleaned = re.sub(r"\s+", "", text).upper()
    if not _REFERENCE.match(cleaned):
        raise InvalidInput(
            f"exhibit reference {text.strip()[:40]!r} is not in the form INITIALS/NUMBER "
            "(for example LJ/1)"
        )
    return cleaned


def initials_of(name: str) -> str:
    """A producer's initials from their name: ``Lee Jones`` → ``LJ`` (at most four)."""
    letters = [part[0] for part in re.split(r"[\s\-.']+", name) if part and part[0].isalpha()]
    return "".join(letters[:4]).upper() or "X"


def next_reference(initials: str, taken: Iterable[str]) -> str:
    """The producer's next free number in the case: after ``LJ/1`` and ``LJ/3``, ``LJ/4``."""
    prefix = initials.upper()
    highest = 0
    for reference in taken:
        match = _REFERENCE.match(reference)
        if match and match.group(1) == prefix:
            highest = max(highest, int(match.group(2)))
    return f"{prefix}/{highest + 1}"


def reference_sort_key(reference: str | None) -> tuple[str, int, str]:
    """Schedules list exhibits by producer then number (LJ/2 before LJ/10), unused last."""
    if reference is None:
        return ("~", 0, "")
    match = _REFERENCE.match(reference)
    if not match:
        return ("~", 0, reference)
    return (match.group(1), int(match.group(2)), "")


def may_leave_the_force(use: Use) -> bool:
    """Sensitive unused material is never shared or exported outside the force."""
    return use is not Use.UNUSED_SENSITIVE
