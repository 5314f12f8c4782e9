"""Encryption at rest: every object sealed in segments, read back by range, refused if changed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.domain.errors import (
    ContentMismatch,
    KeyDestroyed,
    ObjectCorrupt,
    WrongKeyEncryptionKey,
)
from custody.storage.encryption import EncryptedStore, WrappedKey
from custody.storage.filesystem import FilesystemStore
from custody.storage.kek import FileKek
from custody.storage.segments import HEADER_BYTES, TAG_BYTES, Layout

# Small segments, so that a few kilobytes cross many boundaries.
SMALL = Layout(segment=256)


class MemoryKeys:
    """Our own DataKeys interface over a dict (the database one is tested in integration)."""

    def __init__(self) -> None:
        self.rows: dict[str, WrappedKey] = {}

    def find(self, sha256: str) -> WrappedKey | None:
        return self.rows.get(sha256)

    def keep(self, sha256: str, key: WrappedKey) -> WrappedKey:
        return self.rows.setdefault(sha256, key)

    def destroy(self, sha256: str) -> bool:
        return self.rows.pop(sha256, None) is not None


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[EncryptedStore, bytes, str]:
    root = tmp_path_factory.mktemp("sealed")
    store = EncryptedStore(
        FilesystemStore(root / "objects"), MemoryKeys(), FileKek.create(root / "kek"), SMALL
    )
    data = os.urandom(5 * 256 + 77)
    sha = store.put_stream([data[:1000], data[1000:]]).sha256
    return store, data, sha


def test_the_bytes_at_rest_are_not_the_footage(sealed: tuple[EncryptedStore, bytes, str]) -> None:
    store, data, sha = sealed
    assert sha == hashlib.sha256(data).hexdigest()
    at_rest = b"".join(store.inner.read(sha))
    assert data[:64] not in at_rest and len(at_rest) == SMALL.ciphertext_size(len(data))
    assert store.size(sha) == len(data)
    assert b"".join(store.read(sha)) == data


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_range_read_gives_exactly_those_bytes(
    sealed: tuple[EncryptedStore, bytes, str], data: st.DataObject
) -> None:
    store, plain, sha = sealed
    # Boundaries of segments are where off-by-ones live: draw around them as often as not.
    edges = [0, SMALL.first_plain] + [SMALL.first_plain + k * SMALL.plain for k in range(1, 6)]
    near = st.sampled_from(edges).flatmap(lambda e: st.integers(max(0, e - 2), e + 2))
    point = st.one_of(near, st.integers(0, len(plain) + 3))
    start, end = sorted((data.draw(point), data.draw(point)))
    assert b"".join(store.read(sha, start, end)) == plain[start:end]
    assert b"".join(store.read(sha, start)) == plain[start:]


@pytest.mark.parametrize(
    "size", [0, 1, SMALL.first_plain, SMALL.first_plain + 1, SMALL.first_plain + SMALL.plain]
)
def test_sizes_at_the_edges_round_trip(tmp_path: Path, size: int) -> None:
    store = EncryptedStore(
        FilesystemStore(tmp_path), MemoryKeys(), FileKek.create(tmp_path / "k"), SMALL
    )
    data = os.urandom(size)
    sha = store.put_stream([data], hashlib.sha256(data).hexdigest()).sha256
    assert store.size(sha) == size
    assert b"".join(store.read(sha)) == data
    assert SMALL.plaintext_size(SMALL.ciphertext_size(size)) == size


def test_a_changed_byte_at_rest_is_refused_not_returned(tmp_path: Path) -> None:
    inner = FilesystemStore(tmp_path / "objects")
    store = EncryptedStore(inner, MemoryKeys(), FileKek.create(tmp_path / "k"), SMALL)
    data = os.urandom(3 * 256)
    sha = store.put_stream([data]).sha256
    path = inner.path_of(sha)
    raw = bytearray(path.read_bytes())
    raw[600] ^= 0x01  # in the third segment
    path.write_bytes(bytes(raw))
    # The untouched segments still read; the changed one is refused by its tag.
    assert b"".join(store.read(sha, 0, 100)) == data[:100]
    with pytest.raises(ObjectCorrupt, match="segment 2"):
        b"".join(store.read(sha))
    # Cut short at a segment's end: the segment now last was not sealed as the last one.
    path.write_bytes(bytes(raw[: 2 * 256]))
    with pytest.raises(ObjectCorrupt, match="segment 1"):
        b"".join(store.read(sha))


def test_one_objects_bytes_under_anothers_name_are_refused(tmp_path: Path) -> None:
    inner = FilesystemStore(tmp_path / "objects")
    keys = MemoryKeys()
    store = EncryptedStore(inner, keys, FileKek.create(tmp_path / "k"), SMALL)
    first = store.put_stream([b"first" * 50]).sha256
    second = store.put_stream([b"other" * 50]).sha256
    inner.path_of(second).write_bytes(inner.path_of(first).read_bytes())
    keys.rows[second] = keys.rows[first]  # even with the first's key beside it
    with pytest.raises(ObjectCorrupt):
        b"".join(store.read(second))


def test_a_wrong_expected_hash_stores_nothing(tmp_path: Path) -> None:
    store = EncryptedStore(
        FilesystemStore(tmp_path / "o"), MemoryKeys(), FileKek.create(tmp_path / "k")
    )
    with pytest.raises(ContentMismatch):
        store.put_stream([b"abc"], "0" * 64)
    assert list(store.iter_objects()) == []


def test_a_put_file_moves_the_file_in_sealed(tmp_path: Path) -> None:
    store = EncryptedStore(
        FilesystemStore(tmp_path / "o"), MemoryKeys(), FileKek.create(tmp_path / "k")
    )
    part = tmp_path / "upload.part"
    data = os.urandom(3 * 1024 * 1024 + 5)
    part.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    store.put_file(part, sha)
    assert not part.exists()
    assert (
        b"".join(store.read(sha, 1024 * 1024 - 10, 2 * 1024 * 1024 + 10))
        == data[1024 * 1024 - 10 : 2 * 1024 * 1024 + 10]
    )


def test_another_key_encryption_key_is_refused(tmp_path: Path) -> None:
    keys = MemoryKeys()
    store = EncryptedStore(FilesystemStore(tmp_path / "o"), keys, FileKek.create(tmp_path / "k1"))
    sha = store.put_stream([b"evidence"]).sha256
    other = EncryptedStore(store.inner, keys, FileKek.create(tmp_path / "k2"))
    with pytest.raises(WrongKeyEncryptionKey):
        other.read(sha)


def test_a_deleted_objects_backup_copy_is_unreadable(tmp_path: Path) -> None:
    keys = MemoryKeys()
    kek = FileKek.create(tmp_path / "k")
    store = EncryptedStore(FilesystemStore(tmp_path / "o"), keys, kek)
    sha = store.put_stream([b"footage"]).sha256
    backup = FilesystemStore(tmp_path / "backup")
    backup.put_named(sha, store.read_sealed(sha))
    restored = EncryptedStore(backup, keys, kek)
    assert b"".join(restored.read(sha)) == b"footage"
    assert keys.destroy(sha) and store.delete(sha)
    with pytest.raises(KeyDestroyed):
        restored.read(sha)


def test_the_header_is_tinks(sealed: tuple[EncryptedStore, bytes, str]) -> None:
    store, _, sha = sealed
    header = b"".join(store.inner.read(sha, 0, HEADER_BYTES))
    assert header[0] == HEADER_BYTES == 40 and TAG_BYTES == 16


def test_put_named_stores_nothing_when_its_bytes_fail_and_keeps_what_is_there(
    tmp_path: Path,
) -> None:
    store = FilesystemStore(tmp_path / "o")
    name = "ab" * 32

    def broken() -> Iterator[bytes]:
        yield b"half of it"
        raise OSError("the source went away")

    with pytest.raises(OSError):
        store.put_named(name, broken())
    assert not store.exists(name) and not list((tmp_path / "o" / ".tmp").iterdir())
    assert store.put_named(name, [b"first"]) == 5
    assert store.put_named(name, [b"second, longer"]) == 5  # content addressing: kept
    assert b"".join(store.read(name)) == b"first"


def test_the_same_bytes_stored_again_after_shredding_read_under_their_new_key(
    tmp_path: Path,
) -> None:
    keys = MemoryKeys()
    store = EncryptedStore(FilesystemStore(tmp_path / "o"), keys, FileKek.create(tmp_path / "k"))
    # A black frame's thumbnail: identical bytes for two recordings, one deleted.
    sha = store.put_stream([b"the same thumbnail"]).sha256
    assert keys.destroy(sha)  # its recording deleted; the purge of its bytes has not run yet
    assert store.put_stream([b"the same thumbnail"]).sha256 == sha
    assert b"".join(store.read(sha)) == b"the same thumbnail"
    assert keys.destroy(sha)
    part = tmp_path / "part"
    part.write_bytes(b"the same thumbnail")
    store.put_file(part, sha)
    assert b"".join(store.read(sha)) == b"the same thumbnail"
