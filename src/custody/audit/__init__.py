"""The append-only, hash-chained audit log, its signed Merkle checkpoints and their proofs."""

from custody.audit.log import Actor, append, event_hash, verify_chain

__all__ = ["Actor", "append", "event_hash", "verify_chain"]
