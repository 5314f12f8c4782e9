"""Merkle trees as RFC 6962 (Certificate Transparency) defines them: hashes, proofs, checks.

Pure functions over bytes, so that anyone can check a Custody proof with this
file alone (or with any RFC 6962 / RFC 9162 implementation):

- a leaf hashes as SHA-256(0x00 || leaf), an inner node as SHA-256(0x01 || left || right);
- the tree over n leaves splits at k, the largest power of two smaller than n;
- the empty tree's hash is SHA-256 of nothing.

The audit log's leaves are the events' chain hashes (32 bytes each), in `seq` order.
`Accumulator` computes a root while the leaves stream past (O(log n) memory), and
`inclusion_proof`/`consistency_proof` do the same for proofs, so a log of a
billion events never has to be held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class Accumulator:
    """A Merkle tree head computed while leaf hashes stream past, in O(log n) memory.

    It keeps the roots of the perfect subtrees that make up the tree so far (one
    per set bit of the size, largest first): RFC 6962's tree is exactly those
    subtrees, folded from the right.
    """

    size: int = 0
    frontier: list[bytes] = field(default_factory=list)

    def add(self, hashed_leaf: bytes) -> None:
        """Append a leaf, given as its leaf hash."""
        node = hashed_leaf
        merges = self.size
        # Each trailing one bit of the old size is a full subtree of equal height: merge it.
        while merges & 1:
            node = node_hash(self.frontier.pop(), node)
            merges >>= 1
        self.frontier.append(node)
        self.size += 1

    def add_recording(self, hashed_leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append a leaf; the complete subtrees it closes, as (level, index, hash), level >= 1.

        These are the nodes a log stores so that proofs read them instead of the leaves.
        """
        node = hashed_leaf
        merges = self.size
        level = 0
        made: list[tuple[int, int, bytes]] = []
        while merges & 1:
            node = node_hash(self.frontier.pop(), node)
            merges >>= 1
            level += 1
            made.append((level, self.size >> level, node))
        self.frontier.append(node)
        self.size += 1
        return made

    def add_subtree(self, node: bytes, level: int) -> list[tuple[int, int, bytes]]:
        """Append 2**level leaves at once, given their complete subtree's hash; the larger
        complete subtrees it closes, as (level, index, hash).

        The tree must be at a multiple of 2**level leaves (the subtree is aligned).
        """
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a subtree of 2^{level} leaves cannot start at {self.size}")
        merges = self.size >> level
        made: list[tuple[int, int, bytes]] = []
        height = level
        while merges & 1:
            node = node_hash(self.frontier.pop(), node)
            merges >>= 1
            height += 1
            made.append((height, self.size >> height, node))
        self.frontier.append(node)
        self.size += 1 << level
        return made

    def root(self) -> bytes:
        """The tree head over every leaf added so far."""
        if not self.frontier:
            return EMPTY_ROOT
        node = self.frontier[-1]
        for left in reversed(self.frontier[:-1]):
            node = node_hash(left, node)
        return node

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> Accumulator:
        """Continue from a saved size and frontier; ValueError if they do not fit together."""
        if len(frontier) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} frontier nodes")
        return cls(size, list(frontier))


def root_of(hashed_leaves: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes."""
    accumulator = Accumulator()
    for hashed in hashed_leaves:
        accumulator.add(hashed)
    return accumulator.root()


# Proofs are lists of subtree hashes. Which subtrees a proof needs depends only on the
# sizes, so we first list their leaf ranges, then fill each from one pass over the leaves.


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    """The leaf ranges [a, b) whose subtree hashes make up PATH(index, D[start:end])."""
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # RFC order: from the leaf's sibling up to the root's child
    return ranges


def _consistency_ranges(old: int, start: int, end: int, whole: bool) -> list[tuple[int, int]]:
    """The leaf ranges of SUBPROOF(old, D[start:end], whole) (RFC 6962 §2.1.2)."""
    ranges: list[tuple[int, int]] = []
    while True:
        n = end - start
        if old == n:
            if not whole:
                ranges.append((start, end))
            break
        k = split(n)
        if old <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            old -= k
            start += k
            whole = False
    ranges.reverse()
    return ranges


def _fill(ranges: list[tuple[int, int]], hashed_leaves: Iterable[bytes], size: int) -> list[bytes]:
    """The subtree hash of each range, from one pass over the first `size` leaf hashes."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    hashes: list[bytes] = [b""] * len(ranges)
    position = 0
    cursor = 0
    accumulator = Accumulator()
    for hashed in hashed_leaves:
        if position >= size:
            break
        while cursor < len(order) and position >= ranges[order[cursor]][1]:
            cursor += 1
        if cursor < len(order) and ranges[order[cursor]][0] <= position:
            accumulator.add(hashed)
            if position + 1 == ranges[order[cursor]][1]:
                hashes[order[cursor]] = accumulator.root()
                accumulator = Accumulator()
        position += 1
    if position < size:
        raise ValueError(f"the log has {position} leaves, fewer than the tree size {size}")
    return hashes


def inclusion_proof(index: int, size: int, hashed_leaves: Iterable[bytes]) -> list[bytes]:
    """PATH(index, D[size]) from the leaf hashes in order (only the first `size` are read)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _fill(_inclusion_ranges(index, 0, size), hashed_leaves, size)


def consistency_proof(old_size: int, new_size: int, hashed_leaves: Iterable[bytes]) -> list[bytes]:
    """PROOF(old_size, D[new_size]): the newer tree extends the older one."""
    if not 0 <= old_size <= new_size:
        raise ValueError("the older tree cannot be larger than the newer one")
    if old_size in (0, new_size):
        return []
    return _fill(_consistency_ranges(old_size, 0, new_size, True), hashed_leaves, new_size)


def root_from_inclusion(index: int, size: int, hashed_leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root a leaf and its audit path imply (RFC 9162 §2.1.3.2); ValueError if malformed."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    fn, sn = index, size - 1
    node = hashed_leaf
    for sibling in path:
        if sn == 0:
            raise ValueError("the proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is shorter than the tree is high")
    return node


def verify_inclusion(
    index: int, size: int, hashed_leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """True when `hashed_leaf` is leaf `index` of the tree of `size` leaves with this root."""
    try:
        return root_from_inclusion(index, size, hashed_leaf, path) == root
    except ValueError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True when the tree (new_size, new_root) extends (old_size, old_root) (RFC 9162 §2.1.4.2)."""
    if old_size < 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        # Every tree extends the empty one; there is nothing to prove.
        return not path
    if not path:
        return False
    nodes = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a subtree
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def inclusion_proofs(
    indices: Iterable[int], size: int, hashed_leaves: Iterable[bytes]
) -> dict[int, list[bytes]]:
    """PATH(index, D[size]) for many leaves from ONE pass over the leaf hashes.

    Every node a proof needs is either a perfect subtree (2^k leaves from a multiple of
    2^k), hashed the moment it forms while the leaves stream past, or a subtree on the
    tree's right edge, which is a fold of the perfect subtrees left at the end. Memory is
    the nodes asked for plus the O(log n) frontier, whatever the log's size.
    """
    wanted: dict[int, list[tuple[int, int]]] = {}
    for index in set(indices):
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        wanted[index] = _inclusion_ranges(index, 0, size)
    needed = {span for spans in wanted.values() for span in spans}
    found: dict[tuple[int, int], bytes] = {}
    # (start, end, hash) of each perfect subtree the leaves so far make, largest first.
    stack: list[tuple[int, int, bytes]] = []
    position = 0
    for hashed in hashed_leaves:
        if position >= size:
            break
        node = (position, position + 1, hashed)
        merges = position
        while True:
            if (node[0], node[1]) in needed:
                found[(node[0], node[1])] = node[2]
            if not merges & 1:
                break
            left = stack.pop()
            node = (left[0], node[1], node_hash(left[2], node[2]))
            merges >>= 1
        stack.append(node)
        position += 1
    if position < size:
        raise ValueError(f"the log has {position} leaves, fewer than the tree size {size}")
    for start, end in needed - found.keys():
        # A right-edge subtree: the perfect subtrees from `start` to the end, folded.
        parts = [digest for first, _, digest in stack if first >= start]
        if end != size or not parts:
            raise ValueError(f"no subtree [{start}, {end}) in a tree of {size}")
        root = parts[-1]
        for left_hash in reversed(parts[:-1]):
            root = node_hash(left_hash, root)
        found[(start, end)] = root
    return {index: [found[span] for span in spans] for index, spans in wanted.items()}


# Stored trees. A log that keeps every complete subtree (level, index) -- the node over
# leaves [index * 2^level, (index + 1) * 2^level) -- answers any proof for any size from
# O(log n) of them: every range a proof needs is complete, or on the tree's right edge,
# which is a fold of complete subtrees.


def complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees (level, index) that make up leaves [start, end), left to right.

    For the ranges RFC 6962 proofs use, `start` is a multiple of a power of two at least as
    large as the first part, so the greedy split is aligned.
    """
    parts: list[tuple[int, int]] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        parts.append((level, start >> level))
        start += 1 << level
    return parts


def frontier_subtrees(size: int) -> list[tuple[int, int]]:
    """The complete subtrees an `Accumulator` of `size` leaves holds, largest first."""
    return complete_subtrees(0, size)


def inclusion_plan(index: int, size: int) -> list[list[tuple[int, int]]]:
    """For each node of PATH(index, D[size]), the complete subtrees that fold into it."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return [complete_subtrees(a, b) for a, b in _inclusion_ranges(index, 0, size)]


def consistency_plan(old_size: int, new_size: int) -> list[list[tuple[int, int]]]:
    """For each node of PROOF(old_size, D[new_size]), the complete subtrees that fold into it."""
    if not 0 <= old_size <= new_size:
        raise ValueError("the older tree cannot be larger than the newer one")
    if old_size in (0, new_size):
        return []
    return [complete_subtrees(a, b) for a, b in _consistency_ranges(old_size, 0, new_size, True)]


def fold(parts: Sequence[bytes]) -> bytes:
    """The hash of a range from its complete subtrees, left to right (RFC 6962 right fold)."""
    node = parts[-1]
    for left in reversed(parts[:-1]):
        node = node_hash(left, node)
    return node
