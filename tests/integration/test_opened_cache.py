"""A read remembers what it opened for a short while (the player's range requests skip the
key lookup and the header); bytes stored anew under a new key behind its back (another
node deleted the recording, and the same footage came again) are still read right."""

from __future__ import annotations

import os

from custody.services.system import System
from custody.storage.encryption import EncryptedStore


def test_a_stale_opening_is_noticed_and_the_object_opened_afresh(sqlite_system: System) -> None:
    store = sqlite_system.store
    assert isinstance(store, EncryptedStore)
    data = os.urandom(3 * 1024 * 1024 + 77)
    sha = store.put_stream([data]).sha256
    assert b"".join(store.read(sha, 2_000_000, 2_100_000)) == data[2_000_000:2_100_000]
    assert store._opened.get(sha) is not None  # remembered

    # Another node: the key shredded, the bytes deleted, the same footage stored again
    # (a new data key, a new header): this process's memory of it is stale.
    store.keys.destroy(sha)
    store.inner.delete(sha)
    other = EncryptedStore(store.inner, store.keys, store.kek, store.layout)
    other.put_stream([data], sha)

    assert b"".join(store.read(sha, 2_000_000, 2_100_000)) == data[2_000_000:2_100_000]
    assert b"".join(store.read(sha)) == data
    assert store.size(sha) == len(data)


def test_a_deleted_object_is_forgotten(sqlite_system: System) -> None:
    store = sqlite_system.store
    assert isinstance(store, EncryptedStore)
    sha = store.put_stream([os.urandom(5000)]).sha256
    b"".join(store.read(sha))
    store.delete(sha)
    assert store._opened.get(sha) is None
