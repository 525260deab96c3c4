"""Figures for docs/reliability.md: tests append one JSON line per fault or input class tried,
only when KAMERWACHT_RELIABILITY_LOG names a file (scripts/reliability-report sets it)."""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "KAMERWACHT_RELIABILITY_LOG"


def record(area: str, case: str, trials: int, held: str, **figures: Any) -> None:
    """One row of the reliability table: what was tried, how often, and what held.

    Called only after the test's assertions passed, so a row is written for what held."""
    path = os.environ.get(ENV)
    if not path:
        return
    row = {"area": area, "case": case, "trials": trials, "held": held, "figures": figures}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, sort_keys=True) + "\n")
