"""`custody bundle verify`: check a court bundle with the server's public key alone.

Every hash, every signature and every proof, in an order that names the first thing that
fails: the bag's structure, the server's seal over its manifests, each file's SHA-256, then
what the files say — camera manifests, ingest receipts, deletion certificates, audit trails
with their inclusion proofs, signed checkpoints and the consistency proof between them.
No database, no network: the same check a defence expert can repeat with `sha256sum` and
`openssl` (the bundle's README), plus the Merkle proofs those tools cannot do.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from custody.bundle import layout
from custody.bundle.parts import describe
from custody.bundle.reader import Bag, blocks, open_bag, read_bytes
from custody.bundle.redacted import check_copy
from custody.domain import merkle, signing

# (bytes hashed so far, bytes to hash in all): for a progress bar.
Progress = Callable[[int, int], None]

CHECKPOINT_LOG = "custody-audit"
# The fields an audit event's hash covers (docs/audit.md).
EVENT_FIELDS = (
    "seq",
    "at",
    "tag",
    "actor",
    "object_type",
    "object_id",
    "allowed",
    "reason",
    "address",
    "user_agent",
    "details",
    "prev_hash",
)


@dataclass(frozen=True)
class Failure:
    """The first thing that did not hold: which part of the bundle, and what is wrong."""

    part: str
    problem: str

    def __str__(self) -> str:
        return f"{self.part}: {self.problem}"


@dataclass
class Verdict:
    failure: Failure | None = None
    files: int = 0
    bytes: int = 0
    signatures: int = 0
    proofs: int = 0
    recordings: int = 0
    clips: int = 0
    redactions: int = 0

    @property
    def intact(self) -> bool:
        return self.failure is None


class _Failed(Exception):
    def __init__(self, part: str, problem: str) -> None:
        super().__init__(f"{part}: {problem}")
        self.failure = Failure(part, problem)


def verify_bundle(
    path: Path, public_key: Ed25519PublicKey | None = None, progress: Progress | None = None
) -> Verdict:
    """Check the bundle at `path` (a folder or a zip); the verdict names the first failure.

    Pass the server's public key obtained independently (the force publishes it) to prove
    where the bundle came from; without it the key inside the bundle is used, which proves
    only that the bundle is whole and consistent with itself.
    """
    verdict = Verdict()
    try:
        bag = open_bag(path)
    except (OSError, ValueError) as exc:
        verdict.failure = Failure(str(path), f"cannot be read as a bundle ({exc})")
        return verdict
    try:
        _Check(bag, verdict, public_key, progress).run()
    except _Failed as failed:
        verdict.failure = failed.failure
    finally:
        bag.close()
    return verdict


@dataclass
class _Checkpoint:
    size: int
    root: bytes
    document: dict[str, Any]


@dataclass
class _Check:
    bag: Bag
    verdict: Verdict
    pinned: Ed25519PublicKey | None
    progress: Progress | None
    hashes: dict[str, str] = field(default_factory=dict)
    checkpoints: dict[int, _Checkpoint] = field(default_factory=dict)

    def run(self) -> None:
        self.structure()
        key = self.server_key()
        self.seal(key)
        self.tag_files()
        self.payload()
        index = self.index()
        newest = self.checkpoint(int(_field(index, "newest_checkpoint_size", layout.INDEX)), key)
        recordings = {}
        for recording in _list(index, "recordings"):
            recordings[str(recording.get("id"))] = recording
            self.recording(recording, key, newest)
            self.verdict.recordings += 1
        for clip in _list(index, "clips"):
            self.clip(clip, recordings)
            self.verdict.clips += 1
        copies = index.get("redactions", [])  # bundles made before copies had none
        if not isinstance(copies, list):
            raise _Failed(describe(layout.INDEX), "has no list redactions")
        for copy in copies:
            problem = check_copy(copy if isinstance(copy, dict) else {}, self.json,
                                 self.hashes, recordings)  # fmt: skip
            if problem is not None:
                raise _Failed(*problem)
            self.verdict.redactions += 1
        self.export_events(index, newest)

    # --- the bag -------------------------------------------------------------------------

    def structure(self) -> None:
        for name in (layout.BAGIT_TXT, layout.MANIFEST, layout.TAGMANIFEST):
            if not self.bag.exists(name):
                raise _Failed(describe(name), "is missing")
        declared = read_bytes(self.bag, layout.BAGIT_TXT).decode("utf-8", "replace")
        if f"BagIt-Version: {layout.BAGIT_VERSION}" not in declared:
            raise _Failed(describe(layout.BAGIT_TXT), "does not declare BagIt 1.0")

    def server_key(self) -> Ed25519PublicKey:
        part = describe(layout.SERVER_KEY)
        if not self.bag.exists(layout.SERVER_KEY):
            raise _Failed(part, "is missing")
        key = _pem_key(read_bytes(self.bag, layout.SERVER_KEY), part)
        if self.pinned is not None and _raw(self.pinned) != _raw(key):
            raise _Failed(part, "is not the key you gave: the bundle was sealed by another key")
        return self.pinned or key

    def seal(self, key: Ed25519PublicKey) -> None:
        part = describe(layout.TAGMANIFEST_SIGNATURE)
        if not self.bag.exists(layout.TAGMANIFEST_SIGNATURE):
            raise _Failed(part, "is missing")
        signature = read_bytes(self.bag, layout.TAGMANIFEST_SIGNATURE)
        sealed = read_bytes(self.bag, layout.TAGMANIFEST)
        if not _signed_by(key, signature, sealed):
            raise _Failed(
                describe(layout.TAGMANIFEST),
                "the server's signature over it does not verify: the manifests were changed "
                "after the bundle was made",
            )
        self.verdict.signatures += 1

    def tag_files(self) -> None:
        entries = self.manifest_entries(layout.TAGMANIFEST)
        listed = {path for path, _ in entries}
        if layout.MANIFEST not in listed:
            raise _Failed(describe(layout.TAGMANIFEST), "does not list manifest-sha256.txt")
        for path, digest in entries:
            if not self.bag.exists(path):
                raise _Failed(describe(path), "is missing")
            if _sha256(self.bag, path) != digest:
                raise _Failed(describe(path), f"its SHA-256 does not match {layout.TAGMANIFEST}")

    def manifest_entries(self, name: str) -> list[tuple[str, str]]:
        try:
            return layout.parse_manifest(read_bytes(self.bag, name))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Failed(describe(name), f"is not a BagIt manifest ({exc})") from None

    def payload(self) -> None:
        entries = self.manifest_entries(layout.MANIFEST)
        listed = dict(entries)
        if len(listed) != len(entries):
            raise _Failed(describe(layout.MANIFEST), "lists a file twice")
        for path in listed:
            if not layout.is_safe_name(path):
                raise _Failed(describe(layout.MANIFEST), f"lists {path!r}, outside data/")
            if not self.bag.exists(path):
                raise _Failed(describe(path), f"is missing (it is listed in {layout.MANIFEST})")
        present = [name for name in self.bag.names() if name.startswith(layout.DATA)]
        for name in present:
            if name not in listed:
                raise _Failed(describe(name), f"is not listed in {layout.MANIFEST}")
        sizes = self._oxum()
        total = sizes[0] if sizes else 0
        done = 0
        for path, digest in sorted(listed.items()):
            digest_found, size = _sha256_sized(self.bag, path)
            if digest_found != digest:
                raise _Failed(describe(path), f"its SHA-256 does not match {layout.MANIFEST}")
            self.hashes[path] = digest_found
            done += size
            self.verdict.files += 1
            if self.progress is not None:
                self.progress(done, max(total, done))
        self.verdict.bytes = done
        if sizes is not None and sizes != (done, len(listed)):
            raise _Failed(
                describe(layout.BAG_INFO),
                f"its Payload-Oxum says {sizes[0]}.{sizes[1]}, the payload is {done}.{len(listed)}",
            )

    def _oxum(self) -> tuple[int, int] | None:
        if not self.bag.exists(layout.BAG_INFO):
            return None
        for line in read_bytes(self.bag, layout.BAG_INFO).decode("utf-8", "replace").splitlines():
            label, _, value = line.partition(":")
            if label.strip() == "Payload-Oxum":
                octets, _, files = value.strip().partition(".")
                try:
                    return int(octets), int(files)
                except ValueError:
                    raise _Failed(
                        describe(layout.BAG_INFO), "has a malformed Payload-Oxum"
                    ) from None
        return None

    # --- what the files say ------------------------------------------------------------

    def index(self) -> dict[str, Any]:
        index = self.json(layout.INDEX)
        if index.get("format") != layout.BUNDLE_FORMAT:
            raise _Failed(describe(layout.INDEX), f"is not a {layout.BUNDLE_FORMAT} index")
        return index

    def json(self, path: str) -> dict[str, Any]:
        if path not in self.hashes:
            raise _Failed(describe(path), "is missing")
        try:
            document = json.loads(read_bytes(self.bag, path))
        except (ValueError, UnicodeDecodeError):
            raise _Failed(describe(path), "is not JSON") from None
        if not isinstance(document, dict):
            raise _Failed(describe(path), "is not a JSON object")
        return document

    def signed(self, stem: str, key: Ed25519PublicKey) -> dict[str, Any]:
        """A signed document, checked three ways: signature, canonical bytes, raw signature."""
        document_path, canonical_path, signature_path = layout.signed_triple(stem)
        document = self.json(document_path)
        for path in (canonical_path, signature_path):
            if path not in self.hashes:
                raise _Failed(describe(path), "is missing")
        canonical = read_bytes(self.bag, canonical_path)
        if canonical != signing.canonical_bytes(document):
            raise _Failed(describe(canonical_path), f"is not the canonical form of {document_path}")
        raw = read_bytes(self.bag, signature_path)
        stated = document.get(signing.SIGNATURE_FIELD)
        try:
            decoded = base64.b64decode(str(stated), validate=True)
        except ValueError:
            decoded = b""
        if raw != decoded:
            raise _Failed(describe(signature_path), f"is not the signature in {document_path}")
        if not _signed_by(key, raw, canonical):
            raise _Failed(describe(document_path), "its signature does not verify")
        self.verdict.signatures += 1
        return document

    def checkpoint(self, size: int, key: Ed25519PublicKey) -> _Checkpoint:
        if size in self.checkpoints:
            return self.checkpoints[size]
        stem = layout.checkpoint_stem(size)
        document = self.signed(stem, key)
        part = describe(stem + layout.SIGNED)
        if document.get("log") != CHECKPOINT_LOG or document.get("size") != size:
            raise _Failed(part, f"is not the checkpoint of the audit log over {size} events")
        root = _hex(document.get("root"), part, "root")
        found = _Checkpoint(size, root, document)
        self.checkpoints[size] = found
        return found

    def recording(
        self, recording: dict[str, Any], key: Ed25519PublicKey, newest: _Checkpoint
    ) -> None:
        recording_id = str(recording.get("id"))
        if not layout.looks_like_uuid(recording_id):
            raise _Failed(describe(layout.INDEX), f"names a recording {recording_id!r}")
        folder = layout.recording_dir(recording_id)
        sha256, size = str(recording.get("sha256")), recording.get("size")
        footage = folder + "original.mp4"
        held = recording.get("state") == "held"
        if held:
            # Only a clip or a redacted copy of it in the bundle: its manifest and receipt
            # come, to check the copy's link by hash against, but not its footage.
            if recording.get("footage") != "not included":
                if footage not in self.hashes:
                    raise _Failed(describe(footage), "is missing")
                if self.hashes[footage] != sha256:
                    raise _Failed(describe(footage), "is not the recording the index names")
            manifest = self.signed(
                folder + "camera-manifest", self.camera_key(folder + "camera-public-key.pem")
            )
            self.same(manifest, recording_id, sha256, size, folder + "camera-manifest.json")
        receipt = self.signed(folder + "ingest-receipt", key)
        self.same(receipt, recording_id, sha256, size, folder + "ingest-receipt.json")
        if not held:
            certificate = self.signed(folder + "deletion-certificate", key)
            self.same(certificate, recording_id, sha256, size, folder + "deletion-certificate.json")
        self.trail(recording, folder + "audit-trail.json", key, newest)

    def camera_key(self, path: str) -> Ed25519PublicKey:
        if path not in self.hashes:
            raise _Failed(describe(path), "is missing")
        return _pem_key(read_bytes(self.bag, path), describe(path))

    def same(
        self, document: dict[str, Any], recording_id: str, sha256: str, size: Any, path: str
    ) -> None:
        for name, expected in (("recording_id", recording_id), ("sha256", sha256), ("size", size)):
            if document.get(name) != expected:
                raise _Failed(describe(path), f"its {name} is not the recording's")

    def trail(
        self,
        recording: dict[str, Any],
        path: str,
        key: Ed25519PublicKey,
        newest: _Checkpoint,
    ) -> None:
        trail = self.json(path)
        part = describe(path)
        recording_id = str(recording.get("id"))
        if trail.get("format") != layout.TRAIL_FORMAT or trail.get("recording_id") != recording_id:
            raise _Failed(part, f"is not the {layout.TRAIL_FORMAT} of recording {recording_id}")
        anchor = self.checkpoint(int(_field(trail, "checkpoint_size", path)), key)
        seqs = self.proven_events(trail.get("events"), anchor, part, recording_id)
        listed = recording.get("audit_events")
        if seqs != listed:
            missing = sorted(set(listed or []) - set(seqs))
            what = f"event {missing[0]} is missing" if missing else "its events differ"
            raise _Failed(part, f"{what}: the index lists {len(listed or [])} events")
        self.consistent(anchor, newest)

    def proven_events(
        self, entries: Any, anchor: _Checkpoint, part: str, object_id: str | None
    ) -> list[int]:
        if not isinstance(entries, list):
            raise _Failed(part, "has no list of events")
        seqs: list[int] = []
        for entry in entries:
            event = dict(entry.get("event") or {}) if isinstance(entry, dict) else {}
            seq = event.get("seq")
            label = f"audit event {seq}"
            try:
                fields = {name: event[name] for name in EVENT_FIELDS}
            except KeyError:
                raise _Failed(part, f"{label} lacks a field its hash covers") from None
            stated = _hex(event.get("hash"), part, f"{label}'s hash")
            if hashlib.sha256(rfc8785.dumps(fields)).digest() != stated:
                raise _Failed(part, f"{label}: its contents do not match its hash")
            if object_id is not None and fields["object_id"] != object_id:
                raise _Failed(part, f"{label} is about another object")
            index, path = entry.get("leaf_index"), entry.get("audit_path")
            if not isinstance(seq, int) or index != seq - 1 or not isinstance(path, list):
                raise _Failed(part, f"{label}: its inclusion proof is malformed")
            nodes = [_hex(node, part, f"{label}'s proof") for node in path]
            if not merkle.verify_inclusion(
                index, anchor.size, merkle.leaf_hash(stated), nodes, anchor.root
            ):
                raise _Failed(
                    part,
                    f"{label} is not in the audit log under the checkpoint over "
                    f"{anchor.size} events (its inclusion proof fails)",
                )
            self.verdict.proofs += 1
            seqs.append(seq)
        if seqs != sorted(set(seqs)):
            raise _Failed(part, "its events are not in the log's order")
        return seqs

    def consistent(self, old: _Checkpoint, new: _Checkpoint) -> None:
        if old.size == new.size:
            if old.root != new.root:
                raise _Failed(describe(layout.checkpoint_stem(old.size) + ".json"), "forks the log")
            return
        path = layout.consistency_path(old.size, new.size)
        proof = self.json(path)
        if proof.get("old") != old.document or proof.get("new") != new.document:
            raise _Failed(describe(path), "is not between the checkpoints it should join")
        nodes = [_hex(node, describe(path), "path") for node in _list(proof, "path")]
        if not merkle.verify_consistency(old.size, new.size, old.root, new.root, nodes):
            raise _Failed(
                describe(path),
                f"the checkpoint over {new.size} events does not extend the one over {old.size}",
            )
        self.verdict.proofs += 1

    def clip(self, clip: dict[str, Any], recordings: dict[str, dict[str, Any]]) -> None:
        clip_id = str(clip.get("id"))
        if not layout.looks_like_uuid(clip_id):
            raise _Failed(describe(layout.INDEX), f"names a clip {clip_id!r}")
        folder = layout.clip_dir(clip_id)
        described = self.json(folder + "clip.json")
        if described != clip:
            raise _Failed(describe(folder + "clip.json"), "differs from the bundle's index")
        original = recordings.get(str(clip.get("recording_id")))
        if original is None or original.get("sha256") != clip.get("original_sha256"):
            raise _Failed(
                describe(folder + "clip.json"), "its original is not a recording of this bundle"
            )
        if clip.get("state") == "held":
            footage = folder + "clip.mp4"
            if self.hashes.get(footage) != clip.get("sha256"):
                raise _Failed(describe(footage), "is not the clip the index names")

    def export_events(self, index: dict[str, Any], newest: _Checkpoint) -> None:
        events = self.json(layout.EXPORT_EVENTS)
        part = describe(layout.EXPORT_EVENTS)
        seqs = self.proven_events(events.get("events"), newest, part, None)
        if seqs != index.get("export_events"):
            raise _Failed(part, "differs from the events the index lists")


def _field(document: dict[str, Any], name: str, path: str) -> Any:
    if name not in document:
        raise _Failed(describe(path), f"has no {name}")
    return document[name]


def _list(document: dict[str, Any], name: str) -> list[Any]:
    value = document.get(name)
    if not isinstance(value, list):
        raise _Failed(describe(layout.INDEX), f"has no list {name}")
    return value


def _hex(value: Any, part: str, what: str) -> bytes:
    try:
        decoded = bytes.fromhex(str(value))
    except ValueError:
        raise _Failed(part, f"{what} is not hex") from None
    if len(decoded) != 32:
        raise _Failed(part, f"{what} is not a SHA-256")
    return decoded


def _pem_key(pem: bytes, part: str) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise _Failed(part, "is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _Failed(part, "is not an Ed25519 key")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return base64.b64decode(signing.public_key_text(key))


def _signed_by(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _sha256(bag: Bag, path: str) -> str:
    return _sha256_sized(bag, path)[0]


def _sha256_sized(bag: Bag, path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for block in blocks(bag, path):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size
