"""The continuity statement: who had each item, from the camera to the bundle, in plain English.

Built from the same facts the bundle proves (the signed manifest, the receipt, the audit
trail), so each sentence can be checked against a file beside it. Rendered with fpdf2.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from custody.domain.clock import isoformat
from custody.services.disclosure.bundle_contents import (
    FOOTAGE_INCLUDED,
    WITHHELD,
    BundledRecording,
    Contents,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# What an audit event means, as a sentence's verb phrase ("... viewed its details").
DOING = {
    "dock:manifest:declare": "declared the camera's signed manifest before upload",
    "dock:upload:create": "began the upload",
    "dock:upload:chunk": "uploaded footage",
    "dock:recording:ingest": "completed the upload; the server checked and stored it",
    "dock:receipt:read": "read the server's receipt",
    "system:recording:probe": "checked the footage plays",
    "system:recording:preview": "made preview pictures from it",
    "system:recording:delete": "deleted it under the retention rules",
    "system:retention:decide": "recorded its retention decision",
    "user:case:add_recording": "added it to the case",
    "user:case:remove_recording": "removed it from a case",
    "user:recording:view": "viewed its details",
    "user:recording:stream": "played it",
    "user:recording:download": "downloaded a copy",
    "user:recording:export": "exported it in a court bundle",
    "user:recording:categorise": "categorised it",
    "user:recording:flag_evidence": "flagged it as evidence",
    "user:recording:clear_evidence": "cleared its evidence flag",
    "user:recording:place_hold": "placed a hold on it",
    "user:recording:lift_hold": "lifted a hold on it",
    "user:recording:note": "added a note",
    "user:recording:annotate": "described it",
    "user:recording:bookmark": "bookmarked a moment",
    "user:recording:audit": "read its audit trail",
    "user:recording:audit_report": "printed its audit trail",
    "user:recording:thumbnail": "looked at its thumbnail",
    "user:recording:strip": "looked at its preview pictures",
}


def _doing(tag: str, allowed: bool) -> str:
    what = DOING.get(tag) or f"{tag.rsplit(':', 1)[-1].replace('_', ' ')} ({tag})"
    return what if allowed else f"was refused: {what}"


class _Statement(FPDF):
    def __init__(self) -> None:
        super().__init__(unit="mm", format="A4")
        self.sans = "helvetica"
        if all((FONT_DIR / name).exists() for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")):
            self.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.sans = "dejavu"
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def text_line(self, text: str, *, bold: bool = False, size: float = 10) -> None:
        self.set_font(self.sans, "B" if bold else "", size)
        self.multi_cell(0, 5.5, self.printable(text), new_x="LMARGIN", new_y="NEXT")

    def printable(self, text: str) -> str:
        if self.sans != "helvetica":
            return text
        plain = unicodedata.normalize("NFKD", text.replace("—", "-"))
        return plain.encode("latin-1", "replace").decode("latin-1")


def render(contents: Contents, made_at: datetime, made_by: str, checkpoint_size: int) -> bytes:
    """The statement as PDF bytes."""
    pdf = _Statement()
    pdf.add_page()
    pdf.text_line(f"Continuity statement — case {contents.case_reference}", bold=True, size=14)
    pdf.text_line(contents.case_title)
    pdf.ln(2)
    pdf.text_line(
        f"This statement was made by Custody on {isoformat(made_at)} for the court bundle "
        f"exported by {made_by}. It tells who had each item of the bundle, from the camera "
        "that recorded it to this bundle, from the records the bundle itself holds: the "
        "camera's signed manifest, the server's signed receipt and the audit trail, proven "
        f"under the server's signed checkpoint over {checkpoint_size} audit events."
    )
    withheld = sum(1 for line in contents.schedule if line.status == WITHHELD)
    if withheld:
        pdf.ln(1)
        pdf.text_line(
            f"{withheld} item(s) of the schedule are sensitive unused material: they are "
            "withheld and nothing of them is in this bundle."
        )
    for recording in contents.recordings:
        pdf.ln(4)
        _recording(pdf, recording)
        pdf.text_line(
            f"{isoformat(made_at)} — {made_by} exported it into this bundle (the audit "
            "events of this export are in data/export-events.json).",
            size=9,
        )
    for clip in contents.clips:
        pdf.ln(4)
        pdf.text_line(f"Clip {clip.id} ({clip.reference or 'unused'})", bold=True, size=11)
        pdf.text_line(
            f"Cut by {clip.made_by} on {clip.made_at} from recording {clip.recording_id} "
            f"(SHA-256 {clip.original_sha256}), from {clip.in_seconds:.2f} s to "
            f"{clip.out_seconds:.2f} s by {clip.method}; the cut starts at "
            f"{clip.cut_start_seconds:.2f} s. The original was not changed. "
            + ("The clip was deleted with its original." if clip.deleted else "")
        )
    for copy in contents.redactions:
        pdf.ln(4)
        pdf.text_line(f"Redacted copy {copy.id} ({copy.reference or 'unused'})", bold=True, size=11)
        pdf.text_line(
            f"Rendered for {copy.made_by} on {copy.rendered_at} from recording "
            f"{copy.recording_id} (SHA-256 {copy.original_sha256}) as a new file (SHA-256 "
            f"{copy.sha256}, {copy.size} bytes); approved for release by a second person, "
            f"{copy.approved_by}, on {copy.approved_at}. The original was not changed. Its "
            f"redaction record (SHA-256 {copy.record_sha256}) says what was blurred on every "
            "frame and names both files by their SHA-256."
        )
    return bytes(pdf.output())


def _recording(pdf: _Statement, recording: BundledRecording) -> None:
    references = ", ".join(recording.references)
    pdf.text_line(f"{references} — recording {recording.id}", bold=True, size=11)
    pdf.text_line(
        f"Recorded on camera {recording.camera_serial or 'unknown'}"
        f"{f', worn by {recording.officer}' if recording.officer else ''}, from "
        f"{isoformat(recording.started_at)} to {isoformat(recording.ended_at)}. The camera "
        "signed its manifest of the footage with its own key."
    )
    pdf.text_line(
        f"Uploaded{f' through dock {recording.dock}' if recording.dock else ''} and received "
        f"by Custody's server at {isoformat(recording.stored_at)}, which checked its SHA-256 "
        f"({recording.sha256}, {recording.size} bytes) against the camera's manifest and "
        "signed a receipt for it."
    )
    if recording.held:
        if recording.footage == FOOTAGE_INCLUDED:
            pdf.text_line(
                "Held unchanged in Custody's evidence store since then; the footage in this "
                "bundle is that exact file."
            )
        else:
            pdf.text_line(
                "Only clips or redacted copies of this recording are in this bundle, not the "
                "footage."
            )
    else:
        when = isoformat(recording.deleted_at) if recording.deleted_at else "an earlier date"
        pdf.text_line(
            f"Deleted under the retention rules on {when}. The footage is not in this bundle; "
            "the server's signed deletion certificate is."
        )
    if recording.events:
        pdf.text_line("Who handled it, from the audit trail:", bold=True)
        for event in recording.events:
            reason = f" (reason: {event.reason})" if event.reason else ""
            pdf.text_line(
                f"{isoformat(event.at)} — {event.actor} "
                f"{_doing(event.tag, event.allowed)}{reason} [event {event.seq}]",
                size=9,
            )
