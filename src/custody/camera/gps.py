"""A plausible GPS track for simulated footage: an officer on foot in Hackney."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from custody.domain.manifest import GpsPoint

# Mare Street, Hackney, London: the beat every simulated camera patrols.
BEAT_CENTRE = (51.5450, -0.0553)
BEAT_RADIUS_METRES = 600.0
GPS_INTERVAL_SECONDS = 5
METRES_PER_DEGREE_LAT = 111_320.0


def patrol_track(
    seed: str, started_at: datetime, duration: float, every: int = GPS_INTERVAL_SECONDS
) -> tuple[GpsPoint, ...]:
    """One fix every `every` seconds of a walk at 1-2 m/s that stays on the beat.

    The same seed (a recording id) always gives the same track, so tests can repeat it.
    """
    rng = random.Random(seed)
    north = rng.uniform(-300.0, 300.0)
    east = rng.uniform(-300.0, 300.0)
    heading = rng.uniform(0.0, 2 * math.pi)
    points = []
    for step in range(int(duration // every) + 1):
        points.append(_fix(started_at + timedelta(seconds=step * every), north, east))
        if math.hypot(north, east) > BEAT_RADIUS_METRES:
            # Turn back towards the centre, as an officer on a beat does at its edge.
            heading = math.atan2(-east, -north) + rng.uniform(-0.5, 0.5)
        else:
            heading += rng.gauss(0.0, 0.35)
        metres = rng.uniform(1.0, 2.0) * every
        north += metres * math.cos(heading)
        east += metres * math.sin(heading)
    return tuple(points)


def _fix(at: datetime, north: float, east: float) -> GpsPoint:
    lat0, lon0 = BEAT_CENTRE
    lat = lat0 + north / METRES_PER_DEGREE_LAT
    lon = lon0 + east / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat0)))
    # Six decimals is about 10 cm: finer than any body-worn GPS can tell.
    return GpsPoint(at=at, lat=round(lat, 6), lon=round(lon, 6))
