"""Blob stores behind one small interface, content-addressed by SHA-256."""

from custody.storage.base import BlobStore, StoredObject, open_store

__all__ = ["BlobStore", "StoredObject", "open_store"]
