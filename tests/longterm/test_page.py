"""The long-term memory page (Streamlit AppTest, through app.py so flashed messages are drawn):
it loads, the example graph, search, adding, import errors, clearing a run, every write's
message is seen after its rerun, user text is echoed as text, no absolute path is shown, and
a Neo4j server that is down shows an error, not a traceback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import streamlit as st
import tomllib
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT
from ntm.longterm import MAX_IMPORT_MB, proposition_id
from ntm.longterm.render import FRAME_SANDBOX

APP = str(ROOT / "app.py")
PAGE_FILE = "pages/long_term_memory.py"
PAGE = str(ROOT / PAGE_FILE)
OUTSIDE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)""", re.IGNORECASE)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    yield tmp_path / "data"
    st.cache_resource.clear()


def run_page(secrets: dict | None = None) -> AppTest:
    """The page as users get it: app.py (which draws the flashed messages), then this page."""
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    at.run()
    return at.switch_page(PAGE_FILE).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def text(markdown: str) -> str:
    """What a Markdown body escaped with ``plain`` shows: the text without its backslashes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [text(e.value) for e in at.error]


def successes(at: AppTest) -> list[str]:
    return [text(s.value) for s in at.success]


def no_problem(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, errors(at)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_example(at: AppTest) -> AppTest:
    at.button(key="load_example").click().run()
    no_problem(at)
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="import_file").set_value((name, content, "application/json")).run()
    return at.button(key="import").click().run()


def every_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "success", "warning")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_loads_empty_with_no_error_and_no_absolute_path(data_dir):
    at = run_page()
    no_problem(at)
    assert at.title[0].value == "Long-term memory"
    assert metrics(at)["Propositions"] == "0"
    assert any("graph is empty" in i.value for i in at.info)
    assert any("Stored in longterm/graph.sqlite3 under the data folder" in text(c.value) for c in at.caption)
    assert str(data_dir) not in every_text(at) and str(ROOT) not in every_text(at)


def test_load_example_search_and_graph(data_dir):
    at = load_example(run_page())
    assert any("Loaded 9 propositions and 8 relations (run example)." in s for s in successes(at))
    assert metrics(at)["Propositions"] == "9" and metrics(at)["Relations"] == "8"
    assert metrics(at)["Embedding size D"] == "384"
    assert (data_dir / "longterm" / "graph.sqlite3").exists()          # persisted under NTM_EXPLORER_DATA
    frames = at.get("iframe")
    assert len(frames) == 1
    html = frames[0].proto.srcdoc
    assert f'sandbox="{FRAME_SANDBOX}"' in html and "allow-same-origin" not in html
    assert "A man is playing a guitar on stage." in html and not OUTSIDE.search(html)

    at.text_input(key="search_text").input("somebody makes music").run()
    no_problem(at)
    assert not at.success                                              # a message is shown once
    table = at.dataframe[0].value
    assert table["text"].iloc[0] in ("A man is performing music.", "Someone is making a sound.")
    assert list(table["cosine"]) == sorted(table["cosine"], reverse=True)

    load_example(at)                                                   # loading twice changes nothing
    assert metrics(at)["Propositions"] == "9"


def test_the_graph_filters_by_run_language_and_relation(data_dir):
    at = load_example(run_page())
    at.text_area(key="new_text").input("Ein Mann spielt Gitarre.")
    at.text_input(key="new_language").input("de")
    next(b for b in at.button if b.label == "Add").click().run()
    no_problem(at)

    def drawn() -> str:
        (frame,) = at.get("iframe")
        return frame.proto.srcdoc

    assert "Ein Mann spielt Gitarre." in drawn() and "A man is playing a guitar on stage." in drawn()
    at.multiselect(key="show_runs").select("manual").run()
    no_problem(at)
    assert "Ein Mann spielt Gitarre." in drawn() and "A man is playing a guitar on stage." not in drawn()
    assert any("Showing 1 of 10 propositions and 0 of 8 relations" in c.value for c in at.caption)
    at.multiselect(key="show_runs").unselect("manual").run()
    at.multiselect(key="show_languages").select("en").run()
    no_problem(at)
    assert "Ein Mann spielt Gitarre." not in drawn() and "A man is playing a guitar on stage." in drawn()
    at.multiselect(key="show_relations").select("CONTRADICTS").run()
    no_problem(at)
    (caption,) = [c.value for c in at.caption if c.value.startswith("Showing")]
    shown_edges = int(re.search(r"and (\d+) of 8 relations", caption).group(1))
    edges = drawn().split("edges = new vis.DataSet(")[1].split(");")[0]
    assert 0 < shown_edges < 8 and edges.count("CONTRADICTS") == shown_edges
    assert "ENTAILS" not in edges and "NEUTRAL" not in edges


def test_add_a_proposition_and_a_relation_and_follow_them(data_dir):
    at = run_page()
    at.text_area(key="new_text").input("Ein Mann spielt Gitarre.")
    at.text_input(key="new_language").input("de")
    next(b for b in at.button if b.label == "Add").click().run()
    no_problem(at)
    assert metrics(at)["Propositions"] == "1"
    assert any("Added “Ein Mann spielt Gitarre.”" in s and "run manual" in s for s in successes(at))
    from ntm.longterm import proposition_id
    assert not any(proposition_id("Ein Mann spielt Gitarre.") in s for s in successes(at))   # the sentence, no hash
    load_example(at)
    guitar = proposition_id("A man is playing a guitar on stage.")
    at.selectbox(key="rel_source").set_value(proposition_id("Ein Mann spielt Gitarre."))
    at.selectbox(key="rel_target").set_value(guitar)
    next(b for b in at.button if b.label == "Add relation").click().run()
    no_problem(at)
    assert metrics(at)["Relations"] == "9"
    assert any("Ein Mann spielt Gitarre. —ENTAILS→ A man is playing a guitar on stage." in s for s in successes(at))
    at.selectbox(key="follow_id").set_value(guitar).run()
    no_problem(at)
    at.radio(key="follow_direction").set_value("both").run()
    relations = list(at.dataframe[-1].value["relation"])
    assert relations == ["→ CONTRADICTS", "→ ENTAILS", "← ENTAILS", "→ NEUTRAL"]


def test_user_text_is_echoed_as_text_not_markdown():
    evil = "**bold** [a link](http://evil.example/x) ![img](http://evil.example/y.png) `code`"
    at = run_page()
    at.text_area(key="new_text").input(evil)
    at.text_input(key="new_run").input("run ![x](http://evil.example/z)")
    next(b for b in at.button if b.label == "Add").click().run()
    no_problem(at)
    (message,) = [s.value for s in at.success]
    assert "](http" not in message and "**bold**" not in message and "`code`" not in message
    assert "\\*\\*bold\\*\\*" in message and "evil" in text(message)


def test_page_stays_within_its_line_budget():
    assert len((ROOT / PAGE_FILE).read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b'{"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "zz"}]}', "'zz' is not the id"),
    (b'{"hello": "world"}', "'nodes' list"),
    (b'{"nodes": [' * 100_000 + b']' * 100_000 + b'}', "nested too deeply"),
    (b'{"nodes": [{"id": "a", "text": "x", "embedding": [' + b"9" * 5000 + b']}]}', "too long"),
    (b'{"nodes": [{"id": "a", "text": "lone \\ud800 surrogate"}]}', "lone surrogate"),
])
def test_bad_import_file_shows_an_error(content, message):
    at = upload(run_page(), "bad.json", content)
    assert not at.exception, [e.message for e in at.exception]
    assert any(message in e and "bad.json" in e for e in errors(at)), errors(at)
    assert metrics(at)["Propositions"] == "0"


def test_import_a_fork_export_counts_a_repeated_edge_once():
    fork = {"nodes": [{"id": "0", "text": "Node_0", "embedding": None},
                      {"id": "1", "text": "A dog runs.", "embedding": [0.1, 0.2, 0.3]}],
            "edges": [{"source": "0", "target": "1"}, {"source": "0", "target": "1"}]}
    at = upload(run_page(), "fork.json", json.dumps(fork).encode())
    no_problem(at)
    assert any("Imported 2 propositions and 1 relations from fork.json." in s for s in successes(at)), successes(at)
    assert metrics(at)["Relations"] == "1"


def test_upload_size_is_limited_by_the_server_and_the_page(monkeypatch):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == MAX_IMPORT_MB
    at = run_page()
    assert at.file_uploader(key="import_file").proto.max_upload_size_mb == MAX_IMPORT_MB
    monkeypatch.setattr("ntm.longterm.codec.MAX_IMPORT_MB", 0)       # any file is now too large
    at = upload(at, "big.json", b'{"nodes": []}')
    assert any("big.json is larger than 0 MB, the most the app imports" in e for e in errors(at)), errors(at)


def test_clear_a_run(data_dir):
    at = load_example(run_page())
    at.selectbox(key="clear_run").set_value("example")
    at.checkbox(key="clear_sure").check().run()
    at.button(key="clear").click().run()
    no_problem(at)
    assert metrics(at)["Propositions"] == "0"
    assert any("Removed 9 propositions, 8 relations and 2 training logs of run example." in s
               for s in successes(at)), successes(at)


def test_neo4j_server_down_shows_an_error_not_an_exception(monkeypatch):
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEO4J_PASSWORD", "whatever")
    at = run_page()
    at.radio(key="backend").set_value("neo4j").run()
    assert not at.exception
    assert any("Neo4j is not available" in e and "manage.py start" in e for e in errors(at)), errors(at)
    at.radio(key="backend").set_value("embedded").run()              # the page keeps working
    no_problem(at)
    assert metrics(at)["Propositions"] == "0"


def test_neo4j_settings_come_from_secrets():
    port = free_port()
    at = run_page(secrets={"neo4j": {"uri": f"bolt://127.0.0.1:{port}", "user": "neo4j", "password": "x"}})
    at.radio(key="backend").set_value("neo4j").run()
    assert not at.exception
    assert any(f"127.0.0.1:{port}" in e for e in errors(at)), errors(at)


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
