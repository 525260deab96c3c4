"""Classify a changed sentence into change kinds with reasons, from an ordered table of Dutch cues.

Every rule is a named function over the old and new sentence that returns a reason (naming the
words that triggered it) or nothing. `RULES` is the whole table, in the order rules are tried;
a journalist can read it top to bottom. Nothing here is learned or weighted.

A rule that fires *claims* the words it names, so a later rule does not report the same words a
second time: "voor zover mij bekend" in front of a denial is a weakened denial, not also an added
hedge; "de politie" replaced by "de KMar" is a changed actor, not also a changed scope.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.normalize import NUMBER_WORDS as _DIGITS_OF
from monitor.normalize import clean, comparison_key, strip_footnote_markers
from monitor.records import SEVERITY_OF_KIND, ChangeKind, Severity

# --- cue lists (read these first: they are the classifier) ---------------------------------------

NEGATIONS = (
    "niet", "geen", "nooit", "nergens", "niets", "niemand", "geenszins", "generlei", "nee",
)  # fmt: skip

# Phrases containing "niet" that do not negate the statement they stand in.
NOT_NEGATIONS = (
    r"niet uit te sluiten", r"niet uitgesloten", r"niet alleen", r"niet eerder dan",
    r"niet later dan", r"niet meer dan", r"niet minder dan", r"al dan niet", r"of niet",
)  # fmt: skip

# Frames that turn a statement of fact into one about permission, policy or knowledge.
FRAMES: tuple[tuple[str, str], ...] = (
    (r"toestemming", "permission"),
    (r"toegestaan", "permission"),
    (r"goedkeuring", "permission"),
    (r"bevoegd(?:heid)?", "permission"),
    (r"vergunning", "permission"),
    (r"geautoriseerd", "permission"),
    (r"mag|mogen", "permission"),
    (r"beleid", "policy"),
    (r"(?:is|zijn) niet de bedoeling", "policy"),
    (r"niet de bedoeling", "policy"),
    (r"voornemen|voornemens|niet van plan", "policy"),
    (r"niet voorzien", "policy"),
    (r"uitgangspunt", "policy"),
    (
        r"(?:voor zover|voorzover) (?:\w+ ){0,4}?(?:bekend|nagegaan|na te gaan|overzien|weten)",
        "knowledge",
    ),
    (r"(?:mij|ons) (?:geen|niets|niet) (?:\w+ ){0,2}?bekend", "knowledge"),
    (r"(?:is|zijn) (?:mij |ons )?niet bekend", "knowledge"),
    (r"niet bekend", "knowledge"),
    (r"naar mijn weten|bij mijn weten|naar mijn informatie", "knowledge"),
    (r"naar (?:mijn|ons) (?:oordeel|mening|inschatting)|mijns inziens|ons inziens", "judgement"),
    (r"(?:geen|niet de) aanwijzingen?", "knowledge"),
    (r"geen zicht op|niet geregistreerd|niet bijgehouden|niet na te gaan", "knowledge"),
    (
        r"niet (?:met zekerheid )?(?:bevestigen|zeggen|vaststellen|garanderen|nagaan|uitsluiten)"
        r"|niet met zekerheid",
        "knowledge",
    ),
)

HEDGES = (
    "op dit moment", "vooralsnog", "voor zover bekend", "voor zover mij bekend",
    "voor zover ons bekend", "voor zover nu bekend", "naar mijn weten", "bij mijn weten",
    "in beginsel", "in principe", "niet uit te sluiten", "niet uitgesloten", "momenteel", "thans",
    "voorlopig", "tot op heden", "tot nu toe", "op dit ogenblik", "in de regel", "doorgaans",
    "mogelijk", "waarschijnlijk", "vermoedelijk", "naar alle waarschijnlijkheid",
    "naar verwachting", "naar het zich laat aanzien", "voorshands", "zo goed als", "nagenoeg",
    "vrijwel", "nauwelijks", "in beperkte mate", "nog niet", "in de huidige situatie",
    "op basis van de huidige inzichten", "naar mijn oordeel", "lijkt", "lijken",
    "naar ik verwacht", "naar ik aanneem", "naar ons oordeel", "naar mijn mening", "mijns inziens", "ik verwacht dat", "ik ga ervan uit dat",
    "ik ga er van uit dat", "het ligt in de verwachting", "naar schatting", "wellicht",
    "misschien", "zo mogelijk", "waar mogelijk", "indien mogelijk", "aannemelijk",
    "voor zover nu kan worden nagegaan", "voor zover kan worden nagegaan",
)  # fmt: skip

# Qualifiers that restrict who, where or when a statement covers. `(?-i:…)` parts need capitals.
RESTRICTIVE = (
    r"in de (?:publieke|openbare) ruimte", r"door (?:de|het) [a-z][\w-]+",
    r"binnen (?:de|het) [\w-]+", r"in de [\w-]*organisatie", r"bij (?:de|het) [a-z][\w-]+",
    r"alleen", r"uitsluitend", r"slechts", r"(?<!geen )enkel", r"met uitzondering van", r"behalve",
    r"op beperkte schaal", r"in (?:bepaalde|sommige|enkele) gevallen", r"in een aantal gevallen",
    r"incidenteel", r"voor zover het [\w\s]+? betreft", r"in het kader van [\w\s]+?(?=[,.]|$)",
    r"tijdens (?:de |het |een )?[\w-]+", r"bij aankomst", r"in (?:de )?(?:provincie|gemeente|regio) (?-i:[A-Z])[\w-]+",
    r"in (?!(?-i:heel )?(?-i:Nederland|Europa|Den Haag)\b)(?-i:[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)",
    r"in (?:een|het) (?:deel|aantal) van", r"onder voorwaarden", r"onder bepaalde voorwaarden",
    r"tenzij", r"mits", r"behoudens", r"in de zin van", r"(?:zoals |als )?bedoeld in",
    r"strikt genomen", r"direct", r"rechtstreeks", r"actief", r"bewust", r"formeel", r"officieel",
    r"als zodanig", r"grotendeels", r"deels", r"gedeeltelijk", r"voor een (?:groot )?deel",
    r"merendeels", r"overwegend", r"primair", r"hoofdzakelijk", r"voornamelijk", r"in hoofdzaak",
    r"met name", r"in het bijzonder", r"de meeste", r"een deel van", r"een aantal",
    r"in [\w-]*gebied(?:en)?", r"in (?:de|het) [\w-]*(?:regio|gebied|wijk|wijken|buurt)",
)  # fmt: skip
BROAD = (
    r"in (?:heel )?nederland", r"overal", r"altijd", r"in alle gevallen", r"alle", r"iedere?",
    r"elke?", r"in het algemeen", r"landelijk", r"op grote schaal", r"structureel",
    r"in (?:heel )?europa", r"wereldwijd", r"zonder uitzondering", r"in geen enkel geval",
    r"het (?:hele|gehele) jaar", r"jaarrond", r"permanent", r"in het hele land", r"voor iedereen",
)  # fmt: skip

ADMISSIONS = (
    "niet juist", "onjuist", "niet helemaal juist", "niet geheel juist", "te ruim", "te stellig",
    "te breed", "abusievelijk", "ten onrechte", "herstel", "niet correct", "incorrect",
    "vergissing", "rectificatie", "corrigeren", "correctie", "breder worden opgevat",
    "had moeten zijn", "excuses", "onvolledig", "onzorgvuldig", "per abuis", "foutief",
    "niet in overeenstemming met de feiten",
)  # fmt: skip

# Named organisations and systems; persons are found after a title ("Minister Hoekstra"), and any
# acronym of capitals ("CBS") or organisation-shaped proper noun ("Gezondheidsraad") also counts.
ACTORS = (
    r"(?:het )?ministerie van (?-i:[A-Z][\w-]*(?:(?:, | en | )[A-Z][\w-]*)*)",
    r"(?:de )?(?:minister|staatssecretaris) van (?-i:[A-Z][\w-]*(?:(?:, | en | )[A-Z][\w-]*)*)",
    r"(?:de )?politie", r"(?:de )?(?:kmar|koninklijke marechaussee)", r"(?:de )?aivd",
    r"(?:de )?mivd", r"(?:de )?nctv", r"(?:het )?(?:om|eom|(?:europees )?openbaar ministerie)", r"(?:de )?ind",
    r"(?:het )?nfi", r"(?:de )?autoriteit persoonsgegevens", r"(?:de )?rijksrecherche",
    r"(?:de )?belastingdienst", r"(?:de )?douane", r"(?:de )?dienst justiti[eë]le inrichtingen",
    r"europol", r"interpol", r"frontex", r"(?:de )?gemeenten?", r"(?:de )?burgemeesters?",
    r"(?:de )?provincies?", r"(?:de )?waterschappen", r"(?:de )?(?:europese commissie|eu)",
    r"(?:de )?inspectie [\w]+(?: en [\w]+)?", r"(?:de )?raad van state", r"(?:de )?rechtspraak",
    r"(?:de )?nationale ombudsman", r"(?:de )?algemene rekenkamer", r"(?:het )?kabinet",
    r"defensie", r"catch", r"clearview(?: ai)?", r"justis", r"(?:de )?nationale politie",
    r"(?:het )?coa", r"(?:de )?nvwa", r"(?:de )?duo", r"rijkswaterstaat", r"prorail",
    r"(?:de )?ns", r"schiphol", r"(?:het )?uwv", r"(?:de )?svb", r"(?:de )?ggd(?: ghor)?",
    r"(?:het )?rivm", r"(?:de )?rdw", r"(?:het )?cjib", r"(?:de )?gezondheidsraad",
    r"(?:de )?(?:minister|staatssecretaris|burgemeester|wethouder|commissaris|premier|"
    r"minister-president|de heer|mevrouw|heer) (?-i:(?:(?:van|de|der|den|Van|De|Den|Der|ter|Ter) )*[A-Z][\w-]+)",
    r"(?:de )?staatssecretaris",
    r"(?-i:[A-Z][\w-]*(?:raad|dienst|inspectie|autoriteit|bureau|waterstaat|bank|kamer|commissie|"
    r"centrum|instituut|agentschap|toezicht))",
    r"(?-i:[A-Z][A-Za-z]*[A-Z][A-Za-z]*)",
    # any other proper noun inside a sentence ("gegund aan Capgemini", "de Nederlandse
    # Zorgautoriteit"); a capital after a full stop only starts a sentence
    r"(?<=[a-zà-ÿ,] )(?-i:[A-Z][a-zà-ÿ'-]+(?: [A-Z][a-zà-ÿ'-]+)*)",
)  # fmt: skip
# Capitalised abbreviations that name no actor: laws, units, roman numerals, generic terms.
NOT_ACTORS = frozenset((
    "avg", "wob", "woo", "ai", "ii", "iii", "iv", "vi", "bsn", "ict", "btw", "bbp", "eur", "pdf",
    "html", "ok", "nb", "ps", "ceo", "cao", "mkb", "wmo", "wlz", "zvw", "ggz", "io", "ivm", "dwz",
    "tav", "oa", "nl", "eu-lidstaten", "nederland", "nederlandse", "europa", "europese", "kamer",
    "tweede kamer", "eerste kamer", "wet", "koning", "rijk", "staat", "ik", "nee", "ja",
))  # fmt: skip

NUMBER_WORDS = (
    "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien", "elf", "twaalf",
    "dertien", "veertien", "vijftien", "zestien", "zeventien", "achttien", "negentien", "twintig",
    "dertig", "veertig", "vijftig", "zestig", "zeventig", "tachtig", "negentig", "honderd",
    "honderden", "duizend", "duizenden", "miljoen", "miljard", "ongeveer", "circa", "ruim",
    "bijna", "enkele", "tientallen", "meerdere", "dozijn", "januari", "februari", "maart",
    "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december",
    "half", "helft", "kwart", "procent", "verdubbeld", "gehalveerd", "tweede", "derde",
    "begin", "eind", "medio", "voorjaar", "najaar", "zomer", "winter", "zomerreces", "kerstreces",
    "vierde", "vijfde", "zesde", "zevende", "achtste", "negende", "tiende", "honderdste",
)  # fmt: skip

# Numbers that refer to something instead of counting it: question, answer and footnote
# numbers, Kamerstuk and publication numbers. Changing these renumbers; it states nothing new.
_REFERENCE = re.compile(
    r"\b(?:vra(?:ag|gen)|antwoord(?:en)?|(?:voet)?no(?:ot|ten)|nr\.?|nrs\.?|nummers?|bijlage)\s+"
    r"\d+[a-z]?(?:\s*(?:,|en|t/m|tot en met)\s*\d+[a-z]?)*"
    r"|\bKamerstuk(?:ken)?(?:\s+I{1,2})?(?:\s+\d{4}(?:/|-|–)\d{2,4})?,?\s+\d+(?:\s\d{3})*(?:-[A-Z]+)?"
    r"|\b(?:ah|kv|kst|stb|stcrt)-[\w-]+",
    re.IGNORECASE,
)
_CROSS_REFERENCE = re.compile(
    r"\b(?:vra(?:ag|gen)|antwoord(?:en)?|(?:voet)?no(?:ot|ten))\s+\d+[a-z]?"
    r"(?:\s*(?:,|en|t/m|tot en met)\s*\d+[a-z]?)*",
    re.IGNORECASE,
)
# Digits glued to a word are footnote markers ("software1"); numbers stand on their own.
_NUMBER = re.compile(r"(?<![^\W\d_])\d+(?:[.,]\d+)*")


# --- compiled tables -----------------------------------------------------------------------------


def _compile(words: Iterable[str], as_written: bool = False) -> re.Pattern[str]:
    # One alternation per table, longest first, so "niet helemaal juist" wins over "niet juist";
    # patterns (not phrases) are tried in the order written, most specific first.
    ordered = list(words) if as_written else sorted(words, key=len, reverse=True)
    return re.compile(rf"(?<![\w-])(?:{'|'.join(f'(?:{w})' for w in ordered)})(?![\w-])", re.I)


_NEGATION = _compile(NEGATIONS)
_NOT_NEGATION = _compile(NOT_NEGATIONS)
_FRAMES = tuple((re.compile(rf"(?<![\w-])(?:{p})(?![\w-])", re.I), name) for p, name in FRAMES)
_HEDGES = _compile(HEDGES)
_RESTRICTIVE = _compile(RESTRICTIVE)
_BROAD = _compile(BROAD)
_ADMISSIONS = _compile(ADMISSIONS)
_ACTORS = _compile(ACTORS, as_written=True)
_NUMBER_WORD = _compile(NUMBER_WORDS)
_EMPHATIC_WEL = re.compile(r"(?<![\w-])w[ée]l(?![\w-])", re.I)
_ARTICLE = re.compile(r"^(?:de|het)\s+", re.I)


@dataclass(frozen=True, slots=True)
class Hit:
    """A cue found in a sentence: the words as written and where they stand."""

    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return comparison_key(_ARTICLE.sub("", self.text))


def _hits(pattern: re.Pattern[str], text: str) -> tuple[Hit, ...]:
    return tuple(Hit(m.group(0), m.start(), m.end()) for m in pattern.finditer(text))


def _outside(hits: Iterable[Hit], spans: Iterable[tuple[int, int]]) -> list[Hit]:
    blocked = list(spans)
    return [h for h in hits if not any(h.start < e and s < h.end for s, e in blocked)]


@dataclass(frozen=True, slots=True)
class Features:
    """The cues of one sentence, found once (sentences recur across versions: cached)."""

    text: str
    negations: tuple[Hit, ...]
    frames: tuple[tuple[Hit, str], ...]
    hedges: tuple[Hit, ...]
    restrictive: tuple[Hit, ...]
    broad: tuple[Hit, ...]
    admissions: tuple[Hit, ...]
    actors: tuple[Hit, ...]
    quantities: tuple[Hit, ...]


@functools.lru_cache(maxsize=8192)
def features(text: str) -> Features:
    """Find every cue of the rule table in one cleaned sentence."""
    not_neg = [(h.start, h.end) for h in _hits(_NOT_NEGATION, text)]
    masked = _REFERENCE.sub(lambda m: " " * len(m.group(0)), text)
    masked = strip_footnote_markers(masked, keep_length=True)
    actors: list[Hit] = []
    for hit in sorted(_hits(_ACTORS, text), key=lambda h: (h.start, h.start - h.end)):
        if hit.key in NOT_ACTORS or (actors and hit.start < actors[-1].end):
            continue
        actors.append(hit)
    numbers = [*_hits(_NUMBER, masked), *_hits(_NUMBER_WORD, masked)]
    return Features(
        text=text,
        negations=tuple(_outside(_hits(_NEGATION, text), not_neg)),
        frames=tuple(
            (Hit(m.group(0), m.start(), m.end()), name)
            for pattern, name in _FRAMES
            for m in pattern.finditer(text)
        ),
        hedges=_hits(_HEDGES, text),
        restrictive=_hits(_RESTRICTIVE, text),
        broad=_hits(_BROAD, text),
        admissions=_hits(_ADMISSIONS, text),
        actors=tuple(actors),
        quantities=tuple(sorted(numbers, key=lambda h: h.start)),
    )


def negation_phrase(text: str, hit: Hit | None = None) -> str | None:
    """The (first) negation in a sentence with up to three following words ("niet gedaan")."""
    if hit is None:
        negations = features(clean(text)).negations
        if not negations:
            return None
        hit = negations[0]
    tail = re.match(r"(?:\s+[^\s,.;:!?()]+){0,3}", text[hit.end :])
    return clean(hit.text + (tail.group(0) if tail else ""))


def is_negated(text: str) -> bool:
    return bool(features(clean(text)).negations)


def quantities(text: str) -> Counter[str]:
    """Numbers and number words that state an amount, a date or a count."""
    return Counter(_quantity_key(h.text) for h in features(clean(text)).quantities)


def _quantity_key(text: str) -> str:
    if text[0].isdigit():
        return re.sub(r"\.(?=\d{3}\b)", "", text).replace(",", ".")
    word = text.casefold()
    return str(_DIGITS_OF[word]) if word in _DIGITS_OF else word


# --- rules ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Sides:
    """The old and new sentence of one change (either may be empty), and the words claimed."""

    old: str
    new: str
    claimed_old: list[tuple[int, int]] = field(default_factory=list)
    claimed_new: list[tuple[int, int]] = field(default_factory=list)

    @property
    def before(self) -> Features:
        return features(self.old)

    @property
    def after(self) -> Features:
        return features(self.new)

    def claim(self, old: Iterable[Hit] = (), new: Iterable[Hit] = ()) -> None:
        self.claimed_old.extend((h.start, h.end) for h in old)
        self.claimed_new.extend((h.start, h.end) for h in new)

    def free_old(self, hits: Iterable[Hit]) -> list[Hit]:
        return _outside(hits, self.claimed_old)

    def free_new(self, hits: Iterable[Hit]) -> list[Hit]:
        return _outside(hits, self.claimed_new)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: the kind it reports, what it means, and the check that finds it."""

    kind: ChangeKind
    description: str
    check: Callable[[Sides], str | None]


def _quote(text: str) -> str:
    return f"“{text}”"


def _list(hits: Iterable[Hit]) -> str:
    seen: dict[str, str] = {}
    for h in hits:
        seen.setdefault(h.key, h.text)
    return ", ".join(_quote(t) for t in seen.values())


def _missing(hits: list[Hit], others: list[Hit]) -> list[Hit]:
    """Hits whose words the other side lacks (a longer phrase on the other side covers them)."""
    keys = [o.key for o in others]
    return [h for h in hits if not any(h.key == k or h.key in k or k in h.key for k in keys)]


def _retraction(s: Sides) -> str | None:
    fresh = _missing(list(s.after.admissions), list(s.before.admissions))
    if not fresh:
        return None
    s.claim(new=fresh)
    return f"admits an earlier statement was wrong: {_list(fresh)}"


def _denial_weakened(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_neg = s.free_old(s.before.negations)
    if not old_neg:
        return None
    new_neg = s.free_new(s.after.negations)
    old_frames = {name for _, name in s.before.frames}
    for hit, name in s.after.frames:
        if name in old_frames or not s.free_new([hit]):
            continue
        if not new_neg and not _NEGATION.search(hit.text):
            continue  # "niet gedaan" → "toegestaan" is a flip, not a weaker denial
        s.claim(old=old_neg, new=[*new_neg, hit, *_within(s.after.hedges, hit)])
        return (
            f"{_quote(negation_phrase(s.old, old_neg[0]) or '')} → "
            f"{_quote(_framed(s.new, hit, new_neg))}: a flat denial is now framed as {name}"
        )
    qualifiers = _missing(s.free_new(s.after.hedges), list(s.before.hedges))
    if new_neg and qualifiers:
        s.claim(old=old_neg, new=[*new_neg, *qualifiers])
        return (
            f"{_quote(negation_phrase(s.old, old_neg[0]) or '')} is now qualified by"
            f" {_list(qualifiers)}"
        )
    inserted = _inserted_after_negation(s.old, old_neg, s.new, new_neg)
    if inserted:
        s.claim(old=old_neg, new=new_neg)
        return (
            f"{_quote(negation_phrase(s.old, old_neg[0]) or '')} → "
            f"{_quote(negation_phrase(s.new, new_neg[0]) or '')}: the negation now covers less"
            f" ({_quote(inserted)} added)"
        )
    # A denial that now covers less ("niet gedaan" → "niet door de politie gedaan") is weaker:
    # what it no longer covers may well happen. The qualifiers stay for scope_narrowed to name.
    narrower = _missing(list(s.after.restrictive), list(s.before.restrictive))
    if (
        new_neg
        and narrower
        and not _missing(list(s.before.restrictive), list(s.after.restrictive))
        and not _missing(list(s.after.broad), list(s.before.broad))
    ):
        s.claim(old=old_neg, new=new_neg)
        return (
            f"{_quote(negation_phrase(s.old, old_neg[0]) or '')} now covers less: {_list(narrower)}"
        )
    return None


# Words that strengthen a negation rather than narrow it ("geen enkel bezwaar").
_INTENSIFIERS = frozenset(
    ("enkel", "enkele", "enige", "absoluut", "helemaal", "volstrekt", "totaal", "zeker", "echt",
     "nooit", "in", "het", "geheel", "wel", "of", "nauwelijks")
)  # fmt: skip
_TOKENS = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _inserted_after_negation(
    old: str, old_neg: list[Hit], new: str, new_neg: list[Hit]
) -> str | None:
    """Words slipped in right after an unchanged negation ("geen camera's" → "geen vaste
    camera's", "niet gedaan" → "niet meer gedaan"): the denial now covers less."""
    for o in old_neg:
        for n in new_neg:
            if o.text.casefold() != n.text.casefold():
                continue
            before = _TOKENS.findall(old[o.end :])[:3]
            after = _TOKENS.findall(new[n.end :])[:5]
            if not before or after[: len(before)] == before:
                continue
            extra, k = [], 0
            for word in after:
                if k < len(before) and word.casefold() == before[k].casefold():
                    k += 1
                elif k == 0 or k < len(before):
                    extra.append(word)
            if k == len(before) and extra and not any(w.casefold() in _INTENSIFIERS for w in extra):
                return " ".join(extra)
    return None


def _framed(text: str, frame: Hit, negations: list[Hit]) -> str:
    """The new wording of a framed denial: the negation phrase, with the frame if it stands apart."""
    if _NEGATION.search(frame.text) or not negations:
        return negation_phrase(text, frame) or frame.text
    phrase = negation_phrase(text, negations[0]) or negations[0].text
    if frame.start >= negations[0].start and frame.end <= negations[0].start + len(phrase) + 1:
        return phrase
    return (
        f"{frame.text} … {phrase}"
        if frame.start < negations[0].start
        else f"{phrase} … {frame.text}"
    )


def _within(hits: Iterable[Hit], outer: Hit) -> list[Hit]:
    return [h for h in hits if h.start < outer.end and outer.start < h.end]


def _negation_flipped(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_neg, new_neg = s.free_old(s.before.negations), s.free_new(s.after.negations)
    if old_neg and not new_neg:
        s.claim(old=old_neg)
        wel = _EMPHATIC_WEL.search(s.new)
        now = f"; now {_quote(wel.group(0))}" if wel else ""
        return f"{_quote(negation_phrase(s.old, old_neg[0]) or '')} is gone{now}"
    if new_neg and not old_neg:
        s.claim(new=new_neg)
        phrase = negation_phrase(s.new, new_neg[0]) or new_neg[0].text
        return f"negation {_quote(phrase)} added to a positive statement"
    if any(_NEGATION.search(hit.text) for hit, _ in s.before.frames):
        return None  # "niet bekend of X" → "X niet": a claim of knowledge, not a flip
    # Both sides negate something, but one statement lost (or gained) its own negation:
    # "geen wapens geleverd die niet op de lijst stonden" → "wapens geleverd die niet …".
    for negs, text, other, verb in (
        (old_neg, s.old, s.new, "is gone"),
        (new_neg, s.new, s.old, "added"),
    ):
        for hit in negs:
            after = _NEXT_WORD.match(text, hit.end)
            if after is None:
                continue
            word = after.group(1)
            if _bare_word(other, word):
                s.claim(**({"old": [hit]} if verb == "is gone" else {"new": [hit]}))
                phrase = negation_phrase(text, hit) or hit.text
                return (
                    f"{_quote(phrase)} {verb}"
                    if verb == "is gone"
                    else (f"negation {_quote(phrase)} added to a positive statement")
                )
    return None


_NEXT_WORD = re.compile(r"\s+([^\W\d_]{3,})")


def _bare_word(text: str, word: str) -> bool:
    """Whether `word` stands in `text` without a negation right before it."""
    for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I):
        before = text[: m.start()].split()[-2:]  # "geen enkel bezwaar" is still negated
        if not any(_NEGATION.fullmatch(w) for w in before):
            return True
    return False


def _number_changed(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_q = s.free_old(s.before.quantities)
    new_q = s.free_new(s.after.quantities)
    old_c = Counter(_quantity_key(h.text) for h in old_q)
    new_c = Counter(_quantity_key(h.text) for h in new_q)
    gone, came = old_c - new_c, new_c - old_c
    # A number added where the sentence had none is new content, and a number dropped with no
    # number left is removed content: neither is a changed number.
    if not ((gone and new_c) or (came and old_c)):
        return None
    gone_hits = [h for h in old_q if _quantity_key(h.text) in gone]
    came_hits = [h for h in new_q if _quantity_key(h.text) in came]
    s.claim(old=gone_hits, new=came_hits)
    before = _number_phrases(s.old, old_q, gone_hits) or "—"
    after = _number_phrases(s.new, new_q, came_hits) or "—"
    return f"{_quote(before)} → {_quote(after)}"


def _number_phrases(text: str, hits: list[Hit], changed: list[Hit]) -> str:
    """The changed numbers with their neighbours ("51 tot 100", "15 maart 2023")."""
    runs: list[list[Hit]] = []
    for hit in hits:
        if runs and hit.start - runs[-1][-1].end <= 5:
            runs[-1].append(hit)
        else:
            runs.append([hit])
    wanted = {(h.start, h.end) for h in changed}
    return ", ".join(
        text[run[0].start : run[-1].end]
        for run in runs
        if any((h.start, h.end) in wanted for h in run)
    )


def _actor_changed(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_a, new_a = s.free_old(s.before.actors), s.free_new(s.after.actors)
    gone = _missing(old_a, new_a)
    came = _missing(new_a, old_a)
    if not gone or not came:  # an actor only added or only dropped is no change of actor
        return None
    s.claim(old=gone, new=came)
    return f"{_list(gone)} → {_list(came)}"


def _scope(s: Sides, narrowing: bool) -> str | None:
    if not s.old or not s.new:
        return None
    old_r, new_r = s.free_old(s.before.restrictive), s.free_new(s.after.restrictive)
    old_b, new_b = s.free_old(s.before.broad), s.free_new(s.after.broad)
    gained_r, lost_r = _missing(new_r, old_r), _missing(old_r, new_r)
    gained_b, lost_b = _missing(new_b, old_b), _missing(old_b, new_b)
    if narrowing:
        gained, lost, against = gained_r, lost_b, len(gained_b) + len(lost_r)
    else:
        gained, lost, against = gained_b, lost_r, len(gained_r) + len(lost_b)
    if len(gained) + len(lost) <= against:
        return None
    s.claim(old=lost, new=gained)
    parts = []
    if gained:
        parts.append(f"added {_list(gained)}")
    if lost:
        parts.append(f"dropped {_list(lost)}")
    return "; ".join(parts)


def _hedge(s: Sides, added: bool) -> str | None:
    if not s.old or not s.new:
        return None
    old_h, new_h = s.free_old(s.before.hedges), s.free_new(s.after.hedges)
    diff = (
        _missing(new_h, list(s.before.hedges)) if added else _missing(old_h, list(s.after.hedges))
    )
    if not diff:
        return None
    s.claim(**({"new": diff} if added else {"old": diff}))
    return ("added " if added else "dropped ") + _list(diff)


RULES: tuple[Rule, ...] = (
    Rule(ChangeKind.RETRACTION, "the text admits an earlier statement was wrong", _retraction),
    Rule(ChangeKind.DENIAL_WEAKENED,
         "a denial became permission, policy or knowledge, or got a qualifier", _denial_weakened),
    Rule(ChangeKind.NEGATION_FLIPPED, "a statement turned from negative to positive or back",
         _negation_flipped),
    Rule(ChangeKind.NUMBER_CHANGED, "a number, amount, date or count differs", _number_changed),
    Rule(ChangeKind.ACTOR_CHANGED, "one named organisation, person or system replaced another",
         _actor_changed),
    Rule(ChangeKind.SCOPE_NARROWED, "qualifiers now restrict who, where or when",
         lambda s: _scope(s, narrowing=True)),
    Rule(ChangeKind.SCOPE_WIDENED, "restricting qualifiers were dropped or broadened",
         lambda s: _scope(s, narrowing=False)),
    Rule(ChangeKind.HEDGE_ADDED, "a hedge appeared", lambda s: _hedge(s, added=True)),
    Rule(ChangeKind.HEDGE_REMOVED, "a hedge disappeared", lambda s: _hedge(s, added=False)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Classification:
    """The kinds one sentence change got, each with its reason, in rule-table order."""

    kinds: tuple[ChangeKind, ...]
    reasons: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        return Severity.highest([SEVERITY_OF_KIND[k] for k in self.kinds])


def _masked_references(text: str) -> str:
    return comparison_key(_CROSS_REFERENCE.sub(lambda m: m.group(0).split()[0], text))


@functools.lru_cache(maxsize=4096)
def classify(old: str, new: str) -> Classification:
    """Kinds and reasons for one sentence change; `old` or `new` is empty for an insert/delete.

    >>> classify("Dat wordt niet gedaan.", "Daarvoor wordt geen toestemming gegeven.").kinds
    (<ChangeKind.DENIAL_WEAKENED: 'denial_weakened'>,)
    """
    if comparison_key(old) == comparison_key(new):
        return Classification(
            (ChangeKind.EDITORIAL,), ("editorial: only spelling, punctuation or layout differ",)
        )
    sides = Sides(clean(old), clean(new))
    if sides.old and sides.new and _masked_references(sides.old) == _masked_references(sides.new):
        refs = [m.group(0) for m in _CROSS_REFERENCE.finditer(sides.new)]
        return Classification(
            (ChangeKind.EDITORIAL,),
            (f"editorial: only a cross-reference was renumbered ({_list_text(refs)})",),
        )
    kinds: list[ChangeKind] = []
    reasons: list[str] = []
    for rule in RULES:
        reason = rule.check(sides)
        if reason:
            kinds.append(rule.kind)
            reasons.append(f"{rule.kind}: {reason}")
    if not kinds:
        if sides.old and not sides.new:
            kinds.append(ChangeKind.CONTENT_REMOVED)
            reasons.append(f"content_removed: sentence removed: {_quote(_short(sides.old))}")
        elif sides.new and not sides.old:
            kinds.append(ChangeKind.CONTENT_ADDED)
            reasons.append(f"content_added: sentence added: {_quote(_short(sides.new))}")
        else:
            kind, words = _substance(sides)
            kinds.append(kind)
            verb = "dropped" if kind is ChangeKind.CONTENT_REMOVED else "added"
            reasons.append(f"{kind}: {verb} {_quote(_short(words))} (no cue of the rule table)")
    return Classification(tuple(kinds), tuple(reasons))


def _list_text(texts: list[str]) -> str:
    return ", ".join(_quote(t) for t in dict.fromkeys(texts))


_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _substance(s: Sides) -> tuple[ChangeKind, str]:
    """Whether a cue-less rewording mostly adds or mostly drops words, and which."""
    old_words = {comparison_key(w): w for w in _WORD.findall(s.old)}
    new_words = {comparison_key(w): w for w in _WORD.findall(s.new)}
    dropped = [w for k, w in old_words.items() if k not in new_words]
    added = [w for k, w in new_words.items() if k not in old_words]
    if len(dropped) > len(added):
        return ChangeKind.CONTENT_REMOVED, " ".join(dropped)
    return ChangeKind.CONTENT_ADDED, " ".join(added)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
