"""Officers, cameras and docks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Warrant or shoulder number: the force's own identifier, on every manifest.
    warrant_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[str] = mapped_column(String(64), default="PC")
    unit: Mapped[str] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(120))
    firmware: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="issued")
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_docked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))
    battery_percent: Mapped[int | None] = mapped_column(Integer)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger)


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
