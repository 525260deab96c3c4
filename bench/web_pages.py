"""Print median response times of the workbench's pages over the seed case.

Builds the archive the way the tests do (real spiders against the replay server), then fetches
each page N times over HTTP.  Usage: python bench/web_pages.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from monitor.replay import load_timeline
from monitor.web import create_app
from tests.conftest import LiveServer
from tests.test_web_workbench import LATE_STAGE, SEED, build_archive


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as folder:
        for archive in build_archive(Path(folder), [*load_timeline(), LATE_STAGE]):
            correction = next(
                c.id for c in archive.store.change_records() if c.event.value == "corrected"
            )
            paths = [
                "/changes", "/changes?kind=denial_weakened&party=D66", f"/changes/{correction}",
                f"/changes/{correction}?view=side", f"/questions/{SEED}", "/diff?old=2021D35707&new=2021D38311",
                "/search?q=geen+toestemming", "/changes.atom", "/changes.csv", f"/questions/{SEED}.json",
            ]  # fmt: skip
            with LiveServer(create_app(archive.store, archive.config)) as web:
                print(f"median of {rounds} GETs per page (ms), seed archive, SQLite")
                for path in paths:
                    times = []
                    for _ in range(rounds):
                        started = time.perf_counter()
                        with urllib.request.urlopen(web.url + path, timeout=30) as response:  # noqa: S310 (loopback http)
                            response.read()
                        times.append((time.perf_counter() - started) * 1000)
                    print(f"{statistics.median(times):8.1f}  {path}")


if __name__ == "__main__":
    main()
