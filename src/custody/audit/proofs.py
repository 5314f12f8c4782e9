"""Proofs a third party can check without access to the database.

An inclusion proof shows that an event, exactly as printed, is in the log under a
signed checkpoint. A consistency proof shows that a later checkpoint extends an
earlier one, so a copy of an old checkpoint keeps the server honest forever.
`check_proof` checks either kind with nothing but the document and the server's
public key (`GET /api/v1/server-key`); `custody audit check-proof FILE` runs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from custody.audit.checkpoints import Checkpoint, find, latest, signature_ok
from custody.audit.log import HASHED_FIELDS, Borrowed, OpenSession, event_hash, hashed_fields
from custody.audit.sequencer import TreeBroken, read_subtrees
from custody.db.models import AuditEvent
from custody.domain import merkle, signing
from custody.domain.errors import InvalidInput, NotFound, SignatureInvalid

INCLUSION = "custody-audit-inclusion-proof/1"
CONSISTENCY = "custody-audit-consistency-proof/1"

HOW_TO_CHECK_INCLUSION = (
    "1. event_hash = SHA-256 of the RFC 8785 canonical JSON of `event` without its `hash` "
    "field; it must equal event.hash.",
    "2. leaf = SHA-256(0x00 || the 32 bytes of event.hash) (RFC 6962 leaf hash).",
    "3. Fold audit_path from leaf_index in a tree of checkpoint.size leaves (RFC 9162 "
    "section 2.1.3.2; inner nodes are SHA-256(0x01 || left || right)): the result must "
    "equal checkpoint.root.",
    "4. checkpoint.signature is Ed25519, base64, over the RFC 8785 canonical JSON of "
    "`checkpoint` without its signature; check it with the server's public key, obtained "
    "independently (GET /api/v1/server-key), not only the copy in this file.",
    "Or: custody audit check-proof FILE --public-key KEY (no database needed).",
)
HOW_TO_CHECK_CONSISTENCY = (
    "1. Check both checkpoints' Ed25519 signatures as for an inclusion proof.",
    "2. Verify `path` as an RFC 6962 consistency proof from (old.size, old.root) to "
    "(new.size, new.root) (RFC 9162 section 2.1.4.2).",
    "Or: custody audit check-proof FILE --public-key KEY (no database needed).",
)


def inclusion_paths(
    open_session: OpenSession, indices: Iterable[int], size: int
) -> dict[int, list[bytes]]:
    """PATH(index, D[size]) for each leaf index, from the stored tree: O(log n) node reads
    each, in two queries for all of them, whatever the log's size."""
    plans = {index: merkle.inclusion_plan(index, size) for index in set(indices)}
    wanted = {part for plan in plans.values() for parts in plan for part in parts}
    with open_session() as session:
        found = read_subtrees(session, wanted)
    return {
        index: [merkle.fold([found[part] for part in parts]) for parts in plan]
        for index, plan in plans.items()
    }


def consistency_path(open_session: OpenSession, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from the stored tree: O(log n) node reads."""
    plan = merkle.consistency_plan(old_size, new_size)
    with open_session() as session:
        found = read_subtrees(session, {part for parts in plan for part in parts})
    return [merkle.fold([found[part] for part in parts]) for parts in plan]


def _checkpoint(open_session: OpenSession, checkpoint_id: int | None) -> Checkpoint:
    if checkpoint_id is None:
        checkpoint = latest(open_session)
    else:
        checkpoint = find(open_session, checkpoint_id)
    if checkpoint is None:
        if checkpoint_id is None:
            raise NotFound("no checkpoint has been published yet: `custody audit checkpoint`")
        raise NotFound(f"no checkpoint {checkpoint_id}")
    return checkpoint


def inclusion_proof(
    open_session: OpenSession,
    seq: int,
    public_key: Ed25519PublicKey,
    *,
    checkpoint_id: int | None = None,
) -> dict[str, Any]:
    """Prove that event `seq` is in the log under a checkpoint (the latest by default)."""
    # One session for all of it: a proof is a handful of indexed reads, and on a busy
    # server each further connection and transaction costs more than they do.
    with open_session() as session:
        checkpoint = _checkpoint(lambda: Borrowed(session), checkpoint_id)
        event = session.scalar(select(AuditEvent).where(AuditEvent.seq == seq))
        if event is None:
            raise NotFound(f"no audit event {seq}")
        fields = {**hashed_fields(event), "hash": event.hash}
        if seq > checkpoint.size:
            raise NotFound(
                f"event {seq} is newer than checkpoint {checkpoint.id} (size "
                f"{checkpoint.size}): publish a checkpoint first (`custody audit checkpoint`)"
            )
        path = inclusion_paths(lambda: Borrowed(session), [seq - 1], checkpoint.size)[seq - 1]
    leaf = merkle.leaf_hash(bytes.fromhex(fields["hash"]))
    if not merkle.verify_inclusion(
        seq - 1, checkpoint.size, leaf, path, bytes.fromhex(checkpoint.root)
    ):
        # The nodes are a stored cache of the tree; one that does not fold to the signed
        # root was changed. Never hand out a proof that does not hold.
        raise TreeBroken(
            f"the stored Merkle tree does not lead from event {seq} to checkpoint "
            f"{checkpoint.id}: run `custody audit verify`"
        )
    return {
        "format": INCLUSION,
        "event": fields,
        "leaf_index": seq - 1,
        "audit_path": [node.hex() for node in path],
        "checkpoint": checkpoint.document(),
        "server_public_key": signing.public_key_text(public_key),
        "how_to_check": list(HOW_TO_CHECK_INCLUSION),
    }


def consistency_proof(
    open_session: OpenSession,
    old_id: int,
    public_key: Ed25519PublicKey,
    *,
    new_id: int | None = None,
) -> dict[str, Any]:
    """Prove that a newer checkpoint (the latest by default) extends an older one."""
    old = _checkpoint(open_session, old_id)
    new = _checkpoint(open_session, new_id)
    if old.size > new.size:
        raise InvalidInput(f"checkpoint {old.id} is larger than checkpoint {new.id}")
    path = consistency_path(open_session, old.size, new.size)
    if not merkle.verify_consistency(
        old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), path
    ):
        raise TreeBroken(
            f"the stored Merkle tree does not show checkpoint {new.id} extending checkpoint "
            f"{old.id}: run `custody audit verify`"
        )
    return {
        "format": CONSISTENCY,
        "old": old.document(),
        "new": new.document(),
        "path": [node.hex() for node in path],
        "server_public_key": signing.public_key_text(public_key),
        "how_to_check": list(HOW_TO_CHECK_CONSISTENCY),
    }


@dataclass
class ProofCheck:
    """What checking a proof found: `ok` when every step held."""

    format: str
    ok: bool = True
    steps: list[tuple[str, bool]] = field(default_factory=list)

    def step(self, what: str, held: bool) -> bool:
        self.steps.append((what, held))
        self.ok = self.ok and held
        return held


def _hex(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a hex string")
    return bytes.fromhex(value)


def check_proof(document: dict[str, Any], public_key: Ed25519PublicKey | None = None) -> ProofCheck:
    """Check an inclusion or consistency proof; pure: no database, no network.

    Without `public_key` the key inside the document is used, which proves only that
    the document is self-consistent: pin the server's key to prove where it came from.
    """
    kind = document.get("format")
    check = ProofCheck(str(kind))
    key = public_key
    if key is None:
        try:
            key = signing.load_public_key(str(document.get("server_public_key")))
        except SignatureInvalid:
            check.step("the document carries a usable public key", False)
            return check
    try:
        if kind == INCLUSION:
            _check_inclusion(document, key, check)
        elif kind == CONSISTENCY:
            _check_consistency(document, key, check)
        else:
            check.step(f"a known proof format ({INCLUSION} or {CONSISTENCY})", False)
    except (KeyError, TypeError, ValueError) as exc:
        check.step(f"the document is well formed ({exc})", False)
    return check


def _check_inclusion(document: dict[str, Any], key: Ed25519PublicKey, check: ProofCheck) -> None:
    event = dict(document["event"])
    checkpoint = dict(document["checkpoint"])
    stated = _hex(event.pop("hash"))
    fields = {name: event[name] for name in HASHED_FIELDS}
    check.step("the event's fields hash to its hash", bytes.fromhex(event_hash(fields)) == stated)
    index = int(document["leaf_index"])
    check.step("the leaf index is the event's place in the log", index == int(fields["seq"]) - 1)
    path = [_hex(node) for node in document["audit_path"]]
    check.step(
        "the audit path leads from the event to the checkpoint's root",
        merkle.verify_inclusion(
            index, int(checkpoint["size"]), merkle.leaf_hash(stated), path, _hex(checkpoint["root"])
        ),
    )
    check.step("the checkpoint is signed by the server's key", signature_ok(checkpoint, key))


def _check_consistency(document: dict[str, Any], key: Ed25519PublicKey, check: ProofCheck) -> None:
    old, new = dict(document["old"]), dict(document["new"])
    check.step("the older checkpoint is signed by the server's key", signature_ok(old, key))
    check.step("the newer checkpoint is signed by the server's key", signature_ok(new, key))
    path = [_hex(node) for node in document["path"]]
    check.step(
        "the newer checkpoint extends the older one",
        merkle.verify_consistency(
            int(old["size"]), int(new["size"]), _hex(old["root"]), _hex(new["root"]), path
        ),
    )
