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

from datetime import date, datetime

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


# The due hour of footage never due soon on the page, or with no deletion date (0027).
NEVER_HOUR = 2**31 - 1


def hour_of(at: datetime) -> int:
    """The whole hours from 1970 to a (UTC) time: the hours `ComplianceHour` is kept by."""
    return int(at.timestamp() // 3600)


class ComplianceHour(Base):
    """The force's page between whole days: a team's live footage by the hour it started and
    the hours its deletion is due (true, and as seen by those who may not know of complaint
    holds; `NEVER_HOUR` for footage evidential or reviewed), with the page's counts as
    columns, doubtful as it is to a reader who may list every class. Kept by triggers
    (migration 0027) as `ComplianceDay` is."""

    __tablename__ = "compliance_hours"
    __table_args__ = (
        # The footage falling due within a range of hours (the page's last due day).
        Index("ix_compliance_hours_due_hour", "due_hour", "hour", "unit", "recordings"),
        Index("ix_compliance_hours_seen_due_hour", "seen_due_hour", "hour", "unit", "recordings"),
    )

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(120), primary_key=True)
    due_hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    seen_due_hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    recordings: Mapped[int] = mapped_column(Integer)
    uncategorised: Mapped[int] = mapped_column(Integer)
    doubtful: Mapped[int] = mapped_column(Integer)
    signed_off: Mapped[int] = mapped_column(Integer)
