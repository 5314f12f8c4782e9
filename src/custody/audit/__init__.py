"""The append-only, hash-chained audit log."""

from custody.audit.log import Actor, append, event_hash, verify_chain

__all__ = ["Actor", "append", "event_hash", "verify_chain"]
