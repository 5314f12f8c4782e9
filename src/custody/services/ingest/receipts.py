"""Receipts: the server's signed word that it holds a recording, for a dock to check."""

from __future__ import annotations

import json
from typing import Any

from custody.db.models import Recording
from custody.domain.errors import NotFound
from custody.services.system import System


def receipt_for(system: System, recording_id: str) -> dict[str, Any]:
    """The signed receipt of a stored recording, for a dock that lost the answer to its commit."""
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None:
            raise NotFound(f"recording {recording_id} is not stored")
        document: dict[str, Any] = json.loads(recording.receipt_document)
        return document
