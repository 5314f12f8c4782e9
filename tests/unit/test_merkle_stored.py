"""Proofs folded from stored complete subtrees are exactly RFC 6962's; the fast entry hash of
a pending event is the canonical one."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from custody.audit.log import ENTRY_FIELDS, _entry_row_hash, entry_hash
from custody.domain import merkle
from custody.domain.clock import isoformat


def _leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(count)]


def _stored(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree (level, index), leaves included, as a log stores them."""
    nodes = {(0, index): leaf for index, leaf in enumerate(leaves)}
    tree = merkle.Accumulator()
    for leaf in leaves:
        for level, index, node in tree.add_recording(leaf):
            nodes[(level, index)] = node
    return nodes


@pytest.mark.parametrize("size", range(1, 70))
def test_inclusion_plans_fold_to_the_rfc_proofs(size: int) -> None:
    leaves = _leaves(size)
    nodes = _stored(leaves)
    root = merkle.root_of(leaves)
    for index in range(size):
        path = [
            merkle.fold([nodes[p] for p in parts]) for parts in merkle.inclusion_plan(index, size)
        ]
        assert path == merkle.inclusion_proof(index, size, leaves)
        assert merkle.verify_inclusion(index, size, leaves[index], path, root)


@pytest.mark.parametrize("new", range(1, 45))
def test_consistency_plans_fold_to_the_rfc_proofs(new: int) -> None:
    leaves = _leaves(new)
    nodes = _stored(leaves)
    for old in range(0, new + 1):
        plan = merkle.consistency_plan(old, new)
        path = [merkle.fold([nodes[p] for p in parts]) for parts in plan]
        assert path == merkle.consistency_proof(old, new, leaves)
        assert merkle.verify_consistency(
            old, new, merkle.root_of(leaves[:old]), merkle.root_of(leaves), path
        )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 31, 64, 100])
def test_the_frontier_of_stored_subtrees_is_the_tree(size: int) -> None:
    leaves = _leaves(size)
    nodes = _stored(leaves)
    parts = merkle.frontier_subtrees(size)
    resumed = merkle.Accumulator.resume(size, [nodes[p] for p in parts])
    assert resumed.root() == merkle.root_of(leaves)


def test_a_whole_subtree_added_at_once_is_the_same_tree() -> None:
    leaves = _leaves(40)
    one_by_one = merkle.Accumulator()
    for leaf in leaves:
        one_by_one.add(leaf)
    blocks = merkle.Accumulator()
    for start in range(0, 32, 8):
        blocks.add_subtree(merkle.root_of(leaves[start : start + 8]), 3)
    for leaf in leaves[32:]:
        blocks.add(leaf)
    assert blocks.root() == one_by_one.root() and blocks.frontier == one_by_one.frontier
    with pytest.raises(ValueError, match="cannot start"):
        blocks.add_subtree(b"\0" * 32, 4)


@pytest.mark.parametrize(
    "values",
    [
        ("dock:recording:ingest", "dock:D-1", None, None, True, None, None, None, "{}"),
        (
            "user:recording:view",
            "user:zoë",
            "recording",
            "r-1",
            False,
            "“quoted” \\ \n",
            "10.0.0.1",
            "Firefox/1 \u2028",
            '{"a":[1,2]}',
        ),
        ("t", "a\tb\x7f", "x", "y", True, "r", "::1", "ua", "{}"),
    ],
)
def test_the_fast_entry_hash_is_the_canonical_one(values: tuple[object, ...]) -> None:
    tag, actor, object_type, object_id, allowed, reason, address, agent, details = values
    at = datetime(2026, 12, 1, 21, 0, 0, 123456, tzinfo=UTC)
    row = (7, at, tag, actor, object_type, object_id, allowed, reason, address, agent, details)
    fields = dict(zip(ENTRY_FIELDS, row[1:], strict=True))
    fields["at"] = isoformat(at)
    assert _entry_row_hash(row) == entry_hash(fields)
