"""Importing officers or cameras from a CSV file: every row checked first, then all or nothing.

Officers' files have the columns `warrant_number,name,rank,unit` (and optionally
`card_id`); cameras' files `serial,model,firmware,public_key,status` (and optionally
`officer`, `pool`, `borough`, to issue them as they arrive). The header tells the
two apart. Every row is checked (fields, duplicates within the file, clashes with
what is registered already) before anything is written, and every problem is
reported with its row and column; one problem anywhere and nothing is imported.
Row numbers are a spreadsheet's: the header is row 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from custody.db.models import Camera, Officer
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.fleet import CameraStatus, IssueMode
from custody.domain.principal import Principal
from custody.services.access import permit
from custody.services.fleet.answers import ImportResult, RowFailure
from custody.services.fleet.registry import (
    MAX_UNIT,
    camera_problems,
    normal_card,
    officer_problems,
    open_assignment,
)
from custody.services.system import System, UnitOfWork

OFFICER_COLUMNS = ("warrant_number", "name", "rank", "unit")
OFFICER_OPTIONAL = ("card_id",)
CAMERA_COLUMNS = ("serial", "model", "firmware", "public_key", "status")
CAMERA_OPTIONAL = ("officer", "pool", "borough")
MAX_ROWS = 100_000
MAX_BYTES = 64 * 1024 * 1024
# Look-ups of existing keys go in slices: a 22,000-row file is 44 queries, not 22,000.
IN_CHUNK = 500
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0", ""})


class ImportRefused(InvalidInput):
    """The file had problems; nothing was imported."""

    code = "import_refused"

    def __init__(self, failures: list[RowFailure], rows: int, kind: str | None) -> None:
        count = len(failures)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the file "
            f"({rows} data row{'s' if rows != 1 else ''}); nothing was imported"
        )
        self.failures = failures
        self.rows = rows
        self.kind = kind


@dataclass
class _Parsed:
    kind: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)

    def fail(self, row: int, column: str | None, why: str) -> None:
        self.failures.append(RowFailure(row=row, column=column, why=why))


def _whole(row: int, why: str) -> RowFailure:
    """A problem of a whole row (or of the file, row 0), not of one column."""
    return RowFailure(row=row, column=None, why=why)


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            [_whole(0, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")],
            0,
            None,
        )
    try:
        # Spreadsheets often save UTF-8 with a byte-order mark: utf-8-sig drops it.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [_whole(0, f"the file is not UTF-8 text (byte {exc.start})")], 0, None
        ) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with its row number; a malformed one raises ImportRefused."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise ImportRefused(
            [_whole(number + 1, f"not valid CSV: {exc}")], max(0, number - 1), None
        ) from None


def parse(data: bytes | str) -> _Parsed:
    """Read the header and rows, noting problems of shape; raises when nothing can be read."""
    records = _records(_text(data))
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise ImportRefused([_whole(1, "the file is empty: no header")], 0, None)
    header = [cell.strip().lower() for cell in first[1]]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    if "warrant_number" in header:
        kind, required, optional = "officers", OFFICER_COLUMNS, OFFICER_OPTIONAL
    elif "serial" in header:
        kind, required, optional = "cameras", CAMERA_COLUMNS, CAMERA_OPTIONAL
    else:
        raise ImportRefused(
            [
                _whole(
                    1,
                    "the header names neither officers (" + ",".join(OFFICER_COLUMNS) + ") "
                    "nor cameras (" + ",".join(CAMERA_COLUMNS) + ")",
                )
            ],
            0,
            None,
        )
    parsed = _Parsed(kind, header)
    for column in required:
        if column not in header:
            parsed.fail(1, column, "this column is missing from the header")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            parsed.fail(1, column, "this column appears twice in the header")
        seen.add(column)
        if column not in required and column not in optional:
            parsed.fail(
                1,
                column or "(blank)",
                f"unknown column for a {kind} file; the columns are "
                + ",".join(required + optional),
            )
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (often at the end of a file) are not rows
        if len(parsed.rows) >= MAX_ROWS:
            parsed.fail(number, None, f"a file holds at most {MAX_ROWS} rows")
            break
        if len(cells) != len(header):
            parsed.fail(number, None, f"{len(cells)} fields; the header has {len(header)}")
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        parsed.rows.append((number, values))
    return parsed


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _officers(
    uow: UnitOfWork, column: InstrumentedAttribute[str | None], values: Iterable[str]
) -> dict[str, Officer]:
    """The officers whose `column` (warrant number, card) is one of `values`, by that value."""
    found: dict[str, Officer] = {}
    for chunk in _chunks(sorted(set(values))):
        for key, officer in uow.session.execute(select(column, Officer).where(column.in_(chunk))):
            if key is not None:
                found[key] = officer
    return found


def _known_serials(uow: UnitOfWork, values: Iterable[str]) -> set[str]:
    """Which of these serials are registered already."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(values))):
        found.update(uow.session.scalars(select(Camera.serial).where(Camera.serial.in_(chunk))))
    return found


def _duplicates(
    parsed: _Parsed, column: str, normal: Callable[[str | None], str | None] | None = None
) -> None:
    first: dict[str, int] = {}
    for number, row in parsed.rows:
        value = row.get(column, "")
        key = normal(value) if normal is not None else value
        if not key:
            continue
        if key in first:
            parsed.fail(number, column, f"{value!r} is on row {first[key]} already")
        else:
            first[key] = number


def _check_officers(uow: UnitOfWork, parsed: _Parsed) -> None:
    for number, row in parsed.rows:
        for column, why in officer_problems(
            row["warrant_number"], row["name"], row["rank"], row["unit"], row.get("card_id")
        ):
            parsed.fail(number, column, why)
    _duplicates(parsed, "warrant_number")
    _duplicates(parsed, "card_id", normal_card)
    known = _officers(uow, Officer.warrant_number, (r["warrant_number"] for _, r in parsed.rows))
    cards = _officers(
        uow, Officer.card_id, (c for _, r in parsed.rows if (c := normal_card(r.get("card_id"))))
    )
    for number, row in parsed.rows:
        if row["warrant_number"] in known:
            parsed.fail(number, "warrant_number", "this officer is registered already")
        card = normal_card(row.get("card_id"))
        if card is not None and card in cards:
            parsed.fail(
                number, "card_id", f"this card is officer {cards[card].warrant_number}'s already"
            )


def _pool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    return None


def _check_cameras(uow: UnitOfWork, parsed: _Parsed) -> dict[str, Officer]:
    holders = _officers(
        uow, Officer.warrant_number, (o for _, r in parsed.rows if (o := r.get("officer")))
    )
    for number, row in parsed.rows:
        officer = row.get("officer") or None
        pool = _pool(row.get("pool", ""))
        borough = row.get("borough", "")
        status = row["status"] or (
            CameraStatus.ISSUED if officer or pool else CameraStatus.IN_STOCK
        )
        row["status"] = status
        for column, why in camera_problems(
            row["serial"], row["model"], row["firmware"], row["public_key"], status
        ):
            parsed.fail(number, column, why)
        if pool is None:
            parsed.fail(number, "pool", "pool is yes or no")
        if officer is not None and officer not in holders:
            parsed.fail(number, "officer", f"no officer with warrant number {officer!r}")
        if officer is not None and pool:
            parsed.fail(number, "pool", "a camera is issued to one officer or to a pool, not both")
        elif (officer is not None or pool) and status != CameraStatus.ISSUED:
            parsed.fail(number, "status", "a camera issued to an officer or a pool is 'issued'")
        if pool and not borough:
            parsed.fail(number, "borough", "a pool camera needs the borough whose pool it joins")
        if len(borough) > MAX_UNIT:
            parsed.fail(number, "borough", f"a borough is at most {MAX_UNIT} characters")
    _duplicates(parsed, "serial")
    known = _known_serials(uow, (r["serial"] for _, r in parsed.rows))
    for number, row in parsed.rows:
        if row["serial"] in known:
            parsed.fail(number, "serial", "this camera is registered already")
    return holders


def _create_officers(uow: UnitOfWork, parsed: _Parsed, actor: Actor, sha: str) -> None:
    now = uow.now()
    for _, row in parsed.rows:
        officer = Officer(
            warrant_number=row["warrant_number"],
            name=row["name"],
            rank=row["rank"] or "PC",
            unit=row["unit"],
            card_id=normal_card(row.get("card_id")),
            created_at=now,
        )
        uow.session.add(officer)
        uow.audit(
            "fleet:officer:create",
            actor,
            object_type="officer",
            object_id=officer.warrant_number,
            details={
                "name": officer.name,
                "unit": officer.unit,
                "rank": officer.rank,
                "card": officer.card_id is not None,
                "import": sha,
            },
        )


def _create_cameras(
    uow: UnitOfWork, parsed: _Parsed, holders: dict[str, Officer], actor: Actor, sha: str
) -> None:
    now = uow.now()
    for _, row in parsed.rows:
        holder = holders.get(row.get("officer") or "")
        pool = bool(_pool(row.get("pool", "")))
        camera = Camera(
            serial=row["serial"],
            model=row["model"],
            firmware=row["firmware"],
            public_key=row["public_key"],
            status=row["status"],
            pool=pool,
            borough=holder.unit if holder is not None else (row.get("borough") or None),
            registered_at=now,
            status_changed_at=now,
        )
        uow.session.add(camera)
        uow.audit(
            "fleet:camera:register",
            actor,
            object_type="camera",
            object_id=camera.serial,
            details={
                "model": camera.model,
                "firmware": camera.firmware,
                "officer": holder.warrant_number if holder is not None else None,
                "status": camera.status,
                "pool": pool,
                "borough": camera.borough,
                "import": sha,
            },
        )
        if holder is not None:
            open_assignment(uow, camera, holder, IssueMode.PERSONAL, actor)


def import_csv(
    system: System,
    principal: Principal,
    data: bytes | str,
    *,
    actor: Actor | None = None,
) -> ImportResult:
    """Import officers or cameras from CSV, all rows or none; ImportRefused lists every problem."""
    who = actor or principal.actor()
    # Asked before the file is read: a file may hold 100,000 rows.
    permit(system, principal, SystemAction.MANAGE_FLEET, who)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    sha = hashlib.sha256(raw).hexdigest()
    parsed = parse(data)
    if not parsed.rows and not parsed.failures:
        parsed.fail(2, None, "the file has a header but no rows")
    with system.unit_of_work() as uow:
        # The checks against the database run in the transaction that writes: on SQLite
        # it holds the write lock; on PostgreSQL a racing insert fails the commit below.
        holders: dict[str, Officer] = {}
        if not any(f.row == 1 for f in parsed.failures):
            if parsed.kind == "officers":
                _check_officers(uow, parsed)
            else:
                holders = _check_cameras(uow, parsed)
        if parsed.failures:
            failures = sorted(parsed.failures, key=lambda f: (f.row, f.column or ""))
            raise ImportRefused(failures, len(parsed.rows), parsed.kind)
        if parsed.kind == "officers":
            _create_officers(uow, parsed, who, sha)
        else:
            _create_cameras(uow, parsed, holders, who, sha)
        uow.audit(
            f"fleet:{parsed.kind}:import",
            who,
            object_type="import",
            object_id=sha[:16],
            details={"rows": len(parsed.rows), "sha256": sha},
        )
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()
            raise Conflict(
                "someone registered some of these at the same moment; nothing was imported, "
                "import the file again to see which"
            ) from None
    return ImportResult(kind=parsed.kind, created=len(parsed.rows), sha256=sha)
