"""What a bundle export answers: where the bundle is and what it holds."""

from __future__ import annotations

from pydantic import BaseModel


class BundleMade(BaseModel):
    """A finished court bundle."""

    case_id: int
    case_reference: str
    recordings: int
    clips: int
    redactions: int = 0
    withheld: int
    deleted: int
    files: int
    bytes: int
    made_at: str
    made_by: str
    newest_checkpoint_size: int
    # For a zip: the SHA-256 and size of the whole file.
    sha256: str | None = None
    size: int | None = None


class BundleStatus(BaseModel):
    """A court bundle asked for in the portal or the API, and how far its build is."""

    id: str
    case_id: int
    requested_by: str
    requested_at: str
    # building | complete | failed | stopped (a build that stopped making progress)
    state: str
    done_bytes: int
    total_bytes: int
    finished_at: str | None
    sha256: str | None
    size: int | None
    failure: str | None

    @property
    def percent(self) -> int:
        if self.state == "complete":
            return 100
        return int(100 * self.done_bytes / self.total_bytes) if self.total_bytes else 0
