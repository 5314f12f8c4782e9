"""Officers, cameras and docks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Officer(Base):
    __tablename__ = "officers"
    # The roll-out counts each borough's officers whose footage has uploaded from the index
    # alone (0026), never reading 22,000 officers' rows for the date.
    __table_args__ = (Index("ix_officers_unit_recorded", "unit", "first_recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Warrant or shoulder number: the force's own identifier, on every manifest.
    warrant_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[str] = mapped_column(String(64), default="PC")
    unit: Mapped[str] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The officer's warrant card (RFID), presented at a dock to take a pool camera.
    card_id: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # When this officer's earliest footage was recorded (kept by every insert of a
    # recording, models/ingest.py): the roll-out counts officers who have uploaded from
    # here, not by looking for a recording of each of 22,000 officers.
    first_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Camera(Base):
    __tablename__ = "cameras"
    # The roll-out counts issued cameras, and the idle among them, per borough from the index
    # alone (0026); health looks for long-undocked ones.
    __table_args__ = (
        Index("ix_cameras_borough_recorded", "borough", "status", "last_recorded_at"),
        # The fleet's alerts by range: issued cameras out too long, old firmware (0021).
        Index("ix_cameras_status_docked", "status", "last_docked_at", "status_changed_at"),
        Index("ix_cameras_model_firmware", "model", "firmware", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(120))
    firmware: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="issued")
    # The current holder, kept in step with the open assignment (the history is the record).
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_docked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Indexed: the fleet page counts the cameras last docked at each dock.
    last_dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"), index=True)
    battery_percent: Mapped[int | None] = mapped_column(Integer)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # A pool camera is taken by any carded officer at a dock; otherwise it is personal issue.
    pool: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The borough it serves: its holder's unit for personal issue, the pool's borough.
    borough: Mapped[str | None] = mapped_column(String(120))
    # When it went into its current status: a report after a loss or retirement is flagged.
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When its latest footage was recorded (kept as for officers): idle cameras are
    # those with none since a date, found here rather than by a probe per camera.
    last_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Dock(Base):
    __tablename__ = "docks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    station: Mapped[str] = mapped_column(String(120))
    bays: Mapped[int] = mapped_column(Integer, default=8)
    # SHA-256 of the token: a stolen database does not hand out upload rights.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CameraReport(Base):
    """What a dock said about a docked camera: the history behind fleet health."""

    __tablename__ = "camera_reports"
    # A camera's latest report (fleet health asks it of each camera it alerts on): one probe.
    __table_args__ = (Index("ix_camera_reports_camera_reported", "camera_id", "reported_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    dock_id: Mapped[int] = mapped_column(ForeignKey("docks.id"))
    bay: Mapped[str] = mapped_column(String(200))
    battery_percent: Mapped[int | None] = mapped_column(Integer)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    firmware: Mapped[str | None] = mapped_column(String(64))
    recordings_waiting: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    detail: Mapped[str | None] = mapped_column(Text)


class CameraAssignment(Base):
    """Who held a camera from when until when: never edited, only ended.

    The officer behind a recording is the one whose assignment of its camera covers the
    recording's start. At most one assignment of a camera is open at a time.
    """

    __tablename__ = "camera_assignments"
    __table_args__ = (
        Index("ix_camera_assignments_camera_started", "camera_id", "started_at"),
        Index(
            "uq_camera_assignments_open",
            "camera_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    # personal | pool
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(160))
    # The dock at which a pool camera was taken.
    dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(160))
    end_reason: Mapped[str | None] = mapped_column(String(16))


class RolloutPhase(Base):
    """One borough's place in the roll-out plan."""

    __tablename__ = "rollout_phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Matches officers' unit and cameras' borough.
    borough: Mapped[str] = mapped_column(String(120), unique=True)
    phase: Mapped[int] = mapped_column(Integer)
    target_date: Mapped[date] = mapped_column(Date)
    # planned | issuing | complete
    status: Mapped[str] = mapped_column(String(16), default="planned")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
