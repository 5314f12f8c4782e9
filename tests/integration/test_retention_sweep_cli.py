"""`custody retention preview --at` and `custody retention run`, as a force's IT runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from custody.bootstrap import build_system
from custody.config import Settings
from custody.domain.clock import SystemClock, isoformat
from custody.services.system import NoJobs
from tests.conftest import custody
from tests.integration.lifecycle_world import build_world

MONTH = timedelta(days=31)


def test_preview_lists_and_run_deletes(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    system = build_system(Settings(data_dir=data_dir), clock=SystemClock(), jobs=NoJobs())
    world = build_world(system)
    now = datetime.now(UTC)
    old = world.record(started_at=now - timedelta(days=29))
    young = world.record(started_at=now)
    sha = world.row(old).sha256
    system.engine.dispose()

    preview = custody(
        data_dir, "retention", "preview", "--at", isoformat(now + 2 * timedelta(days=1)), "--json"
    )
    assert preview.returncode == 0, preview.stderr
    answer = json.loads(preview.stdout)
    assert [i["id"] for i in answer["items"]] == [old]
    assert answer["items"][0]["rule"] == "uncategorised"
    table = custody(data_dir, "retention", "preview", "--at", isoformat(now + MONTH))
    assert table.returncode == 0 and old[:8] in table.stdout
    assert custody(data_dir, "retention", "preview", "--at", "soon").returncode == 1
    # Previewing deleted nothing.
    assert (data_dir / "objects" / sha[:2] / sha[2:4] / sha).exists()

    refused = custody(data_dir, "retention", "run", "--as", "alice")
    assert refused.returncode == 1 and "may not" in refused.stderr
    # Two days on (the clock offset a whole server would use for a time-travel run).
    later = {"CUSTODY_CLOCK_OFFSET_SECONDS": str(2 * 86400)}
    run = custody(data_dir, "retention", "run", env=later)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["deleted"] == [old]
    assert not (data_dir / "objects" / sha[:2] / sha[2:4] / sha).exists()
    certificate = custody(data_dir, "retention", "certificate", old)
    assert certificate.returncode == 0, certificate.stderr
    (tmp_path / "certificate.json").write_text(certificate.stdout)
    verified = custody(
        data_dir, "retention", "verify-certificate", str(tmp_path / "certificate.json")
    )
    assert verified.returncode == 0, verified.stderr
    forged = json.loads(certificate.stdout) | {"rule": "category:Arrest"}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert (
        custody(
            data_dir, "retention", "verify-certificate", str(tmp_path / "forged.json")
        ).returncode
        == 1
    )
    listed = custody(data_dir, "categories", "list")
    assert listed.returncode == 0 and "Arrest" in listed.stdout
    assert young
