"""The rules of a share, pure: when it lives, what the link shows, what may be downloaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.errors import InvalidInput
from custody.domain.shares import (
    DEFAULT_DAYS,
    ShareState,
    TooManyCodes,
    check_email,
    check_kind,
    check_limit,
    check_name,
    expiry,
    masked,
    may_download,
    state,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_share_lives_until_it_expires_and_revocation_is_what_the_record_says() -> None:
    ends = expiry(NOW, None)
    assert ends == NOW + timedelta(days=DEFAULT_DAYS)
    assert state(NOW, ends, None) is ShareState.ACTIVE
    assert state(ends - timedelta(seconds=1), ends, None) is ShareState.ACTIVE
    assert state(ends, ends, None) is ShareState.EXPIRED
    assert state(NOW, ends, NOW) is ShareState.REVOKED
    assert state(ends + timedelta(days=1), ends, NOW) is ShareState.REVOKED


@pytest.mark.parametrize("days", [0, -1, 367])
def test_a_share_lasts_a_day_to_a_year(days: int) -> None:
    with pytest.raises(InvalidInput, match="1 to 366 days"):
        expiry(NOW, days)


def test_addresses_are_checked_and_their_domain_lower_cased() -> None:
    assert check_email("  Priya.Shah@CPS.Example ") == "Priya.Shah@cps.example"
    for bad in ("priya", "priya@", "@cps.example", "priya@cps", "a b@cps.example", "x" * 250):
        with pytest.raises(InvalidInput, match="not an e-mail address"):
            check_email(bad)


def test_the_link_shows_enough_of_the_address_to_recognise_it_and_no_more() -> None:
    assert masked("priya.shah@cps.example") == "p***@cps.example"


def test_names_and_kinds() -> None:
    assert check_name("  Priya   Shah ") == "Priya Shah"
    with pytest.raises(InvalidInput):
        check_name("   ")
    assert check_kind("defence").value == "defence"
    with pytest.raises(InvalidInput, match="prosecutor or defence"):
        check_kind("judge")
    # A requester receives only their own subject access release, never a case's items.
    with pytest.raises(InvalidInput, match="prosecutor or defence"):
        check_kind("requester")


def test_downloads_follow_the_share_and_its_limit() -> None:
    assert not may_download(False, None, 0)
    assert may_download(True, None, 10_000)
    assert may_download(True, 2, 1) and not may_download(True, 2, 2)
    assert check_limit(True, None) is None and check_limit(True, 3) == 3
    with pytest.raises(InvalidInput, match="needs downloads"):
        check_limit(False, 3)
    with pytest.raises(InvalidInput, match="1 to 1000"):
        check_limit(True, 0)


def test_too_many_codes_says_how_long_to_wait() -> None:
    refused = TooManyCodes(timedelta(minutes=5))
    assert refused.message == "too many wrong codes: try again in 5 minute(s)"
    assert refused.retry_after_seconds == 300 and refused.code == "too_many_codes"
