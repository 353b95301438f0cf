"""The records and the small helpers every backend shares: texts are checked once, relation
types and directions have one public check, labels are shortened one way, paths are shown
relative to the data folder, Neo4j settings come from the environment or the app's secrets,
and the example graph loads idempotently."""

from __future__ import annotations

import numpy as np
import pytest

from ntm.longterm import (
    RELATION_TYPES, InvalidGraphData, Proposition, Relation, default_store_path, proposition_id, short_text,
    shown_path,
)
from ntm.longterm.embedded import EmbeddedStore
from ntm.longterm.examples import EXAMPLE_RUN, example_graph, load_example
from ntm.longterm.neo4j_store import neo4j_settings
from ntm.longterm.records import check_direction, check_text, relation_types, shown


def test_relation_types_one_many_or_all():
    assert relation_types(None) == RELATION_TYPES
    assert relation_types("NEUTRAL") == ("NEUTRAL",)
    assert relation_types(["ENTAILS", "CONTRADICTS"]) == ("ENTAILS", "CONTRADICTS")
    with pytest.raises(InvalidGraphData, match="unknown relation type.*IMPLIES.*use ENTAILS, CONTRADICTS, NEUTRAL"):
        relation_types(["ENTAILS", "IMPLIES"])
    assert check_direction("both") == "both"
    with pytest.raises(ValueError, match="'out', 'in' or 'both'"):
        check_direction("sideways")


@pytest.mark.parametrize("make", [
    lambda s: Proposition("a", s), lambda s: Proposition(s, "x"), lambda s: Proposition("a", "x", s),
    lambda s: Proposition("a", "x", run=s), lambda s: Relation(s, "b"), lambda s: Relation("a", "b", run=s),
    proposition_id,
], ids=["text", "id", "language", "run", "relation end", "relation run", "proposition_id"])
def test_a_lone_surrogate_is_refused_wherever_it_is(make):
    with pytest.raises(InvalidGraphData, match=r"lone surrogate \('\\ud800' at character 2\)"):
        make("ab\ud800cd")


def test_texts_checks_and_numbers_too_large_for_a_float():
    assert check_text("", "t") == "" and check_text(None, "t", nullable=True) is None
    with pytest.raises(InvalidGraphData, match="must not be empty"):
        check_text("", "t", empty=False)
    with pytest.raises(InvalidGraphData, match="must be a string, got int"):
        check_text(3, "t")
    with pytest.raises(InvalidGraphData, match="confidence must be a number in"):
        Relation("a", "b", confidence=10**400)
    with pytest.raises(InvalidGraphData, match="embedding must be a list of numbers"):
        Proposition("a", "x", embedding=[1, 10**400])
    with pytest.raises(InvalidGraphData, match="NaN or infinity"):
        Proposition("a", "x", embedding=[1.0, 1e300])               # beyond float32


def test_shown_values_stay_short_however_nested():
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert len(shown(deep)) < 80 and len(shown("x" * 10_000)) < 80


def test_short_text_is_one_line_with_an_ellipsis():
    assert short_text("  two\nlines ") == "two lines"
    assert short_text("word " * 20, 10) == "word word…"


def test_paths_are_shown_relative_to_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "longterm" / "graph.json"
    assert shown_path(default_store_path()) == "longterm/graph.json"
    assert shown_path(tmp_path / "elsewhere" / "g.json") == "g.json"


def test_messages_about_the_store_file_show_no_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    path = default_store_path()
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    with pytest.raises(Exception) as caught:
        EmbeddedStore(path)
    assert "longterm/graph.json" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_neo4j_settings_from_the_environment_then_the_secrets():
    env = {"NEO4J_URI": "bolt://h:1", "NEO4J_USER": "u", "NEO4J_PASSWORD": "p"}
    secrets = {"neo4j": {"uri": "bolt://s:2", "user": "su", "password": "sp"}}
    assert neo4j_settings(secrets, environ=env) == {"uri": "bolt://h:1", "user": "u", "password": "p"}
    assert neo4j_settings(secrets, environ={}) == {"uri": "bolt://s:2", "user": "su", "password": "sp"}
    assert neo4j_settings({"NEO4J_URI": "bolt://f:3"}, environ={}) == {"uri": "bolt://f:3", "user": None,
                                                                       "password": None}
    assert neo4j_settings({}, environ={}) == {"uri": None, "user": None, "password": None}


def test_the_example_loads_once_however_often_it_is_loaded(tmp_path):
    store = EmbeddedStore(tmp_path / "g.json")
    fake_embed = lambda texts: np.ones((len(texts), 3), np.float32) + np.arange(len(texts))[:, None]  # noqa: E731
    props, rels = example_graph()
    assert load_example(store, fake_embed) == (len(props), len(rels))
    before = store.export_json()
    load_example(store, fake_embed)
    assert store.export_json() == before
    assert store.runs() == [EXAMPLE_RUN] and store.dimension == 3


def test_graph_filtered_keeps_the_chosen_runs_languages_and_relation_types():
    from ntm.longterm import Graph, TrainingLog
    nodes = [Proposition("a", "A", "en", run="train"), Proposition("b", "B", "de", run="train"),
             Proposition("c", "C", None, run="manual"), Proposition("d", "D", "en", run="manual")]
    edges = [Relation("a", "b", "ENTAILS", 0.9, run="train"), Relation("a", "d", "NEUTRAL", 0.5, run="manual"),
             Relation("c", "d", "CONTRADICTS", 0.7, run="manual"), Relation("a", "c", "ENTAILS", 0.4, run="train")]
    logs = [TrainingLog("l1", "train", "2026-01-01T00:00:00Z", "propositions", 2),
            TrainingLog("l2", "manual", "2026-01-01T00:00:01Z", "propositions", 2)]
    g = Graph(nodes, edges, logs)
    assert g.filtered() == g
    manual = g.filtered(runs=["manual"])
    assert [p.id for p in manual.nodes] == ["c", "d"] and [r.key for r in manual.edges] == ["c|CONTRADICTS|d"]
    assert [x.id for x in manual.training_logs] == ["l2"]
    english = g.filtered(languages=["en"])
    assert [p.id for p in english.nodes] == ["a", "d"] and [r.key for r in english.edges] == ["a|NEUTRAL|d"]
    assert [p.id for p in g.filtered(languages=[None]).nodes] == ["c"]          # no language
    assert [r.key for r in g.filtered(relations=["ENTAILS"]).edges] == ["a|ENTAILS|b", "a|ENTAILS|c"]
    # A relation of another run between chosen propositions is left out with its run.
    assert [r.key for r in g.filtered(runs=["train", "manual"], relations=["NEUTRAL"]).edges] == ["a|NEUTRAL|d"]
    assert g.filtered(runs=[]).nodes == []
    with pytest.raises(InvalidGraphData):
        g.filtered(relations=["LOVES"])
