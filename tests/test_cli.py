"""`kamerwacht diff` as a user runs it: a real process, real files, the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_DATA


def kamerwacht(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_diff_json_on_the_seed_answers_matches_the_contract() -> None:
    run = kamerwacht(
        "diff",
        str(DEMO_DATA / "ah-tk-20212022-105.xml"),
        str(DEMO_DATA / "ah-tk-20212022-472.xml"),
        "--format",
        "json",
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"questions", "summary"}
    by_number = {q["number"]: q for q in data["questions"]}
    seed = by_number["4"]
    assert seed["status"] == "changed"
    assert {"denial_weakened", "scope_narrowed"} <= set(seed["kinds"])
    assert seed["severity"] == "high"
    assert set(seed) == {"number", "status", "kinds", "severity", "reasons", "sentences"}
    assert seed["sentences"][0]["op"] == "replace"
    assert set(seed["sentences"][0]) == {"op", "old", "new", "kinds"}
    assert all(q["status"] == "unchanged" for n, q in by_number.items() if n != "4")
    assert data["summary"]["max_severity"] == "high"


def test_diff_text_shows_a_redline() -> None:
    run = kamerwacht(
        "diff", str(DEMO_DATA / "ah-tk-20212022-105.xml"), str(DEMO_DATA / "ah-tk-20212022-472.xml")
    )
    assert run.returncode == 0
    assert (
        "[-Nederland niet gedaan-]{+de politieorganisatie geen toestemming gegeven+}" in run.stdout
    )
    assert "{+" in run.stdout and "denial_weakened" in run.stdout


def test_diff_on_unreadable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<?xml version='1.0'?><officiele-publicatie><kamervragen>", encoding="utf-8")
    run = kamerwacht("diff", str(broken), str(DEMO_DATA / "ah-tk-20212022-472.xml"))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "not well-formed" in run.stderr
    missing = kamerwacht("diff", str(tmp_path / "nope.xml"), str(broken))
    assert missing.returncode == 2


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sources.syncfeed]\npoll_interval = 'soon'\n", encoding="utf-8")
    run = kamerwacht("--config", str(path), "migrate")
    assert run.returncode == 2
    assert "sources.syncfeed.poll_interval" in run.stderr


def test_run_refuses_an_unmigrated_database_and_says_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[storage]\ndata_dir = '{tmp_path}'\n", encoding="utf-8")
    run = kamerwacht("--config", str(path), "run")
    assert run.returncode == 1
    assert "kamerwacht migrate" in run.stderr
