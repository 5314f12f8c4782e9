"""The upload state machine's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.errors import InvalidInput, OffsetMismatch, UploadGone
from custody.domain.uploads import UploadState, check_length, check_patch, expiry_for

NOW = datetime(2026, 10, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def test_a_patch_at_the_servers_offset_is_allowed() -> None:
    check_patch(UploadState.RECEIVING, LATER, NOW, 100, 1000, 100, 50)


def test_a_patch_at_another_offset_is_a_conflict() -> None:
    with pytest.raises(OffsetMismatch):
        check_patch(UploadState.RECEIVING, LATER, NOW, 100, 1000, 0, 50)


def test_a_chunk_past_the_length_is_refused() -> None:
    with pytest.raises(InvalidInput):
        check_patch(UploadState.RECEIVING, LATER, NOW, 990, 1000, 990, 11)


@pytest.mark.parametrize("state", [UploadState.TERMINATED, UploadState.FAILED])
def test_ended_uploads_are_gone(state: UploadState) -> None:
    with pytest.raises(UploadGone):
        check_patch(state, LATER, NOW, 0, 1000, 0, 10)


def test_an_expired_upload_is_gone() -> None:
    with pytest.raises(UploadGone):
        check_patch(UploadState.RECEIVING, NOW, NOW, 0, 1000, 0, 10)


def test_a_committed_upload_takes_no_more_bytes_but_an_empty_patch_is_fine() -> None:
    check_patch(UploadState.COMMITTED, NOW, LATER, 1000, 1000, 1000, 0)
    with pytest.raises(OffsetMismatch):
        check_patch(UploadState.COMMITTED, NOW, LATER, 1000, 1000, 1000, 5)


def test_lengths_must_be_credible() -> None:
    check_length(1)
    for bad in (0, -1, 10**15):
        with pytest.raises(InvalidInput):
            check_length(bad)


def test_expiry_is_in_the_future() -> None:
    assert expiry_for(NOW, NOW) > NOW
