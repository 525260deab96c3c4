"""`kamerwacht verify`: a stored body that no longer matches its hash is found and reported."""

from __future__ import annotations

import io
import zlib

import pytest
from sqlalchemy import update

from monitor import jobs
from monitor.config import Config
from monitor.models import Blob
from monitor.replay import ReplayServer, load_timeline
from monitor.store import IntegrityError, Store
from tests.test_end_to_end import poll


async def test_verify_finds_a_tampered_body_and_reading_it_fails(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    for stage in load_timeline():
        replay.state.apply(stage)
    await poll(config, store, jobs.ConsoleNotifier(io.StringIO()))
    clean = store.verify()
    assert clean["problems"] == []
    assert clean["blobs"] > 10
    version = store.versions_of("2021Z14612")[-1]
    with store.session() as session:
        session.execute(
            update(Blob)
            .where(Blob.sha256 == version.blob_sha256)
            .values(data=zlib.compress(b"<altered/>"))
        )
    report = store.verify()
    assert report["problems"] == [f"blob {version.blob_sha256}: content does not match its hash"]
    with pytest.raises(IntegrityError):
        store.read_blob(version.blob_sha256)
