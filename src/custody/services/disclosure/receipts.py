"""The delivery receipt: what a recipient acknowledged receiving, signed by the server.

The JSON document is signed like the ingest receipts (Ed25519 over its RFC 8785 canonical
form, `domain.signing`), so anyone with the server's public key can check it; the PDF is
the same receipt for people, with the signature and key printed for whoever checks it.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from fpdf import FPDF

from custody.audit.report import FONT_DIRS
from custody.db.models.shares import DeliveryReceipt, Share, ShareItem
from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.services.disclosure.share_records import item_kind, source_of
from custody.services.system import UnitOfWork

KIND = "custody.delivery-receipt"


def make_receipt(
    uow: UnitOfWork, share: Share, items: list[ShareItem], actor: Actor
) -> DeliveryReceipt:
    """Sign and keep the receipt of this acknowledgement (on the case, beside the share)."""
    reference, title = source_of(uow, share)
    now = uow.now()
    receipt = DeliveryReceipt(
        share_id=share.id, case_id=share.case_id, acknowledged_at=now, document="{}"
    )
    uow.session.add(receipt)
    uow.session.flush()
    key = uow.system.server_key
    document: dict[str, Any] = {
        "kind": KIND,
        "version": 1,
        "receipt": receipt.id,
        "share": share.id,
        "case": {"reference": reference, "title": title},
        "recipient": {
            "name": share.recipient_name,
            "email": share.recipient_email,
            "kind": share.recipient_kind,
        },
        "shared_by": share.created_by,
        "shared_at": isoformat(share.created_at),
        "acknowledged_at": isoformat(now),
        "address": actor.address,
        "user_agent": (actor.user_agent or "")[:300] or None,
        "items": [
            {
                "reference": item.reference,
                "description": item.description,
                "kind": item_kind(item.clip_id, item.redaction_id),
                "recording_id": item.recording_id,
                "clip_id": item.clip_id,
                "redaction_id": item.redaction_id,
                "sha256": item.sha256,
                "size": item.size,
                "downloads": item.downloads,
            }
            for item in items
        ],
        "server_key": signing.public_key_text(key.public_key()),
    }
    receipt.document = json.dumps(signing.sign(document, key), ensure_ascii=False, indent=2)
    return receipt


def _fonts(pdf: FPDF) -> str:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("dejavu", "", str(regular))
            pdf.add_font("dejavu", "B", str(bold))
            return "dejavu"
    return "helvetica"


def _printable(font: str, value: object) -> str:
    text = "" if value is None else str(value)
    if font != "helvetica":
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return kept.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(document_text: str) -> bytes:
    """The receipt as a one-page (or more) PDF, for people and for the case file."""
    document = json.loads(document_text)
    pdf = FPDF(unit="mm", format="A4")
    font = _fonts(pdf)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_margins(14, 14, 14)
    pdf.add_page()

    def line(text: object, size: float = 9.5, style: str = "") -> None:
        pdf.set_font(font, style, size)
        pdf.multi_cell(0, size * 0.55, _printable(font, text), new_x="LMARGIN", new_y="NEXT")

    recipient = document["recipient"]
    case = document["case"]
    line("Delivery receipt", 16, "B")
    line(f"Custody receipt {document['receipt']} of share {document['share']}", 9)
    pdf.ln(3)
    for label, value in (
        ("Case", f"{case['reference']}: {case['title']}"),
        ("Received by", f"{recipient['name']} <{recipient['email']}> ({recipient['kind']})"),
        ("Acknowledged at (UTC)", document["acknowledged_at"]),
        ("From address", document.get("address") or "unknown"),
        ("Browser", document.get("user_agent") or "unknown"),
        ("Shared by", f"{document['shared_by']} at {document['shared_at']}"),
    ):
        line(f"{label}: {value}")
    pdf.ln(3)
    line("Items received", 12, "B")
    for item in document["items"]:
        name = item["reference"] or item["recording_id"]
        line(f"{name} ({item['kind']}, {item['size']} bytes) {item['description']}", 9.5, "B")
        line(f"SHA-256 {item['sha256']}", 8.5)
        line(
            f"Recording {item['recording_id']}"
            + (f", clip {item['clip_id']}" if item["clip_id"] else "")
            + (f", redacted copy {item['redaction_id']}" if item.get("redaction_id") else ""),
            8.5,
        )
    pdf.ln(3)
    line("Signature", 12, "B")
    line(
        "The JSON form of this receipt is signed with the server's Ed25519 key over its "
        "RFC 8785 canonical form without the signature field.",
        8.5,
    )
    line(f"Server key (base64, raw 32 bytes): {document['server_key']}", 8.5)
    line(f"Signature (base64): {document['signature']}", 8.5)
    return bytes(pdf.output())
