"""Is this server node ready for work? What a load balancer's health check asks.

A node holds nothing of its own (docs/deploy.md): it is ready when the database it shares
with the others answers. The store and the queue are not asked on every check (an S3
listing every quarter of a second per node would be load for nothing); a store that fails
fails its requests with 503 `store_unavailable`, which the dock retries.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from custody.domain.errors import NotReady
from custody.services.system import System


def check_ready(system: System) -> None:
    """Return if the node can serve; NotReady if its database does not answer."""
    try:
        with system.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise NotReady("the database does not answer") from exc
