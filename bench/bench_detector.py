"""Benchmark the correction detector: time per 20-question answer-document pair, and false
alerts on the noise suite for the detector versus a plain difflib line diff.

Run: python bench/bench_detector.py [--rounds N]
Targets (issue 5): ≤ 5 ms median per pair on one core; zero false alerts on the noise suite,
where the line-diff baseline alerts on every pair.
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import classify, diff, normalize, sentences  # noqa: E402
from monitor.cli import read_document  # noqa: E402
from monitor.records import Item, ParsedDocument, Rendition, Severity  # noqa: E402

CASES = ROOT / "tests" / "cases"


def _paragraphs(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split("\n\n") if p.strip())


def document_pairs() -> list[tuple[ParsedDocument, ParsedDocument]]:
    """20-question answer documents: real-length answers from the noise suite as filler, with
    one to three answers replaced by a golden case's before and after text."""
    filler: list[tuple[str, ...]] = []
    for folder in sorted(p for p in (CASES / "noise").iterdir() if p.is_dir()):
        filler.extend(a.paragraphs for a in read_document(str(folder / "koop.xml")).answers)
    golden = tomllib.loads((CASES / "kinds.toml").read_text(encoding="utf-8"))["case"]
    pairs = []
    for k, case in enumerate(golden):
        changed = {(k * 7 + j * 5) % 20: case for j in range(1 + k % 3)}

        def document(
            side: str, changed: dict[int, dict[str, str]] = changed, k: int = k
        ) -> ParsedDocument:
            answers = tuple(
                Item("answer", (str(n + 1),), f"Antwoord {n + 1}",
                     _paragraphs(changed[n][side]) if n in changed else filler[(n + k) % len(filler)])
                for n in range(20)
            )  # fmt: skip
            return ParsedDocument(f"bench-{k}", Rendition.KOOP_XML, "", (), answers)

        pairs.append((document("old"), document("new")))
    return pairs


def rendition_pairs() -> list[tuple[ParsedDocument, ParsedDocument]]:
    """20-question documents whose every answer differs as text: the answers of the noise
    suite's KOOP XML against the same answers from PDF text and from a ministry letter."""
    folders = sorted(p for p in (CASES / "noise").iterdir() if p.is_dir())

    def answers(name: str) -> list[tuple[str, ...]]:
        return [a.paragraphs for f in folders for a in read_document(str(f / name)).answers]

    def document(paragraphs: list[tuple[str, ...]], offset: int) -> ParsedDocument:
        items = tuple(
            Item(
                "answer",
                (str(n + 1),),
                f"Antwoord {n + 1}",
                paragraphs[(n + offset) % len(paragraphs)],
            )
            for n in range(20)
        )
        return ParsedDocument("bench", Rendition.TEXT, "", (), items)

    xml = answers("koop.xml")
    return [
        (document(xml, offset), document(answers(other), offset))
        for other in ("pdf.txt", "letter.txt", "tk.html")
        for offset in range(0, len(xml), 3)
    ]


def clear_caches() -> None:
    sentences._split.cache_clear()
    classify.features.cache_clear()
    classify.classify.cache_clear()
    normalize.comparison_key.cache_clear()


def time_pairs(
    pairs: list[tuple[ParsedDocument, ParsedDocument]], rounds: int, cold: bool
) -> list[float]:
    timings = []
    for _ in range(rounds):
        for old, new in pairs:
            if cold:
                clear_caches()
            start = time.perf_counter()
            diff.compare(old, new)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def line_diff_alerts(old: Path, new: Path) -> bool:
    a = old.read_text(encoding="utf-8").splitlines()
    b = new.read_text(encoding="utf-8").splitlines()
    return any(op != "equal" for op, *_ in difflib.SequenceMatcher(None, a, b).get_opcodes())


def noise_alerts() -> tuple[int, int, int, list[float]]:
    pairs = tomllib.loads((CASES / "noise" / "pairs.toml").read_text(encoding="utf-8"))["pair"]
    ours = baseline = 0
    timings = []
    for pair in pairs:
        old_path = CASES / "noise" / pair["document"] / pair["old"]
        new_path = CASES / "noise" / pair["document"] / pair["new"]
        old, new = read_document(str(old_path)), read_document(str(new_path))
        clear_caches()
        start = time.perf_counter()
        result = diff.compare(old, new)
        timings.append((time.perf_counter() - start) * 1000)
        ours += any(q.severity is not Severity.NONE for q in result.questions)
        baseline += line_diff_alerts(old_path, new_path)
    return len(pairs), ours, baseline, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    pairs = document_pairs()
    sentences.split("Opwarmen van de zinsplitser. Dat laadt spaCy.")
    cold = time_pairs(pairs, args.rounds, cold=True)
    warm = time_pairs(pairs, args.rounds, cold=False)
    print(
        f"document pairs: {len(pairs)} × {args.rounds} rounds, 20 questions each, 1–3 answers changed"
    )
    for name, timings in (("cold caches", cold), ("warm caches", warm)):
        q = statistics.quantiles(timings, n=20)
        print(
            f"  {name}: median {statistics.median(timings):.2f} ms per pair, p95 {q[-1]:.2f} ms, max {max(timings):.2f} ms"
        )
    switched = time_pairs(rendition_pairs(), args.rounds, cold=True)
    print(
        f"rendition switches, 20 questions, every answer differs as text: median"
        f" {statistics.median(switched):.2f} ms per pair (cold), max {max(switched):.2f} ms"
    )
    total, ours, baseline, noise_timings = noise_alerts()
    print(f"noise suite: {total} rendition pairs (every answer differs as text)")
    print(
        f"  compare time: median {statistics.median(noise_timings):.2f} ms per pair, max {max(noise_timings):.2f} ms"
    )
    print(f"  false alerts, kamerwacht detector: {ours}/{total}")
    print(f"  false alerts, difflib line diff:   {baseline}/{total}")
    target = statistics.median(cold) <= 5.0 and ours == 0 and baseline == total
    print(
        f"target (≤ 5 ms median cold, 0 false alerts, baseline alerts on every pair): {'met' if target else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
