"""Releasing a subject access request to its requester, on SQLite and PostgreSQL.

pat (professional standards) prepares Jo Bloggs's request: one recording reviewed with no
third parties in it, another with people in it, so pat has it blurred and quinn (a second
person) approves that copy. quinn approves the request; pat releases it. Jo gets a link by
real e-mail (aiosmtpd), proves the one-time code sent to the same address, receives exactly
the original of the first and the redacted copy of the second, and acknowledges: the
request's page shows the share and its receipt. Release before approval, twice, or after
close is refused, and nothing changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.db.models.shares import Share, ShareItem
from custody.db.models.subject_access import SubjectAccessRequest
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, NotFound
from custody.domain.shares import ShareEnded
from custody.services.disclosure import recipients, shares
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions
from custody.services.redaction.records import Choices
from custody.services.requests import subject_access as sar
from tests.integration.lifecycle_world import World
from tests.integration.test_subject_access import register
from tests.integration.test_subject_access import world as world
from tests.mailbox import Mailbox, smtp_server

JO = Actor("anonymous", address="198.51.100.7", user_agent="Jo's browser")


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from custody.camera.footage import write_footage

    path: Path = tmp_path_factory.mktemp("sar") / "street.mp4"
    write_footage(path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=1.0,
                  serial="BWV-0001")  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def mailbox(world: World) -> Iterator[Mailbox]:
    with smtp_server() as box:
        world.system.settings.smtp_host = "127.0.0.1"
        world.system.settings.smtp_port = box.port
        world.system.settings.smtp_tls = "none"
        yield box


def approved_copy(world: World, recording: str) -> str:
    """pat asks for everything blurred; quinn approves the rendered copy."""
    pat, quinn = world.people["pat"], world.people["quinn"]
    asked = redactions.request_redaction(
        world.system, pat, recording, Choices(everything=True, remove_audio=True), Actor("pat")
    )
    redactions.run_render(world.system, asked.id)
    redactions.approve_redaction(world.system, quinn, asked.id, Actor("quinn"))
    return asked.id


def shares_made(world: World) -> int:
    with world.system.unit_of_work() as uow:
        return len(list(uow.session.scalars(select(Share.id))))


def release(world: World, reference: str) -> sar.Released:
    return sar.release_request(
        world.system, world.people["pat"], reference, Actor("pat"), server_url="http://t"
    )


def test_the_requester_reads_the_release_with_the_one_time_code(
    world: World, mailbox: Mailbox, footage: bytes
) -> None:
    system = world.system
    pat, quinn = world.people["pat"], world.people["quinn"]
    plain = world.record("1234AB")
    filmed = world.record("1234AB", data=footage)
    probe_recording(system, filmed)
    reference = register(world)
    for rid in (plain, filmed):
        sar.attach_recording(system, pat, reference, rid, Actor("pat"))
    sar.mark_recording(system, pat, reference, plain, "reviewed_no_third_parties", Actor("pat"))

    # Only an approved copy of that very recording may stand in for it.
    unapproved = redactions.request_redaction(
        system, pat, filmed, Choices(everything=True), Actor("pat")
    )
    redactions.run_render(system, unapproved.id)
    with pytest.raises(Conflict, match="not approved"):
        sar.attach_redaction(system, pat, reference, filmed, unapproved.id, Actor("pat"))
    copy = approved_copy(world, filmed)
    with pytest.raises(NotFound):
        sar.attach_redaction(system, pat, reference, plain, copy, Actor("pat"))
    detail = sar.attach_redaction(system, pat, reference, filmed, copy, Actor("pat"))
    copy_sha = redactions.get_redaction(system, pat, copy, Actor("pat")).sha256
    assert {(a.recording_id, a.redaction, a.redacted_sha256) for a in detail.attached} == {
        (plain, "reviewed_no_third_parties", None),
        (filmed, "redacted_copy_attached", copy_sha),
    }

    with pytest.raises(Conflict, match="not approved"):
        release(world, reference)
    assert shares_made(world) == 0 and mailbox.messages == []

    sar.approve_request(system, quinn, reference, Actor("quinn"))
    released = release(world, reference)
    assert released.mailed and released.link is None
    assert released.request.step == "released"
    assert released.request.release is not None
    assert (released.request.release.state, released.request.release.items) == ("active", 2)
    assert released.request.release.acknowledged_at is None
    with pytest.raises(Conflict, match="released already"):
        release(world, reference)
    assert shares_made(world) == 1

    (letter,) = mailbox.wait_for(1)
    assert "jo@example.org" in str(letter["To"]) and reference in str(letter["Subject"])
    token = mailbox.link(0).rsplit("/", 1)[1]
    recipients.send_code(system, token, JO)
    mailbox.wait_for(2)
    session = recipients.prove_code(system, token, mailbox.code(1), JO)
    view = recipients.view_share(system, token, session.secret, JO)
    assert view.recipient_name == "Jo Bloggs" and view.case_reference == reference
    originals = {rid: world.row(rid).sha256 for rid in (plain, filmed)}
    assert sorted(i.sha256 for i in view.items) == sorted([originals[plain], copy_sha or ""])
    assert originals[filmed] not in {i.sha256 for i in view.items}
    for item in view.items:
        media = recipients.open_item(system, token, session.secret, item.id, JO, None,
                                     download=False)  # fmt: skip
        first = b"".join(media.stream.chunks)
        assert len(first) == min(item.size, media.stream.end - media.stream.start)
    # The right of access is to a copy: Jo keeps exactly the approved redacted copy.
    whole = next(i for i in view.items if i.sha256 == copy_sha)
    kept = recipients.open_item(system, token, session.secret, whole.id, JO, None, download=True)
    assert hashlib.sha256(b"".join(kept.stream.chunks)).hexdigest() == copy_sha

    receipt_id = recipients.acknowledge(system, token, session.secret, JO)
    document = json.loads(recipients.receipt_document(system, token, session.secret, JO))
    assert document["receipt"] == receipt_id and document["case"]["reference"] == reference
    assert document["recipient"]["kind"] == "requester"
    shown = sar.get_request(system, pat, reference, Actor("pat"))
    assert shown.release is not None and shown.release.acknowledged_at is not None

    # A release is no case's share: the case routes know nothing of it.
    share_id = shown.release.share_id
    with pytest.raises(NotFound):
        shares.get_share(system, pat, share_id, Actor("pat"))

    closed = sar.close_request(system, pat, reference, "released to Jo Bloggs", Actor("pat"))
    assert closed.step == "closed"
    # Its holds are lifted, so the sweep may take the footage: the link ends with the
    # request, Jo's session opens nothing more, and it reads as any ended link.
    ended = sar.get_request(system, pat, reference, Actor("pat")).release
    assert ended is not None and ended.state == "revoked"
    with pytest.raises(ShareEnded):
        recipients.view_share(system, token, session.secret, JO)
    with pytest.raises(ShareEnded):
        recipients.send_code(system, token, JO)
    with pytest.raises(Conflict, match="closed"):
        release(world, reference)
    with system.unit_of_work() as uow:
        request = uow.session.scalar(
            select(SubjectAccessRequest).where(SubjectAccessRequest.reference == reference)
        )
        assert request is not None and request.share_id == share_id
        assert request.released_at is not None
        items = list(uow.session.scalars(select(ShareItem).where(ShareItem.share_id == share_id)))
        assert {i.schedule_item_id for i in items} == {None}
        tags = set(
            uow.session.scalars(select(AuditEvent.tag).where(AuditEvent.object_id == reference))
        )
        watched = list(
            uow.session.scalars(
                select(AuditEvent.details).where(AuditEvent.tag.like("recipient:recording:%"))
            )
        )
    assert {"user:subject_access:redaction", "user:subject_access:release"} <= tags
    # On the recordings' trails, Jo's watching reads only to professional standards.
    assert watched and all(json.loads(d or "{}").get("confidential") for d in watched)
    assert hashlib.sha256(token.encode()).hexdigest() not in json.dumps(sorted(tags))


def test_a_release_is_refused_before_approval_and_for_a_closed_request(
    world: World, mailbox: Mailbox
) -> None:
    system, pat = world.system, world.people["pat"]
    reference = register(world)
    with pytest.raises(Conflict, match="not approved"):
        release(world, reference)
    # Marked by hand as redacted, but no copy attached: nothing to send in its place.
    rid = world.record("1234AB")
    sar.attach_recording(system, pat, reference, rid, Actor("pat"))
    sar.mark_recording(system, pat, reference, rid, "redacted_copy_attached", Actor("pat"))
    sar.approve_request(system, world.people["quinn"], reference, Actor("quinn"))
    with pytest.raises(Conflict, match="no approved redacted copy"):
        release(world, reference)
    assert sar.get_request(system, pat, reference, Actor("pat")).step == "approved"
    sar.close_request(system, pat, reference, "withdrawn by the requester", Actor("pat"))
    with pytest.raises(Conflict, match="closed"):
        release(world, reference)
    with pytest.raises(NotFound):
        release(world, "SAR-2026-99999")
    assert shares_made(world) == 0 and mailbox.messages == []


def test_without_mail_the_officer_gives_the_link_and_a_code(world: World) -> None:
    system, pat, quinn = world.system, world.people["pat"], world.people["quinn"]
    reference = register(world)
    rid = world.record("1234AB")
    sar.attach_recording(system, pat, reference, rid, Actor("pat"))
    sar.mark_recording(system, pat, reference, rid, "reviewed_no_third_parties", Actor("pat"))
    with pytest.raises(Conflict, match="not been released"):
        sar.issue_code(system, pat, reference, Actor("pat"))
    sar.approve_request(system, quinn, reference, Actor("quinn"))
    released = release(world, reference)
    assert (
        not released.mailed and released.link and "no mail server" in (released.mail_problem or "")
    )
    token = released.link.rsplit("/", 1)[1]
    issued = sar.issue_code(system, pat, reference, Actor("pat"))
    session = recipients.prove_code(system, token, issued.code, JO)
    (item,) = recipients.view_share(system, token, session.secret, JO).items
    assert item.sha256 == world.row(rid).sha256
