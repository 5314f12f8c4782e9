"""How long does the compliance page take with a force's month of footage?

Seeds N recordings (default 10,000) of 400 officers in 10 teams over the last 60 days on
SQLite, through the real schema: two thirds categorised (a quarter of those evidential),
some with notes, as a month of real footage looks. Then signs in as a supervisor (one
team) and as an administrator (the force) and times the portal's /compliance page over
real HTTP in-process (30 requests after warm-up), beside a baseline measured in the same
run: the supervisor's retention page, which reads the same team's footage.

    .venv/bin/python benchmarks/compliance.py [--rows 10000]

Ends with one line: `compliance: N recordings, supervisor p95 X ms, force p95 Y ms
(retention page p95 Z ms)`. The aim (issue 12): under 300 ms with 10,000 on SQLite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import Camera, Officer, Recording
from custody.db.models.lifecycle import Annotation, Category, RecordingCategory
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.services.identity import resets, setup, signin, users
from custody.services.system import NoJobs
from custody.web.app import create_app
from custody.web.deps import SESSION_COOKIE

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
TEAMS = 10
OFFICERS = 400
PASSWORD = "a long benchmark password"


def seed(system: object, rows: int) -> None:
    from custody.services.system import System

    assert isinstance(system, System)
    rng = random.Random(12)
    with system.unit_of_work() as uow:
        session = uow.session
        session.execute(
            insert(Officer),
            [
                {
                    "id": i + 1,
                    "warrant_number": f"{i:04d}XX",
                    "name": f"PC {i}",
                    "rank": "PC",
                    "unit": f"Team {i % TEAMS}",
                    "created_at": NOW,
                }
                for i in range(OFFICERS)
            ],
        )
        session.execute(
            insert(Camera),
            [
                {
                    "id": i + 1,
                    "serial": f"BWV-{i:05d}",
                    "model": "SimCam",
                    "firmware": "1.0",
                    "public_key": "-",
                    "status": "issued",
                    "registered_at": NOW,
                }
                for i in range(OFFICERS)
            ],
        )
        cats = dict(session.execute(select(Category.name, Category.id)).all())
        everyday, evidential = cats["Non-evidential"], [cats["Arrest"], cats["Stop and search"]]
        recordings, categorised, notes = [], [], []
        for n in range(rows):
            officer = rng.randrange(OFFICERS) + 1
            started = NOW - timedelta(minutes=rng.randrange(60 * 24 * 60))
            rid = str(uuid.UUID(int=rng.getrandbits(128)))
            recordings.append(
                {
                    "id": rid,
                    "camera_id": officer,
                    "officer_id": officer,
                    "started_at": started,
                    "ended_at": started + timedelta(minutes=5),
                    "pre_event_seconds": 30,
                    "sha256": f"{n:064x}",
                    "size": 1,
                    "stored_at": started,
                    "manifest_document": "{}",
                    "receipt_document": "{}",
                    "state": "playable",
                    "delete_due_at": started + timedelta(days=31),
                    "seen_delete_due_at": started + timedelta(days=31),
                    "retention_rule": "31 days",
                }
            )
            roll = rng.random()
            if roll < 0.5:
                categorised.append((rid, everyday))
            elif roll < 0.67:
                categorised.append((rid, rng.choice(evidential)))
            if rng.random() < 0.03:
                notes.append(rid)
            # The facts every change keeps on the row (migration 0024), as the services would.
            recordings[-1] |= {
                "categorised": roll < 0.67,
                "evidential": 0.5 <= roll < 0.67,
                "annotated": bool(notes) and notes[-1] == rid,
            }
        session.execute(insert(Recording), recordings)
        session.execute(
            insert(RecordingCategory),
            [
                {"recording_id": r, "category_id": c, "assigned_by": "x", "assigned_at": NOW}
                for r, c in categorised
            ],
        )
        if notes:
            session.execute(
                insert(Annotation),
                [
                    {
                        "recording_id": r,
                        "kind": "note",
                        "text": "x",
                        "author": "x",
                        "created_at": NOW,
                    }
                    for r in notes
                ],
            )
        uow.commit()


def timed(client: TestClient, path: str, runs: int = 30) -> tuple[float, float]:
    for _ in range(3):
        assert client.get(path).status_code == 200
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text[:300]
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        system = build_system(
            Settings(data_dir=Path(tmp)), clock=ManualClock(NOW), jobs=NoJobs(), create=True
        )
        admin = setup.first_administrator(system, "root", password=PASSWORD)
        seed(system, args.rows)
        users.create_user(system, admin, "sarge", "supervisor", unit="Team 3")
        issued = resets.issue_reset(system, admin, "sarge")
        resets.complete_reset(system, issued.code, PASSWORD, Actor("anonymous"))
        figures: dict[str, tuple[float, float]] = {}
        app = create_app(system)
        for who in ("sarge", "root"):
            with TestClient(app) as client:
                signed = signin.sign_in(system, who, PASSWORD)
                client.cookies.set(SESSION_COOKIE, signed.secret)
                figures[f"{who} compliance"] = timed(client, "/compliance")
                if who == "sarge":
                    figures["sarge retention"] = timed(client, "/retention")
        for name, (p50, p95) in figures.items():
            print(f"{name:22} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        load = os.getloadavg()[0]
        team, force = figures["sarge compliance"][1], figures["root compliance"][1]
        retention = figures["sarge retention"][1]
        print(
            f"compliance: {args.rows} recordings, supervisor p95 {team:.0f} ms, force p95 "
            f"{force:.0f} ms (retention page p95 {retention:.0f} ms), load {load:.2f}"
        )


if __name__ == "__main__":
    main()
