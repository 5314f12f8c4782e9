"""The append-only, hash-chained audit log, its signed Merkle checkpoints and their proofs."""

from custody.audit.log import append, event_hash, verify_chain

__all__ = ["append", "event_hash", "verify_chain"]
