"""The append-only, hash-chained audit log, its signed Merkle checkpoints and their proofs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from custody.audit.log import append, event_hash, verify_chain

__all__ = ["append", "event_hash", "verify_chain"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for, not with the package: the processes that check blocks
    # for `verify` import `custody.audit.blocks` alone, without the ORM behind `log`.
    if name in __all__:
        from custody.audit import log

        return getattr(log, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
