"""The audit-trail report of one recording as a PDF: the continuity record a court asks for.

It lists every event about the recording, from upload to the printing of the report
itself, each with its full chain hash, and the signed checkpoint that covers them,
with the steps to check it all independently. Rendered with fpdf2 (pure Python).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

# DejaVu covers the names and addresses a force meets; without it the PDF core fonts
# (Latin-1 only) are used and other characters are spelled as near as Latin-1 allows.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)


class _Report(FPDF):
    def __init__(self, recording_id: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.recording_id = recording_id
        self.sans, self.mono = _fonts(self)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(10, 10, 10)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.sans, size=7)
        self.cell(
            0, 5, self.printable(f"Custody audit trail of recording {self.recording_id}"), align="L"
        )
        self.set_x(-40)
        self.cell(30, 5, f"page {self.page_no()} of {{nb}}", align="R")

    def printable(self, value: object) -> str:
        """A value as the current fonts can print it."""
        text = "" if value is None else str(value)
        if self.sans != "helvetica":
            return text
        return _latin1(text)


def _fonts(pdf: FPDF) -> tuple[str, str]:
    for folder in FONT_DIRS:
        sans, bold, mono = (
            folder / name
            for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")
        )
        if sans.exists() and bold.exists() and mono.exists():
            pdf.add_font("dejavu", "", str(sans))
            pdf.add_font("dejavu", "B", str(bold))
            pdf.add_font("dejavumono", "", str(mono))
            return "dejavu", "dejavumono"
    return "helvetica", "courier"


def _latin1(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept).encode("latin-1", "replace").decode("latin-1")


def _pairs(pdf: _Report, rows: list[tuple[str, object]], mono_keys: set[str]) -> None:
    label_width = 48
    for label, value in rows:
        pdf.set_font(pdf.sans, "B", 8.5)
        pdf.cell(label_width, 5, pdf.printable(label))
        pdf.set_font(pdf.mono if label in mono_keys else pdf.sans, size=8.5)
        pdf.multi_cell(0, 5, pdf.printable(value), new_x="LMARGIN", new_y="NEXT")


def _who(event: dict[str, Any]) -> str:
    return str(event["actor"])


def _where(event: dict[str, Any]) -> str:
    parts = [event.get("address") or ""]
    if event.get("user_agent"):
        agent = str(event["user_agent"])
        parts.append(agent if len(agent) <= 60 else agent[:57] + "...")
    return "\n".join(part for part in parts if part)


def _why(event: dict[str, Any]) -> str:
    parts = []
    if event.get("reason"):
        parts.append(str(event["reason"]))
    details = event.get("details")
    if details and details != "{}":
        parts.append(str(details))
    return "\n".join(parts)


def render_trail(trail: dict[str, Any]) -> bytes:
    """The PDF of a recording's audit trail, as built by `services.audit_trail`."""
    recording = trail["recording"]
    pdf = _Report(recording["id"])
    pdf.set_title(f"Audit trail of recording {recording['id']}")
    pdf.set_author("Custody")
    pdf.set_subject("Continuity record")
    pdf.set_lang("en-GB")
    pdf.add_page()

    pdf.set_font(pdf.sans, "B", 15)
    pdf.cell(0, 9, pdf.printable("Audit trail: continuity record"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.sans, size=9)
    pdf.multi_cell(
        0,
        5,
        pdf.printable(
            "Every event recorded about this recording, from its upload to the printing of this "
            "report, in the order they happened. Each event's hash is the SHA-256 of its fields; "
            "the hashes are chained and signed into the checkpoint below."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    _pairs(
        pdf,
        [
            ("Recording", recording["id"]),
            ("Footage SHA-256", recording.get("sha256")),
            ("Size (bytes)", recording.get("size")),
            ("Camera", recording.get("camera")),
            ("Officer", recording.get("officer")),
            ("Recorded (UTC)", f"{recording.get('started_at')} to {recording.get('ended_at')}"),
            ("Stored (UTC)", recording.get("stored_at")),
            ("State", recording.get("state")),
            ("Report printed (UTC)", trail["generated_at"]),
            ("Printed by", trail["generated_by"]),
            ("Events", len(trail["events"])),
        ],
        {"Recording", "Footage SHA-256"},
    )
    pdf.ln(3)

    headings = (
        "Seq",
        "Time (UTC)",
        "Action",
        "Who",
        "From",
        "Allowed",
        "Reason / details",
        "Event hash (SHA-256)",
    )
    widths = (13, 33, 38, 32, 40, 14, 50, 57)
    pdf.set_font(pdf.sans, size=7)
    heading_style = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    with pdf.table(
        col_widths=widths,
        headings_style=heading_style,
        line_height=3.6,
        text_align="LEFT",
        v_align="TOP",
        padding=0.8,
        width=sum(widths),
    ) as table:
        row = table.row()
        for heading in headings:
            row.cell(heading)
        for event in trail["events"]:
            row = table.row()
            row.cell(str(event["seq"]))
            row.cell(pdf.printable(event["at"]))
            row.cell(pdf.printable(event["tag"]))
            row.cell(pdf.printable(_who(event)))
            row.cell(pdf.printable(_where(event)))
            row.cell("yes" if event["allowed"] else "REFUSED")
            row.cell(pdf.printable(_why(event)))
            digest = str(event["hash"])
            mark = "" if event.get("hash_ok", True) else "\nDOES NOT MATCH ITS CONTENTS"
            row.cell(
                f"{digest[:32]}\n{digest[32:]}{mark}", style=FontFace(family=pdf.mono, size_pt=6.5)
            )
    pdf.ln(4)

    pdf.set_font(pdf.sans, "B", 11)
    pdf.cell(0, 7, pdf.printable("Signed checkpoint"), new_x="LMARGIN", new_y="NEXT")
    checkpoint = trail.get("checkpoint")
    if checkpoint is None:
        pdf.set_font(pdf.sans, size=9)
        none_yet = pdf.printable("No checkpoint has been published yet.")
        pdf.multi_cell(0, 5, none_yet, new_x="LMARGIN", new_y="NEXT")
    else:
        covered = sum(1 for event in trail["events"] if event["seq"] <= checkpoint["size"])
        _pairs(
            pdf,
            [
                ("Events in the log", checkpoint["size"]),
                ("Merkle root (RFC 6962)", checkpoint["root"]),
                ("Signed at (UTC)", checkpoint["signed_at"]),
                ("Ed25519 signature", checkpoint["signature"]),
                ("Server public key", trail["server_public_key"]),
                ("Events above it covers", f"{covered} of {len(trail['events'])}"),
            ],
            {"Merkle root (RFC 6962)", "Ed25519 signature", "Server public key"},
        )
    pdf.ln(3)
    pdf.set_font(pdf.sans, "B", 11)
    pdf.cell(0, 7, pdf.printable("How to check this record"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.sans, size=8.5)
    for step in trail["how_to_check"]:
        pdf.multi_cell(0, 4.5, pdf.printable(step), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
