"""A bag as its files: a folder on disk, or one zip holding a single top-level folder."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

BLOCK = 1024 * 1024


class Bag(Protocol):
    """The files of a bag by their paths relative to its root (`data/...`, `bagit.txt`)."""

    def names(self) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> BinaryIO: ...

    def close(self) -> None: ...


def read_bytes(bag: Bag, name: str, limit: int = 64 * 1024 * 1024) -> bytes:
    """A small file whole; ValueError past `limit` (a tag or JSON file is never that big)."""
    with bag.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} is larger than any such file can be")
    return data


def blocks(bag: Bag, name: str) -> Iterator[bytes]:
    with bag.open(name) as handle:
        while block := handle.read(BLOCK):
            yield block


class FolderBag:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        found: list[str] = []
        for folder, _, files in os.walk(self.root):
            for file in files:
                found.append(Path(folder, file).relative_to(self.root).as_posix())
        return sorted(found)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def open(self, name: str) -> BinaryIO:
        return open(self.root / name, "rb")

    def close(self) -> None:
        return None


class ZipBag:
    """A zipped bag: BagIt's serialisation is one top-level folder named after the bag."""

    def __init__(self, path: Path) -> None:
        self.archive = zipfile.ZipFile(path)
        members = [info.filename for info in self.archive.infolist() if not info.is_dir()]
        tops = {name.split("/", 1)[0] for name in members}
        if len(tops) != 1 or any("/" not in name for name in members):
            self.archive.close()
            raise ValueError("a zipped bag holds exactly one top-level folder")
        self.prefix = tops.pop() + "/"
        self._names = sorted(name.removeprefix(self.prefix) for name in members)

    def names(self) -> list[str]:
        return list(self._names)

    def exists(self, name: str) -> bool:
        return name in self._names

    def open(self, name: str) -> BinaryIO:
        try:
            return self.archive.open(self.prefix + name)  # type: ignore[return-value]
        except KeyError:
            raise FileNotFoundError(name) from None

    def close(self) -> None:
        self.archive.close()


def open_bag(path: Path) -> Bag:
    """The bag at `path`; ValueError if it is neither a folder nor a zip."""
    if path.is_dir():
        return FolderBag(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipBag(path)
    raise ValueError(f"{path} is neither a bundle folder nor a zip")
