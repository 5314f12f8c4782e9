"""Data keys in the database, and the sealed store every process opens (docs/storage.md).

The store (`storage/encryption.py`) asks for an object's wrapped data key here; each ask is
its own short transaction, so that a key is durable before its object's bytes are. The
key-encryption key is checked when a process starts: a wrong or missing one is refused then,
not discovered as unreadable footage later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from custody.config import Settings
from custody.db.engine import make_reader_engine
from custody.db.models.storage import KekRotation, ObjectKey
from custody.domain.clock import Clock
from custody.domain.errors import InvalidInput, StoreUnavailable, WrongKeyEncryptionKey
from custody.storage import BlobStore, open_store
from custody.storage.encryption import (
    PLAINTEXT,
    EncryptedStore,
    KeyEncryptionKey,
    WrappedKey,
    looks_sealed,
)
from custody.storage.kek import FileKek, KeyFile, Keyring, Pkcs11Config, Pkcs11Kek, next_key_path

if TYPE_CHECKING:
    from custody.services.system import System, UnitOfWork

logger = logging.getLogger(__name__)


class DatabaseDataKeys:
    """Wrapped data keys, a row per object name, shared by every server node."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, reader: Engine) -> None:
        self.sessions = sessions
        self.clock = clock
        # Reads happen beside open units of work (a purge, a playback): never wait on them.
        self.reader = reader

    def find(self, sha256: str) -> WrappedKey | None:
        with self.reader.connect() as connection:
            row = connection.execute(
                select(ObjectKey.kek_id, ObjectKey.wrapped, ObjectKey.resealing).where(
                    ObjectKey.sha256 == sha256
                )
            ).first()
        return None if row is None else WrappedKey(row.kek_id, row.wrapped, row.resealing)

    def keep(self, sha256: str, key: WrappedKey) -> WrappedKey:
        with self.sessions() as session:
            session.add(
                ObjectKey(
                    sha256=sha256, kek_id=key.kek_id, wrapped=key.wrapped, created_at=self._now()
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another node kept one first: the first one stands
            else:
                return key
        kept = self.find(sha256)
        if kept is None:
            raise RuntimeError(f"the data key of {sha256} vanished while being kept")
        return kept

    def destroy(self, sha256: str) -> bool:
        """For tools outside any unit of work; a use case calls `shred` in its own."""
        with self.sessions() as session:
            gone = session.execute(delete(ObjectKey).where(ObjectKey.sha256 == sha256))
            session.commit()
            return bool(getattr(gone, "rowcount", 0))

    def _now(self) -> datetime:
        return self.clock.now()


def shred(uow: UnitOfWork, shas: Iterable[str]) -> list[str]:
    """Destroy these objects' data keys in the unit of work's transaction: once it commits,
    every copy of their bytes, in any store or backup, is noise. Returns those it destroyed
    (not the objects stored before encryption at rest: their copies are plaintext)."""
    wanted = sorted(set(shas))
    if not wanted:
        return []
    found = list(
        uow.session.scalars(
            select(ObjectKey.sha256).where(
                # Not one whose sealing in place was under way: its bytes may be plaintext.
                ObjectKey.sha256.in_(wanted),
                ObjectKey.kek_id != PLAINTEXT,
                ObjectKey.resealing.is_(False),
            )
        )
    )
    uow.session.execute(delete(ObjectKey).where(ObjectKey.sha256.in_(wanted)))
    return sorted(found)


def load_kek(
    settings: Settings, sessions: sessionmaker[Session], reader: Engine | None = None
) -> Keyring:
    """The key-encryption keys, proven against the wrapped keys already kept.

    The configured key (a file, or an HSM key) must be the one the data keys are wrapped by,
    or, while a rotation is under way or after it (`kek_rotations`), its old or new key.
    Each key that wraps data keys is proven on one of them now. The key file is made on
    first start only: when data keys exist and the file does not, making a new one would
    silently orphan them, so that is refused instead.
    """
    with sessions() as session:
        samples = session.execute(
            select(ObjectKey.kek_id, func.min(ObjectKey.sha256), func.count())
            .where(ObjectKey.kek_id != PLAINTEXT)
            .group_by(ObjectKey.kek_id)
        ).all()
        rotation = session.scalars(
            select(KekRotation).order_by(KekRotation.id.desc()).limit(1)
        ).first()
        wrapped = {
            sha: value
            for sha, value in session.execute(
                select(ObjectKey.sha256, ObjectKey.wrapped).where(
                    ObjectKey.sha256.in_([sample[1] for sample in samples])
                )
            )
        }
    count = sum(sample[2] for sample in samples)
    current: Callable[[], KeyEncryptionKey]
    if settings.pkcs11_module:
        hsm = _pkcs11_config(settings, settings.pkcs11_key_label)
        fixed = Pkcs11Kek(hsm)
        current = lambda: fixed  # noqa: E731
    else:
        path = settings.resolved_kek_file
        if not samples and rotation is None:
            FileKek.create(path)
        elif not path.exists():
            named = samples[0][0] if samples else rotation.to_kek if rotation else "?"
            raise WrongKeyEncryptionKey(
                f"no key-encryption key at {path}, yet {count} data keys were wrapped by "
                f"{named}: restore that key file (a new one would read nothing)"
            )
        current = KeyFile(path)
    keyring = Keyring(current, _finder(settings), _target(reader) if reader else lambda: None)
    configured = keyring.current.kek_id
    allowed = {configured}
    if rotation is not None:
        allowed |= (
            {rotation.to_kek} if rotation.finished_at else {rotation.from_kek, rotation.to_kek}
        )
    for kek_id, sha, _count in samples:
        if kek_id not in allowed:
            raise WrongKeyEncryptionKey(
                f"the data keys were wrapped by key-encryption key {kek_id}, "
                f"but the one configured is {configured}"
            )
        keyring.get(kek_id).unwrap(wrapped[sha])  # WrongKeyEncryptionKey if it is not really it
    if rotation is not None and rotation.finished_at and rotation.to_kek != configured:
        logger.warning(
            "the key-encryption key was rotated to %s; configure it (the one configured, %s, "
            "wraps nothing now)",
            rotation.to_kek,
            configured,
        )
    return keyring


def _pkcs11_config(settings: Settings, label: str) -> Pkcs11Config:
    pin = settings.resolved_pkcs11_pin
    if not settings.pkcs11_module or not settings.pkcs11_token or pin is None:
        raise WrongKeyEncryptionKey(
            "CUSTODY_PKCS11_MODULE needs CUSTODY_PKCS11_TOKEN and CUSTODY_PKCS11_PIN(_FILE)"
        )
    return Pkcs11Config(settings.pkcs11_module, settings.pkcs11_token, pin, label)


def _finder(settings: Settings) -> Callable[[str], KeyEncryptionKey | None]:
    """How a key other than the configured one is found: by its label on the same HSM
    token, or among the key files (the configured one and a rotation's next one)."""
    if settings.pkcs11_module:
        prefix = f"pkcs11:{settings.pkcs11_token}/"

        def on_token(kek_id: str) -> KeyEncryptionKey | None:
            if not kek_id.startswith(prefix):
                return None
            try:
                return Pkcs11Kek(_pkcs11_config(settings, kek_id[len(prefix) :]))
            except WrongKeyEncryptionKey:
                return None

        return on_token
    path = settings.resolved_kek_file

    def in_files(kek_id: str) -> KeyEncryptionKey | None:
        for candidate in (path, next_key_path(path)):
            if candidate.exists():
                found = FileKek.load(candidate)
                if found.kek_id == kek_id:
                    return found
        return None

    return in_files


def _target(reader: Engine) -> Callable[[], str | None]:
    """The key new data keys are wrapped by: the latest rotation's, asked each time (a
    rotation begun on another node reaches this one with its next data key)."""

    def latest() -> str | None:
        with reader.connect() as connection:
            found: str | None = connection.execute(
                select(KekRotation.to_kek).order_by(KekRotation.id.desc()).limit(1)
            ).scalar()
        return found

    return latest


def open_sealed_store(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: Clock,
    url: str | None = None,
) -> BlobStore:
    """The store at `url` (default: the configured one), sealed unless encryption is off."""
    inner = open_store(url or settings.resolved_storage_url)
    if not settings.storage_encryption:
        return inner
    reader = make_reader_engine(settings.resolved_database_url, engine)
    keys = DatabaseDataKeys(sessions, clock, reader)
    store = EncryptedStore(
        inner, keys, load_kek(settings, sessions, reader), remember_openings=url is None
    )
    adopt_plaintext_objects(store, sessions, clock)
    return store


def adopt_plaintext_objects(
    store: EncryptedStore, sessions: sessionmaker[Session], clock: Clock
) -> int:
    """On an installation's first start with encryption at rest, mark the objects it stored
    before as plaintext, so that they still read (docs/storage.md, "Encryption at rest").

    Done once: only while no object has a key row at all. An object that looks sealed (a
    shredded one whose bytes a crashed purge left) is not adopted."""
    with sessions() as session:
        if session.scalar(select(ObjectKey.sha256).limit(1)) is not None:
            return 0
    now = clock.now()
    found = []
    try:
        for sha in store.inner.iter_objects():
            head = b"".join(store.inner.read(sha, 0, 1))
            if not looks_sealed(head, store.inner.size(sha)):
                found.append(ObjectKey(sha256=sha, kek_id=PLAINTEXT, wrapped=b"", created_at=now))
    except StoreUnavailable:
        # Said by `custody doctor` and by every request that needs the store; adopting
        # waits for the next start (nothing is sealed meanwhile: no key row is written).
        logger.warning("the object store did not answer: older objects are adopted next start")
        return 0
    if found:
        with sessions() as session:
            session.add_all(found)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another node adopted them first
                return 0
    return len(found)


def open_other_store(system: System, url: str) -> BlobStore:
    """Another store (a migration's target, a restored backup) sealed like the system's own:
    the same data keys, so that sealed bytes copy across as they are."""
    try:
        inner = open_store(url)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    store = system.store
    if isinstance(store, EncryptedStore):
        return EncryptedStore(inner, store.keys, store.kek, store.layout)
    return inner
