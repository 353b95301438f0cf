"""A small NLI-style example graph, so the long-term memory page has something to show at once.

Two premises, each with one entailed, one contradicted and one neutral hypothesis (as in
SNLI/MultiNLI), plus a short entailment chain. Ids come from the text (``proposition_id``),
so loading the example twice changes nothing.
"""

from __future__ import annotations

from .records import Proposition, Relation, proposition_id

EXAMPLE_RUN = "example"

# (premise, relation, hypothesis, confidence)
EXAMPLE_TRIPLES = [
    ("A man is playing a guitar on stage.", "ENTAILS", "A man is performing music.", 0.95),
    ("A man is playing a guitar on stage.", "CONTRADICTS", "The man is asleep at home.", 0.90),
    ("A man is playing a guitar on stage.", "NEUTRAL", "The man is a famous rock star.", 0.70),
    ("A man is performing music.", "ENTAILS", "Someone is making a sound.", 0.85),
    ("Two children are building a sandcastle on the beach.", "ENTAILS", "Kids are playing outdoors.", 0.92),
    ("Two children are building a sandcastle on the beach.", "CONTRADICTS", "The children are sitting in a classroom.", 0.88),
    ("Two children are building a sandcastle on the beach.", "NEUTRAL", "The children are siblings.", 0.65),
    ("Kids are playing outdoors.", "CONTRADICTS", "The children are sitting in a classroom.", 0.80),
]


def example_graph(embed=None) -> tuple[list[Proposition], list[Relation]]:
    """The example's propositions and relations; ``embed`` (e.g. ``embedding.embed``) maps a
    list of texts to [N, D] vectors; without it the propositions have no embedding."""
    texts: list[str] = []
    for premise, _, hypothesis, _ in EXAMPLE_TRIPLES:
        for t in (premise, hypothesis):
            if t not in texts:
                texts.append(t)
    vectors = embed(texts) if embed is not None else [None] * len(texts)
    props = [Proposition(proposition_id(t), t, "en", v, EXAMPLE_RUN) for t, v in zip(texts, vectors)]
    rels = [Relation(proposition_id(p), proposition_id(h), rel, conf, EXAMPLE_RUN)
            for p, rel, h, conf in EXAMPLE_TRIPLES]
    return props, rels


def load_example(store, embed=None) -> tuple[int, int]:
    """Write the example graph into ``store`` (run EXAMPLE_RUN; idempotent) and return how
    many (propositions, relations) it has."""
    props, rels = example_graph(embed)
    return store.add_propositions(props), store.add_relations(rels)
