"""A share, as its recipient uses it: prove the address with a one-time code, then watch,
download where allowed, and acknowledge receipt.

The recipient is not a user of Custody. The link's token finds the share; a session (its
secret in a cookie, its hash here) opens that share alone, and nothing answers a token or
session of another share. A link that has ended, for whatever reason, says only that it
has ended (`ShareEnded`), word for word alike for one that never existed. Every act of the
recipient is audited under the share's own name (`share_records.recipient_name`) with the
address and user agent it came from.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from custody.db.models import Recording
from custody.db.models.disclosure import Clip
from custody.db.models.redaction import Redaction
from custody.db.models.shares import Share, ShareItem, ShareSession
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import NotAuthenticated, NotFound, TooManySignIns
from custody.domain.shares import (
    CODE_TRIES,
    SESSION_LIFETIME,
    CodeSentRecently,
    DownloadLimitReached,
    DownloadsNotAllowed,
    MailFailed,
    ShareEnded,
    ShareState,
    TooManyCodes,
    WrongCode,
    masked,
    may_download,
)
from custody.services.disclosure import mail
from custody.services.disclosure.receipts import make_receipt, receipt_pdf
from custody.services.disclosure.share_answers import (
    LinkView,
    RecipientItem,
    RecipientView,
    StartedSession,
)
from custody.services.disclosure.share_records import (
    as_recipient,
    code_digest,
    digest,
    item_kind,
    item_label,
    items_of,
    note_expiry,
    receipts_of,
    share_state,
    source_of,
)
from custody.services.disclosure.shares import new_code, set_code
from custody.services.identity import throttle
from custody.services.recordings import viewings
from custody.services.recordings.reading import PLAY_PIECE, MediaStream, resolve_range
from custody.services.system import System, UnitOfWork

# A link's token is 43 characters of URL-safe base64; anything else is no link at all.
TOKEN_LENGTH = 43


def _live_share(uow: UnitOfWork, token: str, actor: Actor, *, lock: bool = False) -> Share:
    """The share this link opens, if it is alive; a dead one is audited and `ShareEnded`."""
    if len(token) != TOKEN_LENGTH:
        raise ShareEnded()
    query = select(Share).where(Share.token_hash == digest(token))
    share = uow.session.scalar(query.with_for_update() if lock else query)
    if share is None:
        raise ShareEnded()
    now_state = share_state(uow, share)
    if now_state is not ShareState.ACTIVE:
        uow.rollback()
        share = uow.session.scalar(select(Share).where(Share.token_hash == digest(token)))
        if share is None:
            raise ShareEnded()
        if now_state is ShareState.EXPIRED:
            note_expiry(uow, share)
        uow.audit(
            "recipient:share:open",
            as_recipient(share, actor),
            object_type="share",
            object_id=str(share.id),
            allowed=False,
            reason="the share was revoked"
            if now_state is ShareState.REVOKED
            else "the share has expired",
        )
        uow.commit()
        raise ShareEnded()
    return share


@dataclass(frozen=True)
class RecipientSession:
    share_id: int
    csrf_token: str


def _session(uow: UnitOfWork, token: str, secret: str | None, actor: Actor) -> tuple[Share, str]:
    """The live share and the session's CSRF token; NotAuthenticated without a session of
    this share (the recipient proves the code again)."""
    share = _live_share(uow, token, actor)
    if not secret:
        raise NotAuthenticated("prove your address with a one-time code first")
    session = uow.session.get(ShareSession, digest(secret))
    if session is None or session.share_id != share.id or session.expires_at <= uow.now():
        raise NotAuthenticated("prove your address with a one-time code first")
    return share, session.csrf_token


def open_link(system: System, token: str, actor: Actor, *, visit: bool = False) -> LinkView:
    """What the link's first page says: where the code will go, nothing of the share.
    A `visit` (the link followed, not a form shown again) is audited: the officer sees
    when the link was first opened, by a person or a mail scanner."""
    with system.unit_of_work() as uow:
        share = _live_share(uow, token, actor)
        view = LinkView(
            masked_address=masked(share.recipient_email),
            mail=mail.configured(system.settings),
            code_sent=share.code_hash is not None
            and share.code_expires_at is not None
            and share.code_expires_at > uow.now(),
        )
        if visit:
            uow.audit(
                "recipient:share:link",
                as_recipient(share, actor),
                object_type="share",
                object_id=str(share.id),
            )
            uow.commit()
        return view


def send_code(system: System, token: str, actor: Actor) -> LinkView:
    """E-mail a new one-time code to the share's address (any earlier code is void)."""
    if not mail.configured(system.settings):
        raise MailFailed(
            "this server sends no mail: ask the person who shared this with you for a code"
        )
    with system.unit_of_work() as uow:
        share_id = _live_share(uow, token, actor).id
    try:
        # Every code sent counts, right or not: the throttle spaces them ever further.
        throttle.claim_keys(system, [f"share-mail:{share_id}"])
    except TooManySignIns as exc:
        raise CodeSentRecently(exc.retry_after) from None
    with system.unit_of_work() as uow:
        share = _live_share(uow, token, actor, lock=True)
        code = new_code()
        set_code(uow, share, code)
        who = as_recipient(share, actor)
        uow.audit(
            "recipient:share:code",
            who,
            object_type="share",
            object_id=str(share.id),
            details={"to": share.recipient_email},
        )
        uow.commit()
        letter = mail.Letter(
            share.recipient_name,
            share.recipient_email,
            f"Your Custody code: {code}",
            f"Your one-time code is {code}\n\nIt works once, for 15 minutes. If you did not ask "
            "for it, someone else has your link: tell the person who shared it with you.\n",
        )
        share_id = share.id
    try:
        mail.send(system.settings, letter)
    except MailFailed:
        with system.unit_of_work() as uow:
            uow.audit(
                "system:share:mail",
                Actor.system(),
                object_type="share",
                object_id=str(share_id),
                allowed=False,
                reason="the code could not be sent",
                details={"what": "code"},
            )
            uow.commit()
        raise
    return open_link(system, token, actor)


def prove_code(system: System, token: str, code: str, actor: Actor) -> StartedSession:
    """Check the one-time code; a session of this share if right. Wrong codes are throttled
    for the share and for the address (`domain.shares.CODE_THROTTLE`), and a code dies
    after `CODE_TRIES` wrong tries."""
    with system.unit_of_work() as uow:
        share_id = _live_share(uow, token, actor).id
    keys = [f"share:{share_id}"] + ([f"address:{actor.address[:64]}"] if actor.address else [])
    try:
        ticket = throttle.claim_keys(system, keys)
    except TooManySignIns as exc:
        with system.unit_of_work() as uow:
            share = _live_share(uow, token, actor)
            uow.audit(
                "recipient:share:prove",
                as_recipient(share, actor),
                object_type="share",
                object_id=str(share.id),
                allowed=False,
                reason="throttled: too many wrong codes",
            )
            uow.commit()
        raise TooManyCodes(exc.retry_after) from None
    with system.unit_of_work() as uow:
        share = _live_share(uow, token, actor, lock=True)
        who = as_recipient(share, actor)
        cleaned = "".join(code.split())
        live = (
            share.code_hash is not None
            and share.code_expires_at is not None
            and share.code_expires_at > uow.now()
            and share.code_failures < CODE_TRIES
        )
        right = live and hmac.compare_digest(code_digest(share.id, cleaned), share.code_hash or "")
        if not right:
            share.code_failures += 1
            reason = "wrong code" if live else "no live code: ask for a new one"
            uow.audit(
                "recipient:share:prove",
                who,
                object_type="share",
                object_id=str(share.id),
                allowed=False,
                reason=reason,
            )
            uow.commit()
            raise WrongCode(
                "that code is not right" if live else "that code has expired: ask for a new one"
            )
        secret = secrets.token_urlsafe(32)
        expires_at = min(uow.now() + SESSION_LIFETIME, share.expires_at)
        share.code_hash = None  # one time only
        uow.session.add(
            ShareSession(
                secret_hash=digest(secret),
                share_id=share.id,
                csrf_token=secrets.token_urlsafe(24),
                created_at=uow.now(),
                expires_at=expires_at,
            )
        )
        uow.audit("recipient:share:prove", who, object_type="share", object_id=str(share.id))
        uow.commit()
    throttle.succeeded(system, ticket)
    return StartedSession(secret=secret, expires_at=isoformat(expires_at))


def authenticate(system: System, token: str, secret: str | None, actor: Actor) -> RecipientSession:
    """The recipient's session of this share (for its forms' CSRF token)."""
    with system.unit_of_work() as uow:
        share, csrf = _session(uow, token, secret, actor)
        return RecipientSession(share.id, csrf)


def _item_view(share: Share, item: ShareItem) -> RecipientItem:
    allowed = may_download(share.downloads_allowed, share.download_limit, item.downloads)
    left = None
    if share.downloads_allowed and share.download_limit is not None:
        left = max(0, share.download_limit - item.downloads)
    return RecipientItem(
        id=item.id,
        reference=item.reference,
        description=item.description,
        kind=item_kind(item.clip_id, item.redaction_id),
        sha256=item.sha256,
        size=item.size,
        may_download=allowed,
        downloads_left=left,
    )


def view_share(system: System, token: str, secret: str | None, actor: Actor) -> RecipientView:
    """The recipient's page: their items and what they may do with them (audited)."""
    with system.unit_of_work() as uow:
        share, _ = _session(uow, token, secret, actor)
        reference, title = source_of(uow, share)
        items = items_of(uow, share.id)
        receipts = receipts_of(uow, share.id)
        uow.audit(
            "recipient:share:open",
            as_recipient(share, actor),
            object_type="share",
            object_id=str(share.id),
        )
        uow.commit()
        return RecipientView(
            recipient_name=share.recipient_name,
            case_reference=reference,
            case_title=title,
            shared_by=share.created_by.removeprefix("user:"),
            expires_at=isoformat(share.expires_at),
            downloads_allowed=share.downloads_allowed,
            download_limit=share.download_limit,
            items=[_item_view(share, item) for item in items],
            receipt_id=receipts[0].id if receipts else None,
            acknowledged_at=isoformat(receipts[0].acknowledged_at) if receipts else None,
            subject_access=share.subject_access_request_id is not None,
        )


def _stored_object(uow: UnitOfWork, item: ShareItem) -> str:
    """The SHA-256 of the item's bytes in the store, if they are still there."""
    recording = uow.session.get(Recording, item.recording_id)
    if item.redaction_id is not None:
        copy = uow.session.get(Redaction, item.redaction_id)
        # A copy goes with its original: once that is deleted, the copy is not offered.
        gone = copy is None or copy.sha256 != item.sha256 or copy.deleted_at is not None
        gone = gone or recording is None or recording.state == "deleted"
    elif item.clip_id is not None:
        clip = uow.session.get(Clip, item.clip_id)
        gone = clip is None or clip.deleted_at is not None
    else:
        gone = recording is None or recording.state == "deleted"
    if gone:
        # Deleted under the retention rules: for this item the link has ended, and it says
        # so as an expired link does (the recipient learns nothing of why).
        raise ShareEnded()
    return item.sha256


@dataclass(frozen=True)
class SharedMedia:
    stream: MediaStream
    filename: str


def open_item(
    system: System,
    token: str,
    secret: str | None,
    item_id: int,
    actor: Actor,
    byte_range: tuple[int, int | None] | None,
    *,
    download: bool,
) -> SharedMedia:
    """Play (a piece at a time, audited once per viewing) or download (counted against the
    share's limit, each copy audited) one item of this share; another share's item is
    "no item", like one that never was."""
    tag = "recipient:recording:download" if download else "recipient:recording:stream"
    with system.unit_of_work() as uow:
        share, _ = _session(uow, token, secret, actor)
        who = as_recipient(share, actor)
        item = uow.session.get(ShareItem, item_id, with_for_update=download or None)
        if item is None or item.share_id != share.id:
            raise NotFound(f"no item {item_id}")
        sha = _stored_object(uow, item)
        start, end = resolve_range(byte_range, item.size)
        if not download:
            end = min(end, start + PLAY_PIECE)
        partial = not download or byte_range is not None
        details = {
            "share": share.id,
            "item": item.id,
            "clip": item.clip_id,
            "redaction": item.redaction_id,
        }
        # A download from the first byte is a new copy; a later range resumes the last one.
        new_copy = download and (
            start == 0 or not viewings.continues(uow, tag, who, item.recording_id)
        )
        if download and new_copy:
            if not may_download(share.downloads_allowed, share.download_limit, item.downloads):
                refusal: DownloadsNotAllowed | DownloadLimitReached = (
                    DownloadsNotAllowed("this share lets you watch, not download")
                    if not share.downloads_allowed
                    else DownloadLimitReached(
                        f"{item_label(item)} has been downloaded the {share.download_limit} "
                        "time(s) this share allows"
                    )
                )
                uow.rollback()
                uow.audit(
                    tag,
                    who,
                    object_type="recording",
                    object_id=item.recording_id,
                    allowed=False,
                    reason=refusal.message,
                    details=details,
                )
                uow.commit()
                raise refusal
            item.downloads += 1
            uow.audit(
                tag,
                who,
                object_type="recording",
                object_id=item.recording_id,
                details=details | {"downloads": item.downloads},
            )
        elif not download and not viewings.continues(uow, tag, who, item.recording_id):
            uow.audit(
                tag,
                who,
                object_type="recording",
                object_id=item.recording_id,
                details=details | {"range": [start, end - 1]},
            )
        uow.commit()
        filename = (item.reference or item.recording_id).replace("/", "-") + ".mp4"
    stream = MediaStream(
        item.size,
        start,
        end,
        "video/mp4",
        system.store.read(sha, start, end),
        download=download,
        partial=partial,
    )
    return SharedMedia(stream, filename)


def acknowledge(system: System, token: str, secret: str | None, actor: Actor) -> int:
    """Acknowledge receipt: the signed delivery receipt, kept on the case (once per share;
    a second acknowledgement answers the first receipt)."""
    with system.unit_of_work() as uow:
        share, _ = _session(uow, token, secret, actor)
        uow.session.refresh(share, with_for_update=True)
        existing = receipts_of(uow, share.id)
        if existing:
            return existing[0].id
        who = as_recipient(share, actor)
        receipt = make_receipt(uow, share, items_of(uow, share.id), who)
        uow.audit(
            "recipient:share:acknowledge",
            who,
            object_type="share",
            object_id=str(share.id),
            details={"receipt": receipt.id, "case": share.case_id},
        )
        uow.commit()
        return receipt.id


def receipt_document(system: System, token: str, secret: str | None, actor: Actor) -> str:
    """The signed receipt JSON, for the recipient who acknowledged."""
    with system.unit_of_work() as uow:
        share, _ = _session(uow, token, secret, actor)
        found = receipts_of(uow, share.id)
        if not found:
            raise NotFound("you have not acknowledged receipt yet")
        return found[0].document


def receipt_as_pdf(document: str) -> bytes:
    return receipt_pdf(document)
