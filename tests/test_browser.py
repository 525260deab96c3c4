"""What a person sees in real headless Chromium: the changes feed, a question set, the seed diff,
and upstream markup shown as text that runs nothing. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright

from monitor.web import create_app
from tests.conftest import LiveServer
from tests.test_web_workbench import (
    HOSTILE,
    LATE,
    LATE_STAGE,
    SEED,
    Archive,
    build_archive,
    hostile_timeline,
)

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    # The seed case with markup in an answer sentence, and a question set with markup as title.
    zaak, *rest = LATE_STAGE.entities
    hostile_zaak = dataclasses.replace(zaak, fields={**zaak.fields, "onderwerp": HOSTILE + " & co"})
    late = dataclasses.replace(LATE_STAGE, entities=(hostile_zaak, *rest))
    yield from build_archive(tmp_path_factory.mktemp("browser"), [*hostile_timeline(), late])


@pytest.fixture(scope="module")
def site(archive: Archive) -> Iterator[str]:
    app = create_app(archive.store, archive.config, today=lambda: dt.date(2021, 11, 1))
    with LiveServer(app) as web:
        yield web.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page whose alert dialogs and console errors (such as CSP violations) are recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Watched(page)
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_changes_feed_shows_the_seed_correction_with_its_kinds(site: str, watched: Watched) -> None:
    page = watched.page
    page.goto(site + "/changes")
    shot(page, "changes-feed")
    row = page.locator("tr.event-corrected")
    assert row.count() == 1
    seed = row.locator(".pair", has_text="niet gedaan")
    assert "in Nederland niet gedaan" in seed.locator(".before").inner_text()
    assert "geen toestemming gegeven" in seed.locator(".after").inner_text()
    kinds = row.locator(".kind").all_inner_texts()
    assert "denial_weakened" in kinds
    assert "scope_narrowed" in kinds
    assert row.locator(".severity").inner_text() == "high"
    assert seed.get_attribute("lang") == "nl"
    assert "CET" in row.locator("time").inner_text()  # Amsterdam time, not UTC
    page.select_option("select[name=kind]", "denial_weakened")
    page.click("text=Apply")
    assert "kind=denial_weakened" in page.url
    assert page.locator("tr.change").count() == 1
    assert watched.errors == []


def test_question_set_page_shows_lifecycle_and_both_answers(site: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{site}/questions/{SEED}")
    shot(page, "question-set")
    steps = page.locator("ol.timeline strong").all_inner_texts()
    for step in ("Questions tabled", "Delay notice", "Answer", "Nader answer", "Answer changed"):
        assert step in steps
    question4 = page.locator("section#n4")
    answers = question4.locator(".answer").all_inner_texts()
    assert len(answers) == 2
    assert "in Nederland niet gedaan" in answers[0]
    assert "geen toestemming gegeven" in answers[1]
    assert "Nader answer" in answers[1]
    assert watched.errors == []


def test_seed_diff_highlights_the_weakened_denial(site: str, watched: Watched) -> None:
    page = watched.page
    page.goto(site + "/changes")
    page.locator("tr.event-corrected td a").first.click()
    page.wait_for_selector("#diff")
    shot(page, "seed-diff-inline")
    section = page.locator("#diff #q4")
    assert "Nederland niet gedaan" in section.locator("del").all_inner_texts()
    inserted = section.locator("ins").all_inner_texts()
    assert "de politieorganisatie geen toestemming gegeven" in inserted
    highlight = section.locator("ins").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert highlight == "rgb(221, 255, 221)"  # the stylesheet loaded under the CSP
    struck = section.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert struck == "line-through"
    kinds = page.locator("#diff #q4 .kind").all_inner_texts()
    assert {"denial_weakened", "scope_narrowed"} <= set(kinds)
    page.click("text=Side by side")
    page.wait_for_selector("table.sidebyside")
    shot(page, "seed-diff-side-by-side")
    row = page.locator("#q4 tr.op-replace").first
    before, after = row.locator("td").all()
    assert "Nederland niet gedaan" in before.locator("del").all_inner_texts()
    assert before.locator("ins").count() == 0
    assert (
        "de politieorganisatie geen toestemming gegeven" in after.locator("ins").all_inner_texts()
    )
    assert watched.errors == []


def test_upstream_markup_is_shown_as_text_and_runs_nothing(
    site: str, watched: Watched, archive: Archive
) -> None:
    page = watched.page
    correction = next(c for c in archive.store.change_records() if c.event.value == "corrected")
    paths = [
        "/changes",
        f"/changes/{correction.id}",
        f"/changes/{correction.id}?view=side",
        f"/questions/{SEED}",
        f"/questions/{LATE}",
        "/questions",
        "/search?q=script",
    ]
    for path in paths:
        page.goto(site + path)
        assert page.locator("main script").count() == 0, path
        assert HOSTILE in page.locator("main").inner_text(), path
    shot(page, "hostile-search")
    page.goto(f"{site}/questions/{LATE}")
    shot(page, "hostile-title")
    assert page.locator("h1").inner_text() == LATE
    assert page.locator("p.lead").inner_text() == HOSTILE + " & co"
    assert watched.dialogs == []
    assert watched.errors == []


def test_keyboard_reaches_content_and_filters(site: str, watched: Watched) -> None:
    page = watched.page
    page.goto(site + "/changes")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "kind":
            break
    else:
        raise AssertionError("the kind filter is not reachable by keyboard")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring


def test_pages_fit_a_phone_screen(site: str, browser: Browser, archive: Archive) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    correction = next(c for c in archive.store.change_records() if c.event.value == "corrected")
    for name, path in (
        ("phone-changes", "/changes"),
        ("phone-question-set", f"/questions/{SEED}"),
        ("phone-diff", f"/changes/{correction.id}?view=side"),
    ):
        page.goto(site + path)
        shot(page, name)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    context.close()
