"""One NLI inference shown whole (ntm.dual.demo, ntm.figures.nli): the prediction, the long-term
reads and the relations they followed, the short-term trace, remembering, and loading a preset's
graph in one call (issue 12)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ntm.dual import demo
from ntm.dual.encode import encode
from ntm.figures.nli import long_term_reads_figure, probabilities_figure
from ntm.io import ROOT
from ntm.tasks.nli import FEATURES
from ntm.longterm import InvalidGraphData, Proposition, Relation, open_store, proposition_id
from ntm.model import build_model
from ntm.nli import LABELS

SENTENCES = ["Every dog is an animal.", "Rex is a dog.", "Rex is an animal.", "Cats sleep a lot.",
             "<b>Bold</b> & <img src=x onerror=alert(1)>"]


@pytest.fixture(autouse=True)
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


@pytest.fixture
def store(tmp_path):
    s = open_store("embedded", path=tmp_path / "g.sqlite3")
    vectors = encode(SENTENCES)
    s.add_propositions([Proposition(proposition_id(t), t, "en", v) for t, v in zip(SENTENCES, vectors)], run="seed")
    ids = [proposition_id(t) for t in SENTENCES]
    s.add_relations([Relation(ids[0], ids[2], "ENTAILS", 0.9), Relation(ids[1], ids[2], "ENTAILS", 0.8),
                     Relation(ids[3], ids[2], "NEUTRAL", 0.4)], run="seed")
    yield s
    s.close()


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("dual", {"input_size": FEATURES["pair"], "output_size": 3, "controller_size": 16, "memory_slots": 8,
                                "memory_width": 8, "long_term_nodes": 3, "long_term_dim": 4}).eval()


def test_make_example_checks_the_users_text():
    ex = demo.make_example(["  Rex is   a dog. ", "", "Every dog is an animal."], "Rex is an animal.", "en")
    assert ex.premises == (("Rex is a dog.", "en"), ("Every dog is an animal.", "en"))
    assert ex.hypothesis == ("Rex is an animal.", "en") and ex.extra == {"user": True}
    assert demo.example_from({**ex.to_cdcl(), "user": True}) == ex
    for premises, hypothesis, language, says in [
            ([" ", ""], "h", "en", "at least one premise"), (["p"], "  ", "en", "write a hypothesis"),
            (["p"] * (demo.MAX_PREMISES + 1), "h", "en", "at most"),
            (["x" * (demo.MAX_CHARS + 1)], "h", "en", "longer than"), (["p"], "h", "klingon", "language")]:
        with pytest.raises(demo.DemoInputError, match=says):
            demo.make_example(premises, hypothesis, language)


def test_infer_reports_the_prediction_the_reads_and_the_followed_relations(model, store):
    ex = demo.make_example(SENTENCES[:2], SENTENCES[2])
    result = demo.infer(model, store, ex)
    assert model.store is None                                          # the shared model is left detached
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(result.probabilities) == list(LABELS) and result.label == max(result.probabilities,
                                                                              key=result.probabilities.get)
    # The trace: one step per sentence plus the answer step; targets zero (no gold label).
    assert result.trace.steps == 4 and not result.trace.targets.any()
    assert result.trace.memory.shape == (5, 8, 8)
    # Every step read K = 3 propositions, with weights c_t that sum to 1.
    assert [r.t for r in result.reads] == [0, 1, 2, 3]
    for step in result.reads:
        assert len(step.hits) == 3 and sum(h.weight for h in step.hits) == pytest.approx(1.0, abs=1e-5)
        assert sum(step.modes) == pytest.approx(1.0, abs=1e-5)
        assert all(h.text == store.get(h.id).text for h in step.hits)
    weights = [h.weight for h in result.retrieved]
    assert weights == sorted(weights, reverse=True) and len({h.id for h in result.retrieved}) == len(weights)
    # The followed relations are exactly those touching a retrieved proposition.
    retrieved = {h.id for h in result.retrieved}
    every = store.graph(include_embeddings=False).edges
    assert {r.key for r in result.followed} == {r.key for r in every if {r.source, r.target} & retrieved}
    graph = demo.neighbourhood(store, result)
    assert retrieved <= {p.id for p in graph.nodes}
    assert {p.id for p in graph.nodes} >= {proposition_id(t) for t in SENTENCES[:3]}   # the example's own


def test_a_gold_example_keeps_its_target_and_an_empty_graph_reads_nothing(model, tmp_path):
    empty = open_store("embedded", path=tmp_path / "empty.sqlite3")
    ex = demo.example_from({"premise": [{"text": "A man sleeps.", "language": "en"}],
                            "hypothesis": {"text": "A man is awake.", "language": "en"}, "label": "contradiction"})
    result = demo.infer(model, empty, ex)
    assert result.reads == [] and result.retrieved == [] and result.followed == []
    assert result.trace.targets[-1].tolist() == [0.0, 1.0, 0.0]         # (entailment, contradiction, neutral)
    empty.close()


def test_remember_writes_the_sentences_and_the_predicted_relation_once(model, store):
    ex = demo.make_example(["A new premise here.", "Another new premise."], "A new hypothesis.")
    result = demo.infer(model, store, ex)
    before = store.stats()
    assert demo.remember(store, result) == {"propositions": 3, "relations": 2}
    after = store.stats()
    assert after["propositions"] == before["propositions"] + 3 and after["relations"] == before["relations"] + 2
    hyp = proposition_id("A new hypothesis.")
    rels = [link.relation for link in store.neighbours(hyp, direction="in")]
    assert {r.type for r in rels} == {result.relation}
    assert result.relation == {"entailment": "ENTAILS", "contradiction": "CONTRADICTS", "neutral": "NEUTRAL"}[result.label]
    assert all(r.confidence == pytest.approx(result.confidence, abs=1e-6) for r in rels)
    demo.remember(store, result)
    assert store.stats()["propositions"] == after["propositions"]      # idempotent
    assert set(demo.sentence_ids(ex)) <= {p.id for p in demo.neighbourhood(store, demo.infer(model, store, ex)).nodes}


def test_load_preset_graph_adds_the_runs_graph_in_one_call(tmp_path, store):
    preset = tmp_path / "preset"
    preset.mkdir()
    nodes = [{"id": proposition_id(t), "text": t, "language": "en"} for t in ("Snow is cold.", "Ice is cold.")]
    (preset / "graph.json").write_text(json.dumps({"nodes": nodes, "edges": [
        {"source": nodes[0]["id"], "target": nodes[1]["id"], "type": "NEUTRAL", "confidence": 0.6}]}))
    counts = demo.load_preset_graph(store, preset)
    assert counts["propositions"] == 2 and counts["relations"] == 1
    got = store.get(nodes[0]["id"])
    assert got.run == "preset preset" and np.allclose(got.embedding, encode(["Snow is cold."])[0], atol=1e-5)
    demo.load_preset_graph(store, preset)
    assert store.stats()["propositions"] == len(SENTENCES) + 2
    (preset / "graph.json").write_text("{not json")
    with pytest.raises(InvalidGraphData, match="not a readable graph export"):
        demo.load_preset_graph(store, preset)
    (preset / "graph.json").unlink()
    with pytest.raises(InvalidGraphData, match="has no graph.json"):
        demo.load_preset_graph(store, preset)


def test_the_shipped_preset_has_a_graph_to_load():
    data = json.loads((ROOT / "presets" / "nli-dual" / "graph.json").read_text(encoding="utf-8"))
    assert len(data["nodes"]) > 1000 and len(data["edges"]) > 1000


def test_figures_show_the_weights_and_escape_the_text():
    reads = [demo.StepRead(0, (demo.Hit("a", SENTENCES[4], 0.75), demo.Hit("b", "Beta", 0.25)), (0.2, 0.5, 0.3)),
             demo.StepRead(1, (demo.Hit("b", "Beta", 1.0),), (0.1, 0.1, 0.8))]
    fig = long_term_reads_figure(reads)
    heat = fig.data[0]
    assert list(heat.y) == ["Beta", "&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"]
    assert np.allclose(heat.z, [[0.25, 1.0], [0.75, 0.0]])
    assert [list(bar.y) for bar in fig.data[1:]] == [[0.2, 0.1], [0.5, 0.1], [0.3, 0.8]]
    probs = probabilities_figure({"entailment": 0.2, "contradiction": 0.7, "neutral": 0.1}, gold="neutral")
    assert probs.layout.title.text == "prediction: contradiction (gold: neutral)"
    assert list(probs.data[0].marker.line.width) == [0, 3, 0]
