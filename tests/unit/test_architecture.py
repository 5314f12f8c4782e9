"""The import contracts of pyproject.toml (`make lint`) hold, and each one catches a wrong import.

import-linter runs in a process of its own: it finds `custody` through the import system, and
this process has already imported the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
CONTRACTS: dict[str, str] = {
    contract["id"]: contract["name"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
}

# A wrong import for each contract, each where no other contract would notice it, so that
# every contract is seen to catch its own; and the plainest mistake, which two contracts catch.
WRONG = [
    ("db.types", "custody.services", {"layers"}),
    ("jobs.tasks", "custody.db", {"web-jobs-through-services"}),
    ("domain.merkle", "sqlalchemy", {"pure-domain"}),
    ("dock.errors", "custody.services", {"dock-over-http"}),
    ("camera.gps", "custody.dock", {"camera-alone"}),
    ("storage.base", "custody.camera", {"server-without-devices"}),
    ("domain.fleet_health", "custody.db", {"layers", "pure-domain"}),
]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package under `project`/src, with the contracts of this tree."""
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        # One line per contract name, whatever the terminal.
        "COLUMNS": "400",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("lint-imports")),
            "--config",
            str(ROOT / "pyproject.toml"),
            "--no-cache",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def broken_sections(report: str) -> dict[str, str]:
    """Each broken contract's name and the part of the report that explains it."""
    _, _, broken = report.partition("Broken contracts")
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    lines = broken.splitlines()
    for line, underline in zip(lines, [*lines[1:], ""], strict=True):
        if line in CONTRACTS.values() and set(underline) == {"-"}:
            current = sections.setdefault(line, [])
        current.append(line)
    return {name: "\n".join(text) for name, text in sections.items()}


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_each_contract_catches_a_wrong_import(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "src" / "custody",
        tmp_path / "src" / "custody",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"),
    )
    for module, imported, _ in WRONG:
        path = tmp_path / "src" / "custody" / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\nimport {imported}\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    sections = broken_sections(result.stdout)
    assert set(sections) == set(CONTRACTS.values()), result.stdout
    for module, imported, contracts in WRONG:
        for contract in contracts:
            # The copy's own line, so the report is about the copy and not the installed tree.
            assert f"custody.{module} -> {imported}" in sections[CONTRACTS[contract]], contract
