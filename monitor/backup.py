"""Consistent online copies of a SQLite database through SQLite's backup API."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from pathlib import Path


class BackupError(RuntimeError):
    """Raised by `backup_sqlite` when there is nothing to copy or the copy fails its check."""


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL; None for any other database."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def backup_sqlite(source: Path, destination: Path, now: dt.datetime | None = None) -> Path:
    """Copy `source` page by page while the daemon may keep writing; returns the file written.

    A folder as `destination` gets a timestamped file name. The copy is written beside its final
    name and renamed only after `PRAGMA integrity_check` passed, so a failed backup never
    leaves a half-written file under the name of a good one.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if destination.is_dir():
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
        destination = destination / f"kamerwacht-{stamp}.db"
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst, pages=1024)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        (check,) = dst.execute("PRAGMA integrity_check").fetchone()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check}")
    os.replace(partial, destination)
    return destination
