"""Make renditions comparable: Unicode, whitespace, quotes, dashes, hyphenation and spelling variants."""

from __future__ import annotations

import functools
import re
import unicodedata

_QUOTES = str.maketrans(
    {
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "`": "'",
        "´": "'",
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "−": "-",
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u00ad": "",
        "\ufeff": "",
        "•": " ",
        "▪": " ",
        "◦": " ",
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
    }
)

# Running heads, footers and page numbers that PDF text extraction puts between the lines of an
# answer: the KOOP Aanhangsel layout and the ministries' letter layout. Whole lines only.
PAGE_FURNITURE: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?:ah|kv)-tk-\d{8}-\d+(?:\s+ISSN\b.*)?",
        r"ISSN\s+\d{4}\s*[-–]\s*\d{4}.*",
        r"Tweede Kamer, vergaderjaar \d{4}\s*[-–]\s*\d{4}, Aanhangsel(?:\s+\d+)?",
        r"Aanhangsel Handelingen II \d{4}/\d{2,4},? nr\.? ?\d+(?:\s+\d+)?",
        r"Pagina \d+ van \d+",
        r"(?:Datum|Onze referentie|Ons kenmerk|Kenmerk|Uw referentie|Betreft)(?:\s+\S.{0,60})?",
        r"\d{1,2} (?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober"
        r"|november|december) \d{4}",
        r"\d{1,3}|\d{5,9}",
    )
)

# A word broken over a line by the typesetter ("gezichts-\nherkenning"): the second part starts
# lowercase, so the hyphen was only there for the line break. "Noord-\nHolland" keeps its hyphen.
_LINE_HYPHEN = re.compile(r"(\w)-[ \t]*\n[ \t]*(?=[a-zà-ÿ])")
_SPACES = re.compile(r"\s+")
# "270 000" with a thin or no-break space is the typeset form of "270.000".
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[\u202f\u2009\u00a0](?=\d{3}\b)")
_BULLET = re.compile(r"^\s*(?:[-*·•▪◦–—]|\d+[.)]|[a-z][.)])\s+", re.MULTILINE)
# Footnote markers flattened into the text by PDF extraction: digits glued to a word or to
# closing punctuation ("software1 ", "gedaan.2 "). Real numbers stand apart from words.
_FOOTNOTE_MARKER = re.compile(
    r"(?<=[a-zà-ÿ]{2})\d{1,2}(?=[\s.,;:)]|$)"
    r"|(?<=[^\W\d_%][.,;:)\"'])\d{1,2}(?=\s|$)|(?<=%[.,;:)])\d{1,2}(?=\s|$)"
    # after a year ("in 2023.1 "); never after a decimal comma ("2,3 miljoen")
    r"|(?<=\d{4}[.;:)])\d{1,2}(?=\s|$)|(?<=\d[;:)])\d{1,2}(?=\s|$)"
)
_FOOTNOTE_LINE = re.compile(r"^(\d{1,2})\s+\S")
_CITATION = re.compile(
    r"^\d{1,2}\s+(?:https?://|www\.|Kamerstuk|Aanhangsel|Handelingen|Stb\.|Stcrt\.|Zie\b|Bron\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?:;…)\"']\s*$")

# Spelling variants that public sources use interchangeably; mapped to one form in comparison keys.
SPELLING_VARIANTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\breal[\s-]?time\b", re.IGNORECASE), "realtime"),
    (re.compile(r"\be[\s-]?mail\b", re.IGNORECASE), "email"),
    (re.compile(r"\bon[\s-]?line\b", re.IGNORECASE), "online"),
    (re.compile(r"\bcamera[\s-]?beelden\b", re.IGNORECASE), "camerabeelden"),
    (re.compile(r"\bgezichts[\s-]herkenning", re.IGNORECASE), "gezichtsherkenning"),
    # Amounts: "€ 2,3 mln.", "EUR 2,3 miljoen" and "2,3 miljoen euro" are one amount.
    (re.compile(r"\bmln\b\.?", re.IGNORECASE), "miljoen"),
    (re.compile(r"\bmld\b\.?", re.IGNORECASE), "miljard"),
    (
        re.compile(r"(?:€|\bEUR\b)\s?(\d[\d.,]*(?:\s?(?:miljoen|miljard))?)(?!\s?euro\b)"),
        r"\1 euro",
    ),
    (re.compile(r"\bEUR\b"), "euro"),
    (re.compile(r"\s?%"), " procent"),
    (re.compile(r"\bt/m\b", re.IGNORECASE), "tot en met"),
)

# A substring each variant needs, in SPELLING_VARIANTS order.
_VARIANT_GUARDS: tuple[tuple[str, ...], ...] = (
    ("time",), ("mail",), ("line",), ("camera",), ("gezichts",), ("mln",), ("mld",),
    ("€", "eur"), ("eur",), ("%",), ("t/m",),
)  # fmt: skip

# Counts written as words or digits are one number ("drie" = "3"); "een" is left alone because
# it is far more often the article.
NUMBER_WORDS: dict[str, int] = {
    "nul": 0, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8,
    "negen": 9, "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14,
    "vijftien": 15, "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19,
    "twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60, "zeventig": 70,
    "tachtig": 80, "negentig": 90, "honderd": 100, "duizend": 1000,
}  # fmt: skip
_NUMBER_WORD = re.compile(rf"(?<![\w-])(?:{'|'.join(NUMBER_WORDS)})(?![\w-])", re.IGNORECASE)

_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_KEY_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_THOUSANDS = re.compile(r"(?<=\d)\.(?=\d{3}\b)")


def clean(text: str) -> str:
    """Typographic clean-up that keeps the words: one space between words, plain quotes and dashes.

    >>> clean("«Niet»  gedaan\\u00a0– gezichts-\\nherkenning")
    '"Niet" gedaan - gezichtsherkenning'
    """
    text = unicodedata.normalize("NFC", text)
    text = _SPACED_THOUSANDS.sub(".", text)
    if "\n" in text:
        text = _drop_furniture_lines(text)
    text = _LINE_HYPHEN.sub(r"\1", text)
    text = text.translate(_QUOTES)
    return _SPACES.sub(" ", text).strip()


def _drop_furniture_lines(text: str) -> str:
    lines = text.split("\n")
    kept = [line for line in lines if not is_page_furniture(line)]
    return "\n".join(kept) if len(kept) != len(lines) else text


def is_page_furniture(line: str) -> bool:
    """Whether one line is a running head, footer or page number of a PDF page.

    >>> is_page_furniture("Pagina 2 van 4"), is_page_furniture("De politie gebruikt CATCH.")
    (True, False)
    """
    line = line.strip()
    return bool(line) and len(line) < 120 and any(p.fullmatch(line) for p in PAGE_FURNITURE)


def clean_paragraph(text: str) -> str:
    """Like `clean`, and also drops a leading list bullet or list number."""
    text = unicodedata.normalize("NFC", text).lstrip()
    return clean(_BULLET.sub("", text, count=1))


def answer_paragraphs(paragraphs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """An answer's paragraphs with PDF page furniture and footnote texts dropped, and paragraphs
    that a page break cut in two ("… wordt op dit" / "moment niet gedaan.") joined again.

    >>> answer_paragraphs(["Dat wordt op dit", "Pagina 2 van 4", "moment niet gedaan.1",
    ...                    "1 Zie Kamerstuk 26 643, nr. 1."])
    ('Dat wordt op dit moment niet gedaan.',)
    """
    markers: set[str] | None = None  # found only when a paragraph looks like a footnote text
    out: list[str] = []
    for paragraph in paragraphs:
        if is_page_furniture(paragraph) or _CITATION.match(paragraph):
            continue
        number = _FOOTNOTE_LINE.match(paragraph)
        if number is not None:
            if markers is None:
                markers = {m.group(0) for m in _FOOTNOTE_MARKER.finditer(" ".join(paragraphs))}
            if number.group(1) in markers:
                continue
        if out and not _SENTENCE_END.search(out[-1]) and paragraph[:1].islower():
            joined = out[-1][:-1] if out[-1].endswith("-") else out[-1] + " "
            out[-1] = joined + paragraph
        else:
            out.append(paragraph)
    # Markers go only after the footnote texts were recognised by them; a marker left in the
    # text would glue two sentences together ("politie.3 Abusievelijk").
    return tuple(strip_footnote_markers(p) for p in out)


@functools.lru_cache(maxsize=16384)
def comparison_key(text: str) -> str:
    """A key that is equal for two texts differing only editorially.

    Case, punctuation, quotes, whitespace, hyphenation, diacritics used for emphasis ("wél"),
    thousands separators and known spelling variants do not count; words and numbers do.

    >>> comparison_key("Real-time  «gezichtsherkenning»: 1.000 keer") == comparison_key(
    ...     "realtime gezichtsherkenning, 1000 keer")
    True
    """
    text = strip_footnote_markers(clean(text))
    folded = text.casefold()
    for (pattern, replacement), guard in zip(SPELLING_VARIANTS, _VARIANT_GUARDS, strict=True):
        if any(g in folded for g in guard):  # a substring test is far cheaper than a regex
            text = pattern.sub(replacement, text)
    text = _NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[m.group(0).casefold()]), text)
    text = _THOUSANDS.sub("", text)
    text = text.casefold()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(_KEY_TOKEN.findall(text)).replace(" ", "")


def strip_footnote_markers(text: str, keep_length: bool = False) -> str:
    """Remove footnote markers glued to words or punctuation ("gedaan.1" → "gedaan.").

    >>> strip_footnote_markers("ingezet.12 De software1 van 2021.3 kost 2,3 mln.")
    'ingezet. De software van 2021. kost 2,3 mln.'
    """
    return _FOOTNOTE_MARKER.sub(lambda m: " " * len(m.group(0)) if keep_length else "", text)


def words(text: str) -> list[str]:
    """Casefolded words and numbers of a text, for rule matching."""
    return _KEY_TOKEN.findall(clean(text).casefold())
