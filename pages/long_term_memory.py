"""Long-term memory: the dual-memory NTM's graph of propositions.

Choose a backend, add propositions (text -> sentence embedding) and relations, search by
meaning, look at the graph, export/import JSON, clear a run. The page only calls
``ntm.longterm``; it never imports the NTM model (nor torch, until a text is embedded).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import streamlit as st

from ntm.longterm import (
    RELATION_TYPES, LongTermStoreError, LongTermStoreUnavailable, Proposition, Relation, default_store_path,
    open_store, proposition_id,
)
from ntm.longterm.render import RELATION_COLOURS, graph_html

GRAPH_HEIGHT = 560
MAX_DRAWN = 300


# ----------------------------------------------------------------------------- helpers


@contextmanager
def reported(action: str):
    """Show a store error as a message on the page instead of a traceback."""
    try:
        yield
    except LongTermStoreUnavailable as exc:
        st.error(f"{action} failed: the store is unavailable. {exc}")
    except LongTermStoreError as exc:
        st.error(f"{action} failed: {exc}")


def neo4j_settings() -> dict:
    """NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD from the environment, else from
    .streamlit/secrets.toml (``[neo4j] uri, user, password``)."""
    settings = {"uri": os.environ.get("NEO4J_URI"), "user": os.environ.get("NEO4J_USER"),
                "password": os.environ.get("NEO4J_PASSWORD")}
    if not settings["uri"]:
        try:
            section = st.secrets.get("neo4j", {})
            settings = {k: section.get(k) or st.secrets.get(f"NEO4J_{k.upper()}") for k in settings}
        except Exception:  # noqa: BLE001 - no secrets.toml at all is normal
            pass
    return settings


@st.cache_resource(show_spinner=False)
def embedded_store(path: str):
    return open_store("embedded", path=path)


@st.cache_resource(show_spinner=False)
def neo4j_store(uri: str | None, user: str | None, password: str | None):
    return open_store("neo4j", uri=uri, user=user, password=password, connect_timeout=3.0, retry_time=3.0)


def embed(texts: list[str]):
    from ntm.longterm import embedding
    with st.spinner("Embedding with all-MiniLM-L6-v2…" if not embedding.is_loaded() else "Embedding…"):
        return embedding.embed(texts)


def short(text: str, n: int = 70) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= n else one_line[:n - 1] + "…"


# ----------------------------------------------------------------------------- page

st.title("Long-term memory")
st.markdown(
    "The dual-memory NTM keeps a **graph of propositions** beside its short-term memory matrix: "
    "`(:Proposition {id, text, language, embedding})` nodes joined by "
    + ", ".join(f"<span style='color:{RELATION_COLOURS[t]}'>**{t}**</span>" for t in RELATION_TYPES)
    + " relations with a confidence. Reading finds the propositions whose embeddings are nearest "
    "(cosine) to a key, then follows their relations forward and backward.",
    unsafe_allow_html=True)

backend = st.radio("Backend", ["embedded", "neo4j"], horizontal=True, key="backend",
                   format_func={"embedded": "Embedded (a local file)", "neo4j": "Neo4j server"}.get)
store = None
if backend == "embedded":
    path = str(default_store_path())
    with reported("Opening the embedded store"):
        store = embedded_store(path)
        st.caption(f"Stored in `{path}` (set `NTM_EXPLORER_DATA` to move it).")
else:
    cfg = neo4j_settings()
    try:
        store = neo4j_store(cfg["uri"], cfg["user"], cfg["password"])
        st.caption(f"Connected to `{store.uri}` as `{store.user}`.")
    except LongTermStoreUnavailable as exc:
        st.error(f"Neo4j is not available. {exc}")
        st.info("Without Docker: `python scripts/neo4j/manage.py start` prints the NEO4J_* settings to export "
                "before starting the app. With Docker: `docker compose up -d`. Or switch back to the "
                "embedded backend above: it needs no server.")
if store is None:
    st.stop()

stats = {}
with reported("Reading the store"):
    stats = store.stats()
cols = st.columns(4)
cols[0].metric("Propositions", stats.get("propositions", "—"))
cols[1].metric("Relations", stats.get("relations", "—"))
cols[2].metric("Training logs", stats.get("training_logs", "—"))
cols[3].metric("Embedding size D", store.dimension or "—")

if st.button("Load example graph", key="load_example",
             help="A handful of NLI-style propositions with ENTAILS / CONTRADICTS / NEUTRAL relations"):
    from ntm.longterm.examples import example_graph
    with reported("Loading the example"):
        props, rels = example_graph(embed)
        store.add_propositions(props)
        store.add_relations(rels)
        st.success(f"Loaded {len(props)} propositions and {len(rels)} relations (run `example`).")
        st.rerun()

graph = None
with reported("Reading the graph"):
    graph = store.graph(include_embeddings=False)
labels = {p.id: short(p.text) for p in graph.nodes} if graph else {}

add_tab, relate_tab, search_tab, follow_tab, io_tab, clear_tab = st.tabs(
    ["Add proposition", "Add relation", "Search", "Follow relations", "Export / import", "Clear a run"])

with add_tab:
    with st.form("add_proposition", clear_on_submit=True):
        text = st.text_area("Proposition", key="new_text", placeholder="A man is playing a guitar.")
        c1, c2 = st.columns(2)
        language = c1.text_input("Language", value="en", key="new_language")
        run = c2.text_input("Run", value="manual", key="new_run")
        if st.form_submit_button("Add") and text.strip():
            with reported("Adding the proposition"):
                vector = embed([text])[0]
                store.add_propositions([Proposition(proposition_id(text), text, language or None, vector)],
                                       run=run or "manual")
                st.success(f"Added `{proposition_id(text)}`.")
                st.rerun()

with relate_tab:
    if len(labels) < 1:
        st.info("Add propositions first.")
    else:
        ids = sorted(labels, key=labels.get)
        with st.form("add_relation"):
            source = st.selectbox("From", ids, format_func=labels.get, key="rel_source")
            rtype = st.radio("Relation", RELATION_TYPES, horizontal=True, key="rel_type")
            target = st.selectbox("To", ids, format_func=labels.get, key="rel_target")
            c1, c2 = st.columns(2)
            confidence = c1.slider("Confidence", 0.0, 1.0, 0.9, 0.05, key="rel_confidence")
            run = c2.text_input("Run", value="manual", key="rel_run")
            if st.form_submit_button("Add relation"):
                with reported("Adding the relation"):
                    store.add_relations([Relation(source, target, rtype, confidence)], run=run or "manual")
                    st.success(f"{labels[source]} —{rtype}→ {labels[target]}")
                    st.rerun()

hits = []
with search_tab:
    query = st.text_input("Find propositions nearest in meaning to", key="search_text",
                          placeholder="someone makes music")
    k = st.slider("How many", 1, 20, 5, key="search_k")
    if query.strip():
        with reported("Searching"):
            hits = store.nearest(embed([query])[0], k=k)
            if hits:
                st.dataframe([{"cosine": round(h.score, 3), "text": h.proposition.text, "id": h.proposition.id}
                              for h in hits], hide_index=True)
            else:
                st.info("No proposition with an embedding yet.")

with follow_tab:
    if labels:
        ids = sorted(labels, key=labels.get)
        start = st.selectbox("Proposition", ids, format_func=labels.get, key="follow_id")
        direction = st.radio("Direction", ["out", "in", "both"], horizontal=True, key="follow_direction",
                             format_func={"out": "forward", "in": "backward", "both": "both"}.get)
        with reported("Following relations"):
            links = store.neighbours(start, direction=direction)
            st.dataframe([{"relation": f"{'→' if l.relation.source == start else '←'} {l.relation.type}",
                           "confidence": l.relation.confidence, "proposition": l.proposition.text}
                          for l in links], hide_index=True)
    else:
        st.info("Add propositions first.")

def export_bytes() -> bytes:
    """Made only when the download is clicked (a large Neo4j graph takes seconds to read)."""
    try:
        return json.dumps(store.export_json(), ensure_ascii=False, indent=1).encode("utf-8")
    except LongTermStoreError as exc:
        return json.dumps({"error": f"export failed: {exc}"}).encode("utf-8")


with io_tab:
    st.download_button("Download the graph as JSON", export_bytes, file_name="longterm-graph.json",
                       mime="application/json", key="export")
    st.caption("Same shape as the dual-memory fork's `export_entailment_graph_json` (`nodes`, `edges`); "
               "its files import here too.")
    uploaded = st.file_uploader("Import a JSON graph", type=["json"], key="import_file")
    if uploaded is not None and st.button("Import", key="import"):
        with reported(f"Importing {uploaded.name}"):
            counts = store.import_json(uploaded.getvalue(), run="import")
            st.success(f"Imported {counts['propositions']} propositions and {counts['relations']} relations.")

with clear_tab:
    runs = []
    with reported("Listing runs"):
        runs = store.runs()
    if runs:
        run = st.selectbox("Run", runs, key="clear_run")
        sure = st.checkbox("Yes, delete this run's propositions, relations and logs", key="clear_sure")
        if st.button("Clear run", key="clear", disabled=not sure):
            with reported("Clearing the run"):
                removed = store.clear_run(run)
                st.success(f"Removed {removed['propositions']} propositions, {removed['relations']} relations, "
                           f"{removed['training_logs']} training logs.")
                st.rerun()
    else:
        st.info("Nothing stored yet.")

st.subheader("Graph")
if graph is not None and graph.nodes:
    html = graph_html(graph, height_px=GRAPH_HEIGHT, highlight=[h.proposition.id for h in hits], max_nodes=MAX_DRAWN)
    if len(graph.nodes) > MAX_DRAWN:
        st.caption(f"Showing {MAX_DRAWN} of {len(graph.nodes)} propositions (search hits first).")
    if hasattr(st, "iframe"):
        st.iframe(html, height=GRAPH_HEIGHT + 30)
    else:  # Streamlit before st.iframe
        import streamlit.components.v1 as components
        components.html(html, height=GRAPH_HEIGHT + 30)
    st.caption("Edges: " + ", ".join(f"{t} = {c}" for t, c in RELATION_COLOURS.items())
               + "; search hits are highlighted. Hover for text, id, language and confidence.")
else:
    st.info("The graph is empty: load the example graph or add propositions.")
