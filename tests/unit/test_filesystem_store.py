"""The content-addressed filesystem store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from custody.domain.errors import ContentMismatch, InvalidInput, NotFound
from custody.storage.filesystem import FilesystemStore


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "objects")


def test_put_stream_names_the_object_by_its_hash(store: FilesystemStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    stored = store.put_stream([data[:1000], data[1000:]])
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert b"".join(store.read(stored.sha256)) == data
    assert store.path_of(stored.sha256).parent.parent.name == stored.sha256[:2]


def test_ranges_read_exactly_the_bytes_asked_for(store: FilesystemStore) -> None:
    data = bytes(range(256)) * 10_000
    sha = store.put_stream([data]).sha256
    assert b"".join(store.read(sha, 10, 20)) == data[10:20]
    assert b"".join(store.read(sha, len(data) - 5)) == data[-5:]


def test_a_wrong_expected_hash_stores_nothing(store: FilesystemStore) -> None:
    with pytest.raises(ContentMismatch):
        store.put_stream([b"abc"], expected_sha256="0" * 64)
    assert list(store.iter_objects()) == []
    assert list(store.tmp.iterdir()) == []


def test_a_write_that_dies_midway_leaves_no_object_under_a_real_name(
    store: FilesystemStore,
) -> None:
    def dying() -> object:
        yield b"first part"
        raise OSError("power cut")

    with pytest.raises(OSError):
        store.put_stream(dying())  # type: ignore[arg-type]
    assert list(store.iter_objects()) == []


def test_putting_the_same_bytes_twice_is_one_object(store: FilesystemStore) -> None:
    a = store.put_stream([b"same"])
    b = store.put_stream([b"same"])
    assert a == b
    assert list(store.iter_objects()) == [a.sha256]


def test_delete_removes_the_bytes(store: FilesystemStore) -> None:
    sha = store.put_stream([b"gone soon"]).sha256
    assert store.delete(sha) is True
    assert not store.exists(sha)
    assert store.delete(sha) is False
    with pytest.raises(NotFound):
        store.read(sha)


def test_names_that_are_not_hashes_are_refused(store: FilesystemStore) -> None:
    with pytest.raises(InvalidInput):
        store.exists("../../etc/passwd")
