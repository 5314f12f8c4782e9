"""Every table, imported here so that metadata and Alembic see them all."""

from custody.db.models import (
    disclosure,  # noqa: F401  (registers its tables)
    lifecycle,  # noqa: F401  (registers its tables)
    storage,  # noqa: F401  (registers its tables)
)
from custody.db.models.audit import AuditCheckpoint, AuditEvent, AuditHead
from custody.db.models.fleet import Camera, CameraReport, Dock, Officer
from custody.db.models.ingest import IngestFlag, Manifest, Recording, Upload
from custody.db.models.users import ApiToken, User

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "Camera",
    "CameraReport",
    "Dock",
    "IngestFlag",
    "Manifest",
    "Officer",
    "Recording",
    "Upload",
    "User",
]
