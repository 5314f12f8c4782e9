"""Configuration from CUSTODY_* environment variables (the same names as CLI options)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Custody process needs to know about where things live."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_", extra="ignore")

    data_dir: Path = Field(default=Path("./custody-data"))
    database_url: str | None = None
    storage_url: str | None = None
    queue_url: str | None = None
    # Shift every component's clock, for demos and whole-system time-travel runs.
    clock_offset_seconds: float = 0.0
    # The queue's name in its storage: installations (or test runs) sharing one Redis
    # keep apart by it.
    queue_name: str = Field(default="custody", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # On Redis, a job taken by a worker that then stops answering (killed, its machine
    # lost) goes to another worker this long after its last sign of life.
    job_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Run queued jobs inside `custody serve` (the embedded default).
    worker_in_process: bool = True
    upload_chunk_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    # A tus PATCH whose body sends no byte for this long ends (408) and frees its upload for
    # a resume: a silent peer (pulled cable, power cut at the dock) sends no FIN or RST.
    upload_idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    camera_idle_alert_days: int = Field(default=3, ge=1)
    # A dock silent this long (no report, heartbeat or checkout) is a fleet alert.
    dock_silent_alert_hours: int = Field(default=24, ge=1)
    # Behind a reverse proxy that terminates TLS: believe its X-Forwarded-Proto and -For.
    trusted_proxy: bool = False
    # The longest a person's API token may live; a leaked token dies on its own by then.
    token_max_days: int = Field(default=90, ge=1, le=3650)
    # Where people outside the force reach this server (a share's link names it); without
    # it, the address the disclosure officer's own request came to.
    public_url: str | None = None
    # Outgoing mail for shares (the link and the one-time code). No host: no mail is sent,
    # and the officer is shown the link to send another way.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # starttls (upgrade on the submission port), tls (implicit, port 465) or none.
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "custody@localhost"

    # Encryption at rest (docs/storage.md): on unless a test or benchmark turns it off.
    storage_encryption: bool = True
    # The key-encryption key: a file (default: keys/storage-kek.bin in the data dir), or an
    # AES key in a hardware security module over PKCS#11 when a module is named.
    kek_file: Path | None = None
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = None
    pkcs11_pin_file: Path | None = None
    pkcs11_key_label: str = "custody-kek"
    # Fixity re-reads every object at most this fast, so that it never starves playback.
    fixity_mb_per_second: float = Field(default=50.0, gt=0)
    # The periodic fixity job reads for at most this long each hour, oldest checks first.
    fixity_minutes_per_hour: float = Field(default=20.0, gt=0, le=55)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'custody.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "objects").as_uri()

    @property
    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue.db'}"

    @property
    def clock_offset(self) -> timedelta:
        return timedelta(seconds=self.clock_offset_seconds)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def resolved_kek_file(self) -> Path:
        return self.kek_file or self.keys_dir / "storage-kek.bin"

    @property
    def resolved_pkcs11_pin(self) -> str | None:
        if self.pkcs11_pin_file is not None:
            return self.pkcs11_pin_file.read_text(encoding="utf-8").strip()
        return self.pkcs11_pin

    @property
    def staging_dir(self) -> Path:
        """Partial uploads. Shared by every server node, like the database."""
        return self.data_dir / "uploads"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit values (CLI options) taking precedence."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)  # type: ignore[arg-type]
