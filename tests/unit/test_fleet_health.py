"""Fleet health and fleet rules as pure functions: versions, thresholds, the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from custody.domain.fleet import (
    BoroughFigures,
    Refusal,
    check_checkout,
    check_issue,
    is_behind,
    newest_versions,
    parse_version,
    progress,
)
from custody.domain.fleet_health import (
    AlertKind,
    CameraFacts,
    DockFacts,
    HealthPolicy,
    Severity,
    camera_alerts,
    camera_not_docked,
    dock_silent,
    firmware_behind,
    ordered,
    reported_out_of_service,
)

NOW = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
POLICY = HealthPolicy(camera_idle_days=3, dock_silent_hours=24)
CAMERA = CameraFacts(
    serial="BWV-1",
    model="SimCam",
    firmware="1.4.2",
    status="issued",
    pool=False,
    officer="1234AB",
    borough="Hackney",
    last_docked_at=NOW - timedelta(days=1),
    status_changed_at=NOW - timedelta(days=30),
)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.9", "1.10"),
        ("1.4.2", "1.4.10"),
        ("2.0rc1", "2.0"),
        ("v1.2", "1.3"),
        ("1.4", "1.4.1"),
        ("0.9.9", "1"),
    ],
)
def test_versions_compare_as_people_expect(older: str, newer: str) -> None:
    assert is_behind(older, newer)
    assert not is_behind(newer, older)


def test_equal_and_unreadable_versions_are_never_behind() -> None:
    assert parse_version("1.4") == parse_version("1.4.0")
    assert not is_behind("1.4.0", "1.4")
    assert not is_behind("unknown", "1.4")
    assert not is_behind("1.4", "unknown")
    assert not is_behind("1.4", None)


def test_the_newest_firmware_is_found_per_model() -> None:
    seen = [("A", "1.9"), ("A", "1.10"), ("A", "unknown"), ("B", "3.0rc2"), ("B", "2.9")]
    assert newest_versions(seen) == {"A": "1.10", "B": "3.0rc2"}


def test_a_camera_docked_recently_raises_nothing() -> None:
    assert camera_alerts(CAMERA, {"SimCam": "1.4.2"}, NOW, POLICY) == []


def test_a_camera_not_docked_for_more_than_the_threshold_is_at_risk() -> None:
    just_inside = replace(CAMERA, last_docked_at=NOW - timedelta(days=3))
    assert camera_not_docked(just_inside, NOW, POLICY) is None
    out = replace(CAMERA, last_docked_at=NOW - timedelta(days=4))
    alert = camera_not_docked(out, NOW, POLICY)
    assert alert is not None and alert.kind is AlertKind.CAMERA_NOT_DOCKED
    assert alert.severity is Severity.WARNING
    assert "4 days" in alert.message and "31 days are running" in alert.message
    assert "1234AB" in alert.message
    # Twice the threshold: the footage is in real danger.
    long_gone = replace(CAMERA, last_docked_at=NOW - timedelta(days=7))
    severe = camera_not_docked(long_gone, NOW, POLICY)
    assert severe is not None and severe.severity is Severity.CRITICAL


def test_moving_the_clock_forward_raises_the_alert() -> None:
    docked = NOW - timedelta(hours=1)
    camera = replace(CAMERA, last_docked_at=docked)
    assert camera_not_docked(camera, NOW, POLICY) is None
    assert camera_not_docked(camera, NOW + timedelta(days=3, hours=2), POLICY) is not None


def test_a_never_docked_camera_counts_from_its_issue() -> None:
    fresh = replace(CAMERA, last_docked_at=None, status_changed_at=NOW - timedelta(days=1))
    assert camera_not_docked(fresh, NOW, POLICY) is None
    stale = replace(fresh, status_changed_at=NOW - timedelta(days=5))
    alert = camera_not_docked(stale, NOW, POLICY)
    assert alert is not None and "since it was issued" in alert.message


@pytest.mark.parametrize("status", ["in_stock", "in_repair", "retired", "lost"])
def test_only_cameras_in_service_are_expected_to_dock(status: str) -> None:
    idle = replace(CAMERA, status=status, last_docked_at=NOW - timedelta(days=60))
    assert camera_not_docked(idle, NOW, POLICY) is None


def test_firmware_behind_the_newest_of_its_model() -> None:
    old = replace(CAMERA, firmware="1.3.9")
    alert = firmware_behind(old, {"SimCam": "1.4.2"})
    assert alert is not None and alert.kind is AlertKind.FIRMWARE_BEHIND
    assert "1.3.9" in alert.message and "1.4.2" in alert.message
    assert firmware_behind(old, {"Other": "9.0"}) is None
    assert firmware_behind(replace(old, status="retired"), {"SimCam": "1.4.2"}) is None


def test_a_retired_or_lost_camera_seen_again_is_critical() -> None:
    retired_at = NOW - timedelta(days=10)
    retired = replace(CAMERA, status="retired", status_changed_at=retired_at)
    assert reported_out_of_service(retired) is None
    seen = replace(retired, last_reported_at=retired_at - timedelta(days=1))
    assert reported_out_of_service(seen) is None  # reported before it was retired
    again = replace(retired, last_reported_at=NOW)
    alert = reported_out_of_service(again)
    assert alert is not None and alert.kind is AlertKind.REPORTED_WHILE_RETIRED
    assert alert.severity is Severity.CRITICAL
    lost = replace(again, status="lost")
    found = reported_out_of_service(lost)
    assert found is not None and found.kind is AlertKind.REPORTED_WHILE_LOST
    assert "reported lost" in found.message


def test_a_dock_that_stops_reporting() -> None:
    dock = DockFacts("Hackney-1", "Hackney", NOW - timedelta(days=100), NOW - timedelta(hours=2))
    assert dock_silent(dock, NOW, POLICY) is None
    assert dock_silent(dock, NOW + timedelta(hours=22), POLICY) is None
    later = dock_silent(dock, NOW + timedelta(hours=23), POLICY)
    assert later is not None and later.kind is AlertKind.DOCK_SILENT
    assert "25 hours" in later.message
    never = DockFacts("Camden-1", "Camden", NOW - timedelta(days=3), None)
    alert = dock_silent(never, NOW, POLICY)
    assert alert is not None and "never reported" in alert.message and "3 days" in alert.message
    assert dock_silent(replace(never, revoked=True), NOW, POLICY) is None


def test_alerts_are_ordered_most_severe_and_oldest_first() -> None:
    a = camera_not_docked(
        replace(CAMERA, serial="A", last_docked_at=NOW - timedelta(days=4)), NOW, POLICY
    )
    b = camera_not_docked(
        replace(CAMERA, serial="B", last_docked_at=NOW - timedelta(days=5)), NOW, POLICY
    )
    c = camera_not_docked(
        replace(CAMERA, serial="C", last_docked_at=NOW - timedelta(days=9)), NOW, POLICY
    )
    d = firmware_behind(replace(CAMERA, serial="D", firmware="1.0"), {"SimCam": "2.0"})
    assert a and b and c and d
    assert [x.name for x in ordered([d, a, b, c])] == ["C", "B", "A", "D"]


def test_thresholds_are_at_least_one() -> None:
    with pytest.raises(ValueError):
        HealthPolicy(camera_idle_days=0)


def test_issue_and_checkout_rules() -> None:
    check_issue("in_stock", "S")
    check_issue("issued", "S")
    for status in ("retired", "lost", "in_repair"):
        with pytest.raises(Refusal):
            check_issue(status, "S")
    check_checkout("issued", True, "S")
    with pytest.raises(Refusal, match="personal-issue"):
        check_checkout("issued", False, "S")
    with pytest.raises(Refusal, match="in stock"):
        check_checkout("in_stock", True, "S")


def test_roll_out_progress_and_lateness() -> None:
    figures = BoroughFigures("Hackney", 200, 150, 150, 90, 12)
    on_time = progress("Hackney", 1, date(2026, 11, 1), "issuing", figures, date(2026, 10, 10))
    assert (on_time.equipped_percent, on_time.uploaded_percent, on_time.overdue) == (75, 45, False)
    late = progress("Hackney", 1, date(2026, 10, 1), "issuing", figures, date(2026, 10, 10))
    assert late.overdue
    done = progress("Hackney", 1, date(2026, 10, 1), "complete", figures, date(2026, 10, 10))
    assert not done.overdue
    empty = progress(
        "Ealing", 9, None, "planned", BoroughFigures("Ealing", 0, 0, 0, 0, 0), date(2026, 10, 10)
    )
    assert empty.equipped_percent == 0 and not empty.overdue
