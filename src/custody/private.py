"""Files at rest are the service's alone: folders 0700, files 0600, whatever the umask.

Footage, the database, the job queue, partial uploads and the server key all live under
the data dir. Each is made with owner-only modes as it is created (an explicit mode, not
the process's umask, which a library caller or a service manager may leave at 022), and
`tighten` narrows what an older installation left readable to others when a server starts.
SQLite makes its `-wal` and `-shm` files with its database file's mode, so a database file
made here keeps its companions private too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# The modes that would let anyone but the owner read, write or enter.
OTHERS = stat.S_IRWXG | stat.S_IRWXO
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """`path` as a folder, each missing folder on the way made 0700; returns `path`."""
    missing: list[Path] = []
    at = path
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it first: tighten below
        os.chmod(folder, PRIVATE_DIR)
    return path


def open_private(path: Path, flags: int) -> int:
    """`os.open` that makes a new file 0600 (flags as os.open; O_CREAT is added)."""
    return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)


def private_file(path: Path) -> Path:
    """An existing file narrowed to 0600, or a new empty one made 0600; returns `path`."""
    private_dir(path.parent)
    os.close(open_private(path, os.O_WRONLY))
    tighten(path)
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database file (made empty if missing: SQLite takes it as a new database) and
    whatever journal files it has, narrowed to 0600."""
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            tighten(companion)
    return path


def tighten(path: Path) -> None:
    """Take from `path` (not what is in it) every permission of group and others."""
    mode = path.stat().st_mode
    if mode & OTHERS:
        os.chmod(path, stat.S_IMODE(mode) & ~OTHERS)
