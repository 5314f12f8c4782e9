"""Court bundles: a case's disclosable footage, its chain of custody and the proofs, as BagIt.

An export is decided and audited first (the case, each recording, in one transaction),
then a checkpoint is signed over the log including those events, then the bag is written
file by file to its target, streaming footage from the store, and sealed: the payload
manifest, the tag manifest, and the server's signature over the tag manifest. The target
publishes the bag under its real name only after its last byte (`bag_targets`).

The format is `custody.bundle.layout`'s, documented in docs/disclosure.md ("Court
bundles"); `custody.bundle.verify` checks it with nothing of the server.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from custody.audit import checkpoints as checkpoint_store
from custody.audit import proofs
from custody.audit.checkpoints import Checkpoint
from custody.audit.log import AuditEntry, hashed_fields
from custody.bundle import layout
from custody.db.models import AuditEvent
from custody.db.models.lifecycle import Case
from custody.domain import signing
from custody.domain.access import Action, Viewer
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.disclosure import Use, may_leave_the_force
from custody.domain.errors import Conflict, ContentMismatch, NotFound
from custody.domain.principal import Principal
from custody.services import access
from custody.services.disclosure import bundle_readme, continuity
from custody.services.disclosure.bag_targets import BagTarget
from custody.services.disclosure.bundle_answers import BundleMade
from custody.services.disclosure.bundle_contents import (
    FOOTAGE_INCLUDED,
    GONE,
    WITHHELD,
    BundledRecording,
    Contents,
    gather,
    parse_document,
    schedule_of,
    trail_events,
)
from custody.services.system import System, UnitOfWork

# (what is being written, bytes of footage written so far, bytes of footage in all).
Progress = Callable[[str, int, int], None]
TAG_CASE = "user:case:export"
TAG_RECORDING = "user:recording:export"


@dataclass
class Decided:
    """An export decided and audited: what it takes, as whom, and its own audit events."""

    contents: Contents
    viewer: Viewer
    made_at: datetime
    made_by: str
    # Its own audit events: their sequence numbers are known once the sequencer has
    # chained them, after the decision commits (see `export_seqs`).
    export_entries: list[AuditEntry]
    before: Checkpoint | None
    export_seqs: list[int] = field(default_factory=list)


def export_bundle(
    system: System,
    principal: Principal,
    case_id: int,
    actor: Actor,
    open_target: Callable[[datetime], BagTarget],
    progress: Progress | None = None,
) -> BundleMade:
    """Write the case's court bundle to the target `open_target` makes; audited first."""
    before = checkpoint_store.latest(system.sessions)
    with system.unit_of_work() as uow:
        decided = decide(uow, principal, case_id, actor, before)
        uow.commit()
    target = open_target(decided.made_at)
    try:
        made = write_bundle(system, decided, target, progress)
        target.publish()
    except BaseException:
        target.abandon()
        raise
    return made


def write_bundle(
    system: System, decided: Decided, target: BagTarget, progress: Progress | None = None
) -> BundleMade:
    """Write and seal the decided bundle into the target (the caller publishes it)."""
    if not decided.export_seqs:
        decided.export_seqs = system.seqs_of(decided.export_entries)
    newest = _checkpoint_covering(system, max(decided.export_seqs))
    writer = _Writer(system, target, decided.contents, progress)
    return writer.write(decided, newest)


def decide(
    uow: UnitOfWork,
    principal: Principal,
    case_id: int,
    actor: Actor,
    before: Checkpoint | None,
) -> Decided:
    """Check the person may export every item and audit the export (the caller commits)."""
    case = access.open_case(uow, principal, case_id)
    items = schedule_of(uow, case.id)
    if not items:
        raise Conflict(
            f"case {case.reference} has nothing on its disclosure schedule: mark its "
            "exhibits and unused material first"
        )
    leaving = sorted({item.recording_id for item in items if _may_leave(item.use)})
    for recording_id in leaving:
        access.open_recording(
            uow,
            principal,
            recording_id,
            Action.EXPORT,
            actor,
            TAG_RECORDING,
            allow_deleted=True,
        )
    viewer = access.viewer_for(uow, principal)
    contents = gather(uow, case, items)
    if not contents.recordings:
        raise Conflict(
            f"everything on the schedule of case {case.reference} is sensitive: "
            "sensitive material never leaves the force"
        )
    entries = [
        uow.audit(
            TAG_CASE,
            actor,
            object_type="case",
            object_id=str(case.id),
            details={
                "reference": case.reference,
                "recordings": [r.id for r in contents.recordings],
                "clips": [c.id for c in contents.clips],
                "redactions": [r.id for r in contents.redactions],
                "withheld": sum(1 for line in contents.schedule if line.status == WITHHELD),
            },
        )
    ]
    for recording in contents.recordings:
        entries.append(
            uow.audit(
                TAG_RECORDING,
                actor,
                object_type="recording",
                object_id=recording.id,
                details={"case": case.id, "reference": case.reference},
            )
        )
    return Decided(contents, viewer, uow.now(), actor.name, entries, before)


def _may_leave(use: str) -> bool:
    return may_leave_the_force(Use(use))


def _checkpoint_covering(system: System, seq: int) -> Checkpoint:
    """A signed checkpoint over the log up to `seq` at least (made now if need be)."""
    for _ in range(3):
        newest = checkpoint_store.latest(system.sessions)
        if newest is not None and newest.size >= seq:
            return newest
        checkpoint_store.publish(system.sessions, system.server_key, system.clock.now())
    raise Conflict("no checkpoint could be signed over the export: try again")


class _Writer:
    def __init__(
        self, system: System, target: BagTarget, contents: Contents, progress: Progress | None
    ) -> None:
        self.system = system
        self.target = target
        self.contents = contents
        self.progress = progress
        self.entries: list[tuple[str, str]] = []
        self.total = contents.footage_bytes
        self.done = 0
        self.payload_size = 0
        self.server_key = system.server_key.public_key()
        # (stem, public key file) of every signed document: the README's openssl commands.
        self.signed: list[tuple[str, str]] = []

    # --- files ---------------------------------------------------------------------------

    def add(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        digest, size = self.target.add(name, chunks)
        if name.startswith(layout.DATA):
            self.entries.append((name, digest))
            self.payload_size += size
        if self.progress is not None:
            self.progress(name, self.done, self.total)
        return digest, size

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add(name, [data])

    def add_json(self, name: str, document: object) -> None:
        self.add_bytes(name, _json(document))

    def add_signed(self, stem: str, text: str, key_file: str = layout.SERVER_KEY) -> None:
        """A signed document as issued, its canonical bytes and its raw signature."""
        self.signed.append((stem, key_file))
        document = parse_document(text)
        signed, canonical, signature = layout.signed_triple(stem)
        self.add_bytes(signed, text.encode("utf-8"))
        self.add_bytes(canonical, signing.canonical_bytes(document))
        self.add_bytes(signature, signing.b64decode(str(document[signing.SIGNATURE_FIELD])))

    def add_footage(self, name: str, sha256: str) -> None:
        def counted() -> Iterable[bytes]:
            for chunk in self.system.store.read(sha256):
                self.done += len(chunk)
                yield chunk

        digest, _ = self.add(name, counted())
        if digest != sha256:
            raise ContentMismatch(
                f"the stored object {sha256} no longer hashes to its name: the export stops "
                "(run the fixity check)"
            )

    def add_stored(self, name: str, sha256: str) -> None:
        """A small stored object (a redaction record) byte for byte, checked by its name."""
        digest, _ = self.add(name, self.system.store.read(sha256))
        if digest != sha256:
            raise ContentMismatch(
                f"the stored object {sha256} no longer hashes to its name: the export stops "
                "(run the fixity check)"
            )

    # --- the bag -------------------------------------------------------------------------

    def write(self, decided: Decided, newest: Checkpoint) -> BundleMade:
        contents = self.contents
        viewer, made_at, made_by = decided.viewer, decided.made_at, decided.made_by
        export_seqs, before = decided.export_seqs, decided.before
        leave_out = set(export_seqs)
        anchors: set[int] = set()
        listed: dict[str, list[int]] = {}
        anchor_of: dict[str, Checkpoint] = {}
        with self.system.unit_of_work() as uow:
            for recording in contents.recordings:
                recording.events = list(
                    trail_events(uow, viewer, recording.id, newest.size, leave_out)
                )
        for recording in contents.recordings:
            last = max((event.seq for event in recording.events), default=0)
            anchor = before if before is not None and last <= before.size else newest
            anchor_of[recording.id] = anchor
            anchors.add(anchor.id)
            listed[recording.id] = [event.seq for event in recording.events]
            self.recording(recording, anchor)
        for clip in contents.clips:
            folder = layout.clip_dir(clip.id)
            if not clip.deleted:
                self.add_footage(folder + "clip.mp4", clip.sha256)
            self.add_json(folder + "clip.json", clip.to_json())
        for copy in contents.redactions:
            folder = layout.redaction_dir(copy.id)
            self.add_footage(folder + layout.REDACTED_COPY, copy.sha256)
            self.add_stored(folder + layout.REDACTION_RECORD, copy.record_sha256)
            self.add_json(folder + layout.REDACTION_ENTRY, copy.to_json())
        written = {newest.id: newest}
        if before is not None and before.id in anchors:
            written[before.id] = before
        for checkpoint in written.values():
            self.add_signed(
                layout.checkpoint_stem(checkpoint.size), json.dumps(checkpoint.document())
            )
        if before is not None and before.id in anchors and before.size != newest.size:
            proof = proofs.consistency_proof(
                self.system.sessions, before.id, self.server_key, new_id=newest.id
            )
            self.add_json(layout.consistency_path(before.size, newest.size), proof)
        self.add_json(
            layout.EXPORT_EVENTS,
            {"events": self.proven(self.export_events(export_seqs), newest)},
        )
        index = self.index(made_at, made_by, export_seqs, newest, anchor_of, listed)
        self.add_json(layout.INDEX, index)
        self.add_bytes(layout.SCHEDULE_CSV, _schedule_csv(contents))
        self.add_bytes(
            layout.SERVER_KEY,
            self.server_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        )
        self.add_bytes(
            layout.CONTINUITY, continuity.render(contents, made_at, made_by, newest.size)
        )
        self.add_bytes(layout.README, bundle_readme.render(contents, made_at, self.signed))
        self.seal(made_at)
        deleted = sum(1 for line in contents.schedule if line.status == GONE)
        return BundleMade(
            case_id=contents.case_id,
            case_reference=contents.case_reference,
            recordings=len(contents.recordings),
            clips=len(contents.clips),
            redactions=len(contents.redactions),
            withheld=sum(1 for line in contents.schedule if line.status == WITHHELD),
            deleted=deleted,
            files=len(self.entries),
            bytes=self.payload_size,
            made_at=isoformat(made_at),
            made_by=made_by,
            newest_checkpoint_size=newest.size,
        )

    def recording(self, recording: BundledRecording, anchor: Checkpoint) -> None:
        folder = layout.recording_dir(recording.id)
        if recording.footage == FOOTAGE_INCLUDED:
            self.add_footage(folder + "original.mp4", recording.sha256)
        if recording.held and recording.camera_public_key:
            # A deleted recording's manifest lost its GPS track with it: no longer as signed.
            self.add_signed(
                folder + "camera-manifest",
                recording.manifest_document,
                folder + "camera-public-key.pem",
            )
            key = signing.load_public_key(recording.camera_public_key)
            self.add_bytes(
                folder + "camera-public-key.pem",
                key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            )
        self.add_signed(folder + "ingest-receipt", recording.receipt_document)
        if not recording.held and recording.deletion_certificate:
            self.add_signed(folder + "deletion-certificate", recording.deletion_certificate)
        self.add_json(
            folder + "audit-trail.json",
            {
                "format": layout.TRAIL_FORMAT,
                "recording_id": recording.id,
                "checkpoint_size": anchor.size,
                "events": self.proven(recording.events, anchor),
            },
        )

    def export_events(self, seqs: list[int]) -> list[AuditEvent]:
        with self.system.unit_of_work() as uow:
            return list(
                uow.session.scalars(
                    select(AuditEvent).where(AuditEvent.seq.in_(seqs)).order_by(AuditEvent.seq)
                )
            )

    def proven(self, events: list[AuditEvent], checkpoint: Checkpoint) -> list[dict[str, object]]:
        """Each event with its inclusion proof under the checkpoint (RFC 6962), from the
        stored tree: O(log n) node reads per event, whatever the log's size."""
        paths = proofs.inclusion_paths(
            self.system.sessions, [event.seq - 1 for event in events], checkpoint.size
        )
        return [
            {
                "event": {**hashed_fields(event), "hash": event.hash},
                "leaf_index": event.seq - 1,
                "audit_path": [node.hex() for node in paths[event.seq - 1]],
            }
            for event in events
        ]

    def index(
        self,
        made_at: datetime,
        made_by: str,
        export_seqs: list[int],
        newest: Checkpoint,
        anchor_of: dict[str, Checkpoint],
        listed: dict[str, list[int]],
    ) -> dict[str, object]:
        contents = self.contents
        return {
            "format": layout.BUNDLE_FORMAT,
            "case": {"reference": contents.case_reference, "title": contents.case_title},
            "made_at": isoformat(made_at),
            "made_by": made_by,
            "newest_checkpoint_size": newest.size,
            "schedule": [line.to_json() for line in contents.schedule],
            "recordings": [
                {
                    "id": r.id,
                    "sha256": r.sha256,
                    "size": r.size,
                    "state": "held" if r.held else "deleted",
                    "footage": r.footage,
                    "references": r.references,
                    "camera": r.camera_serial,
                    "officer": r.officer,
                    "started_at": isoformat(r.started_at),
                    "ended_at": isoformat(r.ended_at),
                    "stored_at": isoformat(r.stored_at),
                    "deleted_at": isoformat(r.deleted_at) if r.deleted_at else None,
                    "audit_checkpoint_size": anchor_of[r.id].size,
                    "audit_events": listed[r.id],
                }
                for r in contents.recordings
            ],
            "clips": [clip.to_json() for clip in contents.clips],
            "redactions": [copy.to_json() for copy in contents.redactions],
            "export_events": export_seqs,
        }

    def seal(self, made_at: datetime) -> None:
        """Manifests, then the server's signature over the tag manifest: the bag is closed."""
        manifest = layout.manifest_text(self.entries)
        info = layout.bag_info(
            [
                ("Source-Organization", "Custody evidence platform"),
                ("External-Identifier", self.contents.case_reference),
                ("External-Description", f"Court bundle of case {self.contents.case_reference}"),
                ("Bagging-Date", made_at.date().isoformat()),
                ("Custody-Bundle-Format", layout.BUNDLE_FORMAT),
                ("Payload-Oxum", f"{self.payload_size}.{len(self.entries)}"),
                ("Bag-Software-Agent", "custody"),
            ]
        )
        tags: list[tuple[str, str]] = []
        for name, data in (
            (layout.BAGIT_TXT, layout.bagit_txt()),
            (layout.BAG_INFO, info),
            (layout.MANIFEST, manifest),
        ):
            digest, _ = self.target.add(name, [data])
            tags.append((name, digest))
        tagmanifest = layout.manifest_text(tags)
        self.target.add(layout.TAGMANIFEST, [tagmanifest])
        self.target.add(layout.TAGMANIFEST_SIGNATURE, [self.system.server_key.sign(tagmanifest)])
        if self.progress is not None:
            self.progress(layout.TAGMANIFEST_SIGNATURE, self.done, self.total)


def case_named(system: System, principal: Principal, name: str) -> int:
    """A case's id from its id or its crime reference, if the person may know of it."""
    with system.unit_of_work() as uow:
        case_id = (
            int(name)
            if name.isdigit()
            else uow.session.scalar(select(Case.id).where(Case.reference == name.strip()))
        )
        if case_id is None:
            raise NotFound(f"no case {name}")
        return access.open_case(uow, principal, case_id).id


def _json(document: object) -> bytes:
    """JSON as people read it (the signed parts have their canonical bytes beside them)."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _schedule_csv(contents: Contents) -> bytes:
    """The schedule as the prosecution's spreadsheet reads it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(
        ["line", "reference", "use", "description", "recording", "clip", "status", "redaction"]
    )
    for line in contents.schedule:
        row = line.to_json()
        writer.writerow(
            [
                row["line"],
                row["reference"] or "",
                row["use_label"],
                row["description"],
                row["recording_id"] or "",
                row["clip_id"] or "",
                row["status"],
                row["redaction_id"] or "",
            ]
        )
    written: str = text.getvalue()
    return written.encode("utf-8")
