"""Spider for document files: the PDF (sometimes DOCX) of an answer, as extracted text.

Source:
    https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0/Resources/{guid}, the `enclosure` link of
    a SyncFeed Document entry; its `contentType`/`contentLength` attributes describe the file.

Caveats:
    The same URL can serve a Word file first and a PDF later, so the type is read from the
    response. A body whose length differs from the announced ContentLength is an error (a cut-off
    download), never a new version. Text comes from pypdf (PDF) or python-docx (DOCX); paragraph
    breaks in a PDF are taken from pypdf's layout mode, the words from its plain mode (layout mode
    splits words at ligatures). Each record carries a fingerprint of what the feed announced
    (length and current DocumentVersie) as its validator, so an unchanged file is not refetched.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

import docx
import pypdf
import scrapy
from pypdf.errors import PdfReadError
from scrapy.http import Response

from monitor.records import CrawlProblem, FetchedBody, Rendition
from spiders.base import SpiderArgumentError, TextSpider, fetched_now

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


_HEADING = re.compile(
    r"^(Vraag|Antwoord|Vragen|Antwoorden)( op vraag| op vragen)?\s+\d+[\d\s,en-]*$", re.I
)


class FileError(ValueError):
    """Raised by `extract_text` when a file cannot be read as PDF or DOCX text."""


def kind_of(body: bytes, content_type: str) -> str:
    """'pdf' or 'docx', judged by the bytes first (the declared type is sometimes stale)."""
    if body.startswith(b"%PDF-"):
        return "pdf"
    if body.startswith(b"PK") and ("word" in content_type or b"word/" in body[:4000]):
        return "docx"
    raise FileError(f"not a PDF or DOCX file (Content-Type {content_type or 'missing'})")


def _clean(line: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", line)).strip()


def pdf_paragraphs(body: bytes) -> list[str]:
    """Paragraphs of a PDF: words from pypdf's plain mode, breaks from its layout mode."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        pages = list(reader.pages)
    except (PdfReadError, ValueError, OSError) as exc:
        raise FileError(f"unreadable PDF: {exc}") from exc
    paragraphs: list[str] = []
    for page in pages:
        plain = [line for line in page.extract_text().splitlines() if line.strip()]
        layout = page.extract_text(extraction_mode="layout").splitlines()
        breaks: set[int] = set()
        index = 0
        for line in layout:
            if line.strip():
                index += 1
            else:
                breaks.add(index)
        if len(plain) != index:
            breaks = set()  # the two modes disagree: keep one paragraph per line instead
            breaks.update(range(len(plain)))
        current: list[str] = []
        for number, line in enumerate(plain):
            text = _clean(line)
            heading = bool(_HEADING.match(text))
            if (number in breaks or heading) and current:
                paragraphs.append(" ".join(current))
                current = []
            current.append(text)
            if heading:  # a "Vraag n" / "Antwoord n" line is a paragraph of its own
                paragraphs.append(text)
                current = []
        if current:
            paragraphs.append(" ".join(current))
    return [p for p in paragraphs if p]


def docx_paragraphs(body: bytes) -> list[str]:
    try:
        document = docx.Document(io.BytesIO(body))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise FileError(f"unreadable DOCX: {exc}") from exc
    return [text for p in document.paragraphs if (text := _clean(p.text))]


def extract_text(body: bytes, content_type: str) -> str:
    """The text of a PDF or DOCX file, one paragraph per blank-line-separated block."""
    kind = kind_of(body, content_type)
    paragraphs = pdf_paragraphs(body) if kind == "pdf" else docx_paragraphs(body)
    if not paragraphs:
        raise FileError("the file has no extractable text (a scan?)")
    return "\n\n".join(paragraphs) + "\n"


def check_length(body: bytes, expected: int | None) -> str | None:
    """Why a download is incomplete, or None when its length matches ContentLength."""
    if expected is not None and len(body) != expected:
        return f"got {len(body)} bytes, the feed announced ContentLength {expected}"
    return None


class FilesSpider(TextSpider):
    """Downloads each given document's file and yields its text as a `file-text` rendition."""

    name = "files"

    def __init__(self, *args: Any, documents: str = "{}", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wanted = self.json_argument("documents", documents)
        if not isinstance(wanted, dict):
            raise SpiderArgumentError("documents: expected an object keyed by document number")
        self.documents: dict[str, dict[str, Any]] = {}
        self.refused: list[CrawlProblem] = []
        for number, spec in wanted.items():
            raw = str(spec.get("url", ""))
            try:
                url = self.checked_url(f"documents.{number}.url", raw)
            except SpiderArgumentError as exc:
                # The URL came from a feed enclosure: one hostile link must not stop every file.
                self.refused.append(CrawlProblem("files", raw, str(exc)))
                continue
            self.documents[str(number)] = {**spec, "url": url}

    async def start(self) -> Any:
        for problem in self.refused:
            yield self.item(problem)
        for number, spec in sorted(self.documents.items()):
            yield scrapy.Request(
                spec["url"],
                callback=self.parse_file,
                errback=self.failed,
                cb_kwargs={"number": number},
                meta={"key": number},
            )

    def fetched(self, key: str, url: str, **values: Any) -> FetchedBody:
        spec = self.documents[key]
        return FetchedBody(
            source="files", key=key, rendition=Rendition.FILE_TEXT, url=url,
            fetched_at=fetched_now(), document_number=key, etag=spec.get("fingerprint"), **values,
        )  # fmt: skip

    def parse_file(self, response: Response, number: str) -> Iterator[dict[str, Any]]:
        spec = self.documents[number]
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        if response.status in (404, 410):
            yield self.item(self.fetched(number, response.url, status="not_found"))
            return
        length = spec.get("length")
        problem = check_length(response.body, int(length) if length not in (None, "") else None)
        if problem is None:
            try:
                text = extract_text(response.body, content_type)
            except FileError as exc:
                problem = str(exc)
        if problem is not None:
            self.logger.error("file of %s at %s: %s", number, response.url, problem)
            yield self.item(self.fetched(number, response.url, status="error", error=problem))
            return
        yield self.item(
            self.fetched(number, response.url, status="ok", body=text, content_type=content_type)
        )
