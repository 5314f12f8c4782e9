"""CSV import of officers and cameras: good files, bad files and mixed files, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from custody.cli import app as cli
from custody.db.models import AuditEvent, Camera, Officer
from custody.domain.principal import Principal
from custody.services.fleet import importing, registry
from custody.services.fleet.importing import ImportRefused
from custody.services.identity import users
from custody.services.system import System
from tests.apps import app_for
from tests.factories import administrator, own_token
from tests.integration.fleet_world import public_key

KEY = public_key()
OFFICERS = """warrant_number,name,rank,unit
1001HK,Amira Khan,PS,Hackney
1002HK,Ben Okafor,PC,Hackney
2001CM,"Smith, Chloe",PC,Camden
"""


@pytest.fixture
def admin(system: System) -> Principal:
    return administrator(system)


def counts(system: System) -> tuple[int, int]:
    with system.unit_of_work() as uow:
        officers = uow.session.scalar(select(func.count()).select_from(Officer)) or 0
        cameras = uow.session.scalar(select(func.count()).select_from(Camera)) or 0
        return officers, cameras


def refused(system: System, admin: Principal, text: str | bytes) -> list[tuple[int, str | None]]:
    with pytest.raises(ImportRefused) as caught:
        importing.import_csv(system, admin, text)
    return [(f.row, f.column) for f in caught.value.failures]


def test_a_good_officers_file_imports_every_row(system: System, admin: Principal) -> None:
    result = importing.import_csv(system, admin, OFFICERS.encode("utf-8-sig"))  # a BOM, as Excel
    assert (result.kind, result.created) == ("officers", 3)
    with system.unit_of_work() as uow:
        chloe = uow.session.scalar(select(Officer).where(Officer.warrant_number == "2001CM"))
        assert chloe is not None and (chloe.name, chloe.rank, chloe.unit) == (
            "Smith, Chloe",
            "PC",
            "Camden",
        )
        tags = list(
            uow.session.scalars(
                select(AuditEvent.tag)
                .where(AuditEvent.tag.like("fleet:%"))
                .order_by(AuditEvent.seq)
            )
        )
    assert tags == ["fleet:officer:create"] * 3 + ["fleet:officers:import"]


def test_a_good_cameras_file_registers_and_issues(system: System, admin: Principal) -> None:
    importing.import_csv(system, admin, OFFICERS)
    text = (
        "serial,model,firmware,public_key,status,officer,pool,borough\n"
        f"BWV-1,Axon Body 3,1.4.2,{KEY},issued,1001HK,,\n"
        f"BWV-2,Axon Body 3,1.4.2,{KEY},,,yes,Hackney\n"
        f"BWV-3,Axon Body 3,1.4.1,{KEY},in_stock,,no,\n"
        f"BWV-4,Axon Body 3,1.4.1,{KEY},in_repair,,,\n"
    )
    assert importing.import_csv(system, admin, text).created == 4
    with system.unit_of_work() as uow:
        rows = {
            c.serial: (c.status, c.pool, c.borough, c.officer_id is not None)
            for c in uow.session.scalars(select(Camera))
        }
    assert rows == {
        "BWV-1": ("issued", False, "Hackney", True),
        "BWV-2": ("issued", True, "Hackney", False),
        "BWV-3": ("in_stock", False, None, False),
        "BWV-4": ("in_repair", False, None, False),
    }
    # The minimal header the issue names is enough.
    plain = f"serial,model,firmware,public_key,status\nBWV-5,SimCam,1.0,{KEY},in_stock\n"
    assert importing.import_csv(system, admin, plain).created == 1


def test_a_bad_file_reports_every_problem_by_row_and_column(
    system: System, admin: Principal
) -> None:
    registry.add_officer(
        system, admin, "9999ZZ", name="Already Here", unit="Camden", card_id="CAFE0001"
    )
    text = (
        "warrant_number,name,rank,unit,card_id\n"
        "1001HK,Amira Khan,PS,Hackney,\n"  # row 2: fine
        "10-01,No Warrant,PC,Hackney,\n"  # row 3: bad warrant number
        "1003HK,,PC,,\n"  # row 4: no name, no unit
        "1001HK,Amira Again,PC,Hackney,\n"  # row 5: duplicate of row 2
        "9999ZZ,Already Here,PC,Camden,\n"  # row 6: registered already
        "1004HK,Dev Patel,PC,Hackney,cafe0001\n"  # row 7: another officer's card
        "1005HK,Too,Many,Fields,Here,x\n"  # row 8: too many fields
        "\n"  # blank lines are not rows
    )
    assert refused(system, admin, text) == [
        (3, "warrant_number"),
        (4, "name"),
        (4, "unit"),
        (5, "warrant_number"),
        (6, "warrant_number"),
        (7, "card_id"),
        (8, None),
    ]
    assert counts(system) == (1, 0)


def test_a_mixed_file_imports_nothing(system: System, admin: Principal) -> None:
    importing.import_csv(system, admin, OFFICERS)
    text = (
        "serial,model,firmware,public_key,status,officer\n"
        f"BWV-1,SimCam,1.4.2,{KEY},issued,1001HK\n"
        f"BWV-2,SimCam,1.4.2,not-a-key,issued,1002HK\n"
        f"BWV-3,SimCam,1.4.2,{KEY},broken,\n"
        f"BWV-1,SimCam,1.4.2,{KEY},in_stock,\n"
        f"BWV-4,SimCam,1.4.2,{KEY},issued,7777XX\n"
        f"BWV-5,SimCam,1.4.2,{KEY},in_stock,1002HK\n"
    )
    with pytest.raises(ImportRefused) as caught:
        importing.import_csv(system, admin, text)
    failures = {(f.row, f.column): f.why for f in caught.value.failures}
    assert set(failures) == {
        (3, "public_key"),
        (4, "status"),
        (5, "serial"),
        (6, "officer"),
        (7, "status"),
    }
    assert "row 2" in failures[(5, "serial")]
    assert "7777XX" in failures[(6, "officer")]
    assert caught.value.kind == "cameras" and caught.value.rows == 6
    assert "nothing was imported" in caught.value.message
    assert counts(system) == (3, 0)
    with system.unit_of_work() as uow:
        assert (
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.tag.like("fleet:cam%"))
            )
            == 0
        )


def test_duplicates_against_the_registry_and_within_the_file(
    system: System, admin: Principal
) -> None:
    importing.import_csv(system, admin, OFFICERS)
    again = OFFICERS.replace("2001CM", "2002CM")
    assert refused(system, admin, again) == [(2, "warrant_number"), (3, "warrant_number")]
    cameras = f"serial,model,firmware,public_key,status\nA,m,1,{KEY},in_stock\n"
    importing.import_csv(system, admin, cameras)
    assert refused(system, admin, cameras + f"B,m,1,{KEY},in_stock\nB,m,1,{KEY},in_stock\n") == [
        (2, "serial"),
        (4, "serial"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", (1, None)),
        ("name,rank\nA,PC\n", (1, None)),
        ("warrant_number,name,rank\n1001HK,A,PC\n", (1, "unit")),
        ("warrant_number,name,rank,unit,shoe_size\n1001HK,A,PC,H,9\n", (1, "shoe_size")),
        ("warrant_number,name,rank,unit\n", (2, None)),
        (b"warrant_number,name,rank,unit\n1001HK,\xff\xfe,PC,H\n", (0, None)),
        ('warrant_number,name,rank,unit\n1001HK,"unclosed,PC,H\n', (2, None)),
    ],
    ids=[
        "empty",
        "neither",
        "missing-column",
        "unknown-column",
        "no-rows",
        "not-utf8",
        "bad-quoting",
    ],
)
def test_files_that_cannot_be_read(
    system: System, admin: Principal, text: str | bytes, problem: tuple[int, str | None]
) -> None:
    assert refused(system, admin, text)[0] == problem
    assert counts(system) == (0, 0)


def test_the_command_prints_a_table_of_failures_and_exits_1(
    system: System, admin: Principal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(system.settings.data_dir))
    monkeypatch.setenv("CUSTODY_DATABASE_URL", system.settings.resolved_database_url)
    bad = tmp_path / "officers.csv"
    bad.write_text(OFFICERS + "12,Short Warrant,PC,Hackney\n1002HK,Twice,PC,Hackney\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["fleet", "import", str(bad)])
    assert result.exit_code == 1, result.output
    assert "nothing was imported" in result.output
    for text in ("row", "column", "warrant_number", "is on row 3 already", "5", "6"):
        assert text in result.output
    assert counts(system) == (0, 0)

    good = tmp_path / "good.csv"
    good.write_text(OFFICERS)
    result = runner.invoke(cli, ["fleet", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "imported 3 officers" in result.output
    result = runner.invoke(cli, ["fleet", "import", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2


def test_the_api_imports_and_answers_422_with_the_failures(
    system: System, admin: Principal
) -> None:
    client = TestClient(app_for(system))
    users.create_user(system, admin, "gus", "fleet_manager")
    users.create_user(system, admin, "sam", "supervisor", unit="Hackney")
    gus = {
        "Authorization": f"Bearer {own_token(system, 'gus')}",
        "Content-Type": "text/csv",
    }
    sam = {
        "Authorization": f"Bearer {own_token(system, 'sam')}",
        "Content-Type": "text/csv",
    }
    bad = client.post("/api/v1/fleet/import", content=OFFICERS + "x,,PC,H\n", headers=gus)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "import_refused" and error["kind"] == "officers"
    assert {(f["row"], f["column"]) for f in error["failures"]} == {
        (5, "warrant_number"),
        (5, "name"),
    }
    assert counts(system) == (0, 0)
    assert client.post("/api/v1/fleet/import", content=OFFICERS, headers=sam).status_code == 403
    assert (
        client.post(
            "/api/v1/fleet/import",
            content=OFFICERS,
            headers={**gus, "Content-Type": "application/json"},
        ).status_code
        == 400
    )
    good = client.post("/api/v1/fleet/import", content=OFFICERS, headers=gus)
    assert good.status_code == 201 and good.json()["created"] == 3
    assert counts(system) == (3, 0)
