"""Sharing a case's exhibits with a prosecutor or defence: the officer's API, the recipient's
pages, the one-time code by real e-mail (aiosmtpd), and everything audited.

fran, a disclosure officer, works on dana's case; three of alice's recordings are in it,
marked on its schedule as exhibit LJ/1, unused — not sensitive, and unused — sensitive.
Priya Shah of the CPS receives what fran shares.

The schedule items are made here directly (the schedule's own service is the disclosure
area's `schedule` module); a share reads them as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from custody.db.models import AuditEvent
from custody.db.models.disclosure import ScheduleItem
from custody.db.models.shares import Share
from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.services.evidence import cases
from custody.services.identity import users
from custody.services.system import System
from tests.apps import app_for
from tests.mailbox import Mailbox, smtp_server
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

PRIYA = {"name": "Priya Shah", "email": "priya.shah@cps.example", "kind": "prosecutor"}
BROWSER = "Mozilla/5.0 (recipient test)"


@dataclass
class World:
    force: Force
    case_id: int
    recordings: list[str]
    footage: list[bytes]
    exhibit: int  # schedule item: exhibit LJ/1
    unused: int  # unused, not sensitive
    sensitive: int  # unused, sensitive

    @property
    def system(self) -> System:
        return self.force.system


def mark(system: System, case_id: int, recording_id: str, use: str, reference: str | None,
         description: str) -> int:  # fmt: skip
    """A line of the case's schedule, as the schedule's service would keep it."""
    with system.unit_of_work() as uow:
        item = ScheduleItem(
            case_id=case_id,
            recording_id=recording_id,
            clip_id=None,
            use=use,
            reference=reference,
            description=description,
            marked_by="user:fran",
            marked_at=uow.now(),
        )
        uow.session.add(item)
        uow.commit()
        return item.id


def make_world(system: System) -> World:
    force = make_force(system)
    footage = [os.urandom(60_000 + n) for n in range(3)]
    recordings = [store_recording(force, data) for data in footage]
    dana = users.principal_named(system, "dana")
    made = cases.create_case(
        system, dana, reference="01/123456/26", title="Robbery, Mare Street",
        actor=Actor("user:dana"), members=["fran"],
    )  # fmt: skip
    for rid in recordings:
        cases.add_to_case(system, dana, made.id, rid, None, Actor("user:dana"))
    return World(
        force,
        made.id,
        recordings,
        footage,
        mark(system, made.id, recordings[0], "exhibit", "LJ/1", "Arrest outside the shop"),
        mark(system, made.id, recordings[1], "unused_not_sensitive", None, "Walking back"),
        mark(system, made.id, recordings[2], "unused_sensitive", None, "Informant's address"),
    )


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def mail_to(system: System, box: Mailbox) -> None:
    system.settings.smtp_host = "127.0.0.1"
    system.settings.smtp_port = box.port
    system.settings.smtp_tls = "none"


@pytest.fixture
def world(sqlite_system: System) -> World:
    return world_of(make_world, sqlite_system)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(
        app_for(world.system), follow_redirects=False, headers={"User-Agent": BROWSER}
    ) as test_client:
        yield test_client


def share(client: TestClient, world: World, items: list[int], **terms: object) -> Response:
    return client.post(
        f"/api/v1/cases/{world.case_id}/shares",
        headers=world.force.auth("fran"),
        json={"recipient": PRIYA, "items": items, **terms},
    )


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


PAGE = {"Accept": "text/html"}


def prove(client: TestClient, box: Mailbox, path: str, mails_before: int) -> Response:
    """Ask for a code, read it from the mailbox and prove it: the session's answer."""
    asked = client.post(f"{path}/code", headers=PAGE)
    assert asked.status_code == 200, asked.text
    box.wait_for(mails_before + 1)
    code = box.code(mails_before)
    proved = client.post(f"{path}/verify", data={"code": code}, headers=PAGE)
    assert proved.status_code == 303, proved.text
    return proved


def events(system: System, **where: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(uow.session.scalars(query))


# --- the whole path ----------------------------------------------------------------------


@pytest.fixture
def any_world(system: System) -> World:
    return world_of(make_world, system)


def test_a_prosecutor_proves_the_code_watches_downloads_and_acknowledges(
    any_world: World, mailbox: Mailbox
) -> None:
    world = any_world
    mail_to(world.system, mailbox)
    with TestClient(
        app_for(world.system), follow_redirects=False, headers={"User-Agent": BROWSER}
    ) as client:
        made = share(client, world, [world.exhibit, world.unused], downloads_allowed=True)
        assert made.status_code == 201, made.text
        answer = made.json()
        assert answer["mailed"] is True and answer["link"] is None
        share_id = answer["share"]["id"]
        assert [i["reference"] for i in answer["share"]["shared_items"]] == ["LJ/1", None]

        (letter,) = mailbox.wait_for(1)
        assert "priya.shah@cps.example" in str(letter["To"])
        path = path_of(mailbox.link(0))
        token = path.rsplit("/", 1)[1]
        with world.system.unit_of_work() as uow:
            stored = uow.session.get(Share, share_id)
            assert stored is not None
            # Only the token's hash is kept.
            assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in json.dumps([e.details for e in events(world.system)])

        first = client.get(path, headers=PAGE)
        assert first.status_code == 200
        assert "p***@cps.example" in first.text and "Robbery" not in first.text
        assert first.headers["referrer-policy"] == "no-referrer"
        assert first.headers["cache-control"] == "no-store"

        proved = prove(client, mailbox, path, 1)
        cookie = proved.headers["set-cookie"]
        assert f"Path={path}" in cookie and "HttpOnly" in cookie

        items = client.get(path, headers=PAGE)
        assert items.status_code == 200
        assert "Robbery, Mare Street" in items.text and "LJ/1" in items.text
        assert "Informant" not in items.text  # the sensitive item never shows
        item_ids = [int(n) for n in re.findall(r"/items/(\d+)/play", items.text)]
        assert len(item_ids) == 2

        played = client.get(f"{path}/items/{item_ids[0]}/play", headers={"Range": "bytes=0-99"})
        assert played.status_code == 206
        assert played.content == world.footage[0][:100]
        assert played.headers["content-disposition"].startswith("inline")
        copy = client.get(f"{path}/items/{item_ids[0]}/download")
        assert copy.status_code == 200
        assert (
            hashlib.sha256(copy.content).hexdigest() == hashlib.sha256(world.footage[0]).hexdigest()
        )
        assert 'filename="LJ-1.mp4"' in copy.headers["content-disposition"]

        page = client.get(path, headers=PAGE)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        refused = client.post(f"{path}/acknowledge", data={"csrf_token": "forged"}, headers=PAGE)
        assert refused.status_code == 403
        acknowledged = client.post(
            f"{path}/acknowledge", data={"csrf_token": csrf.group(1)}, headers=PAGE
        )
        assert acknowledged.status_code == 303
        receipt = client.get(f"{path}/receipt.json").json()
        key = signing.load_public_key(receipt["server_key"])
        signing.verify(receipt, key)  # raises if the signature does not hold
        assert key.public_bytes_raw() == world.system.server_key.public_key().public_bytes_raw()
        assert receipt["recipient"]["email"] == "priya.shah@cps.example"
        assert receipt["user_agent"] == BROWSER and receipt["address"]
        assert [i["sha256"] for i in receipt["items"]] == [
            hashlib.sha256(world.footage[n]).hexdigest() for n in (0, 1)
        ]
        assert client.get(f"{path}/receipt.pdf").content.startswith(b"%PDF")

        # The officer sees who opened what, and when, and the receipt on the case.
        seen = client.get(f"/api/v1/shares/{share_id}", headers=world.force.auth("fran")).json()
        assert seen["acknowledged_at"] is not None and len(seen["receipts"]) == 1
        whats = [e["what"] for e in seen["activity"]]
        for tag in (
            "user:share:create",
            "system:share:mail",
            "recipient:share:link",
            "recipient:share:code",
            "recipient:share:prove",
            "recipient:share:open",
            "recipient:recording:stream",
            "recipient:recording:download",
            "recipient:share:acknowledge",
        ):
            assert tag in whats, (tag, whats)
        for event in seen["activity"]:
            if event["what"].startswith("recipient:"):
                assert event["user_agent"] == BROWSER and event["address"], event
        downloaded = next(e for e in seen["activity"] if e["what"].endswith(":download"))
        assert downloaded["item"] == "LJ/1"
        signed = client.get(
            f"/api/v1/shares/{share_id}/receipts/{seen['receipts'][0]['id']}",
            headers=world.force.auth("fran"),
        ).json()
        assert signed == receipt
        # The recording's own trail says it left, and to whom.
        trail = [e.tag for e in events(world.system, object_id=world.recordings[0])]
        assert "user:recording:share" in trail and "recipient:recording:download" in trail


# --- refusals ----------------------------------------------------------------------------


def test_sensitive_material_is_refused_by_name_and_nothing_is_shared(
    client: TestClient, world: World
) -> None:
    refused = share(client, world, [world.exhibit, world.sensitive])
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "sensitive_material"
    assert "Informant's address" in error["message"] and "sensitive" in error["message"]
    with world.system.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Share)) == 0
    (attempt,) = [e for e in events(world.system, tag="user:share:create")]
    assert attempt.allowed is False and "sensitive" in (attempt.reason or "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient": {**PRIYA, "email": "not an address"}, "items": [1]}, "e-mail"),
        ({"recipient": {**PRIYA, "kind": "judge"}, "items": [1]}, "kind"),
        ({"recipient": PRIYA, "items": []}, "items"),
        ({"recipient": PRIYA, "items": [1], "days": 0}, "days"),
        ({"recipient": PRIYA, "items": [1], "download_limit": 2}, "download limit"),
        ({"recipient": PRIYA, "items": [999999]}, "not on the schedule"),
    ],
)
def test_bad_shares_are_refused_and_change_nothing(
    client: TestClient, world: World, body: dict[str, object], field: str
) -> None:
    answer = client.post(
        f"/api/v1/cases/{world.case_id}/shares", headers=world.force.auth("fran"), json=body
    )
    assert answer.status_code in (400, 422), answer.text
    assert field in answer.text
    with world.system.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Share)) == 0


def test_wrong_codes_are_throttled_and_a_code_dies_after_a_few(
    any_world: World, mailbox: Mailbox
) -> None:
    world = any_world
    mail_to(world.system, mailbox)
    clock = world.system.clock
    assert isinstance(clock, ManualClock)
    with TestClient(app_for(world.system), follow_redirects=False) as client:
        assert share(client, world, [world.exhibit]).status_code == 201
        path = path_of(mailbox.wait_for(1) and mailbox.link(0))
        assert client.post(f"{path}/code").status_code == 200
        right = mailbox.wait_for(2) and mailbox.code(1)
        wrong = "0" * len(right) if right != "0" * len(right) else "1" * len(right)
        for _ in range(5):
            answer = client.post(f"{path}/verify", data={"code": wrong})
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "wrong_code"
        throttled = client.post(f"{path}/verify", data={"code": right})
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "too_many_codes"
        assert int(throttled.headers["retry-after"]) > 0
        assert "custody_share" not in throttled.headers.get("set-cookie", "")
        # After the wait, the old code is void (five wrong tries): a new one opens the share.
        clock.advance(timedelta(minutes=6))
        dead = client.post(f"{path}/verify", data={"code": right})
        assert dead.status_code == 403 and "expired" in dead.json()["error"]["message"]
        clock.advance(timedelta(minutes=11))
        assert client.post(f"{path}/code").status_code == 200
        fresh = mailbox.wait_for(3) and mailbox.code(2)
        opened = client.post(f"{path}/verify", data={"code": fresh})
        assert opened.status_code == 303
        # A code works once.
        again = client.post(f"{path}/verify", data={"code": fresh})
        assert again.status_code == 403
    proves = events(world.system, tag="recipient:share:prove")
    assert [e.allowed for e in proves].count(True) == 1
    assert any(e.reason and "throttled" in e.reason for e in proves)
    assert all(e.address for e in proves)


def test_expired_and_revoked_links_die_and_say_nothing_else(
    client: TestClient, world: World, mailbox: Mailbox
) -> None:
    mail_to(world.system, mailbox)
    clock = world.system.clock
    assert isinstance(clock, ManualClock)
    soon = share(client, world, [world.exhibit], days=1).json()["share"]["id"]
    later = share(client, world, [world.exhibit]).json()["share"]["id"]
    mailbox.wait_for(2)
    paths = {}
    for n in range(2):
        link = path_of(mailbox.link(n))
        paths[n] = link
    prove(client, mailbox, paths[0], 2)
    item = client.get(paths[0], headers=PAGE)
    item_id = re.findall(r"/items/(\d+)/play", item.text)[0]
    never = client.get("/shared/" + "A" * 43, headers=PAGE)
    assert never.status_code == 404

    clock.advance(timedelta(days=1, seconds=1))
    ended = client.get(paths[0], headers=PAGE)
    assert ended.status_code == 404 and ended.text == never.text
    assert "This link has ended" in ended.text
    assert ended.headers["referrer-policy"] == "no-referrer"
    gone = client.get(f"{paths[0]}/items/{item_id}/play")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "share_ended"
    expiries = events(world.system, tag="system:share:expire")
    assert [e.object_id for e in expiries] == [str(soon)]

    revoked = client.post(
        f"/api/v1/shares/{later}/revoke",
        headers=world.force.auth("fran"),
        json={"reason": "sent to the wrong lawyer"},
    )
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    dead = client.get(paths[1], headers=PAGE)
    assert dead.status_code == 404 and dead.text == never.text
    assert client.post(f"{paths[1]}/code").status_code == 404
    twice = client.post(
        f"/api/v1/shares/{later}/revoke", headers=world.force.auth("fran"), json={"reason": "x"}
    )
    assert twice.status_code == 409
    (revocation,) = events(world.system, tag="user:share:revoke")
    assert revocation.reason == "sent to the wrong lawyer" and revocation.actor == "user:fran"
    refusals = [e for e in events(world.system, tag="recipient:share:open") if not e.allowed]
    assert {e.reason for e in refusals} == {"the share has expired", "the share was revoked"}


def test_downloads_are_counted_against_the_limit_and_view_only_means_view_only(
    client: TestClient, world: World, mailbox: Mailbox
) -> None:
    mail_to(world.system, mailbox)
    share(client, world, [world.exhibit], downloads_allowed=True, download_limit=1)
    share(client, world, [world.exhibit])  # view only
    mailbox.wait_for(2)
    limited, view_only = path_of(mailbox.link(0)), path_of(mailbox.link(1))
    prove(client, mailbox, limited, 2)
    prove(client, mailbox, view_only, 3)
    limited_item = re.findall(r"/items/(\d+)/play", client.get(limited, headers=PAGE).text)[0]
    view_item = re.findall(r"/items/(\d+)/play", client.get(view_only, headers=PAGE).text)[0]

    assert client.get(f"{limited}/items/{limited_item}/download").status_code == 200
    second = client.get(f"{limited}/items/{limited_item}/download")
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "download_limit_reached"
    assert client.get(f"{limited}/items/{limited_item}/play").status_code == 206

    refused = client.get(f"{view_only}/items/{view_item}/download")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "downloads_not_allowed"
    assert client.get(f"{view_only}/items/{view_item}/play").status_code == 206
    assert "Download" not in client.get(view_only, headers=PAGE).text

    downloads = events(world.system, tag="recipient:recording:download")
    assert [e.allowed for e in downloads] == [True, False, False]


def test_a_recipient_reaches_nothing_but_their_own_items(
    client: TestClient, world: World, mailbox: Mailbox
) -> None:
    mail_to(world.system, mailbox)
    share(client, world, [world.exhibit])
    share(client, world, [world.unused])
    mailbox.wait_for(2)
    mine, theirs = path_of(mailbox.link(0)), path_of(mailbox.link(1))
    secret = prove(client, mailbox, mine, 2).cookies["custody_share"]
    theirs_item = None
    prove(client, mailbox, theirs, 3)
    theirs_item = re.findall(r"/items/(\d+)/play", client.get(theirs, headers=PAGE).text)[0]
    client.cookies.clear()
    cookie = {"Cookie": f"custody_share={secret}"}

    # Another share's item, through my link and session: no such item.
    other = client.get(f"{mine}/items/{theirs_item}/play", headers=cookie)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    # My session on another share's link opens nothing there.
    elsewhere = client.get(f"{theirs}/items/{theirs_item}/play", headers=cookie)
    assert elsewhere.status_code == 401
    assert client.get(theirs, headers={**cookie, **PAGE}).text.count("One-time code") == 1
    # Nothing else of Custody takes the recipient's cookie.
    for path in (
        "/api/v1/recordings",
        f"/api/v1/cases/{world.case_id}/shares",
        f"/api/v1/recordings/{world.recordings[0]}/media",
        "/api/v1/me",
    ):
        assert client.get(path, headers=cookie).status_code == 401, path
    portal = client.get(f"/cases/{world.case_id}", headers={**cookie, **PAGE})
    assert portal.status_code == 303 and portal.headers["location"].startswith("/login")


def test_others_do_not_learn_of_a_share(client: TestClient, world: World) -> None:
    """bob supervises and may see cases, but not dana's: her share is "no share" to him."""
    made = share(client, world, [world.exhibit])
    assert made.status_code == 201
    share_id = made.json()["share"]["id"]
    assert made.json()["link"].startswith("http://testserver/shared/")  # no mail set up
    bob = world.force.auth("bob")
    missing = client.get(f"/api/v1/shares/{share_id}", headers=bob)
    never = client.get("/api/v1/shares/99999", headers=bob)
    assert missing.status_code == never.status_code == 404
    assert missing.json()["error"]["message"] == f"no share {share_id}"
    assert client.get(f"/api/v1/cases/{world.case_id}/shares", headers=bob).status_code == 404
    revoke = client.post(f"/api/v1/shares/{share_id}/revoke", headers=bob, json={"reason": "x"})
    assert revoke.status_code == 404
    listed = client.get(f"/api/v1/cases/{world.case_id}/shares", headers=world.force.auth("dana"))
    assert [s["id"] for s in listed.json()] == [share_id]


def test_without_mail_the_officer_sends_the_link_and_reads_out_a_code(
    client: TestClient, world: World
) -> None:
    made = share(client, world, [world.exhibit]).json()
    assert made["mailed"] is False and "no mail server" in made["mail_problem"]
    path = path_of(made["link"])
    first = client.get(path, headers=PAGE)
    assert "Ask the person who shared this" in first.text
    assert client.post(f"{path}/code").status_code == 502
    code = client.post(
        f"/api/v1/shares/{made['share']['id']}/code", headers=world.force.auth("fran")
    ).json()["code"]
    assert client.post(f"{path}/verify", data={"code": code}).status_code == 303
    assert "LJ/1" in client.get(path, headers=PAGE).text


def test_the_officer_shares_and_revokes_in_the_portal(
    client: TestClient, world: World, mailbox: Mailbox
) -> None:
    from custody.services.identity import signin
    from custody.web.deps import SESSION_COOKIE
    from tests.factories import give_password

    give_password(world.system, world.force.admin, "fran", "a long test password")
    signed = signin.sign_in(world.system, "fran", "a long test password")
    client.cookies.set(SESSION_COOKIE, signed.secret)
    csrf = signed.session.csrf_token
    form = client.get(f"/cases/{world.case_id}/shares", headers=PAGE)
    assert form.status_code == 200
    assert re.search(rf'value="{world.sensitive}"[^>]* disabled', form.text)
    refused = client.post(
        f"/cases/{world.case_id}/shares",
        data={"csrf_token": csrf, "items": [str(world.sensitive)], "name": "Priya Shah",
              "email": "priya.shah@cps.example", "kind": "prosecutor", "days": "30"},
        headers=PAGE,
    )  # fmt: skip
    assert refused.status_code == 400 and "Informant&#39;s address" in refused.text
    made = client.post(
        f"/cases/{world.case_id}/shares",
        data={"csrf_token": csrf, "items": [str(world.exhibit)], "name": "Priya Shah",
              "email": "priya.shah@cps.example", "kind": "prosecutor", "days": "30"},
        headers=PAGE,
    )  # fmt: skip
    # No mail set up: the link is shown, this once.
    assert made.status_code == 201 and "/shared/" in made.text
    share_id = int(re.findall(r'action="/shares/(\d+)/revoke"', made.text)[0])
    link = re.findall(r'<code id="share-link">([^<]+)</code>', made.text)[0]
    assert client.get(f"/shares/{share_id}", headers=PAGE).text.count(link) == 0
    revoked = client.post(
        f"/shares/{share_id}/revoke", data={"csrf_token": csrf, "reason": "wrong case"}
    )
    assert revoked.status_code == 303
    page = client.get(f"/shares/{share_id}", headers=PAGE)
    assert "revoked by fran" in page.text and "user:share:revoke" in page.text
    client.cookies.clear()
    assert client.get(path_of(link), headers=PAGE).status_code == 404


def test_the_sweep_records_each_expiry_once(client: TestClient, world: World) -> None:
    from custody.db.models.shares import ShareSession
    from custody.services.disclosure import shares as share_service

    clock = world.system.clock
    assert isinstance(clock, ManualClock)
    share(client, world, [world.exhibit], days=2)
    made = share(client, world, [world.exhibit], days=5).json()
    code = client.post(
        f"/api/v1/shares/{made['share']['id']}/code", headers=world.force.auth("fran")
    ).json()["code"]
    path = path_of(made["link"])
    assert client.post(f"{path}/verify", data={"code": code}).status_code == 303
    clock.advance(timedelta(days=3))
    assert share_service.expire_due(world.system) == 1
    with world.system.unit_of_work() as uow:  # the recipient's day-long session is over
        assert uow.session.scalar(select(func.count()).select_from(ShareSession)) == 0
    assert share_service.expire_due(world.system) == 0
    clock.advance(timedelta(days=3))
    assert share_service.expire_due(world.system) == 1
    assert len(events(world.system, tag="system:share:expire")) == 2
    states = client.get(
        f"/api/v1/cases/{world.case_id}/shares", headers=world.force.auth("fran")
    ).json()
    assert [s["state"] for s in states] == ["expired", "expired"]


def test_a_clip_is_shared_as_its_own_object_and_deleted_footage_is_not_served(
    client: TestClient, world: World
) -> None:
    from custody.db.models import Recording
    from custody.db.models.disclosure import Clip

    cut = os.urandom(9_000)
    stored = world.system.store.put_stream([cut])
    with world.system.unit_of_work() as uow:
        uow.session.add(
            Clip(
                id="7d6c1c1e-0000-4000-8000-00000000c11d",
                recording_id=world.recordings[1],
                original_sha256=hashlib.sha256(world.footage[1]).hexdigest(),
                in_seconds=1.0,
                out_seconds=3.0,
                cut_start_seconds=0.9,
                method="stream-copy",
                sha256=stored.sha256,
                size=len(cut),
                duration_seconds=2.1,
                title="The arrest",
                made_by="user:dana",
                made_at=uow.now(),
            )
        )
        uow.commit()
    with world.system.unit_of_work() as uow:
        clip_item = ScheduleItem(
            case_id=world.case_id,
            recording_id=world.recordings[1],
            clip_id="7d6c1c1e-0000-4000-8000-00000000c11d",
            use="exhibit",
            reference="LJ/2",
            description="The arrest, cut",
            marked_by="user:fran",
            marked_at=uow.now(),
        )
        uow.session.add(clip_item)
        uow.commit()
        clip_item_id = clip_item.id
    made = share(client, world, [clip_item_id, world.exhibit], downloads_allowed=True).json()
    items = made["share"]["shared_items"]
    assert items[0]["kind"] == "clip" and items[0]["sha256"] == hashlib.sha256(cut).hexdigest()
    path = path_of(made["link"])
    code = client.post(
        f"/api/v1/shares/{made['share']['id']}/code", headers=world.force.auth("fran")
    ).json()["code"]
    assert client.post(f"{path}/verify", data={"code": code}).status_code == 303
    got = client.get(f"{path}/items/{items[0]['id']}/download")
    assert got.status_code == 200 and got.content == cut

    # The original is deleted under the retention rules: the share no longer serves it.
    with world.system.unit_of_work() as uow:
        recording = uow.session.get(Recording, world.recordings[0])
        assert recording is not None
        recording.state = "deleted"
        uow.commit()
    # For that item the link has ended, said as an expired link says it.
    gone = client.get(f"{path}/items/{items[1]['id']}/play")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "share_ended"


def test_a_new_code_waits_a_moment_after_the_last(
    client: TestClient, world: World, mailbox: Mailbox
) -> None:
    mail_to(world.system, mailbox)
    share(client, world, [world.exhibit])
    path = path_of(mailbox.wait_for(1) and mailbox.link(0))
    assert client.post(f"{path}/code").status_code == 200
    again = client.post(f"{path}/code")
    assert again.status_code == 429 and again.json()["error"]["code"] == "code_sent_recently"
    assert len(mailbox.messages) == 2
    clock = world.system.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(seconds=31))
    assert client.post(f"{path}/code").status_code == 200
    mailbox.wait_for(3)
    # And each next one waits twice as long: the mailbox is no target to flood.
    later = client.post(f"{path}/code")
    assert later.status_code == 429 and int(later.headers["retry-after"]) == 60
    assert len(mailbox.messages) == 3
    # Only the newest code opens the share.
    assert client.post(f"{path}/verify", data={"code": mailbox.code(1)}).status_code == 403


def test_a_case_member_who_may_only_watch_may_not_share(client: TestClient, world: World) -> None:
    """bob, a supervisor named on the case, may watch its footage but not send it out."""
    dana = users.principal_named(world.system, "dana")
    cases.add_case_member(world.system, dana, world.case_id, "bob", Actor("user:dana"))
    refused = client.post(
        f"/api/v1/cases/{world.case_id}/shares",
        headers=world.force.auth("bob"),
        json={"recipient": PRIYA, "items": [world.exhibit]},
    )
    assert refused.status_code == 403, refused.text
    assert "may not share" in refused.json()["error"]["message"]
    with world.system.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Share)) == 0
    (attempt,) = events(world.system, tag="user:recording:share")
    assert attempt.allowed is False and attempt.actor == "user:bob"
