"""Make renditions comparable: Unicode, whitespace, quotes, dashes, hyphenation and spelling variants."""

from __future__ import annotations

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
    }
)

# A word broken over a line by the typesetter ("gezichts-\nherkenning"): the second part starts
# lowercase, so the hyphen was only there for the line break. "Noord-\nHolland" keeps its hyphen.
_LINE_HYPHEN = re.compile(r"(\w)-[ \t]*\n[ \t]*(?=[a-zà-ÿ])")
_SPACES = re.compile(r"\s+")
_BULLET = re.compile(r"^\s*(?:[-*·]|\d+[.)]|[a-z][.)])\s+", re.MULTILINE)

# Spelling variants that public sources use interchangeably; mapped to one form in comparison keys.
SPELLING_VARIANTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\breal[\s-]?time\b", re.IGNORECASE), "realtime"),
    (re.compile(r"\be[\s-]?mail\b", re.IGNORECASE), "email"),
    (re.compile(r"\bon[\s-]?line\b", re.IGNORECASE), "online"),
    (re.compile(r"\bcamera[\s-]?beelden\b", re.IGNORECASE), "camerabeelden"),
    (re.compile(r"\bgezichts[\s-]herkenning", re.IGNORECASE), "gezichtsherkenning"),
)

_KEY_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_THOUSANDS = re.compile(r"(?<=\d)\.(?=\d{3}\b)")


def clean(text: str) -> str:
    """Typographic clean-up that keeps the words: one space between words, plain quotes and dashes.

    >>> clean("«Niet»  gedaan\\u00a0– gezichts-\\nherkenning")
    '"Niet" gedaan - gezichtsherkenning'
    """
    text = unicodedata.normalize("NFC", text)
    text = _LINE_HYPHEN.sub(r"\1", text)
    text = text.translate(_QUOTES)
    return _SPACES.sub(" ", text).strip()


def clean_paragraph(text: str) -> str:
    """Like `clean`, and also drops a leading list bullet or list number."""
    return clean(_BULLET.sub("", text, count=1))


def comparison_key(text: str) -> str:
    """A key that is equal for two texts differing only editorially.

    Case, punctuation, quotes, whitespace, hyphenation, diacritics used for emphasis ("wél"),
    thousands separators and known spelling variants do not count; words and numbers do.

    >>> comparison_key("Real-time  «gezichtsherkenning»: 1.000 keer") == comparison_key(
    ...     "realtime gezichtsherkenning, 1000 keer")
    True
    """
    text = clean(text)
    for pattern, replacement in SPELLING_VARIANTS:
        text = pattern.sub(replacement, text)
    text = _THOUSANDS.sub("", text)
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c)
    )
    return " ".join(_KEY_TOKEN.findall(text)).replace(" ", "")


def words(text: str) -> list[str]:
    """Casefolded words and numbers of a text, for rule matching."""
    return _KEY_TOKEN.findall(clean(text).casefold())
