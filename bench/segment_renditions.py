"""Print how fast each rendition of one answer is segmented, and how fast the default topic matches.

Run: python bench/segment_renditions.py [repeats]. Prints medians; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from monitor import segment, topics
from monitor.config import default_topics
from monitor.records import Rendition

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "segment"
CASES = [
    ("koop-xml", "ah-tk-20212022-901.xml", Rendition.KOOP_XML),
    ("koop-html", "ah-tk-20212022-901.html", Rendition.KOOP_HTML),
    ("tk-html", "tk-detail-2021Z19001-2021D45001.html", Rendition.TK_HTML),
    ("pdf-text", "ah-tk-20212022-901.pdf.txt", Rendition.FILE_TEXT),
    ("docx-text", "ah-tk-20212022-901.docx.txt", Rendition.TEXT),
]


def median_ms(fn: object, repeats: int) -> float:
    call = fn  # type: ignore[assignment]
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"segmentation of one 7-question answer, median of {repeats} runs")
    for name, file, rendition in CASES:
        body = (FIXTURES / file).read_bytes()
        ms = median_ms(lambda b=body, r=rendition: segment.parse(b, r), repeats)
        print(f"  {name:10} {len(body):6} bytes  {ms:7.3f} ms  {1000 / ms:8.0f} docs/s")
    topic = default_topics()[0]
    doc = segment.parse((FIXTURES / "ah-tk-20212022-901.xml").read_bytes(), Rendition.KOOP_XML)
    fields = {"title": doc.title, "text": "\n".join(i.text for i in (*doc.questions, *doc.answers))}
    ms = median_ms(lambda: topics.match(topic, fields), repeats)
    print(f"  topic match (default topic, {len(topic.terms)} terms): {ms:.3f} ms per question set")


if __name__ == "__main__":
    main()
