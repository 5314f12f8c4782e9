"""The objects the database names, read a page at a time, so that a walk over every object
(a migration, a store verification) holds one page in memory whatever the store's size.

Live names come in name order, each once, by keyset: every page asks each name column for
its next `page` names after the last one seen (an index range scan per column), and keeps
the first `page` of their union. Deleted recordings come by id, with the names their
deletion certificates list. Redacted copies, their records and face thumbnails (a few per
request or case, not one per recording) are read whole and merged into the same order.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select, union_all

from custody.db.models import Recording
from custody.db.models.disclosure import Clip
from custody.domain.retention import DELETED
from custody.services.objects.fixity import live_names
from custody.services.retention.derived import live_copy_objects
from custody.services.system import System

# Names read from the database at a time.
PAGE = 500


def live_names_in_order(system: System, page: int = PAGE, after: str = "") -> Iterator[str]:
    """Every live object's name (each live recording's original and derivatives, every clip
    not deleted, every redacted copy, record and face thumbnail not deleted with its
    original), once each, in name order, starting after `after`."""
    copies = sorted(name for name in copy_names(system) if name > after)
    last = None
    for name in heapq.merge(_recorded_names(system, page, after), copies):
        if name != last:
            yield name
        last = name


def _recorded_names(system: System, page: int, after: str) -> Iterator[str]:
    while True:
        with system.unit_of_work() as uow:
            names: list[str] = list(uow.session.scalars(_next_page(after, page)))
        yield from names
        if len(names) < page:
            return
        after = names[-1]


def copy_names(system: System) -> set[str]:
    """The names of every live redacted copy's objects and face thumbnail."""
    with system.unit_of_work() as uow:
        return live_copy_objects(uow)


def _next_page(after: str, page: int) -> Select[Any]:
    # Distinct within each column too: names two rows share (a thumbnail, say) must not
    # fill a column's page and push a name of its own past it.
    branches = [
        select(column.label("sha256"))
        .where(Recording.state != DELETED, column > after)
        .distinct()
        .order_by(column)
        .limit(page)
        .subquery()
        for column in Recording.__table__.columns
        if column.name.endswith("sha256")
    ]
    branches.append(
        select(Clip.sha256.label("sha256"))
        .where(Clip.deleted_at.is_(None), Clip.sha256 > after)
        .distinct()
        .order_by(Clip.sha256)
        .limit(page)
        .subquery()
    )
    merged = union_all(*[select(b.c.sha256) for b in branches]).subquery("next")
    return select(merged.c.sha256).distinct().order_by(merged.c.sha256).limit(page)


def count_live(system: System) -> int:
    """How many distinct live objects there are (the database counts those rows name; the
    names made from recordings that it does not know as such are added)."""
    with system.unit_of_work() as uow:
        counted = int(uow.session.scalar(select(func.count()).select_from(live_names())) or 0)
    copies = sorted(copy_names(system))
    return counted + len(set(copies) - _recorded_live(system, copies))


def which_live(system: System, names: list[str], copies: set[str]) -> set[str]:
    """Those of `names` that a live recording, clip, redacted copy or scan still names;
    `copies` is `copy_names`, read once by a walk rather than once per page."""
    if not names:
        return set()
    return _recorded_live(system, names) | (set(names) & copies)


def _recorded_live(system: System, names: list[str]) -> set[str]:
    if not names:
        return set()
    live = live_names()
    with system.unit_of_work() as uow:
        return set(uow.session.scalars(select(live.c.sha256).where(live.c.sha256.in_(names))))


def deleted_recording_pages(system: System, page: int = PAGE) -> Iterator[tuple[int, list[str]]]:
    """The names deleted recordings had (each one's original and what its certificate
    lists), a page of recordings at a time in recording-id order: how many recordings the
    page held, and their names, each once, less those a live recording or clip still names
    (their bytes must stay)."""
    after = ""
    copies = copy_names(system)
    while True:
        with system.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Recording.id, Recording.sha256, Recording.deletion_certificate)
                .where(Recording.state == DELETED, Recording.id > after)
                .order_by(Recording.id)
                .limit(page)
            ).all()
        names: dict[str, None] = {}
        for _rid, original, certificate in rows:
            names[original] = None
            for name in json.loads(certificate or "{}").get("objects", []):
                names[name] = None
        listed = list(names)
        still = which_live(system, listed, copies)
        yield len(rows), [name for name in listed if name not in still]
        if len(rows) < page:
            return
        after = rows[-1][0]


def count_deleted_recordings(system: System) -> int:
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count()).select_from(Recording).where(Recording.state == DELETED)
            )
            or 0
        )
