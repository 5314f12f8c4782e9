"""The route walked, drawn from a recording's own GPS points."""

from __future__ import annotations

import json
from datetime import timedelta

from custody.camera.gps import patrol_track
from custody.web.portal.track import draw
from tests.conftest import START


def _points(seconds: float = 120) -> list[dict[str, object]]:
    return [point.to_json() for point in patrol_track("a recording", START, seconds)]


def test_the_track_fits_the_drawing_and_starts_and_ends_where_the_walk_did() -> None:
    track = draw(_points(), START, width=400, height=300, margin=24)
    assert track is not None
    xs = [x for _, x, _ in track.points]
    ys = [y for _, _, y in track.points]
    assert min(xs) >= 23.9 and max(xs) <= 376.1 and min(ys) >= 23.9 and max(ys) <= 276.1
    assert track.start == (track.points[0][1], track.points[0][2])
    assert track.end == (track.points[-1][1], track.points[-1][2])
    assert track.path.startswith("M") and track.path.count("L") == len(track.points) - 1
    # Seconds into the recording, for the marker that follows the video.
    assert [t for t, _, _ in track.points][:3] == [0.0, 5.0, 10.0]
    # An officer on foot covers 1 to 2 m/s, and the scale bar is a round length.
    assert 120 <= track.distance_metres <= 240
    assert track.scale_label in {"10 m", "20 m", "25 m", "50 m", "100 m"}
    assert json.loads(track.marker_data())[0] == [
        0.0,
        round(track.start[0], 1),
        round(track.start[1], 1),
    ]


def test_north_is_up_and_east_is_right() -> None:
    walk = [
        {"at": "2026-10-01T09:00:00Z", "lat": 51.5450, "lon": -0.0553},
        {"at": "2026-10-01T09:01:00Z", "lat": 51.5460, "lon": -0.0553},  # north
        {"at": "2026-10-01T09:02:00Z", "lat": 51.5460, "lon": -0.0533},  # then east
    ]
    track = draw(walk, START)
    assert track is not None
    (_, x0, y0), (_, x1, y1), (_, x2, y2) = track.points
    assert y1 < y0 and abs(x1 - x0) < 0.1
    assert x2 > x1 and abs(y2 - y1) < 0.1


def test_no_points_no_track_and_bad_points_are_left_out() -> None:
    assert draw([], START) is None
    assert draw([{"lat": 51.5}], START) is None
    one = draw([{"at": "2026-10-01T09:00:05Z", "lat": 51.5, "lon": -0.05}, {"at": "bad"}], START)
    assert one is not None and one.distance_metres == 0
    assert one.points == [(5.0, 200.0, 150.0)]
    assert one.first_at == START + timedelta(seconds=5)
