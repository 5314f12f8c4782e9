"""Categories: what a recording is, how long it is kept, who may see it, when it is reviewed.

A category carries a retention rule (a number of days from the recording time,
or None for "until manually deleted"), an access class and a review period. A
non-evidential category can never keep footage past the 31-day limit; the
defaults below are what `custody init` gives a new force (docs/retention.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from custody.domain.access import AccessClass
from custody.domain.errors import InvalidInput

# The promise to the public: footage that is not evidence goes within 31 days of recording.
NON_EVIDENTIAL_LIMIT_DAYS = 31
# Evidence older than a century is not a retention period but a typo.
MAX_RETENTION_DAYS = 100 * 366
MAX_REVIEW_DAYS = 10 * 366
CATEGORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ,&()'/._-]{0,79}$")

UNCATEGORISED = "Uncategorised"
NON_EVIDENTIAL = "Non-evidential"

_STRICTNESS = {AccessClass.NORMAL: 0, AccessClass.RESTRICTED: 1, AccessClass.CONFIDENTIAL: 2}


@dataclass(frozen=True)
class CategoryRule:
    """One category's rule as the retention function sees it."""

    name: str
    retention_days: int | None  # None: kept until manually deleted
    review_days: int | None  # None: no periodic review of its own
    access_class: AccessClass = AccessClass.NORMAL
    evidential: bool = True
    description: str = ""


# The defaults a force starts with; every figure is explained in docs/retention.md.
DEFAULT_CATEGORIES: tuple[CategoryRule, ...] = (
    CategoryRule(
        UNCATEGORISED,
        31,
        None,
        evidential=False,
        description="Footage nobody has categorised yet; deleted within 31 days of recording.",
    ),
    CategoryRule(
        NON_EVIDENTIAL,
        31,
        None,
        evidential=False,
        description="Not needed for evidence or a policing purpose; deleted within 31 days.",
    ),
    CategoryRule(
        "Stop and search",
        365,
        180,
        description="A stop or a stop and search with no further action; open to scrutiny "
        "panels for a year.",
    ),
    CategoryRule(
        "Road traffic",
        3 * 365,
        365,
        description="Collisions and traffic offences: long enough for prosecutions and "
        "civil claims.",
    ),
    CategoryRule(
        "Public order",
        6 * 365,
        2 * 365,
        description="Public order incidents and offences.",
    ),
    CategoryRule(
        "Arrest",
        7 * 365,
        2 * 365,
        description="An arrest: kept through charge, trial and appeal.",
    ),
    CategoryRule(
        "Use of force",
        None,
        2 * 365,
        AccessClass.RESTRICTED,
        description="Any use of force: kept until a reviewer decides, restricted.",
    ),
    CategoryRule(
        "Domestic abuse",
        None,
        2 * 365,
        AccessClass.RESTRICTED,
        description="Domestic abuse incidents: victims' footage, restricted, reviewed.",
    ),
    CategoryRule(
        "Complaint",
        None,
        365,
        AccessClass.CONFIDENTIAL,
        description="Footage a complaint concerns: for professional standards and its case "
        "team only.",
    ),
)


def check_rule(rule: CategoryRule) -> None:
    """Refuse a category that is malformed or would break the 31-day promise."""
    if not CATEGORY_NAME.match(rule.name) or rule.name != rule.name.strip():
        raise InvalidInput(
            "a category name is 1 to 80 letters, digits, spaces or , & ( ) ' / . _ -"
        )
    if rule.retention_days is not None and not 1 <= rule.retention_days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"retention_days must be 1 to {MAX_RETENTION_DAYS}, or null")
    if rule.review_days is not None and not 1 <= rule.review_days <= MAX_REVIEW_DAYS:
        raise InvalidInput(f"review_days must be 1 to {MAX_REVIEW_DAYS}, or null")
    if not rule.evidential and rule.retention_days != NON_EVIDENTIAL_LIMIT_DAYS:
        raise InvalidInput(
            "a non-evidential category keeps footage under the 31-day rule: "
            f"retention_days must be {NON_EVIDENTIAL_LIMIT_DAYS}"
        )
    if (
        rule.evidential
        and rule.retention_days is not None
        and (rule.retention_days < NON_EVIDENTIAL_LIMIT_DAYS)
    ):
        raise InvalidInput(
            f"an evidential category keeps footage at least {NON_EVIDENTIAL_LIMIT_DAYS} days "
            "(the 31-day rule applies to everything); use a non-evidential category instead"
        )
    if len(rule.description) > 500:
        raise InvalidInput("a description has at most 500 characters")


def parse_access_class(value: str) -> AccessClass:
    """An access class by name; InvalidInput names the choices."""
    try:
        return AccessClass(value)
    except ValueError:
        choices = ", ".join(c.value for c in AccessClass)
        raise InvalidInput(f"access_class must be one of: {choices}") from None


def access_class_of(categories: Iterable[CategoryRule | AccessClass | str]) -> AccessClass:
    """The access class of footage in these categories: the strictest wins; none is normal."""
    strictest = AccessClass.NORMAL
    for item in categories:
        value = item.access_class if isinstance(item, CategoryRule) else AccessClass(item)
        if _STRICTNESS[value] > _STRICTNESS[strictest]:
            strictest = value
    return strictest
