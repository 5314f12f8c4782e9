"""The compliance page's summary: a team's recordings of a day, counted by their own facts.

One row per team, day recorded, access class and combination of the facts supervision counts
(categorised, evidential, annotated, reviewed or signed off, signed off, the day deletion is
due), with how many live recordings share it. The database keeps it, by
triggers on `recordings` and on an officer's unit (migration 0025), in the same statement and
under the same row locks as the change it counts: no path that writes a recording can miss
it, bulk updates and the seeder included. The page sums the rows of the days it shows
(`services/retention/compliance.py`), so what it reads grows with the days and teams, never
with the footage.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base

# The due day of footage with no deletion date (kept indefinitely), so that the key has no
# NULL: a NULL would never conflict, and two rows would count the same recordings.
NEVER = date(9999, 12, 31)


class ComplianceDay(Base):
    __tablename__ = "compliance_days"
    __table_args__ = (
        # A supervisor's team: its days in order (the force's are the primary key's).
        Index("ix_compliance_days_unit", "unit", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit: Mapped[str] = mapped_column(String(120), primary_key=True)
    access_class: Mapped[str] = mapped_column(String(16), primary_key=True)
    categorised: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    evidential: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    annotated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    # Reviewed or signed off: what the weekly rates call reviewed.
    reviewed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    signed_off: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    # The day deletion is due (true, and as seen by those who may not know of complaint
    # holds) of footage neither evidential nor reviewed: only it is ever due soon on the
    # page, the rest is NEVER, so that a team's day is a few rows.
    due_day: Mapped[date] = mapped_column(Date, primary_key=True)
    seen_due_day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Of footage categorised, not evidential and with no note: the classes of the officer's
    # evidential footage within the incident's time of it (1 normal, 2 restricted, 4
    # confidential; `Recording.nearby_evidential_*`), which make it doubtful to whoever may
    # list them. 0 for the rest.
    nearby: Mapped[int] = mapped_column(Integer, primary_key=True)
    recordings: Mapped[int] = mapped_column(Integer)
