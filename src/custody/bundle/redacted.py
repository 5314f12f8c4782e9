"""What `custody bundle verify` checks of a redacted copy in a bundle.

A redacted copy travels with its redaction record: the JSON stored beside the copy when it
was rendered and approved. The two are linked by hash both ways a court would follow: the
record names the copy's SHA-256 (`output.sha256`) and the original's (`original.sha256`),
the original is a recording of the same bundle, and the index names the record's SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custody.bundle import layout
from custody.bundle.parts import describe

# (the part that failed, what is wrong), or None when the copy holds.
Problem = tuple[str, str] | None
ReadJson = Callable[[str], dict[str, Any]]


def check_copy(
    entry: dict[str, Any],
    read_json: ReadJson,
    hashes: dict[str, str],
    recordings: dict[str, dict[str, Any]],
) -> Problem:
    """The first thing that does not hold of one redacted copy the index lists."""
    copy_id = str(entry.get("id"))
    if not layout.looks_like_uuid(copy_id):
        return describe(layout.INDEX), f"names a redacted copy {copy_id!r}"
    folder = layout.redaction_dir(copy_id)
    described = folder + layout.REDACTION_ENTRY
    if read_json(described) != entry:
        return describe(described), "differs from the bundle's index"
    original = recordings.get(str(entry.get("recording_id")))
    if original is None or original.get("sha256") != entry.get("original_sha256"):
        return describe(described), "its original is not a recording of this bundle"
    footage = folder + layout.REDACTED_COPY
    if footage not in hashes:
        return describe(footage), "is missing"
    if hashes[footage] != entry.get("sha256"):
        return describe(footage), "is not the redacted copy the index names"
    path = folder + layout.REDACTION_RECORD
    record = read_json(path)
    part = describe(path)
    if hashes.get(path) != entry.get("record_sha256"):
        return part, "is not the record the index names (its SHA-256 differs)"
    if record.get("format") != layout.REDACTION_RECORD_FORMAT:
        return part, f"is not a {layout.REDACTION_RECORD_FORMAT} record"
    output = record.get("output")
    if not isinstance(output, dict) or output.get("sha256") != entry.get("sha256"):
        return part, "does not name the copy's SHA-256 as its output"
    made_from = record.get("original")
    if not isinstance(made_from, dict) or made_from.get("sha256") != entry.get("original_sha256"):
        return part, "does not name the original's SHA-256"
    if record.get("redaction") != copy_id or record.get("recording") != entry.get("recording_id"):
        return part, "is the record of another redacted copy"
    approval = record.get("approval")
    if not isinstance(approval, dict) or approval.get("by") != entry.get("approved_by"):
        return part, "does not say who approved the copy for release"
    return None
