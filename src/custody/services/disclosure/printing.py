"""The disclosure schedule printed: a PDF and a CSV with the columns a prosecutor expects
(exhibit reference, description, the item, its times, the officer, its SHA-256 and its use).

Rendered with fpdf2 like the audit trail's report (`custody.audit.report`), whose fonts it
uses: DejaVu where installed, the PDF core fonts (Latin-1) otherwise.
"""

from __future__ import annotations

import csv
import io

from fpdf import FPDF
from fpdf.fonts import FontFace

from custody.audit.report import FONT_DIRS
from custody.domain.clock import parse_time
from custody.services.disclosure.answers import Schedule, ScheduleLine

HEADINGS = (
    "Exhibit ref",
    "Description",
    "Item",
    "Times (UTC)",
    "Officer",
    "SHA-256",
    "Use",
)
CSV_HEADINGS = (
    "exhibit_reference",
    "description",
    "item",
    "recording_id",
    "clip_id",
    "recording_started_at",
    "recording_ended_at",
    "clip_in_seconds",
    "clip_out_seconds",
    "officer",
    "sha256",
    "use",
    "marked_by",
    "marked_at",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _times(line: ScheduleLine) -> str:
    started, ended = parse_time(line.started_at), parse_time(line.ended_at)
    recorded = f"{started:%d/%m/%Y %H:%M:%S} to {ended:%H:%M:%S}"
    if line.in_seconds is None or line.out_seconds is None:
        return recorded
    return f"{recorded}\nclip {_clock(line.in_seconds)} to {_clock(line.out_seconds)}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:06.3f}"


def _item(line: ScheduleLine) -> str:
    if line.clip_id:
        return f"Clip {line.clip_id}\nof recording {line.recording_id}"
    return f"Recording {line.recording_id}"


def _who(name: str | None) -> str:
    return (name or "").removeprefix("user:")


def render_csv(schedule: Schedule) -> str:
    """One row per item, in the schedule's order; cells a spreadsheet would run are quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADINGS)
    for line in schedule.lines:
        writer.writerow(
            _cell(value)
            for value in (
                line.reference or "",
                line.description,
                line.kind,
                line.recording_id,
                line.clip_id or "",
                line.started_at,
                line.ended_at,
                "" if line.in_seconds is None else f"{line.in_seconds:.3f}",
                "" if line.out_seconds is None else f"{line.out_seconds:.3f}",
                line.officer or "",
                line.sha256,
                line.use_label,
                _who(line.marked_by),
                line.marked_at or "",
            )
        )
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _SchedulePdf(FPDF):
    def __init__(self, schedule: Schedule) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.schedule = schedule
        self.sans, self.mono = self._fonts()
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(10, 10, 10)
        self.alias_nb_pages()

    def _fonts(self) -> tuple[str, str]:
        for folder in FONT_DIRS:
            sans, bold, mono = (
                folder / name
                for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")
            )
            if sans.exists() and bold.exists() and mono.exists():
                self.add_font("dejavu", "", str(sans))
                self.add_font("dejavu", "B", str(bold))
                self.add_font("dejavumono", "", str(mono))
                return "dejavu", "dejavumono"
        return "helvetica", "courier"

    def printable(self, value: object) -> str:
        text = "" if value is None else str(value)
        if self.sans != "helvetica":
            return text
        return text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.sans, size=7)
        what = f"Disclosure schedule of case {self.schedule.case_reference}"
        self.cell(0, 5, self.printable(what), align="L")
        self.set_x(-40)
        self.cell(30, 5, f"page {self.page_no()} of {{nb}}", align="R")


def render_pdf(schedule: Schedule, *, printed_by: str) -> bytes:
    """The schedule as an A4 landscape PDF."""
    pdf = _SchedulePdf(schedule)
    pdf.set_title(f"Disclosure schedule of case {schedule.case_reference}")
    pdf.set_author("Custody")
    pdf.set_subject("Schedule of exhibits and unused material")
    pdf.set_lang("en-GB")
    pdf.add_page()
    pdf.set_font(pdf.sans, "B", 15)
    pdf.cell(0, 9, pdf.printable("Disclosure schedule"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.sans, size=9)
    for label, value in (
        ("Case", f"{schedule.case_reference}: {schedule.case_title}"),
        ("Printed (UTC)", schedule.printed_at),
        ("Printed by", _who(printed_by)),
        ("Items", str(len(schedule.lines))),
    ):
        pdf.set_font(pdf.sans, "B", 9)
        pdf.cell(32, 5, pdf.printable(label))
        pdf.set_font(pdf.sans, size=9)
        pdf.multi_cell(0, 5, pdf.printable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (20, 52, 50, 38, 34, 58, 25)
    heading_style = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    pdf.set_font(pdf.sans, size=7.5)
    with pdf.table(
        col_widths=widths,
        headings_style=heading_style,
        line_height=3.8,
        text_align="LEFT",
        v_align="TOP",
        padding=0.8,
        width=sum(widths),
    ) as table:
        row = table.row()
        for heading in HEADINGS:
            row.cell(heading)
        for line in schedule.lines:
            row = table.row()
            row.cell(pdf.printable(line.reference or ""))
            row.cell(pdf.printable(line.description))
            row.cell(pdf.printable(_item(line)), style=FontFace(family=pdf.mono, size_pt=6.5))
            row.cell(pdf.printable(_times(line)))
            row.cell(pdf.printable(line.officer or ""))
            digest = line.sha256
            row.cell(f"{digest[:32]}\n{digest[32:]}", style=FontFace(family=pdf.mono, size_pt=6.5))
            row.cell(pdf.printable(line.use_label))
    pdf.ln(3)
    pdf.set_font(pdf.sans, size=8)
    pdf.multi_cell(
        0,
        4.5,
        pdf.printable(
            "Each item's SHA-256 identifies its bytes exactly: a copy that hashes to it is the "
            "footage the camera recorded (a clip: the clip as cut, losslessly, from that footage). "
            "Material marked unused and sensitive is never shared or exported outside the force."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
