"""Every table, imported here so that metadata and Alembic see them all."""

from custody.db.models import (
    bundles,  # noqa: F401  (registers its tables)
    compliance,  # noqa: F401  (registers its tables)
    disclosure,  # noqa: F401  (registers its tables)
    lifecycle,  # noqa: F401  (registers its tables)
    redaction,  # noqa: F401  (registers its tables)
    shares,  # noqa: F401  (registers its tables)
    speech,  # noqa: F401  (registers its tables)
    storage,  # noqa: F401  (registers its tables)
    subject_access,  # noqa: F401  (registers its tables)
)
from custody.db.models.audit import (
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    AuditPending,
    AuditTreeNode,
    AuditVerification,
)
from custody.db.models.fleet import Camera, CameraReport, Dock, Officer
from custody.db.models.ingest import IngestFlag, Manifest, Recording, Upload
from custody.db.models.users import ApiToken, User

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "AuditPending",
    "AuditTreeNode",
    "AuditVerification",
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
