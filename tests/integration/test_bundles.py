"""Court bundles: valid BagIt, checked by our verifier and by sha256sum and openssl alone,
and every kind of tampering named; sensitive material never in them; deletions certified;
an export killed half-way never found under the bundle's name."""

from __future__ import annotations

import json
import multiprocessing
import os
import shlex
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import bagit
import pytest
from sqlalchemy import select

from custody.bundle import layout
from custody.bundle.verify import verify_bundle
from custody.config import Settings
from custody.db.models import AuditEvent
from custody.domain.clock import ManualClock
from custody.domain.errors import Conflict, NotFound
from tests.conftest import START, Installer, RecordedJobs
from tests.conftest import custody as run_custody
from tests.integration.bundle_world import World, build_world, mark


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, install: Installer) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bundle-world")
    clock = ManualClock(START)
    system = install(Settings(data_dir=root / "data"), clock=clock, jobs=RecordedJobs())
    yield build_world(system)
    system.engine.dispose()


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "case-01-123456-26"
    world.export(out)
    return out


def readme_commands(bag: Path) -> list[str]:
    """The standard-tool commands of the bundle's README, exactly as written there."""
    text = (bag / layout.README).read_text()
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith("    ") and line.split()[0] in ("openssl", "sha256sum", "grep")
    ]


def run_readme(bag: Path) -> list[subprocess.CompletedProcess[str]]:
    return [
        subprocess.run(command, shell=True, cwd=bag, capture_output=True, text=True, check=False)
        for command in readme_commands(bag)
    ]


def test_the_bundle_is_a_valid_bag_and_verifies(world: World, bundle: Path) -> None:
    bagit.Bag(str(bundle)).validate()  # the Library of Congress's validator
    verdict = verify_bundle(bundle, world.system.server_key.public_key())
    assert verdict.failure is None
    assert (verdict.recordings, verdict.clips) == (2, 1)
    # The original, byte for byte, with the camera's manifest and the server's receipt.
    folder = bundle / layout.recording_dir(world.exhibit)
    assert (folder / "original.mp4").read_bytes() == world.footage[world.exhibit]
    for name in ("camera-manifest", "ingest-receipt"):
        for suffix in (".json", ".canonical.json", ".sig"):
            assert (folder / f"{name}{suffix}").is_file()
    assert (bundle / layout.clip_dir(world.clip_id) / "clip.mp4").is_file()
    assert (bundle / layout.CONTINUITY).read_bytes().startswith(b"%PDF")


def test_sensitive_material_never_leaves(world: World, bundle: Path) -> None:
    for path in bundle.rglob("*"):
        if path.is_file() and path.suffix != ".pdf":
            assert world.sensitive.encode() not in path.read_bytes(), path
            assert b"Informant" not in path.read_bytes(), path
    schedule = (bundle / layout.SCHEDULE_CSV).read_text().splitlines()
    assert [row for row in schedule if "withheld: sensitive" in row] == [
        "4,,Unused — sensitive,,,,withheld: sensitive,"
    ]
    index = json.loads((bundle / layout.INDEX).read_text())
    assert {r["id"] for r in index["recordings"]} == {world.exhibit, world.unused}


def test_the_standard_tools_check_it_exactly_as_the_readme_says(bundle: Path) -> None:
    commands = readme_commands(bundle)
    assert sum(c.startswith("openssl pkeyutl -verify") for c in commands) >= 6
    assert "sha256sum -c --strict manifest-sha256.txt" in commands
    for result in run_readme(bundle):
        assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    # The camera's signed SHA-256 is the one sha256sum checked for the footage.
    results = run_readme(bundle)
    greps = [r.stdout for r in results if r.args.startswith("grep")]
    signed_hash = greps[0].split('"')[3]
    assert greps[1].startswith(signed_hash)


def test_the_export_is_audited_and_proven_in_the_bundle(world: World, bundle: Path) -> None:
    exported = json.loads((bundle / layout.EXPORT_EVENTS).read_text())["events"]
    tags = [entry["event"]["tag"] for entry in exported]
    assert tags == ["user:case:export", "user:recording:export", "user:recording:export"]
    assert {e["event"]["object_id"] for e in exported[1:]} == {world.exhibit, world.unused}
    assert all(e["event"]["actor"] == "user:fran" for e in exported)
    with world.system.unit_of_work() as uow:
        stored = uow.session.scalars(
            select(AuditEvent.hash).where(AuditEvent.seq == exported[0]["event"]["seq"])
        ).one()
    assert stored == exported[0]["event"]["hash"]


def test_a_zipped_bundle_verifies_and_unzips_to_a_valid_bag(world: World, tmp_path: Path) -> None:
    out = tmp_path / "case.zip"
    made = world.export(out, as_zip=True)
    assert verify_bundle(out, world.system.server_key.public_key()).failure is None
    with zipfile.ZipFile(out) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        archive.extractall(tmp_path / "unzipped")
    bagit.Bag(str(tmp_path / "unzipped" / "case")).validate()
    assert made.recordings == 2
    # Info-ZIP's unzip, as the README says, then the README's own commands.
    unzip = shutil.which("unzip")
    if unzip is not None:
        subprocess.run([unzip, "-q", str(out), "-d", str(tmp_path / "by-unzip")], check=True)
        for result in run_readme(tmp_path / "by-unzip" / "case"):
            assert result.returncode == 0, (result.args, result.stderr)


def test_a_recording_deleted_by_retention_is_certified_not_silently_missing(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "closed-case"
    made = world.export(out, case_id=world.deleted_case_id)
    assert made.deleted == 1
    bagit.Bag(str(out)).validate()
    assert verify_bundle(out).failure is None
    folder = out / layout.recording_dir(world.deleted)
    assert not (folder / "original.mp4").exists()
    certificate = json.loads((folder / "deletion-certificate.json").read_text())
    assert certificate["recording_id"] == world.deleted
    assert "deleted under the retention rules" in (out / layout.SCHEDULE_CSV).read_text()
    for result in run_readme(out):
        assert result.returncode == 0, (result.args, result.stderr)


def test_only_those_who_may_export_the_case_can(world: World, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        world.export(tmp_path / "x", who="charlie")
    assert not (tmp_path / "x").exists()


def test_a_schedule_of_nothing_but_sensitive_material_exports_nothing(
    world: World, tmp_path: Path
) -> None:
    from custody.domain.disclosure import Use
    from custody.services.evidence import cases

    dana = world.principal("dana")
    case = cases.create_case(
        world.system,
        dana,
        reference="01/555555/26",
        title="Informant",
        actor=dana.actor(),
        members=["fran"],
    )
    cases.add_to_case(world.system, dana, case.id, world.sensitive, None, dana.actor())
    mark(world.system, case.id, world.sensitive, Use.UNUSED_SENSITIVE)
    with pytest.raises(Conflict, match="sensitive material never leaves"):
        world.export(tmp_path / "y", case_id=case.id)
    assert not (tmp_path / "y").exists()


# --- tampering: each makes both verifiers fail, naming the part -----------------------


def _flip_footage(bag: Path, world: World) -> None:
    path = bag / layout.recording_dir(world.exhibit) / "original.mp4"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_camera_manifest(bag: Path, world: World) -> None:
    path = bag / layout.recording_dir(world.exhibit) / "camera-manifest.json"
    path.write_text(path.read_text().replace('"1234AB"', '"9999ZZ"'))


def _rewrite_bagit_manifest(bag: Path, world: World) -> None:
    """Alter the footage and write its new hash into the BagIt manifest: the seal breaks."""
    _flip_footage(bag, world)
    name = layout.recording_dir(world.exhibit) + "original.mp4"
    import hashlib

    digest = hashlib.sha256((bag / name).read_bytes()).hexdigest()
    lines = [
        f"{digest}  {name}" if line.endswith("  " + name) else line
        for line in (bag / layout.MANIFEST).read_text().splitlines()
    ]
    (bag / layout.MANIFEST).write_text("\n".join(lines) + "\n")
    tag_lines = [
        f"{hashlib.sha256((bag / layout.MANIFEST).read_bytes()).hexdigest()}  {layout.MANIFEST}"
        if line.endswith("  " + layout.MANIFEST)
        else line
        for line in (bag / layout.TAGMANIFEST).read_text().splitlines()
    ]
    (bag / layout.TAGMANIFEST).write_text("\n".join(tag_lines) + "\n")


def _drop_audit_event(bag: Path, world: World) -> None:
    path = bag / layout.recording_dir(world.exhibit) / "audit-trail.json"
    trail = json.loads(path.read_text())
    del trail["events"][1]
    path.write_text(json.dumps(trail, indent=2))


def _swap_checkpoint(bag: Path, world: World) -> None:
    """Put another genuine, signed checkpoint (of the closed case's export) in its place."""
    index = json.loads((bag / layout.INDEX).read_text())
    other = bag.parent / "other-for-swap"
    if not other.exists():
        world.export(other, case_id=world.deleted_case_id)
    other_size = json.loads((other / layout.INDEX).read_text())["newest_checkpoint_size"]
    for suffix in (".json", ".canonical.json", ".sig"):
        source = other / (layout.checkpoint_stem(other_size) + suffix)
        target = bag / (layout.checkpoint_stem(index["newest_checkpoint_size"]) + suffix)
        shutil.copyfile(source, target)


def _remove_receipt(bag: Path, world: World) -> None:
    (bag / layout.recording_dir(world.unused) / "ingest-receipt.sig").unlink()


TAMPERING: dict[str, tuple[Callable[[Path, World], None], str]] = {
    "flip one byte of footage": (_flip_footage, "the original footage of recording"),
    "edit the camera's manifest": (_edit_camera_manifest, "the camera's signed manifest"),
    "rewrite the BagIt manifest": (_rewrite_bagit_manifest, "the BagIt tag manifest"),
    "drop an audit event": (_drop_audit_event, "the audit trail of recording"),
    "swap a checkpoint": (_swap_checkpoint, "the signed audit checkpoint over"),
    "remove a file": (_remove_receipt, "the server's ingest receipt of recording"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_tampering_fails_both_verifiers_naming_the_part(
    how: str, world: World, bundle: Path, tmp_path: Path
) -> None:
    tamper, part = TAMPERING[how]
    bag = tmp_path / "bundle"
    shutil.copytree(bundle, bag)
    assert all(r.returncode == 0 for r in run_readme(bag))  # whole before
    tamper(bag, world)
    verdict = verify_bundle(bag, world.system.server_key.public_key())
    assert verdict.failure is not None
    assert part in verdict.failure.part, verdict.failure
    failed = [r for r in run_readme(bag) if r.returncode != 0]
    assert failed, f"the standard tools did not notice: {how}"
    assert any(r.args.startswith(("openssl", "sha256sum")) for r in failed)


def test_the_cli_verifier_names_the_failure_and_exits_1(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    data_dir = world.system.settings.data_dir
    whole = run_custody(data_dir, "bundle", "verify", str(bundle))
    assert whole.returncode == 0, whole.stderr
    assert "intact" in whole.stdout
    bag = tmp_path / "bundle"
    shutil.copytree(bundle, bag)
    _drop_audit_event(bag, world)
    broken = run_custody(data_dir, "bundle", "verify", str(bag))
    assert broken.returncode == 1
    assert f"the audit trail of recording {world.exhibit}" in broken.stderr


def test_the_cli_exports_a_zip(world: World, tmp_path: Path) -> None:
    out = tmp_path / "from-cli.zip"
    result = run_custody(
        world.system.settings.data_dir,
        "bundle",
        "export",
        "01/123456/26",
        "--out",
        str(out),
        "--zip",
        "--as",
        "fran",
    )
    assert result.returncode == 0, result.stderr
    assert verify_bundle(out).failure is None


# --- an export killed half-way --------------------------------------------------------


def _export_and_die(world: World, out: Path, at: str) -> None:
    world.system.engine.dispose(close=False)  # the child's own connections

    def die(name: str, done: int, total: int) -> None:
        if name.endswith(at):
            os._exit(9)  # as abrupt as a kill: no cleanup runs

    world.export(out, progress=die)
    os._exit(0)


@pytest.mark.parametrize(
    ("at", "sealed"),
    [
        ("original.mp4", False),
        ("bundle.json", False),
        ("README.txt", False),  # the last payload file: not yet sealed
        (layout.TAGMANIFEST_SIGNATURE, True),  # sealed, killed before the rename
    ],
)
def test_an_export_killed_half_way_is_never_offered_as_complete(
    at: str, sealed: bool, world: World, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    child = multiprocessing.get_context("fork").Process(
        target=_export_and_die, args=(world, out, at)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert not out.exists()
    leftover = out.with_name(out.name + ".partial")
    assert leftover.is_dir()
    # Under its temporary name only, whether or not its last byte was written.
    assert (verify_bundle(leftover).failure is None) is sealed
    # The next export starts again from nothing and finishes.
    world.export(out)
    assert verify_bundle(out).failure is None
    assert not leftover.exists()


def test_an_existing_bundle_is_never_overwritten(world: World, bundle: Path) -> None:
    before = sorted(p.name for p in bundle.iterdir())
    with pytest.raises(Conflict):
        world.export(bundle)
    assert sorted(p.name for p in bundle.iterdir()) == before


def test_the_readme_commands_are_shell_words(bundle: Path) -> None:
    for command in readme_commands(bundle):
        assert shlex.split(command)


# --- what only the proofs catch: a bag re-sealed by someone holding the server's key -----


def _reseal(bag: Path, world: World) -> None:
    """Recompute both manifests and sign again, as only the server's key holder could."""
    import hashlib

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    payload = [
        (path.relative_to(bag).as_posix(), digest(path))
        for path in sorted((bag / "data").rglob("*"))
        if path.is_file()
    ]
    (bag / layout.MANIFEST).write_bytes(layout.manifest_text(payload))
    info = (bag / layout.BAG_INFO).read_text().splitlines()
    size = sum((bag / name).stat().st_size for name, _ in payload)
    info = [
        f"Payload-Oxum: {size}.{len(payload)}" if i.startswith("Payload-Oxum") else i for i in info
    ]
    (bag / layout.BAG_INFO).write_text("\n".join(info) + "\n")
    tags = [
        (name, digest(bag / name)) for name in (layout.BAGIT_TXT, layout.BAG_INFO, layout.MANIFEST)
    ]
    (bag / layout.TAGMANIFEST).write_bytes(layout.manifest_text(tags))
    signature = world.system.server_key.sign((bag / layout.TAGMANIFEST).read_bytes())
    (bag / layout.TAGMANIFEST_SIGNATURE).write_bytes(signature)


RESEALED: dict[str, tuple[Callable[[Path, World], None], str]] = {
    "drop an audit event": (_drop_audit_event, "event"),
    "swap a checkpoint": (_swap_checkpoint, "checkpoint"),
    "edit the camera's manifest": (_edit_camera_manifest, "camera-manifest"),
}


@pytest.mark.parametrize("how", list(RESEALED))
def test_a_resealed_bundle_still_fails_on_its_proofs_and_signatures(
    how: str, world: World, bundle: Path, tmp_path: Path
) -> None:
    tamper, named = RESEALED[how]
    bag = tmp_path / "bundle"
    shutil.copytree(bundle, bag)
    tamper(bag, world)
    _reseal(bag, world)
    bagit.Bag(str(bag)).validate()  # the hashes are all consistent again
    verdict = verify_bundle(bag, world.system.server_key.public_key())
    assert verdict.failure is not None
    assert named in str(verdict.failure), verdict.failure


def test_a_bundle_checked_against_another_servers_key_fails_at_the_key(bundle: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    verdict = verify_bundle(bundle, Ed25519PrivateKey.generate().public_key())
    assert verdict.failure is not None
    assert verdict.failure.part.startswith("the server's public key")
    assert "not the key you gave" in verdict.failure.problem


def test_a_later_bundle_proves_the_trail_under_the_earlier_checkpoint_and_links_them(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "again"
    world.export(out)
    index = json.loads((out / layout.INDEX).read_text())
    anchors = {r["audit_checkpoint_size"] for r in index["recordings"]}
    newest = index["newest_checkpoint_size"]
    older = sorted(anchors - {newest})
    assert older, "the trails should be proven under the checkpoint published before"
    proof = out / layout.consistency_path(older[0], newest)
    assert proof.is_file()
    assert verify_bundle(out).failure is None
    # A consistency proof that does not join them is caught, even re-sealed.
    document = json.loads(proof.read_text())
    document["path"][0] = "00" * 32
    proof.write_text(json.dumps(document))
    _reseal(out, world)
    verdict = verify_bundle(out)
    assert verdict.failure is not None
    assert "consistency proof" in verdict.failure.part
