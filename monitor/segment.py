"""Split a question or answer document (KOOP XML, HTML or plain text) into numbered items."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator

from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning
from lxml import etree

from monitor.normalize import clean, clean_paragraph
from monitor.records import Item, ParsedDocument, ParseError, Rendition

_NUMBER = re.compile(r"\b(\d{1,3}[a-z]?)\b")
_HEADING = re.compile(
    r"^\s*(?P<role>vragen|vraag|antwoorden|antwoord)\b(?P<rest>[\s\d,a-z]*?(?:\d{1,3}[a-z]?))\s*[.:]?\s*$",
    re.IGNORECASE,
)
_INLINE_HEADING = re.compile(
    r"^\s*(?P<role>vragen|vraag|antwoorden|antwoord)\s+(?P<nums>\d{1,3}[a-z]?(?:\s*(?:,|en|t/m|tot en met)\s*\d{1,3}[a-z]?)*)\s*[.:]\s+(?P<text>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SEE_ANSWER = re.compile(
    r"\b(?:zie|verwijs\w*\s+(?:ik\s+)?(?:u\s+)?naar)\s+(?:ook\s+)?(?:mijn\s+)?(?:het\s+)?antwoord(?:en)?\s+op\s+(?:de\s+)?vra(?:ag|gen)\s+(?P<nums>\d{1,3}[a-z]?(?:\s*(?:,|en)\s*\d{1,3}[a-z]?)*)",
    re.IGNORECASE,
)
_CITED = re.compile(
    r"Aanhangsel\s+(?:van\s+de\s+)?Handelingen,?\s+(?:vergaderjaar\s+)?(?P<y1>\d{4})\s*[-–/]\s*(?P<y2>\d{4}),?\s+nr\.?\s*(?P<nr>\d+)",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d{1,3})\s*(?:t/m|tot en met|-|–)\s*(\d{1,3})")

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
    """KOOP ids of the Aanhangsel numbers a header cites ("Zie ook Aanhangsel Handelingen …").

    >>> cited_publications("Zie ook Aanhangsel Handelingen, vergaderjaar 2020–2021, nr. 4076.")
    ('ah-tk-20202021-4076',)
    """
    seen: dict[str, None] = {}
    for m in _CITED.finditer(text):
        seen.setdefault(f"ah-tk-{m['y1']}{m['y2']}-{int(m['nr'])}", None)
    return tuple(seen)


def see_also(text: str) -> tuple[str, ...]:
    """Question numbers an answer refers to instead of repeating itself."""
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


def _text(element: etree._Element, footnotes: list[str]) -> str:
    """Visible text of an element, with footnotes moved out and list items kept apart."""
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        name = _local(el.tag)
        if name == "noot":
            note = " ".join(clean(_itertext(n)) for n in el if _local(n.tag) != "noot.nr")
            footnotes.append(note)
            if el.tail:
                parts.append(el.tail)
            return
        if name in ("noot.nr", "noot.ref", "nootref"):
            if el.tail:
                parts.append(el.tail)
            return
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
        if name in ("li", "row", "al"):
            parts.append(" ")
        if el.tail:
            parts.append(el.tail)

    if element.text:
        parts.append(element.text)
    for child in element:
        walk(child)
    return "".join(parts)


def _paragraphs(element: etree._Element, footnotes: list[str]) -> list[str]:
    out: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "nr":
            continue
        if name == "noot":
            _text_of_note(child, footnotes)
            continue
        if name in ("lijst", "table", "tabel"):
            for li in child.iter():
                if _local(li.tag) in ("li", "row"):
                    text = clean_paragraph(_text(li, footnotes))
                    if text:
                        out.append(text)
            continue
        text = clean_paragraph(_text(child, footnotes))
        if text:
            out.append(text)
    return out


def _text_of_note(note: etree._Element, footnotes: list[str]) -> None:
    footnotes.append(" ".join(clean(_itertext(n)) for n in note if _local(n.tag) != "noot.nr"))


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
    questions: list[Item] = []
    answers: list[Item] = []
    unmatched: list[str] = []
    preamble: list[str] = []
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
            role: str = "question" if name == "vraag" else "answer"
            label_el = next(_children(child, "nr"), None)
            paragraphs = _paragraphs(child, footnotes)
            label = clean(_itertext(label_el)) if label_el is not None else ""
            if not label and paragraphs and _HEADING.match(paragraphs[0]):
                label, paragraphs = paragraphs[0], paragraphs[1:]
            numbers = numbers_in(label)
            if not numbers:
                unmatched.extend(paragraphs)
                continue
            item = Item(
                role="question" if role == "question" else "answer",
                numbers=numbers,
                label=label,
                paragraphs=tuple(paragraphs),
                see_also=see_also(" ".join(paragraphs)) if role == "answer" else (),
            )
            (questions if role == "question" else answers).append(item)
        elif name == "noot":
            _text_of_note(child, footnotes)
        elif name == "al":
            text = clean_paragraph(_text(child, footnotes))
            if text:
                preamble.append(text)
    cited = cited_publications(" ".join(header))
    return ParsedDocument(
        identifier=identifier,
        rendition=Rendition.KOOP_XML,
        title=title,
        questions=tuple(questions),
        answers=tuple(answers),
        preamble=tuple(preamble),
        unmatched=tuple(unmatched),
        footnotes=tuple(footnotes),
        cited=cited,
        header=tuple(header),
        received_on=received_on,
    )


# --- HTML and plain text ---------------------------------------------------------------------


def parse_html(body: bytes, rendition: Rendition, identifier: str = "") -> ParsedDocument:
    """Parse an officielebekendmakingen.nl page (`div.vraag`/`div.antwoord`) or a page whose
    text carries "Vraag n"/"Antwoord n" headings (tweedekamer.nl detail pages)."""
    with warnings.catch_warnings():
        # A page that looks like XML (a misrouted KOOP body) is still read as HTML, deliberately.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(body, "lxml")
    for junk in soup.select("script, style, nav, header, footer, a.nootnum, sup"):
        junk.decompose()
    footnotes = [clean(n.get_text(" ")) for n in soup.select("div#noten div.noot")]
    for notes in soup.select("div#noten"):
        notes.decompose()
    blocks = soup.select("div.vraag, div.antwoord")
    if blocks:
        items = [_html_block(b) for b in blocks]
        header = tuple(
            clean(el.get_text(" "))
            for el in soup.select(".kamervraagomschrijving, .kamervraagopmerking")
        )
        title_el = soup.select_one("h1")
        return ParsedDocument(
            identifier=identifier,
            rendition=rendition,
            title=clean(title_el.get_text(" ")) if title_el else "",
            questions=tuple(i for i in items if i is not None and i.role == "question"),
            answers=tuple(i for i in items if i is not None and i.role == "answer"),
            footnotes=tuple(footnotes),
            cited=cited_publications(" ".join(header)),
            header=header,
        )
    content = soup.select_one("div.m-modal__content") or soup.select_one("main") or soup.body
    if content is None:
        raise ParseError(f"{identifier or 'HTML'}: no document text found")
    lines = _block_lines(content)
    return parse_lines(lines, rendition, identifier, footnotes=tuple(footnotes))


def _html_block(block: Tag) -> Item | None:
    role = "question" if "vraag" in (block.get("class") or []) else "answer"
    heading = block.select_one("h2, h3, p.nummer")
    label = clean(heading.get_text(" ")) if heading else ""
    if heading:
        heading.decompose()
    paragraphs = [clean_paragraph(p.get_text(" ")) for p in block.find_all(["p", "li", "tr"])]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        text = clean(block.get_text(" "))
        paragraphs = [text] if text else []
    numbers = numbers_in(label)
    if not numbers:
        return None
    return Item(
        role="question" if role == "question" else "answer",
        numbers=numbers,
        label=label,
        paragraphs=tuple(paragraphs),
        see_also=see_also(" ".join(paragraphs)) if role == "answer" else (),
    )


def _block_lines(content: Tag) -> list[str]:
    lines: list[str] = []
    for el in content.find_all(["h1", "h2", "h3", "h4", "p", "li", "div"]):
        if el.find(["p", "div", "li", "h2", "h3"]):
            continue
        text = el.get_text(" ")
        if text.strip():
            lines.append(text)
    return lines


def parse_text(text: str, rendition: Rendition, identifier: str = "") -> ParsedDocument:
    """Parse plain text (extracted from a PDF or DOCX) with "Vraag n"/"Antwoord n" headings."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    lines: list[str] = []
    for paragraph in paragraphs:
        # A heading may share a paragraph with its text after a single line break.
        head, _, rest = paragraph.strip().partition("\n")
        if _HEADING.match(head) and rest.strip():
            lines.extend([head, rest])
        else:
            lines.append(paragraph)
    return parse_lines(lines, rendition, identifier)


def parse_lines(
    lines: Iterable[str],
    rendition: Rendition,
    identifier: str = "",
    footnotes: tuple[str, ...] = (),
) -> ParsedDocument:
    """Group lines under "Vraag n"/"Antwoord n" headings; text before the first is the header."""
    header: list[str] = []
    unmatched: list[str] = []
    current: tuple[str, tuple[str, ...], str] | None = None
    buffer: list[str] = []
    questions: list[Item] = []
    answers: list[Item] = []

    def flush() -> None:
        if current is None:
            return
        role, numbers, label = current
        item = Item(
            role="question" if role == "question" else "answer",
            numbers=numbers,
            label=label,
            paragraphs=tuple(buffer),
            see_also=see_also(" ".join(buffer)) if role == "answer" else (),
        )
        (questions if role == "question" else answers).append(item)

    for raw in lines:
        line = clean_paragraph(raw)
        if not line:
            continue
        heading = _HEADING.match(line)
        inline = None if heading else _INLINE_HEADING.match(line)
        match = heading or inline
        if match:
            flush()
            role = "question" if match["role"].lower().startswith("vra") else "answer"
            label = line if heading else line[: match.start("text")].strip()
            current = (role, numbers_in(label), clean(label))
            buffer = [] if heading else [clean(match["text"])]
            continue
        if current is None:
            header.append(line)
        else:
            buffer.append(line)
    flush()
    if not questions and not answers:
        unmatched.extend(header)
        header = []
    return ParsedDocument(
        identifier=identifier,
        rendition=rendition,
        title=header[0] if header else "",
        questions=tuple(questions),
        answers=tuple(answers),
        unmatched=tuple(unmatched),
        footnotes=footnotes,
        cited=cited_publications(" ".join(header)),
        header=tuple(header),
    )
