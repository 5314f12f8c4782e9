"""Redaction: faces found and followed, redacted copies rendered as new objects, and the
record of exactly what was done, beside each copy (docs/redaction.md)."""
