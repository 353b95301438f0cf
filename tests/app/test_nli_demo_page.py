"""The NLI demo page (AppTest): a trained dual-memory NTM answers a test example or the user's own
sentences; a preset's graph loads in one click and is then read (retrievals drawn on the graph);
"Remember" writes the example into the graph; bad input gives a message, never an exception."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT
from ntm.longterm import open_store, proposition_id
from ntm.presets import find_preset

pytestmark = pytest.mark.timeout(600)
PAGE = "pages/nli_demo.py"
SMALL_GRAPH = ["Every dog is an animal.", "Rex is a dog.", "Rex is an animal.", "Cats sleep a lot."]


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    """A fresh data folder holding a copy of presets/nli-dual with a four-sentence graph (the
    shipped graph would mean embedding 2,366 sentences here)."""
    data = tmp_path / "data"
    small = data / "presets" / "nli-small"
    small.mkdir(parents=True)
    for name in ("config.json", "weights.safetensors", "metrics.json"):
        shutil.copy(ROOT / "presets" / "nli-dual" / name, small / name)
    ids = [proposition_id(t) for t in SMALL_GRAPH]
    (small / "graph.json").write_text(json.dumps({
        "nodes": [{"id": i, "text": t, "language": "en"} for i, t in zip(ids, SMALL_GRAPH)],
        "edges": [{"source": ids[0], "target": ids[2], "type": "ENTAILS", "confidence": 0.9},
                  {"source": ids[1], "target": ids[2], "type": "ENTAILS", "confidence": 0.8}]}))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(data))
    return data


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(at) -> str:
    return "\n".join(str(x.value) for kind in ("markdown", "caption", "info", "success", "warning", "error")
                     for x in at.get(kind))


def metric(at, label: str) -> str:
    (m,) = [m for m in at.metric if m.label == label]
    return m.value


def charts(at) -> set[str]:
    return {c.key for c in at.get("plotly_chart")}


def test_a_test_example_is_answered_and_the_empty_graph_is_explained():
    at = open_page()
    assert metric(at, "Propositions in the long-term graph") == "0"
    assert "The graph is empty" in texts(at)
    at.selectbox(key="nli_pick").set_value(3).run()
    at.button(key="nli_infer").click().run()
    assert not at.exception, at.exception
    label = metric(at, "Prediction")
    assert label in ("entailment", "contradiction", "neutral")
    gold = json.loads((ROOT / "data" / "cdcl-nli" / "test.json").read_text(encoding="utf-8"))[3]["label"]
    assert metric(at, "Gold label") == gold
    assert {"nli_probs", "nli_memory", "nli_weights"} <= charts(at)
    assert "Nothing was read" in texts(at)
    at.slider(key="nli_t").set_value(2).run()
    assert not at.exception
    stages = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "nli_stages"]
    assert stages and len([d for d in stages[0]["data"] if d["type"] == "bar"]) >= 4   # one panel per stage
    at.radio(key="nli_head").set_value("write 1").run()
    assert not at.exception


def test_one_click_loads_the_runs_graph_which_the_read_then_follows_and_remember_adds_to(env):
    at = open_page()
    at.selectbox(key="nli_preset").set_value(find_preset("nli-small")).run()
    at.button(key="nli_load").click().run()
    assert not at.exception, at.exception
    assert "is in the store: 4 propositions and 2 relations" in texts(at)
    assert metric(at, "Propositions in the long-term graph") == "4"
    at.radio(key="nli_source").set_value("own").run()
    at.text_area(key="nli_premises").input("Every dog is an animal.\nRex is a dog.").run()
    at.text_input(key="nli_hypothesis").input("Rex is an animal.").run()
    at.button(key="nli_infer").click().run()
    assert not at.exception, at.exception
    assert "nli_reads" in charts(at)
    assert not [m for m in at.metric if m.label == "Gold label"]          # the user's example has none
    assert "relations the read followed" in texts(at)
    frames = at.get("iframe")
    assert frames and all("sandbox=\"allow-scripts\"" in f.proto.srcdoc for f in frames if f.proto.srcdoc)
    label = metric(at, "Prediction")
    at.button(key="nli_remember").click().run()
    assert not at.exception, at.exception
    relation = {"entailment": "ENTAILS", "contradiction": "CONTRADICTS", "neutral": "NEUTRAL"}[label]
    assert f"{relation} relations" in texts(at)
    with open_store("embedded", path=env / "longterm" / "graph.sqlite3") as store:
        assert store.stats()["propositions"] == 4                          # the same three sentences: no new ones
        hypothesis = proposition_id("Rex is an animal.")
        into = {(link.relation.source, link.relation.type) for link in store.neighbours(hypothesis, direction="in")}
        assert {(proposition_id(t), relation) for t in SMALL_GRAPH[:2]} <= into


def test_bad_own_input_gives_a_message_and_hostile_text_stays_text():
    at = open_page()
    at.radio(key="nli_source").set_value("own").run()
    at.text_input(key="nli_hypothesis").input("   ").run()
    at.button(key="nli_infer").click().run()
    assert not at.exception, at.exception
    assert "write a hypothesis" in texts(at)
    hostile = "<img src=x onerror=alert(1)> [click](http://evil.example)"
    at.text_area(key="nli_premises").input(hostile).run()
    at.text_input(key="nli_hypothesis").input("A person rests.").run()
    at.button(key="nli_infer").click().run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown if "onerror" in m.value]
    assert shown and all("\\<img" in v and "\\[click\\]" in v for v in shown)
