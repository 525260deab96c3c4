"""Split a question or answer document (KOOP XML, HTML or plain text) into numbered items."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning
from bs4.element import NavigableString
from lxml import etree

from monitor.normalize import clean
from monitor.records import Item, ParsedDocument, ParseError, Rendition

_NUM = r"\d{1,3}[a-z]?"
_NUMLIST = rf"{_NUM}(?:\s*(?:,|&|en|t/m|tot\s+en\s+met|-|–)\s*{_NUM})*"
_NUMBER = re.compile(r"\b(\d{1,3}[a-z]?)\b")
# "Vraag 1", "Antwoord 2 en 3", "Antwoord op vraag 4, 5 en 6", "Vragen 7 t/m 9:", or a bare
# "Antwoord" (an unnumbered block, reported as preamble or unmatched, never guessed).
_HEADING = re.compile(
    rf"^\s*(?P<role>vragen|vraag|antwoorden|antwoord)"
    rf"(?:\s+(?:op|bij)\s+(?:de\s+)?(?:vraag|vragen))?"
    rf"(?P<nums>\s*{_NUMLIST})?\s*[.:]?\s*$",
    re.IGNORECASE,
)
_INLINE_HEADING = re.compile(
    rf"^\s*(?P<role>vragen|vraag|antwoorden|antwoord)"
    rf"(?:\s+(?:op|bij)\s+(?:de\s+)?(?:vraag|vragen))?"
    rf"\s+(?P<nums>{_NUMLIST})\s*[.:]\s+(?P<text>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SEE_ANSWER = re.compile(
    r"\b(?:zie|verwijs\w*\s+(?:ik\s+)?(?:u\s+)?naar)\s+(?:ook\s+)?(?:mijn\s+)?(?:het\s+)?"
    r"antwoord(?:en)?\s+(?:op\s+)?(?:de\s+)?vra(?:ag|gen)\s+"
    r"(?P<nums>\d{1,3}[a-z]?(?:\s*(?:,|en|t/m)\s*\d{1,3}[a-z]?)*)",
    re.IGNORECASE,
)
_CITED = re.compile(
    r"Aanhangsel\s+(?:van\s+de\s+)?Handelingen,?\s+(?:vergaderjaar\s+)?(?P<y1>\d{4})\s*[-–/]\s*(?P<y2>\d{4}),?\s+nr\.?\s*(?P<nr>\d+)",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d{1,3})\s*(?:t/m|tot en met|-|–)\s*(\d{1,3})")
# The answer's own description line ("Antwoord van minister … (ontvangen …)"): text after it and
# before the first numbered heading is the answer's unnumbered preamble.
_ANSWER_INTRO = re.compile(
    r"^(?:nader\s+)?(?:antwoord|mededeling)\s+(?:van|namens)\b.*\(ontvangen\b", re.IGNORECASE
)
_BULLET = re.compile(r"^\s*(?:[-–—•▪◦·*]|\(?[a-z0-9]{1,2}[.)])\s+")

_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)


def numbers_in(label: str) -> tuple[str, ...]:
    """Question numbers named in a heading such as "Antwoord 2 en 3" or "Vragen 4 t/m 6".

    >>> numbers_in("Vraag 4, 5 en 6")
    ('4', '5', '6')
    >>> numbers_in("Antwoord op vragen 2 t/m 4")
    ('2', '3', '4')
    """
    expanded = _RANGE.sub(
        lambda m: (
            " ".join(str(n) for n in range(int(m[1]), int(m[2]) + 1))
            if 0 < int(m[2]) - int(m[1]) < 50
            else m[0]
        ),
        label,
    )
    seen: dict[str, None] = {}
    for number in _NUMBER.findall(expanded):
        seen.setdefault(number.lstrip("0") or "0", None)
    return tuple(seen)


def cited_publications(text: str) -> tuple[str, ...]:
    """KOOP ids of the Aanhangsel numbers a text cites ("Zie ook Aanhangsel Handelingen …").

    >>> cited_publications("Zie ook Aanhangsel Handelingen, vergaderjaar 2020–2021, nr. 4076.")
    ('ah-tk-20202021-4076',)
    """
    seen: dict[str, None] = {}
    for m in _CITED.finditer(text):
        seen.setdefault(f"ah-tk-{m['y1']}{m['y2']}-{int(m['nr'])}", None)
    return tuple(seen)


def see_also(text: str) -> tuple[str, ...]:
    """Question numbers an answer refers to instead of repeating itself.

    >>> see_also("Zie het antwoord op vraag 2.")
    ('2',)
    """
    out: dict[str, None] = {}
    for m in _SEE_ANSWER.finditer(text):
        for n in numbers_in(m["nums"]):
            out.setdefault(n, None)
    return tuple(out)


def parse(body: bytes, rendition: Rendition, identifier: str = "") -> ParsedDocument:
    """Parse one stored rendition; raises `ParseError` only when the body is unreadable."""
    if rendition is Rendition.KOOP_XML:
        return parse_koop_xml(body, identifier)
    if rendition in (Rendition.KOOP_HTML, Rendition.TK_HTML):
        return parse_html(body, rendition, identifier)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{identifier or 'document'}: text is not UTF-8") from exc
    return parse_text(text, rendition, identifier)


# --- assembling items from blocks (shared by every rendition) --------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    """One explicit question/answer block (XML element, HTML div) before numbering is checked."""

    role: str
    label: str
    paragraphs: tuple[str, ...]


def _paragraph(text: str) -> str:
    return clean(_BULLET.sub("", text, count=1))


def _item(role: str, label: str, paragraphs: Iterable[str]) -> Item:
    texts = tuple(p for p in paragraphs if p)
    return Item(
        role="question" if role == "question" else "answer",
        numbers=numbers_in(label),
        label=clean(label),
        paragraphs=texts,
        see_also=see_also(" ".join(texts)) if role == "answer" else (),
    )


def _split_blocks(
    blocks: Iterable[_Block],
) -> tuple[list[Item], list[Item], list[str], list[str]]:
    """Numbered blocks become items; an unnumbered answer block before the first numbered answer
    is the preamble; any other unnumbered text is unmatched (kept for review, never attached)."""
    questions: list[Item] = []
    answers: list[Item] = []
    preamble: list[str] = []
    unmatched: list[str] = []
    for block in blocks:
        label, paragraphs = block.label, list(block.paragraphs)
        if not numbers_in(label) and paragraphs:
            heading = _HEADING.match(paragraphs[0]) or _INLINE_HEADING.match(paragraphs[0])
            if heading and heading["nums"]:
                if "text" in heading.groupdict():
                    label = paragraphs[0][: heading.start("text")].strip()
                    paragraphs[0] = heading["text"]
                else:
                    label, paragraphs = paragraphs[0], paragraphs[1:]
        if numbers_in(label):
            item = _item(block.role, label, paragraphs)
            (questions if item.role == "question" else answers).append(item)
        elif block.role == "answer" and not answers:
            preamble.extend(p for p in paragraphs if p)
        else:
            unmatched.extend(p for p in paragraphs if p)
    return questions, answers, preamble, unmatched


# --- KOOP XML --------------------------------------------------------------------------------


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _itertext(element: etree._Element) -> str:
    return "".join(str(t) for t in element.itertext())


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in element:
        if _local(child.tag) == name:
            yield child


def _note_text(note: etree._Element) -> str:
    return clean(" ".join(_itertext(n) for n in note if _local(n.tag) != "noot.nr"))


def _text(element: etree._Element, footnotes: list[str]) -> str:
    """Visible inline text of an element, with footnotes moved out and their calls dropped."""
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        name = _local(el.tag)
        if name == "noot":
            footnotes.append(_note_text(el))
        elif name not in ("noot.nr", "noot.ref", "nootref", "li.nr"):
            if el.text:
                parts.append(el.text)
            for child in el:
                walk(child)
        if el.tail:
            parts.append(el.tail)

    if element.text:
        parts.append(element.text)
    for child in element:
        walk(child)
    return "".join(parts)


def _xml_paragraphs(children: Iterable[etree._Element], footnotes: list[str]) -> list[str]:
    """Paragraphs of a `vraag`/`antwoord`: each `al`, each list item and each table row apart."""
    out: list[str] = []
    for child in children:
        name = _local(child.tag)
        if name == "nr":
            continue
        if name == "noot":
            footnotes.append(_note_text(child))
        elif name == "lijst":
            for li in _children(child, "li"):
                inline = [c for c in li if _local(c.tag) != "lijst"]
                text = " ".join(
                    _text(c, footnotes) for c in inline if _local(c.tag) != "li.nr"
                ) or clean(li.text or "")
                out.append(_paragraph(text))
                for nested in _children(li, "lijst"):
                    out.extend(_xml_paragraphs([nested], footnotes))
        elif name in ("table", "tabel"):
            for row in (r for r in child.iter() if _local(r.tag) == "row"):
                cells = [clean(_text(e, footnotes)) for e in row if _local(e.tag) == "entry"]
                out.append(" | ".join(cells))
        else:
            out.append(_paragraph(_text(child, footnotes)))
    return [p for p in out if p]


def parse_koop_xml(body: bytes, identifier: str = "") -> ParsedDocument:
    """Parse an `officiele-publicatie` with a `kamervragen` body (the KOOP `ah-tk`/`kv-tk` XML)."""
    try:
        root = etree.fromstring(body, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{identifier or 'KOOP XML'}: not well-formed XML ({exc})") from exc
    if root is None:
        raise ParseError(f"{identifier or 'KOOP XML'}: empty document")
    container = next(
        (el for el in root.iter() if _local(el.tag) in ("kamervragen", "vragen")), None
    )
    if container is None:
        raise ParseError(f"{identifier or 'KOOP XML'}: no kamervragen element")
    if not identifier:
        for el in root.iter():
            if _local(el.tag) in ("meta", "metadata") and el.get("name") == "DC.identifier":
                identifier = el.get("content", "")
                break
    footnotes: list[str] = []
    header: list[str] = []
    received_on: str | None = None
    title = ""
    blocks: list[_Block] = []
    loose: list[str] = []
    for child in container:
        name = _local(child.tag)
        if name == "kamervraagomschrijving":
            text = clean(_text(child, footnotes))
            header.append(text)
            if child.get("type") == "vraag" and not title:
                subject = next(
                    (s for s in child.iter() if _local(s.tag) == "kamervraagonderwerp"), None
                )
                title = clean(_itertext(subject)) if subject is not None else text
            if child.get("type") == "antwoord":
                for d in child.iter():
                    if _local(d.tag) == "datum" and d.get("isodatum"):
                        received_on = d.get("isodatum")
        elif name in ("kamervraagkop", "kamervraagopmerking"):
            text = clean(_text(child, footnotes))
            if text:
                header.append(text)
        elif name in ("vraag", "antwoord"):
            label_el = next(_children(child, "nr"), None)
            blocks.append(
                _Block(
                    "question" if name == "vraag" else "answer",
                    clean(_itertext(label_el)) if label_el is not None else "",
                    tuple(_xml_paragraphs(list(child), footnotes)),
                )
            )
        elif name == "noot":
            footnotes.append(_note_text(child))
        elif name in ("al", "lijst", "table"):
            loose.extend(_xml_paragraphs([child], footnotes))
    questions, answers, preamble, unmatched = _split_blocks(blocks)
    return ParsedDocument(
        identifier=identifier,
        rendition=Rendition.KOOP_XML,
        title=title,
        questions=tuple(questions),
        answers=tuple(answers),
        preamble=tuple(loose + preamble),
        unmatched=tuple(unmatched),
        footnotes=tuple(footnotes),
        cited=cited_publications(" ".join(header)),
        header=tuple(header),
        received_on=received_on,
    )


# --- HTML ------------------------------------------------------------------------------------

_HTML_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "dd", "dt")


def _html_paragraphs(element: Tag) -> list[str]:
    """Block-level paragraphs of an HTML element: paragraphs, list items and table rows apart."""
    out: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        text = _paragraph(" ".join(inline))
        if text:
            out.append(text)
        inline.clear()

    for child in element.children:
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in ("ul", "ol"):
            flush()
            for li in child.find_all("li", recursive=False):
                out.extend(_html_paragraphs(li))
        elif name == "table":
            flush()
            for row in child.find_all("tr"):
                cells = [clean(c.get_text(" ")) for c in row.find_all(["td", "th"])]
                out.append(" | ".join(cells))
        elif name in _HTML_BLOCKS or name in ("div", "section", "li"):
            flush()
            out.extend(_html_paragraphs(child))
        elif name == "br":
            inline.append(" ")
        else:
            inline.append(child.get_text(" "))
    flush()
    return [p for p in out if p]


def _html_footnotes(soup: BeautifulSoup) -> list[str]:
    notes: list[str] = []
    notes_block = soup.find("div", id="noten")
    if not isinstance(notes_block, Tag):
        return notes
    for note in notes_block.find_all("div", class_="noot"):
        for junk in note.find_all(["h5", "sup"]) + note.find_all(class_="nootnum"):
            junk.decompose()
        text = clean(note.get_text(" "))
        if text:
            notes.append(text)
    return notes


def _is_heading(tag: Tag) -> bool:
    return tag.name in ("h2", "h3") or (tag.name == "p" and "nummer" in (tag.get("class") or []))


def parse_html(body: bytes, rendition: Rendition, identifier: str = "") -> ParsedDocument:
    """Parse an officielebekendmakingen.nl page (`div.vraag`/`div.antwoord`) or a page whose
    text carries "Vraag n"/"Antwoord n" headings (tweedekamer.nl detail pages)."""
    with warnings.catch_warnings():
        # A page that looks like XML (a misrouted KOOP body) is still read as HTML, deliberately.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(body, "lxml")
    # find_all, not CSS selectors: soupsieve made HTML parsing ten times slower than the XML.
    for junk in soup.find_all(["script", "style", "nav", "header", "footer"]):
        junk.decompose()
    footnotes = _html_footnotes(soup)
    for junk in [*soup.find_all("div", id="noten"), *soup.find_all("a", class_="nootnum")]:
        junk.decompose()
    if not identifier:
        meta = soup.find("meta", attrs={"name": "DC.identifier"})
        identifier = str(meta.get("content", "")) if isinstance(meta, Tag) else ""
    divs = soup.find_all("div", class_=["vraag", "antwoord"])
    if divs:
        for sup in soup.find_all("sup"):
            sup.decompose()  # footnote calls; the notes themselves were read from div#noten
        blocks = []
        for div in divs:
            heading = div.find(_is_heading)
            label = clean(heading.get_text(" ")) if heading else ""
            if heading:
                heading.decompose()
            role = "question" if "vraag" in (div.get("class") or []) else "answer"
            blocks.append(_Block(role, label, tuple(_html_paragraphs(div))))
        questions, answers, preamble, unmatched = _split_blocks(blocks)
        header = tuple(
            clean(el.get_text(" "))
            for el in soup.find_all(
                class_=[
                    "kamervraagomschrijving_kop", "kamervraagomschrijving", "kamervraagopmerking"
                ]
            )
        )  # fmt: skip
        title_el = soup.find("h1")
        return ParsedDocument(
            identifier=identifier,
            rendition=rendition,
            title=clean(title_el.get_text(" ")) if title_el else "",
            questions=tuple(questions),
            answers=tuple(answers),
            preamble=tuple(preamble),
            unmatched=tuple(unmatched),
            footnotes=tuple(footnotes),
            cited=cited_publications(" ".join(header)),
            header=header,
        )
    content = soup.find("div", class_="m-modal__content") or soup.find("main") or soup.body
    if not isinstance(content, Tag):
        raise ParseError(f"{identifier or 'HTML'}: no document text found")
    for sup in content.find_all("sup"):
        # A call on a page without div#noten: its note is a numbered paragraph further down.
        sup.replace_with(f"{{fn:{clean(sup.get_text())}}}")
    lines, notes = _strip_footnotes(_html_paragraphs(content), wrapped=False)
    lines = [_CALL_MARKER.sub("", line) for line in lines]
    return parse_lines(lines, rendition, identifier, tuple(footnotes or notes))


# --- plain text (PDF/DOCX extraction) --------------------------------------------------------

# Lines a PDF repeats on every page: running heads, page numbers, the KOOP colophon.
_FURNITURE = re.compile(
    r"^\s*(?:"
    r"\d{1,3}"
    r"|(?:pagina|blad)\s+\d+\s*(?:van|/)\s*\d+"
    r"|tweede\s+kamer,\s+vergaderjaar\s+\d{4}\s*[-–]\s*\d{4},\s+aanhangsel\s*\d*"
    r"|aanhangsel\s+van\s+de\s+handelingen"
    r"|tweede\s+kamer\s+der\s+staten-generaal"
    r"|vragen\s+gesteld\s+door\s+de\s+leden\s+der\s+kamer,.*antwoorden"
    r"|(?:ah|kv)-tk-[\w-]+"
    r"|issn\s+\d{4}-\d{3}[\dx]"
    r"|['’]s-gravenhage\s+\d{4}"
    r"|onze\s+referentie\s+\S+"
    r")\s*$",
    re.IGNORECASE,
)
_FOOTNOTE_LINE = re.compile(r"^\s*(?P<n>\d{1,2})\)?\s+(?P<text>\S.*)$")
# Question documents often number questions "1" on a line of their own, or "1." before the text.
_BARE_NUMBER = re.compile(r"^\s*(?P<n>\d{1,2})[.)]?\s*$")
_NUMBERED_LINE = re.compile(r"^\s*(?P<n>\d{1,2})[.)]\s+(?P<text>\S.*)$")
_TABLE_ROW = re.compile(r"\S(?: {2,}|\t+)\S")
_CALL_MARKER = re.compile(r"\s*\{fn:[^}]*\}")
_SENTENCE_END = re.compile(r"[.?!:;]\s*$")


def _footnote_call(number: str) -> re.Pattern[str]:
    # A call is the number glued to the end of a word or punctuation ("gebruikt?1"), or the
    # number with a parenthesis ("gebruikt? 1)"), as question documents write them.
    return re.compile(rf"(?:(?<=[^\s\d]){number}\)?|\s+{number}\))(?=\s|$)|\s*\{{fn:{number}\}}")


def _has_headings(lines: list[str]) -> bool:
    for line in lines:
        heading = _HEADING.match(line) or _INLINE_HEADING.match(line)
        if heading and heading["nums"]:
            return True
    return False


def _numbered_questions(lines: list[str]) -> list[str]:
    """Turn "1" / "1." question numbering (1, 2, 3 … in order) into "Vraag n" headings; used
    only for text without any "Vraag n"/"Antwoord n" heading, i.e. a question document."""
    out: list[str] = []
    expected = 1
    for i, line in enumerate(lines):
        bare = _BARE_NUMBER.match(line)
        if bare and int(bare["n"]) == expected:
            following = next((x for x in lines[i + 1 :] if x.strip()), "")
            if following and not _FURNITURE.match(following):
                out.append(f"Vraag {expected}")
                expected += 1
                continue
        numbered = _NUMBERED_LINE.match(line)
        if numbered and int(numbered["n"]) == expected:
            out.extend([f"Vraag {expected}", numbered["text"]])
            expected += 1
            continue
        out.append(line)
    return out


def _strip_footnotes(lines: list[str], wrapped: bool = True) -> tuple[list[str], list[str]]:
    """Move footnotes (numbered 1, 2, … and called earlier in the text) out of the lines;
    `wrapped`: a note may go on over the following lines until a blank line (extracted text)."""
    body: list[str] = []
    notes: list[str] = []
    in_note = False
    for line in lines:
        expected = str(len(notes) + 1)
        m = _FOOTNOTE_LINE.match(line)
        if (
            m
            and m["n"] == expected
            and not _HEADING.match(line)
            and any(_footnote_call(expected).search(b) for b in body)
        ):
            notes.append(m["text"].strip())
            in_note = True
            continue
        if wrapped and in_note and line.strip() and not _HEADING.match(line):
            notes[-1] += "\n" + line.strip()  # a footnote wrapped over more than one line
            continue
        in_note = False
        body.append(line)
    for index in range(1, len(notes) + 1):
        call = _footnote_call(str(index))
        for i, line in enumerate(body):
            if call.search(line):
                body[i] = call.sub("", line, count=1)
                break
    return body, [clean(n) for n in notes]


def _text_paragraphs(text: str) -> tuple[list[str], list[str]]:
    """Paragraphs of extracted text: page furniture dropped, wrapped lines and hyphenated words
    joined, list items and table rows kept apart, headings on their own; plus the footnotes."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not _has_headings(raw):
        raw = _numbered_questions(raw)
    lines: list[str] = []
    for line in raw:
        if "\f" in line:
            lines.append("\f")
            line = line.replace("\f", "")
        if _FURNITURE.match(line) and not _HEADING.match(line):
            lines.append("\f")  # marks a page break: a paragraph may continue after it
            continue
        lines.append(line)
    lines, footnotes = _strip_footnotes(lines)
    paragraphs: list[str] = []
    current: list[str] = []
    after_break = after_blank = False

    def flush() -> None:
        if current:
            paragraphs.append("\n".join(current))
            current.clear()

    for line in lines:
        if line == "\f":
            after_break = True
            continue
        if not line.strip():
            after_blank = True  # decided at the next text line: a page break may follow
            continue
        if after_break:
            if current and _SENTENCE_END.search(current[-1]):
                flush()  # the page broke between two paragraphs, not inside one
        elif after_blank:
            flush()
        after_break = after_blank = False
        if _HEADING.match(line) or _INLINE_HEADING.match(line):
            flush()
            paragraphs.append(line)
        elif _TABLE_ROW.search(line):
            flush()
            paragraphs.append(" | ".join(re.split(r" {2,}|\t+", line.strip())))
        elif _BULLET.match(line) and not (current and current[-1].rstrip().endswith("-")):
            flush()
            current.append(line)
        else:
            current.append(line)
    flush()
    return paragraphs, footnotes


def parse_text(text: str, rendition: Rendition, identifier: str = "") -> ParsedDocument:
    """Parse plain text (extracted from a PDF or DOCX) with "Vraag n"/"Antwoord n" headings."""
    paragraphs, footnotes = _text_paragraphs(text)
    return parse_lines(paragraphs, rendition, identifier, tuple(footnotes))


def parse_lines(
    lines: Iterable[str],
    rendition: Rendition,
    identifier: str = "",
    footnotes: tuple[str, ...] = (),
) -> ParsedDocument:
    """Group paragraphs under "Vraag n"/"Antwoord n" headings; text before the first is the
    header, except what follows the answer's own "(ontvangen …)" line, which is its preamble."""
    header: list[str] = []
    preamble: list[str] = []
    blocks: list[_Block] = []
    current: tuple[str, str] | None = None
    buffer: list[str] = []
    seen_intro = False

    def flush() -> None:
        if current is not None:
            blocks.append(_Block(current[0], current[1], tuple(buffer)))

    for raw in lines:
        line = _paragraph(raw)
        if not line:
            continue
        heading = _HEADING.match(line)
        inline = None if heading else _INLINE_HEADING.match(line)
        match = heading or inline
        if match:
            flush()
            role = "question" if match["role"].lower().startswith("vra") else "answer"
            label = line if heading else line[: match.start("text")].strip()
            current = (role, label)
            buffer = [] if heading else [_paragraph(match["text"])]
            continue
        if current is not None:
            buffer.append(line)
        elif seen_intro:
            preamble.append(line)
        else:
            header.append(line)
            seen_intro = bool(_ANSWER_INTRO.match(line))
    flush()
    questions, answers, block_preamble, unmatched = _split_blocks(blocks)
    if not questions and not answers:
        unmatched = [*header, *preamble, *unmatched]
        header, preamble = [], []
    return ParsedDocument(
        identifier=identifier,
        rendition=rendition,
        title=header[0] if header else "",
        questions=tuple(questions),
        answers=tuple(answers),
        preamble=tuple(preamble + block_preamble),
        unmatched=tuple(unmatched),
        footnotes=footnotes,
        cited=cited_publications(" ".join(header)),
        header=tuple(header),
    )


# --- aligning questions with answers ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """One question number with its question and the answer that covers it (if any).

    `via` names the question numbers whose answer this one points to ("zie het antwoord op
    vraag 2"), so a reader can follow the reference instead of seeing an empty answer.
    """

    number: str
    question: Item | None
    answer: Item | None
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alignment:
    """Every question number of a document paired with its answer; what could not be paired is
    listed, never guessed: `unanswered` questions (a nader antwoord that answers only some),
    `orphans` (answer numbers no question has) and `unmatched` text."""

    pairs: tuple[Pair, ...]
    unanswered: tuple[str, ...]
    orphans: tuple[str, ...]
    unmatched: tuple[str, ...]


def align(document: ParsedDocument) -> Alignment:
    """Pair each question number with the answer item covering it."""
    numbers: dict[str, None] = {}
    for item in (*document.questions, *document.answers):
        for n in item.numbers:
            numbers.setdefault(n, None)
    asked = {n for q in document.questions for n in q.numbers}
    pairs = []
    for n in numbers:
        answer = document.answer_for(n)
        via = tuple(x for x in answer.see_also if x != n) if answer else ()
        pairs.append(Pair(n, document.question_for(n), answer, via))
    return Alignment(
        pairs=tuple(pairs),
        unanswered=tuple(p.number for p in pairs if p.question and p.answer is None)
        if document.answers
        else (),
        orphans=tuple(p.number for p in pairs if p.answer and asked and p.number not in asked),
        unmatched=document.unmatched,
    )
