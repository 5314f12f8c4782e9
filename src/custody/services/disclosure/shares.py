"""Shares, as the disclosure officer makes and watches them: exhibits of a case sent to a
named prosecutor or defence solicitor by an expiring, revocable link.

Only material that may leave the force is shared (`domain.disclosure.may_leave_the_force`):
a sensitive item is refused by name, the refusal audited. The link's token is 256 random
bits of which only the hash is kept; it is e-mailed to the recipient when mail is set up,
and otherwise shown to the officer once, to send another way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from custody.db.models import Recording
from custody.db.models.disclosure import Clip, ScheduleItem
from custody.db.models.lifecycle import Case
from custody.db.models.redaction import Redaction
from custody.db.models.shares import DeliveryReceipt, Share, ShareItem, ShareSession
from custody.domain.access import Action, SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.disclosure import (
    USE_LABELS,
    Use,
    may_leave_the_force,
    reference_sort_key,
)
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.shares import (
    CODE_DIGITS,
    CODE_LIFETIME,
    MOST_ITEMS,
    RECIPIENT_LABELS,
    MailFailed,
    SensitiveMaterial,
    ShareState,
    check_email,
    check_kind,
    check_limit,
    check_name,
    expiry,
)
from custody.services.access import open_case, open_recording, require_role
from custody.services.disclosure import mail
from custody.services.disclosure.redacted import require_released
from custody.services.disclosure.share_answers import (
    IssuedCode,
    ScheduleChoice,
    ShareCreated,
    ShareDetail,
    ShareSummary,
)
from custody.services.disclosure.share_records import (
    LINK_PATH,
    code_digest,
    detail,
    digest,
    end_sessions,
    item_kind,
    items_of,
    note_expiry,
    share_state,
    summaries,
)
from custody.services.system import System, UnitOfWork


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    kind: str


@dataclass(frozen=True)
class ShareTerms:
    """How long the share lasts and what the recipient may do besides watching."""

    days: int | None = None
    downloads_allowed: bool = False
    download_limit: int | None = None
    message: str = ""


def _label(item: ScheduleItem) -> str:
    """An item as a refusal names it: its exhibit reference, or what it is."""
    if item.reference:
        return item.reference
    what = (
        f"redacted copy {item.redaction_id}"
        if item.redaction_id
        else f"clip {item.clip_id}"
        if item.clip_id
        else f"recording {item.recording_id}"
    )
    described = f" ({item.description[:60]})" if item.description else ""
    return f"schedule item {item.id}, {what}{described}"


def _refuse_sensitive(
    uow: UnitOfWork, case: Case, item: ScheduleItem, actor: Actor
) -> SensitiveMaterial:
    reason = (
        f"{_label(item)} is marked {USE_LABELS[Use.UNUSED_SENSITIVE].lower()}: "
        "sensitive material is never shared outside the force"
    )
    case_id = case.id
    uow.rollback()
    uow.audit(
        "user:share:create",
        actor,
        object_type="case",
        object_id=str(case_id),
        allowed=False,
        reason=reason,
        details={"schedule_item": item.id},
    )
    uow.commit()
    return SensitiveMaterial(reason)


def _shared_bytes(uow: UnitOfWork, item: ScheduleItem, recording: Recording) -> tuple[str, int]:
    """The SHA-256 and size of what the item shares: the clip's object, the approved redacted
    copy's, or the original."""
    if item.redaction_id is not None:
        copy = uow.session.get(Redaction, item.redaction_id)
        if copy is None:  # pragma: no cover - a foreign key names it
            raise Conflict(f"{_label(item)}: the redacted copy is no longer stored")
        require_released(copy)
        return str(copy.sha256), int(copy.size or 0)
    if item.clip_id is None:
        return recording.sha256, recording.size
    clip = uow.session.get(Clip, item.clip_id)
    if clip is None or clip.deleted_at is not None:
        raise Conflict(f"{_label(item)}: the clip is no longer stored")
    return clip.sha256, clip.size


def create_share(
    system: System,
    principal: Principal,
    case_id: int,
    recipient: Recipient,
    schedule_item_ids: list[int],
    terms: ShareTerms,
    actor: Actor,
    *,
    server_url: str,
) -> ShareCreated:
    """Share these schedule items of the case with the recipient; e-mail them the link.

    Every item must be on the case's schedule as an exhibit or unused but not sensitive,
    and the officer must be allowed to share its recording. Nothing is made if any is
    refused.
    """
    name = check_name(recipient.name)
    email = check_email(recipient.email)
    kind = check_kind(recipient.kind)
    limit = check_limit(terms.downloads_allowed, terms.download_limit)
    wanted = list(dict.fromkeys(schedule_item_ids))
    if not wanted:
        raise InvalidInput("choose at least one item of the schedule to share")
    if len(wanted) > MOST_ITEMS:
        raise InvalidInput(f"a share holds at most {MOST_ITEMS} items")
    if len(terms.message) > 2000:
        raise InvalidInput("a message to the recipient has at most 2000 characters")
    token = secrets.token_urlsafe(32)
    with system.unit_of_work() as uow:
        case = open_case(uow, principal, case_id)
        expires_at = expiry(uow.now(), terms.days)
        found = {
            item.id: item
            for item in uow.session.scalars(
                select(ScheduleItem).where(
                    ScheduleItem.case_id == case.id, ScheduleItem.id.in_(wanted)
                )
            )
        }
        missing = [str(item_id) for item_id in wanted if item_id not in found]
        if missing:
            raise InvalidInput(
                f"not on the schedule of case {case.reference}: item(s) {', '.join(missing)}"
            )
        items = [found[item_id] for item_id in wanted]
        for item in items:
            if not may_leave_the_force(Use(item.use)):
                raise _refuse_sensitive(uow, case, item, actor)
        share = Share(
            case_id=case.id,
            recipient_name=name,
            recipient_email=email,
            recipient_kind=kind.value,
            token_hash=digest(token),
            downloads_allowed=terms.downloads_allowed,
            download_limit=limit,
            message=terms.message.strip(),
            created_by=actor.name,
            created_at=uow.now(),
            expires_at=expires_at,
            code_failures=0,
        )
        uow.session.add(share)
        uow.session.flush()
        shared = []
        for item in items:
            sight = open_recording(
                uow, principal, item.recording_id, Action.SHARE, actor, "user:recording:share"
            )
            sha256, size = _shared_bytes(uow, item, sight.recording)
            row = ShareItem(
                share_id=share.id,
                schedule_item_id=item.id,
                recording_id=item.recording_id,
                clip_id=item.clip_id,
                redaction_id=item.redaction_id,
                reference=item.reference,
                description=item.description,
                sha256=sha256,
                size=size,
                downloads=0,
            )
            uow.session.add(row)
            shared.append(row)
        uow.session.flush()
        for row in shared:
            # A share is a read of footage: each recording's own trail says who it went to.
            uow.audit(
                "user:recording:share",
                actor,
                object_type="recording",
                object_id=row.recording_id,
                details={
                    "share": share.id,
                    "item": row.id,
                    "clip": row.clip_id,
                    "redaction": row.redaction_id,
                    "reference": row.reference,
                    "sha256": row.sha256,
                    "recipient": email,
                },
            )
        uow.audit(
            "user:share:create",
            actor,
            object_type="share",
            object_id=str(share.id),
            details={
                "case": case.id,
                "recipient": {"name": name, "email": email, "kind": kind.value},
                "items": [row.id for row in shared],
                "expires_at": isoformat(expires_at),
                "downloads_allowed": terms.downloads_allowed,
                "download_limit": limit,
            },
        )
        uow.commit()
        share_id = share.id
        reference = case.reference
    link = f"{(system.settings.public_url or server_url).rstrip('/')}{LINK_PATH}{token}"
    letter = _case_letter(name, email, kind.value, reference, link, actor)
    mailed, problem = mail_link(system, share_id, letter)
    with system.unit_of_work() as uow:
        share = _share(uow, share_id)
        return ShareCreated(
            share=detail(uow, share),
            mailed=mailed,
            link=None if mailed else link,
            mail_problem=problem,
        )


def _case_letter(
    name: str, email: str, kind: str, reference: str, link: str, actor: Actor
) -> mail.Letter:
    label = RECIPIENT_LABELS[check_kind(kind)].lower()
    return mail.Letter(
        name,
        email,
        f"Evidence shared with you: case {reference}",
        f"Dear {name},\n\n"
        f"Footage in case {reference} has been shared with you as {label} "
        f"by {actor.name.removeprefix('user:')}.\n\n"
        f"Open it here:\n{link}\n\n"
        "You will be sent a one-time code to this address to prove it is yours. "
        "The link is for you alone: do not forward it.\n",
    )


def mail_link(system: System, share_id: int, letter: mail.Letter) -> tuple[bool, str | None]:
    """E-mail the link; whether it went, and if not why (then the officer is shown it)."""
    email = letter.to_address
    if not mail.configured(system.settings):
        return False, "no mail server is set up: send the link to the recipient yourself"
    problem = None
    try:
        mail.send(system.settings, letter)
    except MailFailed as exc:
        problem = exc.message
    with system.unit_of_work() as uow:
        uow.audit(
            "system:share:mail",
            Actor.system(),
            object_type="share",
            object_id=str(share_id),
            allowed=problem is None,
            reason=problem,
            details={"to": email, "what": "link"},
        )
        uow.commit()
    return problem is None, problem


def _share(uow: UnitOfWork, share_id: int, *, lock: bool = False) -> Share:
    share = uow.session.get(Share, share_id, with_for_update=lock or None)
    if share is None:
        raise NotFound(f"no share {share_id}")
    return share


def _visible_share(
    uow: UnitOfWork, principal: Principal, share_id: int, *, lock: bool = False
) -> Share:
    """A share of a case the person may see; for anyone else it does not exist."""
    share = _share(uow, share_id, lock=lock)
    if share.case_id is None:
        # A subject access release is seen on its request (services.requests), not a case.
        raise NotFound(f"no share {share_id}")
    try:
        open_case(uow, principal, share.case_id)
    except NotFound:
        raise NotFound(f"no share {share_id}") from None
    return share


def list_shares(
    system: System, principal: Principal, case_id: int, actor: Actor
) -> list[ShareSummary]:
    """The case's shares, newest first."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_CASES, actor)
        case = open_case(uow, principal, case_id)
        shares = list(
            uow.session.scalars(
                select(Share).where(Share.case_id == case.id).order_by(Share.id.desc())
            )
        )
        return summaries(uow, shares, case.reference)


def get_share(system: System, principal: Principal, share_id: int, actor: Actor) -> ShareDetail:
    """One share: its items, receipts and everything done with it."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_CASES, actor)
        share = _visible_share(uow, principal, share_id)
        return detail(uow, share)


def _may_share(uow: UnitOfWork, principal: Principal, share: Share, actor: Actor, tag: str) -> None:
    """Acting on a share takes the right to share its footage (checked on its first item)."""
    first = items_of(uow, share.id)[0]
    open_recording(uow, principal, first.recording_id, Action.SHARE, actor, tag, allow_deleted=True)


def revoke_share(
    system: System, principal: Principal, share_id: int, reason: str, actor: Actor
) -> ShareDetail:
    """End the share at once: its link opens nothing from now on, its sessions are gone."""
    reason = reason.strip()
    if not reason or len(reason) > 1000:
        raise InvalidInput("say why the share is revoked (at most 1000 characters)")
    with system.unit_of_work() as uow:
        share = _visible_share(uow, principal, share_id, lock=True)
        _may_share(uow, principal, share, actor, "user:share:revoke")
        now_state = share_state(uow, share)
        if now_state is ShareState.REVOKED:
            raise Conflict(f"share {share_id} was revoked already")
        if now_state is ShareState.EXPIRED:
            raise Conflict(f"share {share_id} has expired already")
        share.revoked_at = uow.now()
        share.revoked_by = actor.name
        share.revoke_reason = reason
        share.code_hash = None
        end_sessions(uow, share.id)
        uow.audit(
            "user:share:revoke",
            actor,
            object_type="share",
            object_id=str(share.id),
            reason=reason,
            details={"case": share.case_id},
        )
        uow.commit()
        return detail(uow, share)


def issue_code(system: System, principal: Principal, share_id: int, actor: Actor) -> IssuedCode:
    """A one-time code for the officer to read to the recipient (by telephone, say), where
    no mail server is set up to send it."""
    with system.unit_of_work() as uow:
        share = _visible_share(uow, principal, share_id, lock=True)
        _may_share(uow, principal, share, actor, "user:share:code")
        if share_state(uow, share) is not ShareState.ACTIVE:
            raise Conflict(f"share {share_id} has ended")
        code = new_code()
        set_code(uow, share, code)
        uow.audit(
            "user:share:code", actor, object_type="share", object_id=str(share.id), details={}
        )
        uow.commit()
        return IssuedCode(code=code, expires_at=isoformat(share.code_expires_at or uow.now()))


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def set_code(uow: UnitOfWork, share: Share, code: str) -> None:
    """The share's one-time code from now: any earlier one is void."""
    share.code_hash = code_digest(share.id, code)
    share.code_sent_at = uow.now()
    share.code_expires_at = uow.now() + CODE_LIFETIME
    share.code_failures = 0


def expire_due(system: System) -> int:
    """Record the end of every share whose time is up (the periodic sweep): each expiry is
    audited once and its sessions end; sessions past their own end go too. Returns how
    many shares ended."""
    with system.unit_of_work() as uow:
        due = list(
            uow.session.scalars(
                select(Share)
                .where(
                    Share.expires_at <= uow.now(),
                    Share.expired_at.is_(None),
                    Share.revoked_at.is_(None),
                )
                .with_for_update()
            )
        )
        for share in due:
            note_expiry(uow, share)
        # Recipients' sessions past their own end (a working day) are of no more use.
        uow.session.execute(delete(ShareSession).where(ShareSession.expires_at <= uow.now()))
        uow.commit()
        return len(due)


def receipt_document(
    system: System, principal: Principal, share_id: int, receipt_id: int, actor: Actor
) -> str:
    """A delivery receipt of the share, as signed (JSON), for the case's people."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_CASES, actor)
        share = _visible_share(uow, principal, share_id)
        receipt = uow.session.get(DeliveryReceipt, receipt_id)
        if receipt is None or receipt.share_id != share.id:
            raise NotFound(f"no receipt {receipt_id} of share {share_id}")
        return receipt.document


def schedule_choices(
    system: System, principal: Principal, case_id: int, actor: Actor
) -> list[ScheduleChoice]:
    """The case's schedule as the share form offers it: exhibits first, sensitive material
    shown but never offered."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_CASES, actor)
        case = open_case(uow, principal, case_id)
        items = list(
            uow.session.scalars(select(ScheduleItem).where(ScheduleItem.case_id == case.id))
        )
    items.sort(key=lambda item: (reference_sort_key(item.reference), item.id))
    return [
        ScheduleChoice(
            id=item.id,
            reference=item.reference,
            description=item.description,
            kind=item_kind(item.clip_id, item.redaction_id),
            recording_id=item.recording_id,
            use=item.use,
            use_label=USE_LABELS[Use(item.use)],
            may_leave=may_leave_the_force(Use(item.use)),
        )
        for item in items
    ]
