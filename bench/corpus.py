"""Synthetic corpus: a realistic SyncFeed (soort mix, re-emissions, tombstones) for benchmarks."""

from __future__ import annotations

import random
import uuid

from monitor.replay import EntitySpec, ReplayState

# Rough share of Document soorts in the feed; written-question soorts are a minority.
SOORT_MIX = (
    ("Brief regering", 0.22),
    ("Motie", 0.14),
    ("Amendement", 0.06),
    ("Verslag", 0.05),
    ("Bijlage", 0.16),
    ("Schriftelijke vragen", 0.08),
    ("Antwoord schriftelijke vragen", 0.07),
    ("Antwoord schriftelijke vragen (nader)", 0.005),
    ("Mededeling (uitstel antwoord)", 0.025),
    ("Kamerstuk", 0.10),
    ("Agenda", 0.08),
)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fill(
    state: ReplayState,
    documents: int,
    seed: int = 7,
    reemit: float = 0.05,
    tombstones: float = 0.01,
) -> dict[str, int]:
    """Append `documents` Document entries (plus their Zaken) to the replay state."""
    rng = random.Random(seed)
    soorts = [s for s, _ in SOORT_MIX]
    weights = [w for _, w in SOORT_MIX]
    zaken: list[str] = []
    published: list[EntitySpec] = []
    counts = {"Document": 0, "Zaak": 0, "reemitted": 0, "tombstones": 0}
    for n in range(documents):
        soort = rng.choices(soorts, weights)[0]
        if soort == "Schriftelijke vragen" or not zaken:
            zaak = EntitySpec(
                "Zaak", _guid(rng),
                {"nummer": f"20{10 + n % 15}Z{n % 99999:05d}", "soort": "Schriftelijke vragen",
                 "onderwerp": f"Vragen over onderwerp {n}", "gestartOp": "2024-03-01T00:00:00"},
                updated="2024-03-01T10:00:00Z",
            )  # fmt: skip
            state.add(zaak)
            zaken.append(zaak.guid)
            counts["Zaak"] += 1
        spec = EntitySpec(
            "Document", _guid(rng),
            {"soort": soort, "documentNummer": f"2024D{n:05d}", "onderwerp": f"Document {n} over {soort}",
             "datum": "2024-03-04T00:00:00", "vergaderjaar": "2023-2024",
             "aanhangselnummer": f"2324{n % 99999:05d}" if soort.startswith("Antwoord") else ""},
            refs={"zaak": [rng.choice(zaken[-50:])]},
            updated="2024-03-04T10:00:00Z",
        )  # fmt: skip
        state.add(spec)
        published.append(spec)
        counts["Document"] += 1
        roll = rng.random()
        if roll < reemit and published:
            state.add(rng.choice(published))
            counts["reemitted"] += 1
        elif roll < reemit + tombstones and published:
            gone = published.pop(rng.randrange(len(published)))
            state.add(
                EntitySpec("Document", gone.guid, deleted=True, updated="2024-03-05T10:00:00Z")
            )
            counts["tombstones"] += 1
    return counts
