"""Ingest: manifests declared by docks, tus uploads written chunk by chunk, and the commit.

The order of durability is what keeps footage safe (invariants 1 and 2):
chunk bytes are fsync'd before the offset in the database moves (`chunks`); the whole
file is re-read and hashed against the signed manifest before it is renamed into the
object store, and the recording row and its receipt are committed after the object is
durable (`commit`). A crash between any two steps leaves a state the next request
repairs: bytes past the recorded offset are cut off, and a complete upload whose file has
already moved into the store is committed from the store.

`manifests` refuses a bad recording before any byte moves; `uploads` is the tus upload
as a resource (create, offset, terminate); `expiry` ends abandoned uploads and clears
staging leftovers; `hashing` the running SHA-256 of what arrived; `receipts` what a dock
checks a receipt with; `flags` the refusals people look at.
"""
