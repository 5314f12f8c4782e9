"""Receipts: the server's signed word that it holds a recording, and the key to check it by."""

from __future__ import annotations

from custody.domain.actor import Actor
from custody.domain.signing import public_key_text
from custody.services.access import open_receipt
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest.answers import ServerKey, SignedReceipt
from custody.services.system import System


def receipt_for(
    system: System, dock: DockIdentity, recording_id: str, actor: Actor | None = None
) -> SignedReceipt:
    """The signed receipt of a recording a dock of this dock's station stored, for a dock
    that lost the answer to its commit."""
    with system.unit_of_work() as uow:
        recording = open_receipt(
            uow, dock.station, recording_id, actor or dock.actor(), "dock:receipt:read"
        )
        return SignedReceipt.model_validate_json(recording.receipt_document)


def server_key(system: System) -> ServerKey:
    """The public half of the key receipts (and audit checkpoints) are signed with."""
    return ServerKey(public_key=public_key_text(system.server_key.public_key()))
