"""Render document diffs as a text redline or escaped HTML; every piece of upstream text is escaped."""

from __future__ import annotations

import html

from monitor.records import DocumentDiff, QuestionDiff, SentenceChange


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def sentence_html(change: SentenceChange) -> str:
    """One changed sentence with word-level <del>/<ins> marks."""
    if change.op == "move":
        return f'<span class="moved" title="moved within the answer">{escape(change.new)}</span>'
    if change.op == "insert":
        return f"<ins>{escape(change.new)}</ins>"
    if change.op == "delete":
        return f"<del>{escape(change.old)}</del>"
    parts = []
    for op in change.words:
        if op.op == "equal":
            parts.append(escape(op.text))
        elif op.op == "delete":
            parts.append(f"<del>{escape(op.text)}</del>")
        else:
            parts.append(f"<ins>{escape(op.text)}</ins>")
    return "".join(parts)


def question_html(question: QuestionDiff) -> str:
    kinds = " ".join(
        f'<span class="kind kind-{escape(k.value)}">{escape(k.value)}</span>'
        for k in question.kinds
    )
    rows = "".join(
        f'<li class="op-{escape(s.op)}">{sentence_html(s)}'
        + (
            f'<span class="kinds">{escape(", ".join(k.value for k in s.kinds))}</span>'
            if s.kinds
            else ""
        )
        + "</li>"
        for s in question.sentences
    )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in question.reasons)
    number = question.number or "?"
    return (
        f'<section class="question status-{escape(question.status)}" id="q{escape(number)}">'
        f"<h3>Question {escape(number)} <small>{escape(question.status)} · "
        f'<span class="severity severity-{escape(question.severity.value)}">{escape(question.severity.value)}</span>'
        f"</small> {kinds}</h3>"
        + (f'<p class="asked">{escape(question.question)}</p>' if question.question else "")
        + (f'<ul class="sentences">{rows}</ul>' if rows else "")
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + "</section>"
    )


def diff_html(result: DocumentDiff, include_unchanged: bool = False) -> str:
    """An HTML fragment with one section per (changed) question number."""
    questions = result.questions if include_unchanged else result.changed
    if not questions:
        return '<p class="empty">No differences in the answers.</p>'
    return "\n".join(question_html(q) for q in questions)


def standalone_html(result: DocumentDiff, old_name: str, new_name: str) -> str:
    """A self-contained page usable as an evidence file (no scripts, inline styles only)."""
    return (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>Kamerwacht diff: {escape(old_name)} → {escape(new_name)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(old_name)} → {escape(new_name)}</h1>"
        f"<p>Max severity: <b>{escape(result.max_severity.value)}</b>; "
        f"{len(result.changed)} changed, {len(result.substantive)} substantive.</p>"
        f"{diff_html(result, include_unchanged=True)}</body></html>"
    )


def diff_text(result: DocumentDiff) -> str:
    """A readable redline per question: [-deleted-] and {+inserted+} words."""
    lines: list[str] = []
    for q in result.questions:
        kinds = ", ".join(k.value for k in q.kinds)
        lines.append(
            f"Question {q.number or '?'}: {q.status}"
            + (f" ({q.severity.value}: {kinds})" if kinds else "")
        )
        for s in q.sentences:
            if s.op == "replace":
                marked = "".join(
                    w.text
                    if w.op == "equal"
                    else (f"[-{w.text}-]" if w.op == "delete" else f"{{+{w.text}+}}")
                    for w in s.words
                )
                lines.append(f"  ~ {marked}")
            elif s.op == "insert":
                lines.append(f"  + {s.new}")
            elif s.op == "delete":
                lines.append(f"  - {s.old}")
            else:
                lines.append(f"  > moved: {s.new}")
        lines.extend(f"  why: {r}" for r in q.reasons)
    return "\n".join(lines)


STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1b1b1b}
del{background:#fdd;color:#900;text-decoration:line-through}
ins{background:#dfd;color:#060;text-decoration:none;font-weight:600}
.moved{background:#eef;border-bottom:2px dotted #66a}
.kind{display:inline-block;font-size:.8rem;padding:0 .4rem;margin:0 .15rem;border-radius:.3rem;background:#eee;font-family:monospace}
.severity-high{color:#b00;font-weight:700}.severity-medium{color:#a60}.severity-low{color:#555}
.question{border-top:1px solid #ddd;padding:.5rem 0}.asked{color:#555;font-style:italic}
.kinds{margin-left:.5rem;font-size:.8rem;color:#666;font-family:monospace}
ul.sentences li{margin-bottom:.5rem}
"""
