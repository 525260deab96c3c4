"""Migrations: one head, up and down, and models that match the migrated schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from monitor import schema
from monitor.models import Base, include_name


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(schema.alembic_config()).get_heads()) == 1


def test_every_revision_goes_up_down_and_up_again(engine: Engine) -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        schema.upgrade(engine, revision)
        schema.downgrade(engine, "-1")
        schema.upgrade(engine, revision)
    assert schema.current_revision(engine) == schema.head_revision()


def test_models_match_the_migrations(migrated: Engine) -> None:
    with migrated.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_require_head_refuses_an_empty_database(engine: Engine) -> None:
    with pytest.raises(schema.SchemaError, match="kamerwacht migrate"):
        schema.require_head(engine)
