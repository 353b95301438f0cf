"""A synthetic, seeded NLI dataset in the CDCL-NLI format, made by this project (nothing downloaded).

Seven reasoning patterns, each able to produce an entailment, a contradiction and a neutral
hypothesis from the same premises:

    hypernym       Tom owns a poodle.                      -> Tom owns a dog. / Tom owns no dog. / Tom owns a fish.
    negation       Tom did not visit Oslo.                 -> Tom never visited Oslo. / Tom visited Oslo. / Tom visited Rome.
    implication    Every member of the chess club is a member of the music club. Tom is a member of the
                   chess club.                              -> Tom is a member of the music club. / ...
    quantifier     No member of the chess club is a member of the music club. Tom is a member of the
                   chess club.                              -> Tom is not a member of the music club. / ...
    disjunction    Tom is in Oslo or in Rome. Tom is not in Oslo.  -> Tom is in Rome. / Tom is in Oslo. / Ann is in Rome.
    comparison     Ann is taller than Ben. Ben is taller than Eve. -> Ann is taller than Eve. / Eve is taller than Ann. / ...
    temporal       The concert happened before the meeting. The meeting happened before the storm. -> ...

Premises are written in English or German (each premise independently, half and half); hypotheses
in English. Labels are balanced within every pattern.

Held out, so that test accuracy means generalisation and not memorisation:

    train, dev   the "seen" lexicon (names, hypernym pairs, clubs, cities, events); chains of 2 steps
    test         a disjoint "unseen" lexicon, and chains of 3 steps for implication, comparison
                 and temporal order (longer than any in training)

``make_split(name, n, seed)`` builds one split; ``write_dataset(folder, seed)`` the three files.
The same seed always gives the same files (``random.Random``, no global state).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

from ..io import atomic_write_text
from .data import LABELS, NLIExample

# ---- lexicons: (English, German) --------------------------------------------------------------------

NAMES = {"seen": ["Tom", "Ann", "Ben", "Eve", "Max", "Lena", "Paul", "Mia", "Jonas", "Sara", "Leo", "Nina",
                  "Felix", "Clara", "Lukas", "Emma"],
         "unseen": ["Oscar", "Greta", "Hugo", "Ida", "Karl", "Lotte", "Moritz", "Pia", "Rudi", "Thea", "Viktor",
                    "Wanda"]}
# (specific en, general en, specific de, general de, German gender of the specific noun: m/f/n)
HYPERNYMS = {"seen": [("poodle", "dog", "Pudel", "Hund", "m"), ("salmon", "fish", "Lachs", "Fisch", "m"),
                      ("rose", "flower", "Rose", "Blume", "f"), ("oak", "tree", "Eiche", "Baum", "f"),
                      ("sparrow", "bird", "Spatz", "Vogel", "m"), ("violin", "instrument", "Geige", "Instrument", "f"),
                      ("apple", "fruit", "Apfel", "Obst", "m"), ("hammer", "tool", "Hammer", "Werkzeug", "m"),
                      ("cobra", "snake", "Kobra", "Schlange", "f"), ("sedan", "car", "Limousine", "Auto", "f")],
             "unseen": [("beagle", "dog", "Beagle", "Hund", "m"), ("trout", "fish", "Forelle", "Fisch", "f"),
                        ("tulip", "flower", "Tulpe", "Blume", "f"), ("pine", "tree", "Kiefer", "Baum", "f"),
                        ("eagle", "bird", "Adler", "Vogel", "m"), ("piano", "instrument", "Klavier", "Instrument", "n"),
                        ("pear", "fruit", "Birne", "Obst", "f"), ("wrench", "tool", "Schraubenschlüssel", "Werkzeug", "m"),
                        ("python", "snake", "Python", "Schlange", "m")]}
GENERALS = sorted({h[1] for split in HYPERNYMS.values() for h in split})
CLUBS = {"seen": [("chess", "Schach"), ("music", "Musik"), ("rowing", "Ruder"), ("drama", "Theater"),
                  ("garden", "Garten"), ("film", "Film"), ("science", "Wissenschafts")],
         "unseen": [("poetry", "Poesie"), ("hiking", "Wander"), ("cooking", "Koch"), ("sailing", "Segel"),
                    ("debate", "Debattier"), ("photo", "Foto")]}
CITIES = {"seen": ["Oslo", "Rome", "Lisbon", "Vienna", "Prague", "Dublin", "Madrid", "Athens"],
          "unseen": ["Helsinki", "Warsaw", "Zagreb", "Riga", "Tallinn", "Sofia"]}
# (English, German nominative with article, German dative with article)
EVENTS = {"seen": [("concert", "das Konzert", "dem Konzert"), ("meeting", "das Treffen", "dem Treffen"),
                   ("wedding", "die Hochzeit", "der Hochzeit"), ("storm", "der Sturm", "dem Sturm"),
                   ("race", "das Rennen", "dem Rennen"), ("lecture", "der Vortrag", "dem Vortrag"),
                   ("festival", "das Fest", "dem Fest")],
          "unseen": [("trial", "der Prozess", "dem Prozess"), ("parade", "der Umzug", "dem Umzug"),
                     ("auction", "die Auktion", "der Auktion"), ("flood", "die Flut", "der Flut"),
                     ("election", "die Wahl", "der Wahl"), ("premiere", "die Premiere", "der Premiere")]}
# (English comparative, German comparative)
COMPARATIVES = [("taller", "größer"), ("older", "älter"), ("faster", "schneller"), ("richer", "reicher")]
_ARTICLE = {"m": "einen", "f": "eine", "n": "ein"}


class _Maker:
    """Draws the wording of one example: each premise in English or German."""

    def __init__(self, rng: random.Random, lexicon: str):
        self.rng, self.lex = rng, lexicon

    def premise(self, en: str, de: str) -> tuple[str, str]:
        return (de, "de") if self.rng.random() < 0.5 else (en, "en")

    def pick(self, table: dict[str, list], k: int = 1):
        return self.rng.sample(table[self.lex], k) if k > 1 else self.rng.choice(table[self.lex])


Example = tuple[list[tuple[str, str]], str]


def hypernym(m: _Maker, label: str, steps: int) -> Example:
    name = m.pick(NAMES)
    specific, general, spec_de, _, gender = m.pick(HYPERNYMS)
    premises = [m.premise(f"{name} owns a {specific}.", f"{name} besitzt {_ARTICLE[gender]} {spec_de}.")]
    other = m.rng.choice([g for g in GENERALS if g != general])
    article = "an" if other[0] in "aeiou" else "a"
    hyp = {"entailment": f"{name} owns a{'n' if general[0] in 'aeiou' else ''} {general}.",
           "contradiction": f"{name} owns no {general}.",
           "neutral": f"{name} owns {article} {other}."}[label]
    return premises, hyp


def negation(m: _Maker, label: str, steps: int) -> Example:
    name = m.pick(NAMES)
    city, other = m.pick(CITIES, 2)
    premises = [m.premise(f"{name} did not visit {city}.", f"{name} hat {city} nicht besucht.")]
    hyp = {"entailment": f"{name} never visited {city}.", "contradiction": f"{name} visited {city}.",
           "neutral": f"{name} visited {other}."}[label]
    return premises, hyp


def _club(en: str) -> str:
    return f"the {en} club"


def _chain(m: _Maker, steps: int) -> tuple[str, list[tuple[str, str]], list]:
    """A name in the first of ``steps + 1`` clubs, each club contained in the next."""
    name = m.pick(NAMES)
    clubs = m.pick(CLUBS, steps + 2)
    premises = [m.premise(f"Every member of {_club(a[0])} is a member of {_club(b[0])}.",
                          f"Jedes Mitglied des {a[1]}clubs ist Mitglied des {b[1]}clubs.")
                for a, b in zip(clubs[:steps], clubs[1:steps + 1])]
    premises.append(m.premise(f"{name} is a member of {_club(clubs[0][0])}.",
                              f"{name} ist Mitglied des {clubs[0][1]}clubs."))
    m.rng.shuffle(premises)
    return name, premises, clubs


def implication(m: _Maker, label: str, steps: int) -> Example:
    name, premises, clubs = _chain(m, steps)
    last, unrelated = clubs[steps][0], clubs[steps + 1][0]
    hyp = {"entailment": f"{name} is a member of {_club(last)}.",
           "contradiction": f"{name} is not a member of {_club(last)}.",
           "neutral": f"{name} is a member of {_club(unrelated)}."}[label]
    return premises, hyp


def quantifier(m: _Maker, label: str, steps: int) -> Example:
    name = m.pick(NAMES)
    (a_en, a_de), (b_en, b_de), (c_en, _) = m.pick(CLUBS, 3)
    premises = [m.premise(f"No member of {_club(a_en)} is a member of {_club(b_en)}.",
                          f"Kein Mitglied des {a_de}clubs ist Mitglied des {b_de}clubs."),
                m.premise(f"{name} is a member of {_club(a_en)}.", f"{name} ist Mitglied des {a_de}clubs.")]
    hyp = {"entailment": f"{name} is not a member of {_club(b_en)}.",
           "contradiction": f"{name} is a member of {_club(b_en)}.",
           "neutral": f"{name} is a member of {_club(c_en)}."}[label]
    return premises, hyp


def disjunction(m: _Maker, label: str, steps: int) -> Example:
    name, other = m.pick(NAMES, 2)
    c1, c2 = m.pick(CITIES, 2)
    premises = [m.premise(f"{name} is in {c1} or in {c2}.", f"{name} ist in {c1} oder in {c2}."),
                m.premise(f"{name} is not in {c1}.", f"{name} ist nicht in {c1}.")]
    hyp = {"entailment": f"{name} is in {c2}.", "contradiction": f"{name} is in {c1}.",
           "neutral": f"{other} is in {c2}."}[label]
    return premises, hyp


def comparison(m: _Maker, label: str, steps: int) -> Example:
    people = m.pick(NAMES, steps + 2)
    en, de = m.rng.choice(COMPARATIVES)
    premises = [m.premise(f"{a} is {en} than {b}.", f"{a} ist {de} als {b}.")
                for a, b in zip(people[:steps], people[1:steps + 1])]
    m.rng.shuffle(premises)
    first, last, outsider = people[0], people[steps], people[steps + 1]
    hyp = {"entailment": f"{first} is {en} than {last}.", "contradiction": f"{last} is {en} than {first}.",
           "neutral": f"{first} is {en} than {outsider}."}[label]
    return premises, hyp


def temporal(m: _Maker, label: str, steps: int) -> Example:
    events = m.pick(EVENTS, steps + 2)
    premises = [m.premise(f"The {a[0]} happened before the {b[0]}.",
                          f"{a[1][0].upper() + a[1][1:]} fand vor {b[2]} statt.")
                for a, b in zip(events[:steps], events[1:steps + 1])]
    m.rng.shuffle(premises)
    first, last, outsider = events[0][0], events[steps][0], events[steps + 1][0]
    hyp = {"entailment": f"The {first} happened before the {last}.",
           "contradiction": f"The {last} happened before the {first}.",
           "neutral": f"The {first} happened before the {outsider}."}[label]
    return premises, hyp


PATTERNS: dict[str, Callable[[_Maker, str, int], Example]] = {
    "hypernym": hypernym, "negation": negation, "implication": implication, "quantifier": quantifier,
    "disjunction": disjunction, "comparison": comparison, "temporal": temporal}
CHAINED = ("implication", "comparison", "temporal")           # patterns whose chain length is held out
SPLITS = {"train": ("seen", 2), "dev": ("seen", 2), "test": ("unseen", 3)}
SIZES = {"train": 1827, "dev": 315, "test": 588}                # multiples of 7 patterns x 3 labels


def make_split(split: str, n: int, seed: int) -> list[NLIExample]:
    """``n`` examples of ``split`` ("train", "dev" or "test"), labels balanced within each pattern."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    lexicon, chain = SPLITS[split]
    rng = random.Random(f"{seed}/{split}")
    maker = _Maker(rng, lexicon)
    cells = [(p, label) for p in PATTERNS for label in LABELS]
    out, seen = [], set()
    for j in range(n):
        pattern, label = cells[j % len(cells)]
        for _ in range(50):                                    # keep examples distinct while we can
            premises, hyp = PATTERNS[pattern](maker, label, chain if pattern in CHAINED else 1)
            key = (tuple(premises), hyp)
            if key not in seen:
                break
        seen.add(key)
        out.append(NLIExample(tuple(premises), (hyp, "en"), label,
                              {"id": f"{split}-{len(out):05d}", "pattern": pattern,
                               "steps": chain if pattern in CHAINED else 1}))
    rng.shuffle(out)
    return out


def write_dataset(folder: str | Path, seed: int = 0) -> dict[str, int]:
    """Write ``train.json``, ``dev.json`` and ``test.json`` (CDCL-NLI format) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, n in SIZES.items():
        examples = make_split(split, n, seed)
        atomic_write_text(folder / f"{split}.json",
                          json.dumps([e.to_cdcl() for e in examples], ensure_ascii=False, indent=1) + "\n")
        counts[split] = len(examples)
    return counts


__all__ = ["PATTERNS", "CHAINED", "SPLITS", "SIZES", "make_split", "write_dataset"]
