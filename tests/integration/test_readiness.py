"""`GET /api/v1/ready`, the load balancer's health check: 200 while the node's database
answers, 503 `not_ready` (JSON, like every refusal) when it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from custody.services.system import System
from tests.apps import app_for


def test_a_node_is_ready_while_its_database_answers(system: System) -> None:
    with TestClient(app_for(system)) as client:
        answer = client.get("/api/v1/ready")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ready"


def test_a_node_whose_database_is_gone_says_so_and_the_balancer_sends_elsewhere(
    system: System,
) -> None:
    # Nothing listens on port 1: the database is unreachable, as after losing its network.
    engine = system.engine
    system.engine = create_engine("postgresql+psycopg://custody@127.0.0.1:1/custody")
    try:
        with TestClient(app_for(system)) as client:
            answer = client.get("/api/v1/ready")
            alive = client.get("/api/v1/health")
    finally:
        system.engine.dispose()
        system.engine = engine
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "not_ready"
    # The process itself answers: its supervisor need not restart it.
    assert alive.status_code == 200
