"""Split Dutch answer text into sentences, surviving abbreviations such as "o.a.", "art." and "nr."."""

from __future__ import annotations

import functools
import re
from typing import Any

# Abbreviations that end in a full stop but do not end a sentence. spaCy's Dutch tokenizer already
# knows many ("o.a.", "art.", "d.w.z."); these are the ones it was seen to split on.
ABBREVIATIONS = (
    "jan.", "feb.", "mrt.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "okt.", "nov.",
    "dec.", "nl.", "resp.", "dhr.", "Dhr.", "mevr.", "Mevr.", "t.a.v.", "d.w.z.", "o.a.", "art.",
    "nr.", "nrs.", "bijv.", "i.v.m.", "m.b.t.", "e.v.", "blz.", "ca.", "mln.", "mld.", "vgl.",
    "zgn.", "z.g.", "m.i.v.", "t.b.v.", "i.o.m.", "p.", "pag.", "lid.", "jo.", "incl.", "excl.",
    "min.", "Kamerstuk.", "e.a.", "c.q.", "i.c.", "t.o.v.", "ws.", "evt.",
    "e.d.", "o.m.", "m.n.", "z.s.m.", "jl.", "a.s.", "mr.", "drs.", "ir.", "dr.", "prof.",
    "st.", "stb.", "stcrt.", "kst.", "vz.", "bv.", "n.a.v.", "i.p.v.",
)  # fmt: skip

_LIST_START = re.compile(r"^\s*$")


@functools.cache
def _pipeline() -> Any:
    import spacy  # heavy import, loaded once on first use

    nlp: Any = spacy.blank("nl")
    nlp.add_pipe("sentencizer")
    for abbr in ABBREVIATIONS:
        nlp.tokenizer.add_special_case(abbr, [{"ORTH": abbr}])
    return nlp


def split(paragraph: str) -> list[str]:
    """Sentences of one paragraph of cleaned text (see `_split`); a fresh list on every call."""
    return list(_split(paragraph))


@functools.lru_cache(maxsize=16384)
def _split(paragraph: str) -> tuple[str, ...]:
    """Sentences of one paragraph of cleaned text, in order, without surrounding whitespace.

    >>> split("Dat is niet gedaan. Zie o.a. art. 5 AVG.")
    ['Dat is niet gedaan.', 'Zie o.a. art. 5 AVG.']
    """
    if not paragraph.strip():
        return ()
    doc = _pipeline()(paragraph)
    return tuple(s.text.strip() for s in doc.sents if s.text.strip())


def split_paragraphs(paragraphs: tuple[str, ...] | list[str]) -> list[str]:
    """Sentences of several paragraphs; a sentence never spans two paragraphs."""
    out: list[str] = []
    for paragraph in paragraphs:
        out.extend(split(paragraph))
    return out
