"""The filesystem staging's commit when no process hashed every chunk as it arrived (the
chunks came through several nodes, or the server restarted): the staged file goes into the
sealed store in one pass, read once, and bytes that are not the manifest's are refused with
nothing stored.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.services.system import System
from custody.storage.encryption import EncryptedStore
from custody.storage.filesystem import FilesystemStore
from custody.storage.staging import FilesystemStaging, StagedMismatch

UPLOAD = "0123456789abcdef0123456789abcdef"

# Files opened for reading while `_watching` names them (sys.addaudithook cannot be removed:
# it records only while a test asks it to).
_watching: dict[str, int] = {}


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _watching and str(args[0]) in _watching:
        mode = args[1]
        if mode is None or "r" in str(mode) or "+" in str(mode):
            _watching[str(args[0])] += 1


sys.addaudithook(_audit)


def _staged(staging: FilesystemStaging, data: bytes) -> None:
    staging.create(UPLOAD, len(data))
    writer = staging.writer(UPLOAD, 0, len(data), hashlib.sha256(data).hexdigest())
    try:
        for start in range(0, len(data), 1 << 20):
            writer.write(data[start : start + (1 << 20)])
        writer.keep()
    finally:
        writer.close()


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[FilesystemStaging]:
    yield FilesystemStaging(tmp_path / "uploads")
    _watching.clear()


def test_an_unverified_upload_is_read_once_hashed_and_sealed_on_the_way(
    system: System, staging: FilesystemStaging
) -> None:
    store = system.store
    assert isinstance(store, EncryptedStore)
    data = os.urandom(3 * (1 << 20) + 12_345)
    sha = hashlib.sha256(data).hexdigest()
    _staged(staging, data)
    part = str(staging.path(UPLOAD))
    _watching[part] = 0

    stored = staging.move_into(store, UPLOAD, len(data), sha, verified=False)

    assert (stored.sha256, stored.size) == (sha, len(data))
    assert _watching[part] == 1, "the staged file was read more than once"
    assert not staging.has(UPLOAD)
    assert b"".join(store.read(sha)) == data
    # Sealed at rest: the inner store's bytes are not the footage's.
    assert isinstance(store.inner, FilesystemStore)
    assert store.inner.path_of(sha).read_bytes()[:64] != data[:64]


def test_bytes_that_are_not_the_manifests_are_refused_and_nothing_is_stored(
    system: System, staging: FilesystemStaging
) -> None:
    store = system.store
    data = os.urandom(2 * (1 << 20) + 7)
    actual = hashlib.sha256(data).hexdigest()
    promised = hashlib.sha256(b"what the camera signed").hexdigest()
    _staged(staging, data)

    with pytest.raises(StagedMismatch) as refused:
        staging.move_into(store, UPLOAD, len(data), promised, verified=False)

    assert (refused.value.sha256, refused.value.size) == (actual, len(data))
    assert not store.exists(promised) and not store.exists(actual)
    assert list(store.iter_objects()) == []
    # The staged bytes stay for the commit to fail the upload and discard them.
    assert staging.has(UPLOAD)
    # The right manifest still commits them (a retried commit after a refusal elsewhere).
    assert staging.move_into(store, UPLOAD, len(data), actual, verified=False).sha256 == actual


def test_a_bare_store_takes_the_staged_file_by_a_rename(
    tmp_path: Path, staging: FilesystemStaging
) -> None:
    store = FilesystemStore(tmp_path / "objects")
    data = os.urandom(100_000)
    sha = hashlib.sha256(data).hexdigest()
    _staged(staging, data)
    inode = os.stat(staging.path(UPLOAD)).st_ino
    staging.move_into(store, UPLOAD, len(data), sha, verified=False)
    assert os.stat(store.path_of(sha)).st_ino == inode
    assert not staging.has(UPLOAD)
