"""`kamerwacht backup`: a consistent SQLite copy taken while the database is in use."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from monitor import schema
from monitor.backup import backup_sqlite
from monitor.store import Store


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def sqlite_config(tmp_path: Path, url: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\ndatabase_url = "{url}"\n', encoding="utf-8"
    )
    return path


def test_backup_copies_committed_rows_while_a_writer_holds_the_database(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path)
    engine = schema.make_engine(f"sqlite:///{tmp_path / 'data' / 'kamerwacht.db'}")
    schema.upgrade(engine)
    store = Store(engine)
    for number in range(50):
        store.finish_run(store.start_run(f"job-{number}"), "ok", {"n": number})
    with engine.connect() as writer:  # an open write transaction the backup must not see
        writer.exec_driver_sql("BEGIN IMMEDIATE")
        writer.exec_driver_sql(
            "INSERT INTO job_runs (job, started_at, status, counts) "
            "VALUES ('uncommitted', '2026-11-26', 'ok', '{}')"
        )
        result = run_cli(config, "backup", str(tmp_path))
        writer.rollback()
    engine.dispose()
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.split("\t")[0])
    assert written.parent == tmp_path
    assert written.name.startswith("kamerwacht-")
    assert not list(tmp_path.glob("*.partial"))
    with sqlite3.connect(written) as copy:
        jobs = [row[0] for row in copy.execute("SELECT job FROM job_runs")]
        revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert len(jobs) == 50
    assert "uncommitted" not in jobs
    assert revision == schema.head_revision()


def test_backup_refuses_postgresql_and_a_missing_database(tmp_path: Path) -> None:
    postgres = run_cli(
        sqlite_config(tmp_path, "postgresql+psycopg://u@127.0.0.1:1/db"), "backup", "."
    )
    assert postgres.returncode == 2
    assert "pg_dump" in postgres.stderr
    missing = run_cli(sqlite_config(tmp_path), "backup", str(tmp_path / "copy.db"))
    assert missing.returncode == 1
    assert "no database at" in missing.stderr
    assert not (tmp_path / "copy.db").exists()


def test_backup_to_a_file_name_replaces_it_only_when_complete(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    with sqlite3.connect(source) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    target = tmp_path / "backup.db"
    target.write_text("an older backup")
    assert backup_sqlite(source, target) == target
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 1000
