"""The long-term memory page (Streamlit AppTest): it loads, the example graph, search, adding,
import errors, clearing a run, and a Neo4j server that is down shows an error, not a traceback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT
from ntm.longterm import proposition_id

PAGE = str(ROOT / "pages" / "long_term_memory.py")
OUTSIDE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)""", re.IGNORECASE)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    yield tmp_path / "data"
    st.cache_resource.clear()


def run_page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=180).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def no_problem(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_example(at: AppTest) -> AppTest:
    at.button(key="load_example").click().run()
    no_problem(at)
    return at


def test_loads_empty_with_no_error(data_dir):
    at = run_page()
    no_problem(at)
    assert at.title[0].value == "Long-term memory"
    assert metrics(at)["Propositions"] == "0"
    assert any("graph is empty" in i.value for i in at.info)
    assert str(data_dir) in " ".join(c.value for c in at.caption)


def test_load_example_search_and_graph(data_dir):
    at = load_example(run_page())
    assert metrics(at)["Propositions"] == "9" and metrics(at)["Relations"] == "8"
    assert metrics(at)["Embedding size D"] == "384"
    assert (data_dir / "longterm" / "graph.json").exists()          # persisted under NTM_EXPLORER_DATA
    frames = at.get("iframe")
    assert len(frames) == 1
    html = frames[0].proto.srcdoc or frames[0].proto.src
    assert "A man is playing a guitar on stage." in html and not OUTSIDE.search(html)

    at.text_input(key="search_text").input("somebody makes music").run()
    no_problem(at)
    table = at.dataframe[0].value
    assert table["text"].iloc[0] in ("A man is performing music.", "Someone is making a sound.")
    assert list(table["cosine"]) == sorted(table["cosine"], reverse=True)

    load_example(at)                                                   # loading twice changes nothing
    assert metrics(at)["Propositions"] == "9"


def test_add_a_proposition_and_follow_relations(data_dir):
    at = run_page()
    at.text_area(key="new_text").input("Ein Mann spielt Gitarre.")
    at.text_input(key="new_language").input("de")
    next(b for b in at.button if b.label == "Add").click().run()
    no_problem(at)
    assert metrics(at)["Propositions"] == "1"
    load_example(at)
    at.selectbox(key="follow_id").set_value(proposition_id("A man is playing a guitar on stage.")).run()
    no_problem(at)
    relations = list(at.dataframe[-1].value["relation"])
    assert relations == ["→ CONTRADICTS", "→ ENTAILS", "→ NEUTRAL"]


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b'{"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "zz"}]}', "'zz' is not the id"),
    (b'{"hello": "world"}', "'nodes' list"),
])
def test_bad_import_file_shows_an_error(content, message):
    at = run_page()
    at.file_uploader(key="import_file").set_value(("bad.json", content, "application/json")).run()
    at.button(key="import").click().run()
    assert not at.exception
    assert any(message in e.value and "bad.json" in e.value for e in at.error), [e.value for e in at.error]
    assert metrics(at)["Propositions"] == "0"


def test_import_a_fork_export():
    fork = {"nodes": [{"id": "0", "text": "Node_0", "embedding": None},
                      {"id": "1", "text": "A dog runs.", "embedding": [0.1, 0.2, 0.3]}],
            "edges": [{"source": "0", "target": "1"}]}
    at = run_page()
    at.file_uploader(key="import_file").set_value(("fork.json", json.dumps(fork).encode(), "application/json")).run()
    at.button(key="import").click().run()
    no_problem(at)
    assert any("Imported 2 propositions and 1 relations" in s.value for s in at.success)


def test_clear_a_run(data_dir):
    at = load_example(run_page())
    at.selectbox(key="clear_run").set_value("example")
    at.checkbox(key="clear_sure").check().run()
    at.button(key="clear").click().run()
    no_problem(at)
    assert metrics(at)["Propositions"] == "0"


def test_neo4j_server_down_shows_an_error_not_an_exception(monkeypatch):
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEO4J_PASSWORD", "whatever")
    at = run_page()
    at.radio(key="backend").set_value("neo4j").run()
    assert not at.exception
    assert any("Neo4j is not available" in e.value and "manage.py start" in e.value for e in at.error)
    at.radio(key="backend").set_value("embedded").run()              # the page keeps working
    no_problem(at)
    assert metrics(at)["Propositions"] == "0"


def test_neo4j_settings_come_from_secrets():
    port = free_port()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.secrets["neo4j"] = {"uri": f"bolt://127.0.0.1:{port}", "user": "neo4j", "password": "x"}
    at.run()
    at.radio(key="backend").set_value("neo4j").run()
    assert not at.exception
    assert any(f"127.0.0.1:{port}" in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.neo4j
def test_page_on_a_real_neo4j(neo4j_target, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_target.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_target.user)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_target.password)
    with neo4j_target.open() as s:
        s.clear()
    try:
        at = run_page()
        at.radio(key="backend").set_value("neo4j").run()
        no_problem(at)
        load_example(at)
        assert metrics(at)["Propositions"] == "9" and metrics(at)["Embedding size D"] == "384"
        at.text_input(key="search_text").input("children at the seaside").run()
        no_problem(at)
        assert "sandcastle" in at.dataframe[0].value["text"].iloc[0]
    finally:
        with neo4j_target.open() as s:
            s.clear()


def test_the_page_never_imports_the_ntm_model_or_torch(tmp_path):
    code = (
        "import sys\n"
        f"from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "heavy = [m for m in ('torch', 'transformers', 'ntm.model', 'ntm.training', 'ntm.presets') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "NTM_EXPLORER_DATA": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("NEO4J_URI", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout
