"""Rotating the key-encryption key (`custody store rotate-kek`): every data key wrapped again.

The objects are not touched: only their data keys, a row each, are unwrapped by the old key
and wrapped by the new one, a batch per transaction, each row only if it is still wrapped by
a key other than the new one (two runs at once do each row once). The rotation is a row of
its own (`kek_rotations`) from its first moment, and every node wraps the data keys of new
objects by its new key from then on (`storage.kek.Keyring`), so the old key's data keys
only ever get fewer. Killed at any point, every data key opens (by the old key or the new,
the name beside it says which) and the next run carries on.

The old key is retired only once no data key is wrapped by it, counted again just before:
a key file is moved to `keys/retired/` (0600) and the new file put in its place (rename(2):
every node reads its key file again when it is replaced); keep the retired file as long as
database backups taken before the rotation are kept (31 days), then destroy it. A key in an
HSM is left on its token (destroying it is the HSM officer's act); the report says it wraps
nothing now, and CUSTODY_PKCS11_KEY_LABEL should name the new one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, update

from custody.db.models.storage import KekRotation, ObjectKey
from custody.domain.actor import Actor
from custody.domain.errors import InvalidInput
from custody.private import private_dir, tighten
from custody.services.objects.answers import RotationReport
from custody.services.system import System
from custody.storage.encryption import PLAINTEXT, EncryptedStore, KeyEncryptionKey
from custody.storage.kek import FileKek, Keyring, Pkcs11Config, Pkcs11Kek, next_key_path

BATCH = 500
STARTED_TAG = "system:storage:kek_rotation_started"
ROTATED_TAG = "system:storage:kek_rotated"
RETIRED_TAG = "system:storage:kek_retired"

Step = Callable[[int], None]


def rotate_kek(
    system: System,
    *,
    to_label: str | None = None,
    batch: int = BATCH,
    progress: Step | None = None,
    planned: Callable[[int], None] | None = None,
    fault: Callable[[int], None] | None = None,
) -> RotationReport:
    """Wrap every data key by a new key-encryption key, then retire the old one.

    A key file installation makes the new key itself (`storage-kek.next.bin` beside the
    key file, kept across a killed run); an HSM one names a key already made on the same
    token (`to_label`). `fault(batches_done)` runs after each batch (tests kill the run)."""
    store = system.store
    if not isinstance(store, EncryptedStore) or not isinstance(store.kek, Keyring):
        raise InvalidInput("encryption at rest is off (CUSTODY_STORAGE_ENCRYPTION): no keys")
    keyring = store.kek
    settings = system.settings
    with system.unit_of_work() as uow:
        rotation = uow.session.scalars(
            select(KekRotation).where(KekRotation.finished_at.is_(None)).limit(1)
        ).first()
        if rotation is not None:
            new = keyring.get(rotation.to_kek)  # a killed run's: carry on
            if to_label is not None and new.kek_id != _hsm_id(settings.pkcs11_token, to_label):
                raise InvalidInput(
                    f"a rotation to {rotation.to_kek} is under way: finish it first "
                    "(run rotate-kek again without --to-label)"
                )
        else:
            new = _new_key(system, keyring, to_label)
            rotation = KekRotation(
                from_kek=keyring.current.kek_id,
                to_kek=new.kek_id,
                started_at=uow.now(),
                finished_at=None,
                rewrapped=0,
            )
            uow.session.add(rotation)
            uow.session.flush()  # its id, which the batches below update
            uow.audit(
                STARTED_TAG,
                Actor.system(),
                object_type="key",
                object_id=new.kek_id[:80],
                details={"from": rotation.from_kek, "to": new.kek_id},
            )
        rotation_id, from_kek, to_kek = rotation.id, rotation.from_kek, rotation.to_kek
        uow.commit()
    if planned is not None:
        planned(_left(system, to_kek))
    done = batches = 0
    after = ""
    while True:
        with system.unit_of_work() as uow:
            rows = uow.session.execute(
                select(ObjectKey.sha256, ObjectKey.kek_id, ObjectKey.wrapped)
                .where(
                    ObjectKey.kek_id.not_in([to_kek, PLAINTEXT]),
                    ObjectKey.sha256 > after,
                )
                .order_by(ObjectKey.sha256)
                .limit(batch)
            ).all()
            for sha, kek_id, wrapped in rows:
                data_key = keyring.get(kek_id).unwrap(wrapped)
                changed = uow.session.execute(
                    update(ObjectKey)
                    .where(ObjectKey.sha256 == sha, ObjectKey.kek_id == kek_id)
                    .values(kek_id=to_kek, wrapped=new.wrap(data_key))
                )
                done += getattr(changed, "rowcount", 0) or 0
            row = uow.session.get(KekRotation, rotation_id, with_for_update=True)
            if row is not None:
                row.rewrapped += len(rows)
            uow.commit()
        if not rows:
            # A node that wrapped under the old key just before the rotation began: once
            # more from the start, until none is left.
            if _left(system, to_kek) == 0:
                break
            after = ""
            continue
        after = rows[-1][0]
        batches += 1
        if progress is not None:
            progress(len(rows))
        if fault is not None:
            fault(batches)
    retired = _retire(system, from_kek, to_kek, rotation_id)
    return RotationReport(
        from_kek=from_kek, to_kek=to_kek, rewrapped=done, finished=True, retired=retired
    )


def _hsm_id(token: str | None, label: str) -> str:
    return f"pkcs11:{token}/{label}"


def _new_key(system: System, keyring: Keyring, to_label: str | None) -> KeyEncryptionKey:
    settings = system.settings
    if settings.pkcs11_module:
        if not to_label:
            raise InvalidInput("name the new key on the HSM token: --to-label LABEL")
        pin = settings.resolved_pkcs11_pin
        if not settings.pkcs11_token or pin is None:
            raise InvalidInput("CUSTODY_PKCS11_TOKEN and CUSTODY_PKCS11_PIN(_FILE) are needed")
        new: KeyEncryptionKey = Pkcs11Kek(
            Pkcs11Config(settings.pkcs11_module, settings.pkcs11_token, pin, to_label)
        )
    else:
        if to_label:
            raise InvalidInput("--to-label is for a key in an HSM; a key file is made here")
        new = FileKek.create(next_key_path(settings.resolved_kek_file))
    if new.kek_id == keyring.current.kek_id:
        raise InvalidInput(f"{new.kek_id} is the key in use already")
    return new


def _left(system: System, to_kek: str) -> int:
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(ObjectKey)
                .where(ObjectKey.kek_id.not_in([to_kek, PLAINTEXT]))
            )
            or 0
        )


def _retire(system: System, from_kek: str, to_kek: str, rotation_id: int) -> str:
    """Retire the old key now that no data key is wrapped by it (counted again here)."""
    with system.unit_of_work() as uow:
        left = uow.session.scalar(
            select(func.count()).select_from(ObjectKey).where(ObjectKey.kek_id == from_kek)
        )
        if left:
            raise InvalidInput(f"{left} data key(s) are still wrapped by {from_kek}: run again")
        settings = system.settings
        if settings.pkcs11_module:
            retired = (
                f"{from_kek} wraps no data key now: set CUSTODY_PKCS11_KEY_LABEL to the new "
                "key's label, and destroy the old key on the HSM once database backups from "
                "before this rotation have expired"
            )
        else:
            retired = _swap_key_files(settings.resolved_kek_file, from_kek)
        row = uow.session.get(KekRotation, rotation_id, with_for_update=True)
        if row is not None:
            row.finished_at = uow.now()
        uow.audit(
            ROTATED_TAG,
            Actor.system(),
            object_type="key",
            object_id=to_kek[:80],
            details={"from": from_kek, "to": to_kek},
        )
        uow.audit(
            RETIRED_TAG,
            Actor.system(),
            object_type="key",
            object_id=from_kek[:80],
            details={"retired": retired},
        )
        uow.commit()
    return retired


def _swap_key_files(current: Path, from_kek: str) -> str:
    following = next_key_path(current)
    retired_dir = private_dir(current.parent / "retired")
    retired = retired_dir / (from_kek.replace(":", "-") + ".bin")
    if following.exists():
        if current.exists() and FileKek.load(current).kek_id == from_kek:
            shutil.copyfile(current, retired)
            tighten(retired)
            with open(retired, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(following, current)
        fd = os.open(current.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return (
        f"{from_kek} wraps no data key now: moved to {retired}; destroy it once database "
        "backups from before this rotation have expired"
    )
