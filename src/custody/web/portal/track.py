"""The route walked, drawn as SVG from the recording's own GPS points (no map tiles).

A scaled equirectangular projection is exact enough for the few hundred metres a
recording covers: x is longitude times the cosine of the middle latitude, y is
latitude, both in metres from the middle, fitted into the drawing with a margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain.clock import parse_time

EARTH_RADIUS_METRES = 6_371_008.8
NICE_LENGTHS = (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000)


@dataclass(frozen=True)
class Track:
    """Geometry for the template: the path, its ends, a scale bar and times for the marker."""

    width: int
    height: int
    path: str
    start: tuple[float, float]
    end: tuple[float, float]
    # (seconds into the recording, x, y) for each point: the marker follows the video.
    points: list[tuple[float, float, float]]
    distance_metres: float
    scale_metres: int
    scale_pixels: float
    first_at: datetime
    last_at: datetime

    @property
    def scale_label(self) -> str:
        if self.scale_metres >= 1000:
            return f"{self.scale_metres / 1000:g} km"
        return f"{self.scale_metres} m"

    @property
    def distance_label(self) -> str:
        if self.distance_metres >= 1000:
            return f"{self.distance_metres / 1000:.1f} km"
        return f"{self.distance_metres:.0f} m"

    def marker_data(self) -> str:
        """The points as compact JSON text for the page's script."""
        return "[" + ",".join(f"[{t:.1f},{x:.1f},{y:.1f}]" for t, x, y in self.points) + "]"


def _metres(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    lats = [lat for lat, _ in points]
    middle = (min(lats) + max(lats)) / 2
    lons = [lon for _, lon in points]
    centre_lon = (min(lons) + max(lons)) / 2
    per_degree = math.pi * EARTH_RADIUS_METRES / 180
    shrink = math.cos(math.radians(middle))
    return [
        ((lon - centre_lon) * per_degree * shrink, (lat - middle) * per_degree)
        for lat, lon in points
    ]


def _nice(length: float) -> int:
    """The largest round length not above `length` (at least the smallest one)."""
    fitting = [n for n in NICE_LENGTHS if n <= length]
    return fitting[-1] if fitting else NICE_LENGTHS[0]


def draw(
    gps: list[dict[str, Any]],
    started_at: datetime,
    *,
    width: int = 400,
    height: int = 300,
    margin: int = 40,
) -> Track | None:
    """The track of a recording's points fitted into `width` by `height`; None without points."""
    fixes = []
    for point in gps:
        try:
            fixes.append((parse_time(str(point["at"])), float(point["lat"]), float(point["lon"])))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed point is left out rather than failing the page
    if not fixes:
        return None
    fixes.sort(key=lambda fix: fix[0])
    metres = _metres([(lat, lon) for _, lat, lon in fixes])
    xs = [x for x, _ in metres]
    ys = [y for _, y in metres]
    span_x = max(xs) - min(xs)
    span_y = max(ys) - min(ys)
    # At least 50 m across, so that someone standing still is a dot, not a scribble.
    span = max(span_x / (width - 2 * margin), span_y / (height - 2 * margin), 50 / width)
    scale = 1 / span
    mid_x = (max(xs) + min(xs)) / 2
    mid_y = (max(ys) + min(ys)) / 2
    screen = [
        (width / 2 + (x - mid_x) * scale, height / 2 - (y - mid_y) * scale) for x, y in metres
    ]
    path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in screen)
    distance = sum(math.dist(metres[index], metres[index + 1]) for index in range(len(metres) - 1))
    scale_metres = _nice(width / 4 / scale)
    return Track(
        width=width,
        height=height,
        path=path,
        start=screen[0],
        end=screen[-1],
        points=[
            ((at - started_at).total_seconds(), x, y)
            for (at, _, _), (x, y) in zip(fixes, screen, strict=True)
        ],
        distance_metres=distance,
        scale_metres=scale_metres,
        scale_pixels=scale_metres * scale,
        first_at=fixes[0][0],
        last_at=fixes[-1][0],
    )
