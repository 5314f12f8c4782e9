"""One officer's footage counted, or the officer moved, at a time (PostgreSQL).

The compliance summaries (migrations 0025, 0027) count each recording in its officer's
team. A change of a recording reads the officer's team and adds to that team's rows; a
move of the officer takes their footage from one team's rows and gives it to the other's.
Run side by side, a move could count a recording as it was before a change still open,
and the change add to the team the officer was leaving: the summary then held the
recording in both teams, or in neither (seen once in CI in a few dozen runs).

So each side holds a transaction-scoped advisory lock on the officer: every change of a
recording holds it shared (a trigger of migration 0028, before the row is written), and a
move holds it exclusive, taken by the service before it touches the officer's row. The
two never overlap: whichever comes second starts after the first has committed and reads
what it wrote. Officers share a lock by their id modulo BUCKETS, so that a transaction
changing the footage of thousands of officers (a sweep, a rule's new retention) holds at
most BUCKETS locks, within PostgreSQL's shared lock table. SQLite has one writer at a time.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# pg_advisory_xact_lock's first key ("offi"), and how many locks the officers share.
# Migration 0028 writes both into its trigger: a change here needs a migration too.
KEY = 0x6F666669
BUCKETS = 256


def hold_for_move(session: Session, officer_id: int) -> None:
    """Wait until no change of this officer's footage is open, and keep any new one
    waiting until the caller's transaction ends. Before the officer's row is touched:
    a change that waits for this lock may itself be waiting to lock that row."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock(:key, :bucket)"),
        {"key": KEY, "bucket": officer_id % BUCKETS},
    )
