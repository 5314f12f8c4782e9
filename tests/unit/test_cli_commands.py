"""The `custody` command loads a command's module only to run it, and still offers them all."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from custody import cli

SNIPPET = """
import sys
from custody.cli import main
sys.argv = ["custody", "--help"]
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_the_help_lists_every_command_without_importing_any() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert set(cli.COMMANDS) <= listed
    loaded = set(result.stderr.split())
    modules = {f"custody.cli.{module}" for module, _, _ in cli.COMMANDS.values()}
    # What made every command take 1.3 s before it began.
    assert loaded.isdisjoint(modules | {"custody.cli.common", "sqlalchemy", "custody.services"})


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_shows_its_own_help(name: str) -> None:
    result = CliRunner().invoke(
        cli.app, [name, "--help"], prog_name="custody", catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"Usage: custody {name} [OPTIONS]" in result.output
    summary = cli.COMMANDS[name][2]
    assert " ".join(summary.split()[:4]) in " ".join(result.output.split())


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_the_listed_summary_is_the_commands_own(name: str) -> None:
    command = cli.load(name)
    own = (command.help or "").split("\n\n")[0]
    assert " ".join(cli.COMMANDS[name][2].split()) == " ".join(own.split())


def test_a_mistyped_command_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(cli.app, ["flet"])
    assert result.exit_code == 2
    assert "Did you mean 'fleet'?" in result.output


def test_a_command_of_a_group_is_found_once_the_group_is_loaded() -> None:
    result = CliRunner().invoke(
        cli.app, ["audit", "check-proof", "--help"], prog_name="custody", catch_exceptions=False
    )
    assert result.exit_code == 0 and "Usage: custody audit check-proof" in result.output
