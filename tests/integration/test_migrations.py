"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import select

from custody.db import migrate
from custody.db.base import Base
from custody.db.engine import make_engine
from custody.db.models import AuditHead
from custody.db.models.lifecycle import Category
from custody.domain.categories import DEFAULT_CATEGORIES
from custody.services.system import System


def test_there_is_one_head() -> None:
    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1


def test_the_migrated_schema_matches_the_models(system: System) -> None:
    assert migrate.is_current(system.engine)
    with system.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_new_database_has_the_chain_head_and_the_default_categories(system: System) -> None:
    with system.engine.connect() as connection:
        head = connection.execute(select(AuditHead.id, AuditHead.seq, AuditHead.hash)).one()
        names = connection.scalars(select(Category.name).order_by(Category.id)).all()
    assert tuple(head) == (1, 0, "0" * 64)
    assert names == [rule.name for rule in DEFAULT_CATEGORIES]


def test_upgrading_twice_changes_nothing(system: System) -> None:
    migrate.upgrade(system.engine)
    assert migrate.is_current(system.engine)


BRANCH = """
revision = "{name}"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
"""


def test_a_second_branch_stops_the_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two migrations written apart, both on 0001: the upgrade refuses to guess an order."""
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("0002_a", "0002_b"):
        (migrations / "versions" / f"{name}.py").write_text(BRANCH.format(name=name))
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    engine = make_engine(f"sqlite:///{tmp_path / 'custody.db'}")
    try:
        with pytest.raises(CommandError, match=r"[Mm]ultiple head"):
            migrate.upgrade(engine)
    finally:
        engine.dispose()
