"""Classify a changed sentence into change kinds with reasons, from an ordered table of Dutch cues.

Every rule is a named function over the old and new sentence that returns a reason (naming the
words that triggered it) or nothing. `RULES` is the whole table, in the order rules are tried;
a journalist can read it top to bottom. Nothing here is learned or weighted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from monitor.normalize import clean, comparison_key
from monitor.records import SEVERITY_OF_KIND, ChangeKind, Severity

# --- cue lists -----------------------------------------------------------------------------------

NEGATIONS = ("niet", "geen", "nooit", "nergens", "niets", "niemand", "geenszins", "generlei")

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
    (r"voornemen|voornemens", "policy"),
    (r"niet voorzien", "policy"),
    (r"uitgangspunt", "policy"),
    (r"(?:voor zover|voorzover) (?:mij |ons )?bekend", "knowledge"),
    (r"(?:is|zijn) (?:mij |ons )?niet bekend", "knowledge"),
    (r"niet bekend", "knowledge"),
    (r"naar mijn weten|bij mijn weten|mijns inziens", "knowledge"),
    (r"(?:geen|niet de) aanwijzingen?", "knowledge"),
    (r"geen zicht op|niet geregistreerd|niet bijgehouden", "knowledge"),
)

HEDGES = (
    "op dit moment", "vooralsnog", "voor zover bekend", "voor zover mij bekend", "naar mijn weten",
    "bij mijn weten", "in beginsel", "in principe", "niet uit te sluiten", "niet uitgesloten",
    "momenteel", "thans", "voorlopig", "tot op heden", "tot nu toe", "op dit ogenblik",
    "in de regel", "doorgaans", "mogelijk", "waarschijnlijk", "naar verwachting", "zo goed als",
    "nagenoeg", "vrijwel", "nauwelijks", "in beperkte mate", "nog niet",
)  # fmt: skip

# Qualifiers that restrict who, where or when a statement covers.
RESTRICTIVE = (
    r"in de (?:publieke|openbare) ruimte", r"door (?:de|het) [a-z][\w-]+", r"binnen (?:de|het) [\w-]+",
    r"in de [\w-]*organisatie", r"bij (?:de|het) [a-z][\w-]+", r"alleen", r"uitsluitend",
    r"slechts", r"enkel", r"met uitzondering van", r"behalve", r"op beperkte schaal",
    r"in (?:bepaalde|sommige|enkele) gevallen", r"in een aantal gevallen", r"incidenteel",
    r"voor zover het [\w\s]+? betreft", r"in het kader van [\w\s]+?(?=[,.]|$)", r"tijdens [\w-]+",
)  # fmt: skip
BROAD = (
    r"in (?:heel )?nederland", r"overal", r"altijd", r"in alle gevallen", r"nergens", r"alle",
    r"geen enkele?", r"in het algemeen", r"landelijk", r"op grote schaal", r"structureel",
    r"in (?:heel )?europa", r"wereldwijd", r"nooit",
)  # fmt: skip

ADMISSIONS = (
    "niet juist", "onjuist", "niet helemaal juist", "niet geheel juist", "te ruim", "te stellig",
    "te breed", "abusievelijk", "ten onrechte", "herstel", "niet correct", "incorrect",
    "vergissing", "rectificatie", "corrigeren", "correctie", "breder worden opgevat",
    "had moeten zijn", "excuses", "onvolledig",
)  # fmt: skip

ACTORS = (
    r"(?:de )?politie", r"(?:de )?(?:kmar|koninklijke marechaussee)", r"(?:de )?aivd", r"(?:de )?mivd",
    r"(?:de )?nctv", r"(?:het )?(?:om|openbaar ministerie)", r"(?:de )?ind", r"(?:het )?nfi",
    r"(?:de )?autoriteit persoonsgegevens", r"(?:de )?ap", r"(?:de )?rijksrecherche",
    r"(?:de )?belastingdienst", r"(?:de )?fiod", r"(?:de )?douane", r"(?:de )?(?:dji|dienst justiti[eë]le inrichtingen)",
    r"europol", r"interpol", r"frontex", r"(?:de )?gemeenten?", r"(?:de )?burgemeesters?",
    r"(?:het )?ministerie van [a-z][\w ]+?(?=[,.]|$| en | heeft| is)", r"(?:de )?minister van [a-z][\w ]+?(?=[,.]|$| en | heeft| is)",
    r"(?:de )?staatssecretaris", r"(?:de )?inspectie [\w]+", r"(?:het )?rivm", r"(?:de )?rdw",
    r"(?:het )?uwv", r"(?:de )?ggd", r"defensie", r"catch", r"clearview(?: ai)?", r"justis",
    r"(?:de )?nationale politie", r"(?:de )?eenheden", r"(?:het )?cjib",
)  # fmt: skip

_NUMBER_WORDS = (
    "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien", "elf", "twaalf",
    "dertien", "veertien", "vijftien", "twintig", "dertig", "veertig", "vijftig", "honderd",
    "honderden", "duizend", "duizenden", "miljoen", "miljard", "ongeveer", "circa", "ruim",
    "bijna", "enkele", "tientallen", "meerdere",
)  # fmt: skip

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NOT_A_QUANTITY = re.compile(
    r"(?:vra(?:ag|gen)|antwoord(?:en)?|nr\.?|noot|artikel|art\.|lid)\s+(\d+(?:\s*(?:,|en)\s*\d+)*)",
    re.IGNORECASE,
)


def _compile(words: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"(?<![\w-])(?:{w})(?![\w-])", re.IGNORECASE) for w in words)


_NEGATION = _compile(NEGATIONS)
_FRAMES = tuple((re.compile(rf"\b(?:{p})\b", re.IGNORECASE), name) for p, name in FRAMES)
_HEDGES = _compile(HEDGES)
_RESTRICTIVE = _compile(RESTRICTIVE)
_BROAD = _compile(BROAD)
_ADMISSIONS = _compile(ADMISSIONS)
_ACTORS = _compile(ACTORS)
_NUMBER_WORD = _compile(_NUMBER_WORDS)
_EMPHATIC_WEL = re.compile(r"\bw[ée]l\b", re.IGNORECASE)
_NEGATED_HEDGE = re.compile(
    r"niet uit te sluiten|niet uitgesloten|nog niet|niet alleen", re.IGNORECASE
)
_QUALIFIED_NEGATION = re.compile(
    r"\b(?:nog niet|niet altijd|niet in alle gevallen|niet structureel|niet op grote schaal|"
    r"nauwelijks|vrijwel niet|zelden|in principe niet|in beginsel niet|niet standaard|"
    r"niet zonder meer|niet actief)\b",
    re.IGNORECASE,
)


# --- sentence features ---------------------------------------------------------------------------


def _phrases(patterns: tuple[re.Pattern[str], ...], text: str) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            found.append(m.group(0))
    return found


def _keyed(phrases: list[str]) -> dict[str, str]:
    return {comparison_key(p): p for p in phrases}


def negation_phrase(text: str) -> str | None:
    """The negation in a sentence with up to three following words ("niet gedaan")."""
    without_hedges = _NEGATED_HEDGE.sub(" ", text)
    for m in re.finditer(rf"\b(?:{'|'.join(NEGATIONS)})\b", without_hedges, re.IGNORECASE):
        tail = re.match(r"(?:\s+[^\s,.;:!?()]+){0,3}", without_hedges[m.end() :])
        phrase = m.group(0) + (tail.group(0) if tail else "")
        return clean(phrase)
    return None


def is_negated(text: str) -> bool:
    return negation_phrase(text) is not None


def quantities(text: str) -> Counter[str]:
    """Numbers and number words that state an amount, a date or a count."""
    masked = _NOT_A_QUANTITY.sub(" ", text)
    found = Counter(n.replace(".", "").replace(",", ".") for n in _NUMBER.findall(masked))
    for m in _phrases(_NUMBER_WORD, masked):
        found[m.casefold()] += 1
    return found


@dataclass(frozen=True, slots=True)
class Sides:
    """The old and new sentence of one change; either may be empty (insert or delete)."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Rule:
    kind: ChangeKind
    description: str
    check: Callable[[Sides], str | None]


def _quote(text: str) -> str:
    return f"“{text}”"


def _list(phrases: list[str]) -> str:
    return ", ".join(_quote(p) for p in phrases)


def _denial_weakened(s: Sides) -> str | None:
    old_neg = negation_phrase(s.old)
    if not s.old or not s.new or old_neg is None:
        return None
    old_frames = {name for pattern, name in _FRAMES if pattern.search(s.old)}
    new_neg = negation_phrase(s.new)
    for pattern, name in _FRAMES:
        m = pattern.search(s.new)
        if m and name not in old_frames:
            anchor = new_neg or m.group(0)
            return (
                f"{_quote(old_neg)} → {_quote(anchor)}: a flat denial is now framed as {name}"
                f" ({_quote(m.group(0))})"
            )
    q = _QUALIFIED_NEGATION.search(s.new)
    if q and not _QUALIFIED_NEGATION.search(s.old) and new_neg is not None:
        return f"{_quote(old_neg)} → {_quote(q.group(0))}: the negation is now qualified"
    return None


def _negation_flipped(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_neg, new_neg = negation_phrase(s.old), negation_phrase(s.new)
    if old_neg and not new_neg:
        wel = _EMPHATIC_WEL.search(s.new)
        return f"{_quote(old_neg)} is gone" + (f"; now {_quote(wel.group(0))}" if wel else "")
    if new_neg and not old_neg:
        return f"negation {_quote(new_neg)} added to a positive statement"
    return None


def _scope(s: Sides, narrowing: bool) -> str | None:
    if not s.old or not s.new:
        return None
    old_r, new_r = _keyed(_phrases(_RESTRICTIVE, s.old)), _keyed(_phrases(_RESTRICTIVE, s.new))
    old_b, new_b = _keyed(_phrases(_BROAD, s.old)), _keyed(_phrases(_BROAD, s.new))
    if narrowing:
        gained = [new_r[k] for k in new_r if k not in old_r]
        lost = [old_b[k] for k in old_b if k not in new_b]
        other_gain = [new_b[k] for k in new_b if k not in old_b]
        other_loss = [old_r[k] for k in old_r if k not in new_r]
    else:
        gained = [new_b[k] for k in new_b if k not in old_b]
        lost = [old_r[k] for k in old_r if k not in new_r]
        other_gain = [new_r[k] for k in new_r if k not in old_r]
        other_loss = [old_b[k] for k in old_b if k not in new_b]
    if len(gained) + len(lost) <= len(other_gain) + len(other_loss):
        return None
    parts = []
    if gained:
        parts.append(f"added {_list(gained)}")
    if lost:
        parts.append(f"dropped {_list(lost)}")
    return "; ".join(parts)


def _hedge(s: Sides, added: bool) -> str | None:
    old_h, new_h = _keyed(_phrases(_HEDGES, s.old)), _keyed(_phrases(_HEDGES, s.new))
    if added:
        diff = [new_h[k] for k in new_h if k not in old_h and not _covered(k, old_h)]
    else:
        diff = [old_h[k] for k in old_h if k not in new_h and not _covered(k, new_h)]
    if not diff or (added and not s.new) or (not added and not s.old):
        return None
    return ("added " if added else "dropped ") + _list(diff)


def _covered(key: str, others: dict[str, str]) -> bool:
    return any(key in other or other in key for other in others)


def _number_changed(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_q, new_q = quantities(s.old), quantities(s.new)
    if old_q == new_q:
        return None
    gone = sorted((old_q - new_q).elements())
    came = sorted((new_q - old_q).elements())
    return f"{' '.join(gone) or '—'} → {' '.join(came) or '—'}"


def _actor_changed(s: Sides) -> str | None:
    if not s.old or not s.new:
        return None
    old_a, new_a = _keyed(_phrases(_ACTORS, s.old)), _keyed(_phrases(_ACTORS, s.new))
    strip = re.compile(r"^(?:de|het)")
    old_k = {strip.sub("", k) for k in old_a}
    new_k = {strip.sub("", k) for k in new_a}
    gone = [old_a[k] for k in old_a if strip.sub("", k) not in new_k]
    came = [new_a[k] for k in new_a if strip.sub("", k) not in old_k]
    if not gone or not came:
        return None
    return f"{_list(gone)} → {_list(came)}"


def _retraction(s: Sides) -> str | None:
    old_a = _keyed(_phrases(_ADMISSIONS, s.old))
    new_a = _phrases(_ADMISSIONS, s.new)
    fresh = [p for p in new_a if comparison_key(p) not in old_a]
    if not fresh:
        return None
    return f"admits an earlier statement was wrong: {_list(fresh)}"


RULES: tuple[Rule, ...] = (
    Rule(ChangeKind.RETRACTION, "the text admits an earlier statement was wrong", _retraction),
    Rule(ChangeKind.DENIAL_WEAKENED, "a flat denial became permission, policy or knowledge",
         _denial_weakened),
    Rule(ChangeKind.NEGATION_FLIPPED, "a statement turned from negative to positive or back",
         _negation_flipped),
    Rule(ChangeKind.SCOPE_NARROWED, "qualifiers restrict who, where or when",
         lambda s: _scope(s, narrowing=True)),
    Rule(ChangeKind.SCOPE_WIDENED, "qualifiers were dropped or broadened",
         lambda s: _scope(s, narrowing=False)),
    Rule(ChangeKind.HEDGE_ADDED, "a hedge appeared", lambda s: _hedge(s, added=True)),
    Rule(ChangeKind.HEDGE_REMOVED, "a hedge disappeared", lambda s: _hedge(s, added=False)),
    Rule(ChangeKind.NUMBER_CHANGED, "a number, amount, date or count differs", _number_changed),
    Rule(ChangeKind.ACTOR_CHANGED, "a named organisation, person or system differs",
         _actor_changed),
)  # fmt: skip

# A weakened denial is not also reported as a flip: the negation is still there, only framed.
_SUPERSEDES = {ChangeKind.DENIAL_WEAKENED: ChangeKind.NEGATION_FLIPPED}


@dataclass(frozen=True, slots=True)
class Classification:
    kinds: tuple[ChangeKind, ...]
    reasons: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        return Severity.highest([SEVERITY_OF_KIND[k] for k in self.kinds])


def classify(old: str, new: str) -> Classification:
    """Kinds and reasons for one sentence change; `old` or `new` is empty for an insert/delete.

    >>> classify("Dat wordt niet gedaan.", "Daarvoor wordt geen toestemming gegeven.").kinds
    (<ChangeKind.DENIAL_WEAKENED: 'denial_weakened'>,)
    """
    if comparison_key(old) == comparison_key(new):
        return Classification(
            (ChangeKind.EDITORIAL,), ("only spelling, punctuation or layout differ",)
        )
    sides = Sides(clean(old), clean(new))
    kinds: list[ChangeKind] = []
    reasons: list[str] = []
    for rule in RULES:
        if _SUPERSEDES.get(rule.kind) in kinds or any(
            _SUPERSEDES.get(k) == rule.kind for k in kinds
        ):
            continue
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
            kinds.append(_substance(sides))
            reasons.append(f"{kinds[-1]}: wording changed without a recognised cue")
    return Classification(tuple(kinds), tuple(reasons))


def _substance(s: Sides) -> ChangeKind:
    old_words = set(comparison_key_words(s.old))
    new_words = set(comparison_key_words(s.new))
    return (
        ChangeKind.CONTENT_REMOVED
        if len(old_words - new_words) > len(new_words - old_words)
        else ChangeKind.CONTENT_ADDED
    )


def comparison_key_words(text: str) -> list[str]:
    return [comparison_key(w) for w in text.split() if comparison_key(w)]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
