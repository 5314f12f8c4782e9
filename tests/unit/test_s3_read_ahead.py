"""Reading a staged upload back ahead of its consumer: every block in order, the source's
error raised to the consumer, and a consumer that stops early stops the reader."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from custody.domain.errors import StoreUnavailable
from custody.storage.s3 import _read_ahead


def test_every_block_arrives_in_order() -> None:
    blocks = [bytes([n]) * 10 for n in range(50)]
    assert list(_read_ahead(iter(blocks), depth=3)) == blocks


def test_the_stores_error_is_raised_to_the_consumer_after_the_blocks_before_it() -> None:
    def broken() -> Iterator[bytes]:
        yield b"first"
        raise StoreUnavailable("the store broke off reading")

    seen = []
    with pytest.raises(StoreUnavailable, match="broke off"):
        for block in _read_ahead(broken()):
            seen.append(block)
    assert seen == [b"first"]


def test_a_consumer_that_stops_early_stops_the_reader_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 100
        finally:
            closed.set()

    ahead = _read_ahead(endless(), depth=2)
    assert next(ahead) == b"x" * 100
    ahead.close()  # as when the consumer finds a wrong hash and stops
    assert closed.is_set()
