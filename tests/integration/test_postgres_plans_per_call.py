"""PostgreSQL plans every statement for the values it is called with.

psycopg prepares a statement that a connection has run five times, and PostgreSQL may then
plan it once for any values (a generic plan): blind to which unit, which dates or how long
a list of ids, the search of a unit's week ran three times slower from its tenth call at a
million recordings. Custody's engine asks for a plan per call (`plan_cache_mode`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from custody.config import Settings
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.services.recordings import search
from custody.services.system import System
from tests.integration.lifecycle_world import build_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_system(
    tmp_path: Path, postgres_url: str, clock: ManualClock, install: Any
) -> Iterator[System]:
    built = install(Settings(data_dir=tmp_path / "data", database_url=postgres_url), clock=clock)
    yield built
    built.engine.dispose()


def test_a_search_run_again_and_again_is_planned_for_each_call(postgres_system: System) -> None:
    system = postgres_system
    world = build_world(system)
    now = system.clock.now()
    for n in range(3):
        world.record("1234AB", now - timedelta(days=n + 1))
    query = search.Search(unit="Hackney", since=now - timedelta(days=7))
    pat = world.people["pat"]
    # One thread, so the pool hands back the same connection each time.
    found = [search.search(system, pat, query, Actor("user:test")).total for _ in range(15)]
    assert found == [3] * 15
    with system.engine.connect() as connection:
        prepared = connection.execute(
            text(
                "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
                # A statement without parameters has one plan whatever the setting.
                " FROM pg_prepared_statements WHERE cardinality(parameter_types) > 0"
            )
        ).one()
    generic, custom = prepared
    assert custom > 0, "nothing was prepared: the test no longer shows what it means to"
    assert generic == 0
