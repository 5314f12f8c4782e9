"""The rules of a share with a person outside the force, as pure functions.

A share is alive from its making until it expires or is revoked, whichever comes first;
after that its link opens nothing and says only that it has ended. A recipient proves the
address it was sent to with a one-time code: short-lived, a few wrong tries and it is
void, and wrong tries across codes slow the next try down (`CODE_THROTTLE`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum

from custody.domain.errors import CustodyError, InvalidInput, NotFound, NotPermitted, TooManySignIns
from custody.domain.sessions import ThrottlePolicy


class RecipientKind(StrEnum):
    PROSECUTOR = "prosecutor"
    DEFENCE = "defence"
    # The subject of a subject access request, sent their own footage (never a case's).
    REQUESTER = "requester"


RECIPIENT_LABELS: dict[RecipientKind, str] = {
    RecipientKind.PROSECUTOR: "Prosecutor",
    RecipientKind.DEFENCE: "Defence",
    RecipientKind.REQUESTER: "Requester",
}
# Whom a case's schedule items may be shared with.
CASE_RECIPIENTS = (RecipientKind.PROSECUTOR, RecipientKind.DEFENCE)


class ShareState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


DEFAULT_DAYS = 30
LONGEST_DAYS = 366
# The most downloads of one item a share may allow (a limit is for copies, not streaming).
LARGEST_LIMIT = 1000
MOST_ITEMS = 200
# A code lives this long, and dies after this many wrong tries (a new one must be sent).
CODE_LIFETIME = timedelta(minutes=15)
CODE_TRIES = 5
CODE_DIGITS = 8
# A new code no sooner than this after the last, and then ever later (doubling up to an
# hour): whoever holds a link must not turn the recipient's mailbox into a target.
CODE_RESEND = timedelta(seconds=30)
CODE_MAIL_THROTTLE = ThrottlePolicy(
    free=1,
    first_wait=CODE_RESEND,
    longest_wait=timedelta(hours=1),
    forget_after=timedelta(hours=24),
)
# A recipient's session, after the code: a working day at most, never past the share.
SESSION_LIFETIME = timedelta(hours=12)
# Wrong codes for one share, across codes: a few free, then waits that double up to an hour.
CODE_THROTTLE = ThrottlePolicy(
    free=5,
    first_wait=timedelta(minutes=5),
    longest_wait=timedelta(hours=1),
    forget_after=timedelta(hours=24),
)

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class TooManyCodes(TooManySignIns):
    """Too many wrong one-time codes for this share, or from this address, lately."""

    code = "too_many_codes"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after)
        seconds = self.retry_after_seconds
        wait = f"{seconds} second(s)" if seconds < 120 else f"{(seconds + 59) // 60} minute(s)"
        self.message = f"too many wrong codes: try again in {wait}"
        self.args = (self.message,)


class CodeSentRecently(TooManySignIns):
    """A new code so soon after the last: the mailbox is not a target to flood."""

    code = "code_sent_recently"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after)
        self.message = (
            f"a code was sent moments ago: check your e-mail, or ask for a new one in "
            f"{self.retry_after_seconds} second(s)"
        )
        self.args = (self.message,)


class SensitiveMaterial(NotPermitted):
    """Unused sensitive material never leaves the force."""

    code = "sensitive_material"


class ShareEnded(NotFound):
    """A link that opens nothing: never issued, expired or revoked, all said alike."""

    code = "share_ended"

    def __init__(self) -> None:
        super().__init__(
            "this link is not valid: it has expired or been withdrawn. Ask the person who "
            "shared it with you for a new one"
        )


class WrongCode(NotPermitted):
    code = "wrong_code"


class MailFailed(CustodyError):
    """The mail server refused the message or could not be reached."""

    code = "mail_failed"


class DownloadLimitReached(NotPermitted):
    code = "download_limit_reached"


class DownloadsNotAllowed(NotPermitted):
    code = "downloads_not_allowed"


def check_email(text: str) -> str:
    """An address as people type it, trimmed, its domain lower-cased; InvalidInput if not one."""
    cleaned = text.strip()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise InvalidInput(f"{cleaned[:60]!r} is not an e-mail address")
    local, _, domain = cleaned.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_name(text: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > 200:
        raise InvalidInput("the recipient's name is 1 to 200 characters")
    return cleaned


def check_kind(text: str) -> RecipientKind:
    if text not in {kind.value for kind in CASE_RECIPIENTS}:
        raise InvalidInput("the recipient is a prosecutor or defence")
    return RecipientKind(text)


def expiry(now: datetime, days: int | None) -> datetime:
    """When a share made now ends: `days` from now (default 30, at most a year)."""
    days = DEFAULT_DAYS if days is None else days
    if not 1 <= days <= LONGEST_DAYS:
        raise InvalidInput(f"a share lasts 1 to {LONGEST_DAYS} days")
    return now + timedelta(days=days)


def check_limit(downloads_allowed: bool, limit: int | None) -> int | None:
    if limit is None:
        return None
    if not downloads_allowed:
        raise InvalidInput("a download limit needs downloads to be allowed")
    if not 1 <= limit <= LARGEST_LIMIT:
        raise InvalidInput(f"a download limit is 1 to {LARGEST_LIMIT} per item")
    return limit


def state(now: datetime, expires_at: datetime, revoked_at: datetime | None) -> ShareState:
    """Revoked beats expired: the officer's act is what the record should say."""
    if revoked_at is not None:
        return ShareState.REVOKED
    if now >= expires_at:
        return ShareState.EXPIRED
    return ShareState.ACTIVE


def may_download(downloads_allowed: bool, limit: int | None, used: int) -> bool:
    return downloads_allowed and (limit is None or used < limit)


def masked(address: str) -> str:
    """An address shown to whoever holds the link, before the code: enough to recognise it,
    not enough to learn it (``f***@cps.gov.uk``)."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
