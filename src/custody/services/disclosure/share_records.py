"""What the officer's and the recipient's share use cases both need: finding a share by its
link, naming the recipient in the audit log, and building the answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select

from custody.db.models import AuditEvent, AuditPending
from custody.db.models.lifecycle import Case
from custody.db.models.shares import DeliveryReceipt, Share, ShareItem, ShareSession
from custody.db.models.subject_access import SubjectAccessRequest
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.shares import ShareState, state
from custody.services.disclosure.share_answers import (
    ReceiptSummary,
    ShareDetail,
    SharedItem,
    ShareEvent,
    ShareSummary,
)
from custody.services.system import UnitOfWork

# Where a share's link leads, under the server's address.
LINK_PATH = "/shared/"


def digest(secret: str) -> str:
    """The SHA-256 kept of a link's token or a session's secret (both 256 random bits)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def code_digest(share_id: int, code: str) -> str:
    """The hash kept of a one-time code, bound to its share."""
    return hashlib.sha256(f"{share_id}:{code}".encode()).hexdigest()


def recipient_name(share: Share) -> str:
    """Who the audit log says acted: the share's recipient, by share and address."""
    return f"recipient:{share.id}:{share.recipient_email}"[:160]


def as_recipient(share: Share, actor: Actor) -> Actor:
    """The request's actor (address, user agent) named as the share's recipient. A subject
    access requester's acts read, on a recording's trail, only to those who see
    professional standards' work: that a request exists is theirs alone to know."""
    return Actor(
        recipient_name(share),
        actor.address,
        actor.user_agent,
        confidential=share.subject_access_request_id is not None,
    )


def share_state(uow: UnitOfWork, share: Share) -> ShareState:
    return state(uow.now(), share.expires_at, share.revoked_at)


def note_expiry(uow: UnitOfWork, share: Share) -> None:
    """Record once that an expired share has ended: audited, its sessions gone."""
    if share.expired_at is not None or share.revoked_at is not None:
        return
    share.expired_at = uow.now()
    end_sessions(uow, share.id)
    uow.audit(
        "system:share:expire",
        Actor.system(),
        object_type="share",
        object_id=str(share.id),
        details={"case": share.case_id, "expires_at": isoformat(share.expires_at)},
    )


def end_sessions(uow: UnitOfWork, share_id: int) -> None:
    for session in uow.session.scalars(
        select(ShareSession).where(ShareSession.share_id == share_id)
    ):
        uow.session.delete(session)


def items_of(uow: UnitOfWork, share_id: int) -> list[ShareItem]:
    return list(
        uow.session.scalars(
            select(ShareItem).where(ShareItem.share_id == share_id).order_by(ShareItem.id)
        )
    )


def receipts_of(uow: UnitOfWork, share_id: int) -> list[DeliveryReceipt]:
    return list(
        uow.session.scalars(
            select(DeliveryReceipt)
            .where(DeliveryReceipt.share_id == share_id)
            .order_by(DeliveryReceipt.id)
        )
    )


def item_kind(clip_id: str | None, redaction_id: str | None) -> str:
    """What an item is: a recording, a clip of one, or a redacted copy of one."""
    return "redaction" if redaction_id else "clip" if clip_id else "recording"


def item_label(item: ShareItem) -> str:
    if item.reference:
        return item.reference
    if item.redaction_id:
        return f"redacted copy {item.redaction_id}"
    return f"clip {item.clip_id}" if item.clip_id else item.recording_id


def summaries(
    uow: UnitOfWork, shares: Sequence[Share], case_reference: str | None = None
) -> list[ShareSummary]:
    """Summaries of these shares in a fixed number of queries (no query per share)."""
    ids = [share.id for share in shares]
    counts: dict[int, int] = {
        share_id: count
        for share_id, count in uow.session.execute(
            select(ShareItem.share_id, func.count())
            .where(ShareItem.share_id.in_(ids))
            .group_by(ShareItem.share_id)
        )
    }
    acknowledged: dict[int, datetime] = {
        share_id: first
        for share_id, first in uow.session.execute(
            select(DeliveryReceipt.share_id, func.min(DeliveryReceipt.acknowledged_at))
            .where(DeliveryReceipt.share_id.in_(ids))
            .group_by(DeliveryReceipt.share_id)
        )
    }
    references: dict[int, str] = {
        case_id: reference
        for case_id, reference in uow.session.execute(
            select(Case.id, Case.reference).where(
                Case.id.in_({s.case_id for s in shares if s.case_id is not None})
            )
        )
    }
    return [
        ShareSummary(
            id=share.id,
            case_id=share.case_id,
            case_reference=case_reference
            or (references.get(share.case_id, "") if share.case_id is not None else ""),
            recipient_name=share.recipient_name,
            recipient_email=share.recipient_email,
            recipient_kind=share.recipient_kind,
            state=share_state(uow, share).value,
            downloads_allowed=share.downloads_allowed,
            download_limit=share.download_limit,
            created_by=share.created_by,
            created_at=isoformat(share.created_at),
            expires_at=isoformat(share.expires_at),
            revoked_at=isoformat(share.revoked_at) if share.revoked_at else None,
            revoked_by=share.revoked_by,
            items=counts.get(share.id, 0),
            acknowledged_at=(
                isoformat(acknowledged[share.id]) if share.id in acknowledged else None
            ),
        )
        for share in shares
    ]


def summary(uow: UnitOfWork, share: Share) -> ShareSummary:
    return summaries(uow, [share])[0]


def shared_item(item: ShareItem) -> SharedItem:
    return SharedItem(
        id=item.id,
        reference=item.reference,
        description=item.description,
        kind=item_kind(item.clip_id, item.redaction_id),
        recording_id=item.recording_id,
        clip_id=item.clip_id,
        redaction_id=item.redaction_id,
        sha256=item.sha256,
        size=item.size,
        downloads=item.downloads,
    )


def _event_item(event: AuditEvent | AuditPending, items: Sequence[ShareItem]) -> str | None:
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        details = {}
    item_id = details.get("item") if isinstance(details, dict) else None
    for item in items:
        if item.id == item_id:
            return item_label(item)
    return None


def activity(uow: UnitOfWork, share: Share, items: Sequence[ShareItem]) -> list[ShareEvent]:
    """Everything done with the share, oldest first: the officer's acts on it and every act
    of its recipient (whose audit name is the share's own). Events still pending (committed,
    not yet sequenced) come after the sequenced ones, in the order they were written."""
    events: list[AuditEvent | AuditPending] = []
    for table, order in ((AuditEvent, AuditEvent.seq), (AuditPending, AuditPending.id)):
        events.extend(
            uow.session.scalars(
                select(table)
                .where(
                    or_(
                        (table.object_type == "share") & (table.object_id == str(share.id)),
                        table.actor == recipient_name(share),
                    )
                )
                .order_by(order)
            )
        )
    return [
        ShareEvent(
            at=isoformat(event.at),
            what=event.tag,
            actor=event.actor,
            allowed=event.allowed,
            item=_event_item(event, items),
            address=event.address,
            user_agent=event.user_agent,
            reason=event.reason,
        )
        for event in events
    ]


def detail(uow: UnitOfWork, share: Share) -> ShareDetail:
    items = items_of(uow, share.id)
    receipts = receipts_of(uow, share.id)
    return ShareDetail(
        **summary(uow, share).model_dump(),
        message=share.message,
        revoke_reason=share.revoke_reason,
        shared_items=[shared_item(item) for item in items],
        receipts=[
            ReceiptSummary(
                id=receipt.id,
                acknowledged_at=isoformat(receipt.acknowledged_at),
                items=len(json.loads(receipt.document).get("items", [])),
            )
            for receipt in receipts
        ],
        activity=activity(uow, share, items),
    )


def source_of(uow: UnitOfWork, share: Share) -> tuple[str, str]:
    """What the share sends, as its recipient and receipt name it: the case's reference and
    title, or the subject access request's reference."""
    if share.case_id is not None:
        case = uow.session.get(Case, share.case_id)
        return (case.reference, case.title) if case else ("", "")
    if share.subject_access_request_id is not None:
        request = uow.session.get(SubjectAccessRequest, share.subject_access_request_id)
        if request is not None:
            return request.reference, "Your subject access request"
    return "", ""
