"""Topics: the default facial-recognition topic on a mixed corpus, reasons, versions and replay."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

import pytest

from monitor import topics
from monitor.config import Config, TopicConfig, default_topics
from monitor.store import Store
from tests.conftest import FIXTURES
from tests.test_cli import kamerwacht
from tests.test_lifecycle import seed

CORPUS: list[dict[str, Any]] = tomllib.loads(
    (FIXTURES / "topics" / "corpus.toml").read_text(encoding="utf-8")
)["set"]
TOPIC = default_topics()[0]


def fields(entry: dict[str, Any]) -> dict[str, str]:
    return {
        "title": entry["title"],
        "text": entry["text"],
        "addressee": entry["addressee"],
        "askers": entry["askers"],
    }


def corpus() -> list[tuple[str, str, dict[str, str]]]:
    return [(e["number"], e["title"], fields(e)) for e in CORPUS]


def test_default_topic_finds_exactly_the_facial_recognition_sets() -> None:
    found = {m.question_set for m in topics.replay(TOPIC, corpus())}
    expected = {e["number"] for e in CORPUS if e["expect"]}
    assert found == expected
    assert len(expected) == 6
    assert len(CORPUS) - len(expected) == 7  # near misses that must stay out


@pytest.mark.parametrize("entry", [e for e in CORPUS if e["expect"]], ids=lambda e: e["number"])
def test_each_match_says_which_term_matched_where(entry: dict[str, Any]) -> None:
    reasons = topics.match(TOPIC, fields(entry))
    assert reasons, entry["number"]
    assert entry["expect"] in [r.term for r in reasons]
    first = next(r for r in reasons if r.term == entry["expect"])
    assert first.where in ("title", "text")
    assert first.excerpt
    assert first.excerpt.strip("…") in " ".join(fields(entry)[first.where].split())
    assert f"“{first.term}” in {first.where}" in topics.explain(first)


@pytest.mark.parametrize("entry", [e for e in CORPUS if not e["expect"]], ids=lambda e: e["number"])
def test_near_misses_do_not_match(entry: dict[str, Any]) -> None:
    assert topics.match(TOPIC, fields(entry)) == []


def test_compounds_and_inflections_match() -> None:
    pattern = topics.term_pattern("*gezichtsherkenning*")
    for word in (
        "gezichtsherkenningssoftware",
        "gezichtsherkenningstechnologie",
        "live-gezichtsherkenning",
        "AI-gezichtsherkenningssystemen",
        "Gezichtsherkenning",
    ):
        assert pattern.search(word), word
    assert topics.term_pattern("biometri*").search("biometrische")
    assert not topics.term_pattern("herkenning*").search("kentekenherkenning")


def test_system_names_in_capitals_match_only_in_capitals() -> None:
    assert topics.term_pattern("CATCH").search("het systeem CATCH")
    assert not topics.term_pattern("CATCH").search("een catch-all bepaling")
    assert topics.term_pattern("Clearview").search("clearview ai")


def test_a_topic_version_changes_with_its_definition() -> None:
    wider = dataclasses.replace(TOPIC, terms=[*TOPIC.terms, "kentekenherkenning*"])
    assert topics.version_of(TOPIC) == topics.version_of(default_topics()[0])
    assert topics.version_of(wider) != topics.version_of(TOPIC)
    old = {m.question_set for m in topics.replay(TOPIC, corpus())}
    new = {m.question_set: m for m in topics.replay(wider, corpus())}
    assert set(new) - old == {"2023Z10204"}
    assert new["2023Z10204"].version == topics.version_of(wider)


def test_ministries_and_members_narrow_a_topic_and_are_named_as_reasons() -> None:
    jenv = TopicConfig(
        "gezichtsherkenning-jenv", terms=["*gezichtsherkenning*", "CATCH"],
        ministries=["Justitie en Veiligheid"],
    )  # fmt: skip
    found = {m.question_set: m for m in topics.replay(jenv, corpus())}
    assert set(found) == {"2019Z20101", "2020Z10102"}
    assert ("addressee", "Justitie en Veiligheid") in [
        (r.where, r.term) for r in found["2020Z10102"].reasons
    ]
    member = TopicConfig("d66", terms=["biometri*", "*gezichtsherkenning*"], members=["Sneller"])
    assert [m.question_set for m in topics.replay(member, corpus())] == ["2022Z10103"]


def test_an_exclusion_near_the_term_cancels_the_match() -> None:
    topic = TopicConfig("t", terms=["biometri*"], exclude=["paspoort*"])
    assert topics.match(topic, {"text": "biometrische gegevens in het paspoort"}) == []
    assert topics.match(topic, {"text": "biometrische surveillance"})


def test_keyword_query_needs_every_word() -> None:
    f = {"title": "Het systeem CATCH van de politie"}
    assert topics.matches_query("catch politie", f)
    assert not topics.matches_query("catch marechaussee", f)


def test_replaying_a_changed_topic_over_the_archive_stores_reasons_and_alerts_nobody(
    store: Store,
) -> None:
    seed(store)
    before = store.counts()
    found = topics.replay(TOPIC, store.topic_corpus())
    assert [m.question_set for m in found] == ["2021Z14612"]
    assert store.save_topic_matches(found) == len(found[0].reasons)
    assert store.save_topic_matches(found) == 0  # replaying the same version again adds nothing
    stored = store.topic_matches(TOPIC.name, topics.version_of(TOPIC))
    assert [(r.term, r.where) for r in stored[0].reasons][:2] == [
        ("*gezichtsherkenning*", "title"),
        ("biometri*", "text"),
    ]
    narrower = dataclasses.replace(TOPIC, terms=["CATCH"])
    again = topics.replay(narrower, store.topic_corpus())
    store.save_topic_matches(again)
    (only,) = store.topic_matches(TOPIC.name, topics.version_of(narrower))
    assert [(r.term, r.where) for r in only.reasons] == [("CATCH", "text")]
    assert "het systeem CATCH" in only.reasons[0].excerpt
    assert store.topic_versions(TOPIC.name) == [
        topics.version_of(TOPIC),
        topics.version_of(narrower),
    ]
    after = store.counts()
    assert (after["changes"], after["outbox"]) == (before["changes"], before["outbox"])


def test_topics_command_replays_and_explains_each_match(
    store: Store, config: Config, tmp_path: Any
) -> None:
    seed(store)
    outbox = store.counts()["outbox"]
    run = kamerwacht("--config", str(tmp_path / "config.toml"), "topics", "--replay")
    assert run.returncode == 0, run.stderr
    assert f"gezichtsherkenning  version {topics.version_of(TOPIC)}" in run.stdout
    assert "2021Z14612" in run.stdout
    assert "“Clearview” in title" in run.stdout
    assert "1 question sets match" in run.stdout
    assert store.counts()["outbox"] == outbox
