"""The live objects' names, a page at a time: every name once, in order, whatever rows share."""

from __future__ import annotations

import os

from custody.services.objects.listing import count_live, live_names_in_order
from custody.services.system import System
from tests.integration.lifecycle_world import build_world


def test_names_rows_share_neither_repeat_nor_push_others_out_of_a_page(system: System) -> None:
    world = build_world(system)
    # Five recordings with one thumbnail between them (a black frame, say), two with their
    # own, and two recordings of the same bytes: shared names in two columns.
    same = b"\xff\xd8 the same black frame \xff\xd9"
    rows = [world.row(world.record(data=os.urandom(1000 + i), thumbnail=same)) for i in range(5)]
    rows += [
        world.row(world.record(data=os.urandom(2000 + i), thumbnail=os.urandom(50)))
        for i in range(2)
    ]
    names = {r.sha256 for r in rows} | {r.thumbnail_sha256 for r in rows if r.thumbnail_sha256}
    for page in (1, 2, 3, 500):
        listed = list(live_names_in_order(system, page))
        assert listed == sorted(names), page
    assert count_live(system) == len(names) == 10
