"""The analysts' web page over real HTTP: the changes list shows the seed correction, escaped."""

from __future__ import annotations

import io

from monitor import jobs
from monitor.config import Config
from monitor.replay import ReplayServer, load_timeline
from monitor.store import Store
from monitor.web import create_app
from tests.conftest import LiveServer, fetch
from tests.test_end_to_end import poll


async def test_changes_page_shows_the_seed_correction_before_and_after(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    for stage in load_timeline():
        replay.state.apply(stage)
    await poll(config, store, jobs.ConsoleNotifier(io.StringIO()))
    with LiveServer(create_app(store, config)) as web:
        status, headers, body = fetch(web.url + "/")
        assert status == 200
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "in Nederland niet gedaan" in body
        assert "geen toestemming gegeven" in body
        assert "denial_weakened" in body
        assert "scope_narrowed" in body
        correction = store.change_records()[0]
        status, _, page = fetch(f"{web.url}/changes/{correction.id}")
        assert status == 200
        assert "<del>Nederland niet gedaan</del>" in page
        assert "<ins>de politieorganisatie geen toestemming gegeven</ins>" in page
        status, _, page = fetch(f"{web.url}/questions/2021Z14612")
        assert status == 200
        assert "ah-tk-20212022-472" in page
        assert fetch(f"{web.url}/changes/999999")[0] == 404
        assert fetch(f"{web.url}/changes/abc")[0] == 404


def test_upstream_markup_in_a_title_is_escaped(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    import asyncio

    stage = load_timeline()[0]
    hostile = stage.entities[0]
    fields = dict(hostile.fields, onderwerp="<script>alert(1)</script> & <b>vet</b>")
    replay.state.add(type(hostile)(hostile.category, hostile.guid, fields, hostile.refs))
    for spec in stage.entities[1:]:
        replay.state.add(spec)
    asyncio.run(poll(config, store, jobs.ConsoleNotifier(io.StringIO())))
    with LiveServer(create_app(store, config)) as web:
        _, _, body = fetch(web.url + "/")
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;vet&lt;/b&gt;" in body


def side_by_side(old_text: str, new_text: str, show_all: bool = False) -> str:
    from monitor import diff, segment
    from monitor.records import Rendition
    from monitor.web import templates

    result = diff.compare(
        segment.parse_text(old_text, Rendition.TEXT), segment.parse_text(new_text, Rendition.TEXT)
    )
    block = templates().get_template("_diff.html").module.diff_block
    questions = result.questions if show_all else result.changed
    return str(block(result, questions, "", "side", "/diff?", show_all))


def test_side_by_side_view_marks_a_moved_sentence_on_both_sides() -> None:
    page = side_by_side(
        "Antwoord 1\nDe politie gebruikt CATCH. Dat is vastgelegd in de wet. Meer is er niet.",
        "Antwoord 1\nDat is vastgelegd in de wet. De politie gebruikt CATCH. Meer is er niet.",
    )
    row = page.split('<tr class="op-move">')[1].split("</tr>")[0]
    before, after = row.split("</td>")[:2]
    for cell in (before, after):
        assert '<span class="moved">' in cell
        assert '<span class="tag">moved</span>' in cell
    assert "<del>" not in row
    assert "<ins>" not in row


def test_side_by_side_view_escapes_upstream_markup() -> None:
    page = side_by_side(
        "Antwoord 1\nDat gebeurt niet.",
        "Antwoord 1\nDat gebeurt niet. Zie <script>alert(1)</script> & <b>vet</b>.",
    )
    assert "<script>" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;vet&lt;/b&gt;" in page
