"""Every page stays index-driven as the force grows: its plans and its number of queries.

A force is seeded in bulk (`custody.tools.force`, a few thousand recordings, ANALYZEd) on
SQLite and PostgreSQL and served; each hot page is requested as the person who uses it,
every statement it runs is captured, and each one's plan (EXPLAIN QUERY PLAN, EXPLAIN) must
read `recordings`, `recording_categories` and `audit_events` through an index: never a full
scan of them, and the index meant for the page where one is named. Nothing is timed: a plan
that reads the whole table is what made pages slow at a million recordings.

Then the same pages on two forces of different sizes (recordings, cases, docks) must run
the same number of statements: a query per row of a list (N+1) would show as a difference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, func, select, update
from typer.testing import CliRunner

from custody.cli import app as cli
from custody.config import Settings
from custody.db.models import Recording
from custody.db.models.audit import AuditEvent, AuditPending
from custody.domain.clock import ManualClock
from custody.domain.principal import Principal
from custody.services import access, cursors
from custody.services.answers import MAX_PAGE, Page
from custody.services.counting import COUNT_BOUND, rows_up_to
from custody.services.evidence import cases as case_service
from custody.services.identity import signin, users
from custody.services.recordings import search as searching
from custody.services.recordings.search import Search
from custody.services.retention import review
from custody.services.system import System
from custody.tools.force import HOT_PAGES as PAGES
from custody.tools.force import NOW, REASON, Seeded, assume_statistics, seed
from custody.web.deps import SESSION_COOKIE
from custody.web.portal import fleet as fleet_portal
from custody.web.portal import retention as retention_portal
from tests.apps import app_for
from tests.conftest import Installer, PostgresAdmin, postgres_database_url
from tests.integration.compliance_days import hours_wrong, nearby_wrong, summary_wrong

# The tables a page must never read whole: they grow with the force's footage (the
# compliance summary with its days).
GROWING = (
    "recordings",
    "recording_categories",
    "audit_events",
    "compliance_days",
    "compliance_hours",
)
# PostgreSQL plan nodes that read all of their input before giving a row (an incremental
# sort, of rows already in order of the index, does not).
BLOCKING = ("Hash", "Sort", "Aggregate", "SetOp", "WindowAgg")


# For counting statements a page must list something at both sizes (an empty list skips
# the queries a list's rows take): the same searches, wider (60 days; any flag).
COUNTED = {
    "search: unit, 7 days, category": f"/search?{REASON}&unit={{borough}}&since=2027-01-01T00:00",
    "search: officer, evidence, table": f"/search?{REASON}&officer=Officer+000001&view=table",
}

# Where a page is meant to use a particular index, its name (a pattern on the plans).
MEANT: dict[str, str | tuple[str, ...]] = {
    "my footage": r"ix_recordings_officer_(stored|started)",
    "api recordings (officer)": r"ix_recordings_officer_(stored|started)",
    "fleet": r"ix_cameras_last_dock_id",
    "recording's audit trail": r"ix_audit_events_object_id",
    # A borough's pending deletions along the due dates, the team filtered in the index
    # (services/planning.py), never each officer's footage read and sorted.
    "retention (supervisor)": r"ix_recordings_seen_due_cover",
    # A team's month counted from the facts kept on each recording, read from the index alone
    # (services/retention/compliance.py), never each recording's categories and notes; its
    # oldest doubtful found among its officers' doubtful alone (the partial index, 0027),
    # never the whole month read and sorted.
    "compliance (supervisor)": (r"ix_recordings_compliance", r"ix_recordings_doubtful"),
    # The force's month and weeks summed from the per-team, per-day summary along its days
    # (migration 0025), and what falls between whole days from the per-hour one (0027),
    # never the force's footage counted recording by recording.
    "compliance (force-wide)": (
        r"(sqlite_autoindex_|pk_|ix_)compliance_days",
        r"(sqlite_autoindex_|pk_|ix_)compliance_hours",
    ),
    # Each borough's uploaded officers and idle cameras counted from the indexes alone
    # (migration 0026), never 22,000 officers' and cameras' rows read for their dates.
    "roll-out": r"ix_cameras_borough_recorded",
    # The newest uncategorised along the time index, never every uncategorised recording
    # (tombstones too) read through the doubt candidates' index and sorted: 2.3 s at a
    # million on SQLite when the flag was matched by equality.
    "search: uncategorised": r"ix_recordings_started_at",
}


@dataclass
class Statements:
    """The statements an engine runs while `on`, with their parameters."""

    engine: Engine
    on: bool = False
    seen: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(
        self,
        connection: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.on and not executemany:
            self.seen.append((statement, parameters))


@dataclass
class Served:
    system: System
    force: Seeded
    client: TestClient
    statements: Statements
    sessions: dict[str, str]

    def get(self, page: str, address: str | None = None) -> list[tuple[str, Any]]:
        """Ask for a page as its person (at its address, or this one); the statements it ran."""
        role, usual = PAGES[page]
        address = address or usual
        url = self.force.address(address)
        self.client.cookies.set(SESSION_COOKIE, self.sessions[role])
        self.statements.seen.clear()
        self.statements.on = True
        try:
            answer = self.client.get(url, headers={"Accept": "text/html"})
        finally:
            self.statements.on = False
        assert answer.status_code == 200, f"{page}: {answer.status_code} {answer.text[:300]}"
        return list(self.statements.seen)


@pytest.fixture(scope="module")
def modules_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plans")


def _serve(system: System, force: Seeded) -> Iterator[Served]:
    statements = Statements(system.engine)
    sessions = {}
    for role, username in force.users.items():
        principal = users.principal_named(system, username)
        sessions[role] = signin.start_session(system, principal, method="password").secret
    with TestClient(app_for(system), follow_redirects=False) as client:
        yield Served(system, force, client, statements, sessions)
    event.remove(system.engine, "before_cursor_execute", statements._record)
    system.engine.dispose()


# The planner's statistics of a seeded force at scale (`benchmarks/portal_scale.py
# --statistics`): the small force's plans are checked as SQLite would plan them there.
AT_SCALE = json.loads((Path(__file__).parent / "force_statistics.json").read_text())


def _sqlite_force(
    where: Path, install: Installer, recordings: int, cases: int, docks: int, *, at_scale: bool
) -> Iterator[Served]:
    clock = ManualClock(NOW)
    settings = Settings(data_dir=where / "data", database_url=f"sqlite:///{where / 'f.db'}")
    system = install(settings, clock=clock)
    force = seed(system.engine, recordings, cases=cases, docks_per_borough=docks)
    if at_scale:
        assume_statistics(system.engine, [tuple(row) for row in AT_SCALE["sqlite_stat1"]])
    yield from _serve(system, force)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, modules_tmp: Path, install: Installer
) -> Iterator[Served]:
    """A force of 4,000 recordings, 60 cases and 96 docks, served, on each database; on
    SQLite planned as a force of hundreds of thousands (its statistics, `AT_SCALE`)."""
    where = modules_tmp / request.param
    if request.param == "sqlite":
        yield from _sqlite_force(where, install, 4000, 60, 3, at_scale=True)
        return
    admin: PostgresAdmin = request.getfixturevalue("postgres_admin")
    template: str = request.getfixturevalue("postgres_template")
    with admin.copy_of(template) as name:
        settings = Settings(data_dir=where / "data", database_url=postgres_database_url(name))
        system = install(settings, clock=ManualClock(NOW))
        force = seed(system.engine, 4000, cases=60, docks_per_borough=3)
        yield from _serve(system, force)


@pytest.fixture(scope="module")
def smaller(modules_tmp: Path, install: Installer) -> Iterator[Served]:
    """A force of 1,200 recordings, 25 cases and 64 docks, on SQLite: more docks than the
    fleet page shows at once, as the larger force has, so that both page them."""
    yield from _sqlite_force(modules_tmp / "smaller", install, 1200, 25, 2, at_scale=False)


def _plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan's lines: SQLite's details, or PostgreSQL's nodes as "Node Type on relation
    using index", marked "(whole)" where an index is read with no condition."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return [str(row[3]) for row in rows]
        # A few thousand rows fit in a few pages, which PostgreSQL rightly reads whole; with
        # sequential scans priced out, one left in the plan is one no index can replace.
        connection.exec_driver_sql("SET enable_seqscan = off")
        found = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        document = found.scalar_one()
        plan = document if isinstance(document, list) else json.loads(document)
    lines: list[str] = []

    def walk(node: dict[str, Any], bounded: bool) -> None:
        # An index read with no condition on it is a read of the whole index (in order);
        # beneath a LIMIT, with nothing between that must read all its input first (a sort,
        # a hash, an aggregate, a subplan), it stops where the page or the count is full.
        whole = "Index Name" in node and "Index Cond" not in node
        line = node["Node Type"]
        if "Relation Name" in node:
            line += f" on {node['Relation Name']}"
        if "Index Name" in node:
            line += f" using {node['Index Name']}" + (" (whole)" if whole else "")
        lines.append(line + (" (bounded)" if bounded else ""))
        kind = node["Node Type"]
        below = True if kind == "Limit" else bounded and kind not in BLOCKING
        for child in node.get("Plans", []):
            walk(child, below and child.get("Parent Relationship") not in ("SubPlan", "InitPlan"))

    walk(plan[0]["Plan"], False)
    return lines


def _full_scans(dialect: str, statement: str, lines: list[str]) -> list[str]:
    """The lines of a plan that read a growing table whole: a read a LIMIT stops where the
    page (or a count's bound) is full is not (on SQLite, of recordings in a LIMITed
    statement; on PostgreSQL, any read streaming up to a Limit node)."""
    bad = []
    limited = re.search(r"\bLIMIT\b", statement, re.IGNORECASE) is not None
    for line in lines:
        if dialect == "sqlite":
            scan = re.match(r"SCAN (\w+)", line)
            if scan is None or scan.group(1) not in GROWING:
                continue
            # A scan of recordings stopped by a LIMIT (a page of the newest, walking the time
            # index; a count up to its bound) reads as far as the page needs; a scan of the
            # others, or one without a LIMIT (an exact count, an aggregate), reads them whole.
            if scan.group(1) == "recordings" and limited:
                continue
            bad.append(line)
        else:
            relation = re.search(r" on (\w+)", line)
            scan = line.startswith("Seq Scan") or "(whole)" in line
            if scan and relation and relation.group(1) in GROWING and "(bounded)" not in line:
                bad.append(line)
    return bad


def _selects(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]


PAGE_NAMES = list(PAGES)


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_a_page_reads_growing_tables_only_through_indexes(served: Served, page: str) -> None:
    engine = served.system.engine
    dialect = engine.dialect.name
    plans = []
    for statement, parameters in _selects(served.get(page)):
        lines = _plan(engine, statement, parameters)
        plans.append(lines)
        bad = _full_scans(dialect, statement, lines)
        assert not bad, f"{page} on {dialect} reads a table whole: {bad}\n{statement}\n{lines}"
    meant = MEANT.get(page, ())
    for pattern in (meant,) if isinstance(meant, str) else meant:
        assert any(re.search(pattern, line) for lines in plans for line in lines), (
            f"{page} on {dialect} does not use {pattern}: {plans}"
        )


# Counted once, on SQLite: the statements a page runs are the same on PostgreSQL.
@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_a_page_runs_as_many_queries_however_large_the_force(
    served: Served, smaller: Served, page: str
) -> None:
    large = served.force
    assert (large.recordings, large.cases, large.docks) > (
        smaller.force.recordings,
        smaller.force.cases,
        smaller.force.docks,
    )
    address = COUNTED.get(page)
    counted = {len(smaller.get(page, address)), len(served.get(page, address))}
    assert len(counted) == 1, f"{page}: {sorted(counted)} statements at the two sizes"


def test_the_plans_are_checked_with_statistics_of_every_index_at_scale(served: Served) -> None:
    """Every index of the growing tables has its statistics from a force at scale: an index
    added since they were kept would be planned by its few thousand rows (regenerate them:
    `benchmarks/portal_scale.py --quick --statistics tests/integration/force_statistics.json`)."""
    if served.system.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's statistics cannot be given; its sequential scans are priced out")
    kept = {(tbl, idx) for tbl, idx, _ in AT_SCALE["sqlite_stat1"]}
    with served.system.engine.connect() as connection:
        indexes = connection.exec_driver_sql(
            "SELECT tbl_name, name FROM sqlite_schema WHERE type = 'index'"
            f" AND tbl_name IN ({', '.join('?' * len(GROWING))})",
            GROWING,
        ).all()
        planned = dict(
            connection.exec_driver_sql(
                "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'recordings'"
            ).all()
        )
    missing = sorted(f"{tbl}.{name}" for tbl, name in indexes if (tbl, name) not in kept)
    assert not missing, f"no statistics at scale for {missing}: regenerate them"
    assert AT_SCALE["recordings"] >= 200_000
    assert int(planned["sqlite_autoindex_recordings_1"].split()[0]) == AT_SCALE["recordings"]


def test_the_seeded_force_is_what_the_plans_are_checked_on(served: Served) -> None:
    """The plans above mean something only on a force with footage in every state."""
    force = served.force
    assert force.recordings == 4000 and force.cases == 60 and force.docks == 96
    assert force.recording_id, "the officer's footage is in a case"
    assert force.now - timedelta(days=60) < force.now


def test_a_long_list_says_at_least_and_a_short_one_exactly(served: Served) -> None:
    """A total over thousands is counted up to its bound past the page ("1050+"), and the
    pager still offers the next page; a person's own short list is counted exactly."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["administrator"])
    everything = served.client.get("/api/v1/recordings").json()
    assert everything["total_exact"] is False
    assert everything["total"] == COUNT_BOUND + everything["limit"]
    assert everything["has_next"] is True
    # Deep pages are asked for by cursor, never by an offset the database walks.
    deep = served.client.get("/api/v1/recordings?offset=3000&limit=50")
    assert deep.status_code == 400 and "cursor" in deep.json()["error"]["message"]
    page = served.client.get("/search?sort=newest", headers={"Accept": "text/html"})
    # An administrator sees records, a table of 50 a page (no footage, so no grid of 24).
    assert f"{COUNT_BOUND + 50}+ recordings" in page.text
    assert 'rel="next"' in page.text

    served.client.cookies.set(SESSION_COOKIE, served.sessions["officer"])
    own = served.client.get("/api/v1/recordings?limit=500").json()
    with served.system.engine.connect() as connection:
        recorded = connection.exec_driver_sql(
            "SELECT count(*) FROM recordings WHERE officer_id = 1"
        ).scalar_one()
    assert own["total_exact"] is True and own["has_next"] is False
    assert own["total"] == len(own["items"]) == recorded


def test_a_list_pages_on_by_cursor_from_where_the_last_page_ended(served: Served) -> None:
    """Every recording once, newest first, a page at a time by each page's cursor; the
    last page says there is none after it; a cursor this list never gave is refused."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["officer"])
    own = served.client.get("/api/v1/recordings?limit=500").json()
    assert own["next_cursor"] is None and own["has_next"] is False
    seen: list[tuple[str, str]] = []
    cursor = ""
    while True:
        page = served.client.get(f"/api/v1/recordings?limit=7{cursor}").json()
        seen += [(item["started_at"], item["id"]) for item in page["items"]]
        assert page["total"] == own["total"]
        if page["next_cursor"] is None:
            assert page["has_next"] is False
            break
        assert page["has_next"] is True and len(page["items"]) == 7
        cursor = f"&cursor={page['next_cursor']}"
    assert [rid for _, rid in seen] == [item["id"] for item in own["items"]]
    assert len(set(seen)) == len(seen) == own["total"]
    for forged in ("nonsense", "W10", "WyJ4Il0", "x" * 600):
        answer = served.client.get(f"/api/v1/recordings?cursor={forged}")
        assert answer.status_code in (400, 422), (forged, answer.text)
    both = served.client.get(f"/api/v1/recordings?offset=7&cursor={page['cursor']}")
    assert both.status_code == 400


def test_the_cases_list_pages_on_by_cursor(served: Served) -> None:
    """Professional standards see every case, fifty a page, newest first: the API and the
    portal page on by cursor, each case once."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["professional_standards"])
    ids: list[int] = []
    cursor = ""
    while True:
        page = served.client.get(f"/api/v1/cases?limit=25{cursor}").json()
        assert page["total"] == served.force.cases and page["total_exact"] is True
        ids += [case["id"] for case in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(ids) == len(set(ids)) == served.force.cases
    first = served.client.get("/cases", headers={"Accept": "text/html"})
    assert f"50 of {served.force.cases} cases" in first.text
    older = re.search(r'href="(/cases\?before=[^"]+)" rel="next"', first.text)
    assert older is not None
    second = served.client.get(older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert f"{served.force.cases - 50} of {served.force.cases} cases" in second.text
    assert 'rel="next"' not in second.text and "Newest cases" in second.text
    assert served.client.get("/cases?before=nonsense").status_code == 400


@pytest.mark.parametrize(
    "listing",
    ["/api/v1/retention/pending?", "/api/v1/retention/preview?at=2027-04-01T00:00:00Z&"],
)
def test_retention_lists_page_on_by_cursor_as_by_offset(served: Served, listing: str) -> None:
    """A retention list walked by cursor is the same list, in the same order, as walked by
    offset; past the deepest offset only the cursor goes on."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["administrator"])
    by_offset: list[str] = []
    for offset in range(0, 300, 100):
        page = served.client.get(f"{listing}limit=100&offset={offset}").json()
        by_offset += [item["id"] for item in page["items"]]
    by_cursor: list[str] = []
    cursor = ""
    while len(by_cursor) < 300:
        page = served.client.get(f"{listing}limit=100{cursor}").json()
        by_cursor += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(by_offset) > 100, "the list spans pages"
    assert by_cursor == by_offset and len(by_cursor) == len(set(by_cursor))
    assert served.client.get(f"{listing}offset=1001").status_code in (400, 422)


@pytest.mark.parametrize(
    ("portal", "api", "role", "size"),
    [
        ("/retention", "/api/v1/retention/pending", "administrator", 40),
        ("/retention", "/api/v1/retention/pending", "supervisor", 4),
    ],
)
def test_the_portal_retention_lists_page_on_by_cursor(
    served: Served, monkeypatch: pytest.MonkeyPatch, portal: str, api: str, role: str, size: int
) -> None:
    """A retention list in the portal, followed by its "Next page" link, is the list the API
    gives by offset: each recording once, in order, to its end; a cursor the page never gave
    and an offset past the deepest are refused with a 400 page."""
    monkeypatch.setattr(retention_portal, "PAGE", size)
    served.client.cookies.set(SESSION_COOKIE, served.sessions[role])
    by_offset: list[str] = []
    totals = set()
    for offset in range(0, 1000, 100):
        answer = served.client.get(f"{api}?limit=100&offset={offset}").json()
        by_offset += [item["id"] for item in answer["items"]]
        totals.add((answer["total"], answer["total_exact"]))
        if len(answer["items"]) < 100:
            break
    # Counted apart from the list (a team's officers one by one): the same recordings.
    assert totals == {(len(by_offset), True)}
    shown: list[str] = []
    address = portal
    while True:
        page = served.client.get(address, headers={"Accept": "text/html"})
        assert page.status_code == 200
        shown += re.findall(r'<a href="/recordings/([0-9a-f-]{36})">', page.text)
        assert (address != portal) == ("First page" in page.text)
        following = re.search(r'href="([^"]+)" rel="next">Next page', page.text)
        if following is None:
            break
        assert "after=" in following.group(1) and "offset=" not in following.group(1)
        address = portal + following.group(1).replace("&amp;", "&")
    assert len(by_offset) > 2 * size, "the list spans pages"
    assert shown == by_offset and len(set(shown)) == len(shown)
    for listing in (portal, "/retention/review"):
        for bad in ("after=nonsense", "after=W10", "offset=1001"):
            refused = served.client.get(f"{listing}?{bad}", headers={"Accept": "text/html"})
            assert refused.status_code == 400, (listing, bad)


def test_a_retention_cursor_tells_nothing_of_footage_hidden_from_its_holder(
    served: Served,
) -> None:
    """A cursor forged to name another team's recording due amid the supervisor's pending
    list pages on from its date exactly as one naming no recording at all: only the team's
    footage due after it, never the hidden one."""
    supervisor = users.principal_named(served.system, served.force.users["supervisor"])

    def after(cursor: str | None) -> list[str]:
        found = review.pending(
            served.system, supervisor, supervisor.actor(), limit=500, cursor=cursor
        )
        assert found.next_cursor is None
        return [item.id for item in found.items]

    own = after(None)
    with served.system.engine.connect() as connection:
        due = dict(
            connection.execute(
                select(Recording.id, Recording.seen_delete_due_at).where(Recording.id.in_(own))
            ).all()
        )
        middle = sorted(due.values())[len(due) // 2]
        hidden = connection.execute(
            select(Recording.id, Recording.seen_delete_due_at)
            .where(Recording.id.not_in(own), Recording.seen_delete_due_at < middle)
            .order_by(Recording.seen_delete_due_at.desc())
            .limit(1)
        ).one()
    named = after(cursors.encode(hidden.seen_delete_due_at, hidden.id))
    nobody = after(cursors.encode(hidden.seen_delete_due_at, "f" * 36))
    assert named == nobody == [rid for rid in own if due[rid] > hidden.seen_delete_due_at]
    assert named and hidden.id not in named


@pytest.mark.parametrize("sort", ["newest", "oldest", "longest", "shortest"])
def test_a_search_orders_its_few_matches_as_the_database_orders_many(
    served: Served, sort: str
) -> None:
    """A search whose matches all fit under the count's bound is ordered from their keys;
    one with more is ordered by the database: the two orders are the same."""
    where = [Recording.officer_id == 1, Recording.state != "deleted"]
    keys = select(Recording.id, Recording.started_at, Recording.duration_seconds)
    with served.system.unit_of_work() as uow:
        found, count = rows_up_to(uow, keys.where(*where), Page(limit=MAX_PAGE))
        by_keys = [row.id for row in searching._in_order(found, sort)]
        by_database = [r.id for r in searching._page(uow, where, sort, Page(limit=MAX_PAGE))]
    assert count.exact and len(by_keys) > 10
    assert by_keys == by_database


def test_the_cases_command_lists_every_case(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`custody cases list` pages through the cases by cursor and prints each one."""
    if served.system.engine.dialect.name != "sqlite":
        pytest.skip("the command is the same on both databases")
    settings = served.system.settings
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CUSTODY_DATABASE_URL", settings.resolved_database_url)
    username = served.force.users["professional_standards"]
    result = CliRunner().invoke(cli, ["cases", "list", "--as", username], terminal_width=300)
    assert result.exit_code == 0, result.output
    with served.system.engine.connect() as connection:
        references = connection.exec_driver_sql("SELECT reference FROM cases").scalars().all()
    assert len(references) == served.force.cases
    assert all(reference in result.output for reference in references)


@pytest.mark.parametrize(
    ("listing", "key"),
    [
        ("/api/v1/cameras", "serial"),
        ("/api/v1/docks", "name"),
        ("/api/v1/officers", "warrant_number"),
    ],
)
def test_a_fleet_list_pages_on_by_cursor_as_by_offset(
    served: Served, listing: str, key: str
) -> None:
    """Cameras, docks and officers walked by cursor are the list walked by offset: each once,
    in order, the total the same on every page; a cursor the list never gave, an offset and
    a cursor together, or an offset past the deepest are refused, never answered with 500."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["fleet_manager"])
    whole = served.client.get(f"{listing}?limit=500").json()
    assert whole["next_cursor"] is None and whole["total"] == len(whole["items"]) > 30
    by_offset: list[str] = []
    for offset in range(0, whole["total"], 30):
        by_offset += [
            item[key]
            for item in served.client.get(f"{listing}?limit=30&offset={offset}").json()["items"]
        ]
    by_cursor: list[str] = []
    cursor = ""
    while True:
        page = served.client.get(f"{listing}?limit=30{cursor}").json()
        assert page["total"] == whole["total"] and page["total_exact"] is True
        by_cursor += [item[key] for item in page["items"]]
        if page["next_cursor"] is None:
            assert page["has_next"] is False
            break
        assert page["has_next"] is True and len(page["items"]) == 30
        cursor = f"&cursor={page['next_cursor']}"
    expected = [item[key] for item in whole["items"]]
    assert by_cursor == by_offset == expected == sorted(expected)
    assert len(set(by_cursor)) == whole["total"]
    for forged in ("nonsense", "W10", "WzFd", "x" * 600):
        answer = served.client.get(f"{listing}?cursor={forged}")
        assert answer.status_code in (400, 422), (forged, answer.text)
    both = served.client.get(f"{listing}?offset=30&cursor={page['cursor']}")
    assert both.status_code == 400
    deep = served.client.get(f"{listing}?offset=1001")
    assert deep.status_code == 400 and "cursor" in deep.json()["error"]["message"]


def test_the_fleet_page_pages_its_cameras_by_cursor(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet page's cameras, followed page by page by its "Next cameras" link, are every
    camera once in order of serial; a cursor the page never gave is refused."""
    monkeypatch.setattr(fleet_portal, "CAMERAS_PAGE", 30)
    served.client.cookies.set(SESSION_COOKIE, served.sessions["fleet_manager"])
    every = served.client.get("/api/v1/cameras?limit=500").json()["items"]
    seen: list[str] = []
    address = "/fleet"
    while True:
        page = served.client.get(address, headers={"Accept": "text/html"})
        assert page.status_code == 200
        shown = re.findall(r'<td><a href="/fleet/cameras/([^"]+)">', page.text)
        seen += [unquote(serial) for serial in shown]
        assert f"of {len(every)} cameras" in page.text
        if address != "/fleet":
            assert "First cameras" in page.text
        following = re.search(r'href="([^"]+)" rel="next">Next cameras', page.text)
        if following is None:
            break
        assert len(shown) == 30
        address = following.group(1).replace("&amp;", "&")
    assert seen == [camera["serial"] for camera in every]
    refused = served.client.get("/fleet?after=nonsense", headers={"Accept": "text/html"})
    assert refused.status_code == 400


def test_the_fleet_page_pages_its_docks_by_cursor(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet page's docks, followed page by page by its "Next docks" link, are every
    dock once in order of name, each with as many cameras last docked there as the docks
    list says, the page of cameras kept; a cursor the page never gave is refused."""
    monkeypatch.setattr(fleet_portal, "DOCKS_PAGE", 30)
    monkeypatch.setattr(fleet_portal, "CAMERAS_PAGE", 30)
    served.client.cookies.set(SESSION_COOKIE, served.sessions["fleet_manager"])
    every = served.client.get("/api/v1/docks?limit=500").json()["items"]
    assert len(every) == served.force.docks > 60
    with served.system.engine.connect() as connection:
        docked = dict(
            connection.exec_driver_sql(
                "SELECT docks.name, count(cameras.id) FROM docks"
                " LEFT JOIN cameras ON cameras.last_dock_id = docks.id GROUP BY docks.name"
            ).all()
        )
    assert [d["cameras_last_docked_here"] for d in every] == [docked[d["name"]] for d in every]
    assert any(docked.values())
    first = served.client.get("/fleet", headers={"Accept": "text/html"})
    cameras = re.search(r'href="([^"]+)" rel="next">Next cameras', first.text)
    assert cameras is not None
    seen: list[tuple[str, int]] = []
    address = cameras.group(1).replace("&amp;", "&")
    while True:
        page = served.client.get(address, headers={"Accept": "text/html"})
        assert page.status_code == 200
        rows = re.findall(
            r'<td>([^<]+)<br><span class="muted">[^<]*bays</span></td>.*?'
            r'<td class="num">(\d+)</td>',
            page.text,
            re.DOTALL,
        )
        seen += [(unescape(name), int(count)) for name, count in rows]
        assert f" offline of {len(every)}</li>" in page.text, "of every dock, not the page's"
        assert "Next cameras" in page.text and "First cameras" in page.text, "cameras kept"
        following = re.search(r'href="([^"]+)" rel="next">Next docks', page.text)
        if following is None:
            break
        assert len(rows) == 30 and f"30 of {len(every)} docks" in page.text
        address = following.group(1).replace("&amp;", "&")
    assert "First docks" in page.text
    assert seen == [(d["name"], d["cameras_last_docked_here"]) for d in every]
    refused = served.client.get("/fleet?docks_after=nonsense", headers={"Accept": "text/html"})
    assert refused.status_code == 400


def _investigator(served: Served) -> Principal:
    """The investigator, searching the whole force with a stated reason."""
    found = users.principal_named(served.system, served.force.users["investigator"])
    return replace(found, stated_reason="Operation Nightjar")


@pytest.mark.parametrize("sort", list(searching.SORTS))
@pytest.mark.parametrize("wide", [False, True], ids=["a borough", "the force"])
def test_a_search_pages_on_by_cursor_as_by_offset(served: Served, sort: str, wide: bool) -> None:
    """A search walked by each page's cursor is the search walked by offset, in every order:
    a borough's few matches (ordered from their keys) to their end, and the force's many
    (ordered by the database) for several pages; each recording once."""
    person = _investigator(served)
    query = Search(unit=None if wide else served.force.borough, sort=sort)

    def page(at: Page) -> searching.Results:
        return searching.search(served.system, person, query, person.actor(), page=at)

    first = page(Page(limit=40))
    assert first.total_exact is not wide and first.next_cursor is not None
    depth = 240 if wide else first.total
    by_offset = [card.id for at in range(0, depth, 40) for card in page(Page(at, 40)).items]
    by_cursor: list[str] = []
    found = first
    while True:
        by_cursor += [card.id for card in found.items]
        if found.next_cursor is None or len(by_cursor) >= depth:
            break
        found = page(Page(limit=40, after=found.next_cursor))
        assert found.total == first.total and found.cursor is not None
    assert by_cursor == by_offset and len(set(by_cursor)) == len(by_cursor) == depth
    if not wide:
        assert found.next_cursor is None, "the last page says there is none after it"


def test_a_search_cursor_tells_nothing_of_footage_hidden_from_its_holder(served: Served) -> None:
    """A cursor forged to name a recording the officer may not see pages on from its time
    exactly as one naming no recording at all: only the officer's own footage after it,
    never the hidden one, whose existence changes nothing."""
    officer = users.principal_named(served.system, served.force.users["officer"])

    def after(cursor: str | None) -> list[str]:
        found = searching.search(
            served.system, officer, Search(), officer.actor(), page=Page(limit=500, after=cursor)
        )
        return [card.id for card in found.items]

    own = after(None)
    with served.system.engine.connect() as connection:
        times = dict(
            connection.execute(
                select(Recording.id, Recording.started_at).where(Recording.id.in_(own))
            ).all()
        )
        middle = sorted(times.values())[len(times) // 2]
        hidden = connection.execute(
            select(Recording.id, Recording.started_at)
            .where(Recording.officer_id != 1, Recording.started_at < middle)
            .order_by(Recording.started_at.desc())
            .limit(1)
        ).one()
    assert hidden.id not in own
    named = after(cursors.encode(hidden.started_at, hidden.id))
    nobody = after(cursors.encode(hidden.started_at, "f" * 36))
    assert named == nobody == [rid for rid in own if times[rid] < hidden.started_at]
    assert named and hidden.id not in named


def test_the_search_page_pages_on_by_cursor(served: Served) -> None:
    """The search page's "Next page" link is the page after the last card shown; a cursor
    the page never gave, and an offset past the deepest, are refused with a 400 page."""
    served.client.cookies.set(SESSION_COOKIE, served.sessions["investigator"])
    person = _investigator(served)
    query = Search(sort="oldest")
    expected: list[str] = []
    cursor = None
    for _ in range(3):
        found = searching.search(
            served.system, person, query, person.actor(), page=Page(limit=24, after=cursor)
        )
        expected += [card.id for card in found.items]
        cursor = found.next_cursor
    shown: list[str] = []
    address = f"/search?{REASON}&sort=oldest"
    for _ in range(3):
        page = served.client.get(address, headers={"Accept": "text/html"})
        assert page.status_code == 200
        ids = re.findall(r'href="/recordings/([0-9a-f-]{36})', page.text)
        shown += list(dict.fromkeys(ids))
        following = re.search(r'href="([^"]+)" rel="next"', page.text)
        assert following is not None
        address = "/search" + following.group(1).replace("&amp;", "&")
    assert shown == expected and len(set(shown)) == 72
    for bad in ("after=nonsense", "after=W10", "offset=1001"):
        refused = served.client.get(f"/search?{REASON}&{bad}", headers={"Accept": "text/html"})
        assert refused.status_code == 400, bad


@pytest.mark.parametrize(
    "page", ["recording (investigator)", "recording (professional standards)", "fleet", "cases"]
)
def test_a_page_reads_who_works_on_which_case_once(served: Served, page: str) -> None:
    """However many use cases a page calls, each passing the door, the person's cases are
    read once a request (a system action is decided by role, reading none)."""
    ran = served.get(page)
    reads = [s for s, _ in ran if "FROM case_members WHERE case_members.user_id" in s]
    assert len(reads) <= 1, f"{page} read the person's cases {len(reads)} times"


@pytest.mark.parametrize("page", ["recording (investigator)", "recording (professional standards)"])
def test_the_recording_page_reads_in_one_transaction_and_audits_its_view_once(
    served: Served, page: str
) -> None:
    """The recording page is one transaction beside the sign-in's (and the audit log's
    sequencing of its events): its view, card, pickers, clips and transcript read together,
    the recording opened once, and its view audited once, as when each part was read in a
    transaction of its own."""
    engine = served.system.engine
    began: list[int] = []

    def begin(connection: Connection) -> None:
        if served.statements.on:
            began.append(1)

    def viewed() -> int:
        with engine.connect() as connection:
            return sum(
                connection.execute(
                    select(func.count()).where(
                        table.tag == "user:recording:view",
                        table.object_id == served.force.recording_id,
                    )
                ).scalar_one()
                for table in (AuditEvent, AuditPending)
            )

    before = viewed()
    event.listen(engine, "begin", begin)
    try:
        ran = served.get(page)
    finally:
        event.remove(engine, "begin", begin)
    sequencing = any("FROM audit_head" in statement for statement, _ in ran)
    assert len(began) <= 2 + sequencing, f"{page}: {len(began)} transactions"
    opened = [
        s for s, _ in ran if re.search(r"FROM recordings\s+WHERE recordings.id = (\?|%\(\w+\)s)", s)
    ]
    assert len(opened) == 1, f"{page} opened the recording {len(opened)} times"
    assert viewed() == before + 1


def test_a_case_opened_in_a_request_is_known_to_the_rest_of_it(smaller: Served) -> None:
    """The cases read once a request are read again once the request writes one: the
    investigator who opens a case works on it at once, in the same request (on the smaller
    force, whose cases no other test counts)."""
    person = _investigator(smaller)
    system = smaller.system

    def working_on() -> frozenset[int]:
        with system.unit_of_work() as uow:
            return access.user_case_ids(uow, person.user_id)

    with access.cases_read_once():
        before = working_on()
        assert working_on() == before
        opened = case_service.create_case(
            system, person, reference="OP-ONCE-1", title="Read once", actor=person.actor()
        )
        assert working_on() == before | {opened.id}


def test_the_cameras_command_pages_on_by_cursor(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`custody fleet cameras` says how to ask for the next page, and that page is the next
    cameras by serial."""
    if served.system.engine.dialect.name != "sqlite":
        pytest.skip("the command is the same on both databases")
    settings = served.system.settings
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CUSTODY_DATABASE_URL", settings.resolved_database_url)
    username = served.force.users["fleet_manager"]
    served.client.cookies.set(SESSION_COOKIE, served.sessions["fleet_manager"])
    serials = [c["serial"] for c in served.client.get("/api/v1/cameras?limit=60").json()["items"]]
    runner = CliRunner()
    first = runner.invoke(
        cli, ["fleet", "cameras", "--limit", "30", "--as", username], terminal_width=300
    )
    assert first.exit_code == 0, first.output
    told = re.search(r"--cursor (\S+)", first.output)
    assert told is not None, first.output
    second = runner.invoke(
        cli,
        ["fleet", "cameras", "--limit", "30", "--cursor", told.group(1), "--as", username],
        terminal_width=300,
    )
    assert second.exit_code == 0, second.output
    assert serials[29] in first.output and serials[30] not in first.output
    assert serials[30] in second.output and serials[59] in second.output
    assert serials[29] not in second.output


def test_the_seeded_force_holds_the_compliance_summary_as_the_triggers_would(
    served: Served,
) -> None:
    """The seeder loads the footage with the summaries' triggers set aside and fills the
    summaries and the neighbours' counts as migrations 0025's and 0027's backfills do:
    equal to a recount, and kept again by the triggers for a change after it."""
    engine = served.system.engine
    with engine.connect() as connection:
        assert summary_wrong(connection) == {}
        assert hours_wrong(connection) == {}
        assert nearby_wrong(connection) == {}
        connection.execute(
            update(Recording)
            .where(Recording.id == served.force.recording_id)
            .values(categorised=True, evidential=False, annotated=True)
        )
        assert summary_wrong(connection) == {}
        assert hours_wrong(connection) == {}
        connection.rollback()
