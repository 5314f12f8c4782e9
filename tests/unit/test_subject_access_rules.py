"""The statutory clock of a subject access request, and when footage may be released."""

from datetime import date

import pytest

from custody.domain.errors import InvalidInput
from custody.domain.subject_access import (
    RedactionStatus,
    check_extension,
    check_registration,
    clock,
    due_date,
    release_refusal,
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 3, 14), date(2026, 4, 14)),  # same day next month
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),  # over the year's end
    ],
)
def test_due_one_calendar_month_from_receipt(received: date, due: date) -> None:
    assert due_date(received) == due


def test_extension_adds_up_to_two_months() -> None:
    assert due_date(date(2026, 1, 31), 2) == date(2026, 4, 30)
    assert due_date(date(2026, 11, 30), 1) == date(2027, 1, 30)
    with pytest.raises(InvalidInput):
        due_date(date(2026, 1, 1), 3)


def test_days_left_and_late() -> None:
    on_time = clock(date(2026, 1, 31), 0, date(2026, 2, 28))
    assert (on_time.due, on_time.days_left, on_time.late) == (date(2026, 2, 28), 0, False)
    late = clock(date(2026, 1, 31), 0, date(2026, 3, 2))
    assert (late.days_left, late.late) == (-2, True)


def test_registration_refuses_the_future_and_the_past_deadline() -> None:
    check_registration(date(2026, 1, 31), date(2026, 2, 28))
    with pytest.raises(InvalidInput, match="past its deadline"):
        check_registration(date(2026, 1, 31), date(2026, 3, 1))
    with pytest.raises(InvalidInput, match="future"):
        check_registration(date(2026, 2, 2), date(2026, 2, 1))


def test_extension_needs_a_reason_and_stays_within_two_months() -> None:
    assert check_extension(0, 2, " complex: 40 hours of footage ") == "complex: 40 hours of footage"
    with pytest.raises(InvalidInput, match="reason"):
        check_extension(0, 1, "  ")
    with pytest.raises(InvalidInput, match="at most"):
        check_extension(1, 2, "more")
    with pytest.raises(InvalidInput, match="at most"):
        check_extension(0, 0, "none")


def test_release_needs_every_item_ready_and_a_second_person() -> None:
    ready = [RedactionStatus.NO_THIRD_PARTIES, RedactionStatus.REDACTED_COPY]
    assert release_refusal(ready, "alice", "bob") is None
    assert release_refusal([], "alice", "bob") == "nothing is attached to release"
    assert "reviewing" in (release_refusal([RedactionStatus.PENDING], "alice", "bob") or "")
    assert "second person" in (release_refusal(ready, "alice", None) or "")
    assert "prepared" in (release_refusal(ready, "alice", "alice") or "")


def test_places_by_great_circle_distance() -> None:
    from custody.domain.subject_access import distance_m, passes_within

    # 0.002° of latitude is 222 m; 0.0007° of longitude at 51.5° N another 48 m across.
    assert 225 < distance_m(51.5450, -0.0553, 51.5470, -0.0560) < 230
    track = [(51.5450, -0.0553), (51.5460, -0.0555)]
    assert passes_within(track, 51.5470, -0.0560, 250)
    assert not passes_within(track, 51.5070, -0.1278, 1000)  # Trafalgar Square
    assert not passes_within([], 51.5, 0.0, 1000)
