"""What a bundle export answers: where the bundle is and what it holds."""

from __future__ import annotations

from pydantic import BaseModel


class BundleMade(BaseModel):
    """A finished court bundle."""

    case_id: int
    case_reference: str
    recordings: int
    clips: int
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
