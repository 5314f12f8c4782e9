"""RFC 6962 Merkle trees: the Certificate Transparency test vectors, proofs and forgeries."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain import merkle

# The test vectors of the Certificate Transparency reference implementations: eight
# leaves and the tree heads over the first 1..8 of them.
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
HASHED = [merkle.leaf_hash(leaf) for leaf in LEAVES]
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (older size, newer size, consistency path)
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (3, 8, ["0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
]  # fmt: skip


def root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size - 1])


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle.root_of([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_match_the_reference_vectors(size: int) -> None:
    assert merkle.root_of(HASHED[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(
    index: int, size: int, path: list[str]
) -> None:
    proof = merkle.inclusion_proof(index, size, iter(HASHED))
    assert [node.hex() for node in proof] == path
    assert merkle.verify_inclusion(index, size, HASHED[index], proof, root(size))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(
    old: int, new: int, path: list[str]
) -> None:
    proof = merkle.consistency_proof(old, new, iter(HASHED))
    assert [node.hex() for node in proof] == path
    assert merkle.verify_consistency(old, new, root(old), root(new), proof)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_a_tampered_inclusion_proof_fails(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(node) for node in path]
    good = root(size)
    leaf = HASHED[index]
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"forged"), proof, good)
    assert not merkle.verify_inclusion(index, size, leaf, proof, merkle.EMPTY_ROOT)
    for wrong_index in {index - 1, index + 1, index ^ 2} - {index}:
        if wrong_index >= 0:
            assert not merkle.verify_inclusion(wrong_index, size, leaf, proof, good)
    assert not merkle.verify_inclusion(index, size * 2, leaf, proof, good)
    assert not merkle.verify_inclusion(index, size // 2 or 1, leaf, proof, good)
    for position in range(len(proof)):
        changed = list(proof)
        changed[position] = merkle.EMPTY_ROOT
        assert not merkle.verify_inclusion(index, size, leaf, changed, good)
    assert not merkle.verify_inclusion(index, size, leaf, [*proof, good], good)
    assert not merkle.verify_inclusion(index, size, leaf, [good, *proof], good)
    assert not merkle.verify_inclusion(index, size, leaf, proof[:-1], good)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_a_tampered_consistency_proof_fails(old: int, new: int, path: list[str]) -> None:
    proof = [bytes.fromhex(node) for node in path]
    assert not merkle.verify_consistency(old, new, root(old), merkle.EMPTY_ROOT, proof)
    assert not merkle.verify_consistency(old, new, merkle.EMPTY_ROOT, root(new), proof)
    assert not merkle.verify_consistency(new, old, root(new), root(old), proof)
    assert not merkle.verify_consistency(old, new, root(old), root(new), [])
    assert not merkle.verify_consistency(old, new, root(old), root(new), proof[:-1])
    assert not merkle.verify_consistency(old, new, root(old), root(new), [*proof, root(old)])
    for position in range(len(proof)):
        changed = list(proof)
        changed[position] = merkle.EMPTY_ROOT
        assert not merkle.verify_consistency(old, new, root(old), root(new), changed)


def test_trivial_consistency() -> None:
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root(5), [])
    assert merkle.verify_consistency(5, 5, root(5), root(5), [])
    assert not merkle.verify_consistency(5, 5, root(5), root(4), [])
    assert not merkle.verify_consistency(5, 5, root(5), root(5), [root(5)])


@given(st.integers(min_value=1, max_value=130), st.data())
def test_every_leaf_and_every_prefix_proves_against_an_incremental_root(
    size: int, data: st.DataObject
) -> None:
    leaves = [merkle.leaf_hash(os.urandom(8)) for _ in range(size)]
    head = merkle.root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert merkle.verify_inclusion(
        index, size, leaves[index], merkle.inclusion_proof(index, size, iter(leaves)), head
    )
    old = data.draw(st.integers(min_value=0, max_value=size))
    proof = merkle.consistency_proof(old, size, iter(leaves))
    assert merkle.verify_consistency(old, size, merkle.root_of(leaves[:old]), head, proof)


def test_an_accumulator_resumes_from_its_frontier() -> None:
    first = merkle.Accumulator()
    for hashed in HASHED[:5]:
        first.add(hashed)
    resumed = merkle.Accumulator.resume(first.size, list(first.frontier))
    for hashed in HASHED[5:]:
        resumed.add(hashed)
    assert resumed.root() == root(8)
    with pytest.raises(ValueError):
        merkle.Accumulator.resume(5, first.frontier[:1])


def test_a_proof_needs_enough_leaves() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(1, 8, iter(HASHED[:4]))
    with pytest.raises(ValueError):
        merkle.inclusion_proof(8, 8, iter(HASHED))
