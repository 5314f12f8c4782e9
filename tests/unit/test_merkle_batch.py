"""Many inclusion proofs from one pass over the leaves equal the one-at-a-time proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain import merkle


def leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(count)]


@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1))))
)
def test_one_pass_proofs_are_the_single_proofs(case: tuple[int, list[int]]) -> None:
    size, indices = case
    hashed = leaves(size + 3)  # more leaves than the tree: only the first `size` count
    batch = merkle.inclusion_proofs(indices, size, iter(hashed))
    assert set(batch) == set(indices)
    root = merkle.root_of(hashed[:size])
    for index in indices:
        assert batch[index] == merkle.inclusion_proof(index, size, iter(hashed))
        assert merkle.verify_inclusion(index, size, hashed[index], batch[index], root)


def test_every_leaf_of_trees_up_to_70() -> None:
    for size in range(1, 71):
        hashed = leaves(size)
        batch = merkle.inclusion_proofs(range(size), size, iter(hashed))
        for index in range(size):
            assert batch[index] == merkle.inclusion_proof(index, size, iter(hashed))


def test_a_log_shorter_than_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than the tree size"):
        merkle.inclusion_proofs([0], 5, iter(leaves(4)))
