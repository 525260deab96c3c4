"""Synthetic corpus: a realistic SyncFeed (soort mix, re-emissions, tombstones) plus KOOP answers.

A share of the answers also gets a DocumentVersie entity naming its KOOP publication and the
publication itself (an `officiele-publicatie` in the Aanhangsel format, as KOOP serves it), so the
KOOP source has real work to do at scale."""

from __future__ import annotations

import html
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


def koop_answer(
    identifier: str, vergaderjaar: str, number: int, subject: str, questions: int
) -> bytes:
    """One answer in KOOP's Aanhangsel XML: question/answer pairs under `kamervragen`."""
    pairs = "".join(
        f"<vraag><nr>Vraag {q}</nr><al>Kunt u toelichten hoe het staat met {subject}, deel {q}?</al></vraag>"
        f"<antwoord><nr>Antwoord {q}</nr><al>Ja. Het kabinet werkt aan {subject}; de stand van "
        f"zaken voor deel {q} volgt uit de brief van 4 maart 2024.</al></antwoord>"
        for q in range(1, questions + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<officiele-publicatie><metadata>'
        f'<meta name="DC.identifier" scheme="" content="{identifier}"/>'
        '<meta name="OVERHEIDop.publicationName" scheme="" content="Kamervragen (Aanhangsel)"/>'
        f'<meta name="OVERHEIDop.vergaderjaar" scheme="" content="{vergaderjaar}"/>'
        '<meta name="DCTERMS.available" scheme="DCTERMS.W3CDTF" content="2024-03-04"/>'
        "</metadata><kamervragen><kamervraagkop><kamer>Tweede Kamer der Staten-Generaal</kamer>"
        f"<vergaderjaar>Vergaderjaar {vergaderjaar.replace('-', '–')}</vergaderjaar></kamervraagkop>"
        f"<kamervraagnummer>{number}</kamervraagnummer>"
        '<kamervraagomschrijving type="vraag">Vragen over '
        f"<kamervraagonderwerp>{html.escape(subject)}</kamervraagonderwerp>.</kamervraagomschrijving>"
        f"{pairs}</kamervragen></officiele-publicatie>"
    ).encode()


def fill(
    state: ReplayState,
    documents: int,
    seed: int = 7,
    reemit: float = 0.05,
    tombstones: float = 0.01,
    koop_share: float = 0.0,
    first: int = 0,
) -> dict[str, int]:
    """Append `documents` Document entries (plus their Zaken) to the replay state; a
    `koop_share` of the answers also gets a DocumentVersie and its KOOP XML publication."""
    rng = random.Random(seed)
    extra = random.Random(seed + 1)  # its own stream: the feed stays the same for any share
    soorts = [s for s, _ in SOORT_MIX]
    weights = [w for _, w in SOORT_MIX]
    zaken: list[str] = []
    published: list[EntitySpec] = []
    counts = {"Document": 0, "Zaak": 0, "reemitted": 0, "tombstones": 0, "koop": 0}
    for n in range(first, first + documents):
        # Aanhangsel numbers restart every vergaderjaar: spread a big corpus over several years.
        year = 2023 - n // 90_000
        vergaderjaar, number = f"{year}-{year + 1}", n % 90_000
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
             "datum": "2024-03-04T00:00:00", "vergaderjaar": vergaderjaar,
             "aanhangselnummer": f"{year % 100:02d}{(year + 1) % 100:02d}{number:05d}"
             if soort.startswith("Antwoord") else ""},
            refs={"zaak": [rng.choice(zaken[-50:])]},
            updated="2024-03-04T10:00:00Z",
        )  # fmt: skip
        state.add(spec)
        published.append(spec)
        counts["Document"] += 1
        if soort.startswith("Antwoord") and extra.random() < koop_share:
            identifier = f"ah-tk-{year}{year + 1}-{number}"
            state.add(
                EntitySpec(
                    "DocumentVersie", _guid(extra),
                    {"versienummer": "1", "extensie": ".pdf", "externeidentifier": identifier},
                    refs={"document": [spec.guid]}, updated="2024-03-04T10:00:00Z",
                )
            )  # fmt: skip
            state.publications[identifier] = koop_answer(
                identifier, vergaderjaar, number, f"onderwerp {n}", 1 + extra.randrange(8)
            )
            counts["koop"] += 1
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
