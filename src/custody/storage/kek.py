"""The key-encryption key, held outside the database: a file in the data dir, or an HSM.

Data keys are wrapped with AES key wrap (RFC 3394): 32 bytes in, 40 out, and an integrity
check built in, so that unwrapping with another key fails cleanly instead of giving noise.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from custody.domain.errors import WrongKeyEncryptionKey
from custody.private import open_private, private_dir

if TYPE_CHECKING:
    from custody.storage.encryption import KeyEncryptionKey

KEK_FILE = "storage-kek.bin"
KEK_BYTES = 32
GCM_NONCE_BYTES = 12
WRAP_AAD = b"custody data key"


# One logged-in session per token and process: PKCS#11 logs in an application once per
# token (a second login is refused), and every key on the token is reached through it.
_SESSIONS: dict[tuple[str, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _logged_in(pkcs11: Any, config: Pkcs11Config) -> Any:
    with _SESSIONS_LOCK:
        session = _SESSIONS.get((config.module, config.token_label))
        if session is not None:
            return session
        lib = pkcs11.lib(config.module)
        try:
            token = lib.get_token(token_label=config.token_label)
        except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned) as exc:
            raise WrongKeyEncryptionKey(
                f"no single PKCS#11 token labelled {config.token_label!r} in {config.module}"
            ) from exc
        try:
            session = token.open(user_pin=config.pin)
        except pkcs11.PKCS11Error as exc:
            raise WrongKeyEncryptionKey(
                f"the PKCS#11 token {config.token_label!r} refused the PIN ({type(exc).__name__})"
            ) from exc
        _SESSIONS[(config.module, config.token_label)] = session
        return session


def kek_path(keys_dir: Path) -> Path:
    return keys_dir / KEK_FILE


class FileKek:
    """A 256-bit AES key in a file of its own (0600)."""

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != KEK_BYTES:
            raise WrongKeyEncryptionKey(f"{source} does not hold a 256-bit key")
        self._key = key
        self.source = source
        # A name that tells keys apart without revealing anything of them.
        self._id = "file:" + hmac.new(key, b"custody kek id", hashlib.sha256).hexdigest()[:16]

    @property
    def kek_id(self) -> str:
        return self._id

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, wrapped)
        except InvalidUnwrap:
            raise WrongKeyEncryptionKey(
                f"the key-encryption key {self._id} ({self.source}) did not wrap this data key"
            ) from None

    @classmethod
    def load(cls, path: Path) -> FileKek:
        try:
            return cls(path.read_bytes(), str(path))
        except FileNotFoundError:
            raise WrongKeyEncryptionKey(f"no key-encryption key at {path}") from None

    @classmethod
    def create(cls, path: Path) -> FileKek:
        """Make the key file once; an existing one is kept, never replaced."""
        if path.exists():
            return cls.load(path)
        private_dir(path.parent)
        temp = path.with_suffix(".tmp")
        with os.fdopen(open_private(temp, os.O_WRONLY | os.O_TRUNC), "wb") as out:
            out.write(os.urandom(KEK_BYTES))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        return cls.load(path)


@dataclass(frozen=True)
class Pkcs11Config:
    """Where the HSM's key is: its PKCS#11 module, token, PIN and the key's label."""

    module: str
    token_label: str
    pin: str
    key_label: str


class Pkcs11Kek:
    """An AES key that never leaves a hardware security module: the HSM wraps and unwraps.

    The HSM seals each data key with CKM_AES_GCM under its own key (C_Encrypt/C_Decrypt: the
    data keys are session data to the HSM, its key never leaves it). SoftHSM2 offers the AES
    key-wrap mechanisms only for C_WrapKey on key objects, while GCM's tag gives the same
    clean refusal of a wrong key. Wrapped form: nonce (12 bytes) || ciphertext || tag.
    """

    def __init__(self, config: Pkcs11Config) -> None:
        import pkcs11

        self._pkcs11: Any = pkcs11
        self.config = config
        self._session: Any = _logged_in(pkcs11, config)
        try:
            self._key: Any = self._session.get_key(
                object_class=pkcs11.ObjectClass.SECRET_KEY, label=config.key_label
            )
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
            raise WrongKeyEncryptionKey(
                f"no single AES key labelled {config.key_label!r} on token {config.token_label!r}"
            ) from exc
        self._id = f"pkcs11:{config.token_label}/{config.key_label}"

    @property
    def kek_id(self) -> str:
        return self._id

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(GCM_NONCE_BYTES)
        sealed = self._key.encrypt(
            data_key, mechanism=self._pkcs11.Mechanism.AES_GCM, mechanism_param=self._gcm(nonce)
        )
        return nonce + bytes(sealed)

    def unwrap(self, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[:GCM_NONCE_BYTES], wrapped[GCM_NONCE_BYTES:]
        try:
            return bytes(
                self._key.decrypt(
                    sealed,
                    mechanism=self._pkcs11.Mechanism.AES_GCM,
                    mechanism_param=self._gcm(nonce),
                )
            )
        except self._pkcs11.PKCS11Error:
            raise WrongKeyEncryptionKey(
                f"the HSM key {self._id} did not wrap this data key"
            ) from None

    def _gcm(self, nonce: bytes) -> Any:
        from pkcs11.mechanisms import GCMParams

        return GCMParams(nonce, WRAP_AAD)

    @staticmethod
    def generate(config: Pkcs11Config) -> None:
        """Make the AES-256 key on the token (set-up and tests; a force's HSM officer does this
        with the vendor's tools). Not extractable: it never leaves the HSM."""
        import pkcs11

        token = pkcs11.lib(config.module).get_token(token_label=config.token_label)
        with token.open(user_pin=config.pin, rw=True) as session:
            session.generate_key(
                pkcs11.KeyType.AES,
                256,
                label=config.key_label,
                store=True,
                template={
                    pkcs11.Attribute.EXTRACTABLE: False,
                    pkcs11.Attribute.SENSITIVE: True,
                },
            )


class Keyring:
    """The key-encryption keys a process may use: data keys are unwrapped by the key named
    beside them, and new ones wrapped by the key the installation now wraps with (`target`:
    the database says, so that a rotation reaches every node at once). Keys other than the
    configured one are found on demand (`find`: the next key file, another label on the
    same HSM token), never guessed."""

    def __init__(
        self,
        current: Callable[[], KeyEncryptionKey],
        find: Callable[[str], KeyEncryptionKey | None],
        target: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._current = current
        self._find = find
        self._target = target
        self._found: dict[str, KeyEncryptionKey] = {}
        self._lock = threading.Lock()

    @property
    def current(self) -> KeyEncryptionKey:
        return self._current()

    @property
    def kek_id(self) -> str:
        return self.wrapping().kek_id

    def wrapping(self) -> KeyEncryptionKey:
        """The key new data keys are wrapped by now."""
        target = self._target()
        current = self._current()
        if target is None or target == current.kek_id:
            return current
        return self.get(target)

    def wrap(self, data_key: bytes) -> bytes:
        return self.wrapping().wrap(data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        return self._current().unwrap(wrapped)

    def get(self, kek_id: str) -> KeyEncryptionKey:
        """The key named `kek_id`; WrongKeyEncryptionKey naming it if none here is it."""
        current = self._current()
        if kek_id == current.kek_id:
            return current
        with self._lock:
            found = self._found.get(kek_id)
            if found is None:
                found = self._find(kek_id)
                if found is None or found.kek_id != kek_id:
                    raise WrongKeyEncryptionKey(
                        f"data keys are wrapped by key-encryption key {kek_id}, which is not "
                        f"available here (the configured one is {current.kek_id})"
                    )
                self._found[kek_id] = found
        return found


class KeyFile:
    """A key file read again when it is replaced (a finished rotation puts the new key in
    the old one's place): every process then wraps with the new key without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._key: FileKek | None = None
        self._lock = threading.Lock()

    def __call__(self) -> FileKek:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._key is not None:
                return self._key  # replaced this instant (rename): the one we had stands
            raise WrongKeyEncryptionKey(f"no key-encryption key at {self.path}") from None
        with self._lock:
            if self._key is None or self._seen != (stat.st_ino, stat.st_mtime_ns):
                self._key = FileKek.load(self.path)
                self._seen = (stat.st_ino, stat.st_mtime_ns)
            return self._key


def next_key_path(current: Path) -> Path:
    """Where a rotation keeps the new key file until every data key is wrapped by it."""
    return current.with_name(current.stem + ".next" + current.suffix)
