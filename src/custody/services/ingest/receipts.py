"""Receipts: the server's signed word that it holds a recording, and the key to check it by."""

from __future__ import annotations

from custody.db.models import Recording
from custody.domain.errors import NotFound
from custody.domain.signing import public_key_text
from custody.services.ingest.answers import ServerKey, SignedReceipt
from custody.services.system import System


def receipt_for(system: System, recording_id: str) -> SignedReceipt:
    """The signed receipt of a stored recording, for a dock that lost the answer to its commit."""
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None:
            raise NotFound(f"recording {recording_id} is not stored")
        return SignedReceipt.model_validate_json(recording.receipt_document)


def server_key(system: System) -> ServerKey:
    """The public half of the key receipts (and audit checkpoints) are signed with."""
    return ServerKey(public_key=public_key_text(system.server_key.public_key()))
