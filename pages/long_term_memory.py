"""Long-term memory: the dual-memory NTM's graph of propositions.

Choose a backend, add propositions (text -> sentence embedding) and relations, search by
meaning, look at the graph, export/import JSON, clear a run. The page only calls
``ntm.longterm``; it never imports the NTM model (nor torch, until a text is embedded).
Writes happen in button callbacks, and their outcome is flashed so it survives the rerun.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import streamlit as st

from ntm.longterm import (
    MAX_IMPORT_MB, RELATION_TYPES, LongTermStoreError, Proposition, Relation, embedding, proposition_id, short_text,
)
from ntm.longterm.codec import check_import_size
from ntm.longterm.embedding import EmbeddingModelMissing
from ntm.longterm.examples import EXAMPLE_RUN, load_example
from ntm.longterm.render import HIGHLIGHT_COLOUR, RELATION_COLOURS, graph_html, sandboxed_frame
from pages._shared import flash, page_link, plain, teacher_mode
from pages._stores import choose_store

GRAPH_HEIGHT = 560
MAX_DRAWN = 300
ERROR_CHARS = 600          # a store's error message is shown whole, as plain text
PROBLEMS = (LongTermStoreError, EmbeddingModelMissing)


@contextmanager
def reported(action: str):
    """Show a store error met while reading as a message on the page, not a traceback."""
    try:
        yield
    except PROBLEMS as exc:
        st.error(f"{action} failed: {plain(exc, ERROR_CHARS)}")


def attempt(action: str, write) -> None:
    """Run ``write()`` in a callback and flash the message it returns, or the store's error."""
    try:
        flash(write())
    except PROBLEMS as exc:
        flash(f"{action} failed: {plain(exc, ERROR_CHARS)}", "error")


def embed(texts: list[str]):
    with st.spinner("Embedding…" if embedding.is_loaded() else "Embedding with all-MiniLM-L6-v2…"):
        return embedding.embed(texts)


def on_load_example(store) -> None:
    attempt("Loading the example", lambda: "Loaded {} propositions and {} relations (run {}).".format(
        *load_example(store, embed), EXAMPLE_RUN))


def on_add_proposition(store) -> None:
    text, run = st.session_state.new_text, st.session_state.new_run.strip() or "manual"
    if not text.strip():
        flash("Type a proposition first.", "warning")
        return

    def write():
        pid = proposition_id(text)
        store.add_propositions([Proposition(pid, text, st.session_state.new_language or None, embed([text])[0])],
                               run=run)
        return f"Added “{plain(short_text(text, 120))}” (run {plain(run)})."
    attempt("Adding the proposition", write)


def on_add_relation(store, labels: dict[str, str]) -> None:
    s = st.session_state
    source, target, rtype = s.rel_source, s.rel_target, s.rel_type

    def write():
        store.add_relations([Relation(source, target, rtype, s.rel_confidence)], run=s.rel_run.strip() or "manual")
        return f"Added {plain(labels.get(source, source))} —{rtype}→ {plain(labels.get(target, target))}."
    attempt("Adding the relation", write)


def on_import(store) -> None:
    uploaded = st.session_state.import_file

    def write():
        check_import_size(uploaded.size, uploaded.name)
        counts = store.import_json(uploaded, run="import")
        return (f"Imported {counts['propositions']} propositions and {counts['relations']} relations "
                f"from {plain(uploaded.name)}.")
    if uploaded is not None:
        attempt(f"Importing {plain(uploaded.name)}", write)


def on_clear_run(store) -> None:
    run = st.session_state.clear_run
    attempt("Clearing the run", lambda: "Removed {propositions} propositions, {relations} relations and "
            "{training_logs} training logs of run ".format(**store.clear_run(run)) + plain(run) + ".")
    st.session_state.clear_sure = False


def export_bytes(store) -> bytes:
    """Made only when the download is clicked (a large Neo4j graph takes seconds to read)."""
    try:
        return json.dumps(store.export_json(), ensure_ascii=False, indent=1).encode("utf-8")
    except LongTermStoreError as exc:
        return json.dumps({"error": f"export failed: {exc}"}).encode("utf-8")


st.title("Long-term memory")
st.markdown(
    "The dual-memory NTM (`--model-type dual`) keeps a **graph of propositions** beside its short-term "
    "memory matrix: `(:Proposition {id, text, language, embedding})` nodes joined by "
    + ", ".join(f"<span style='color:{RELATION_COLOURS[t]}'>**{t}**</span>" for t in RELATION_TYPES)
    + " relations with a confidence. Every step its long-term read head finds the propositions whose "
    "embeddings are nearest (cosine) to a key and follows their relations forward and backward; while it "
    "trains on NLI it writes each confident example's sentences and its predicted relation here (on copy "
    "tasks, an episode's most-changed memory rows, linked in order), with a TrainingLog per write. "
    "Training runs, the NLI demo's *Remember* and what you add below are told apart by their **run**.",
    unsafe_allow_html=True)
page_link("nli_demo", "Watch a trained model read and write this graph: NLI demo")

store = choose_store()
if store is None:
    st.stop()

stats, graph, runs = {}, None, []
with reported("Reading the store"):
    stats = store.stats()
    graph = store.graph(include_embeddings=False)
    runs = store.runs()
for col, (label, value) in zip(st.columns(4), [(k.replace("_", " ").capitalize(), stats.get(k, "—")) for k in (
        "propositions", "relations", "training_logs")] + [("Embedding size D", store.dimension or "—")]):
    col.metric(label, value)

st.button("Load example graph", key="load_example", on_click=on_load_example, args=(store,),
          help="A handful of NLI-style propositions with ENTAILS / CONTRADICTS / NEUTRAL relations")

labels = {p.id: short_text(p.text, 70) for p in graph.nodes} if graph else {}
ids = sorted(labels, key=labels.get)
add_tab, relate_tab, search_tab, follow_tab, io_tab, clear_tab = st.tabs(    # a key: the open tab stays
    ["Add proposition", "Add relation", "Search", "Follow relations", "Export / import", "Clear a run"], key="tab")

with add_tab, st.form("add_proposition", clear_on_submit=True):
    st.text_area("Proposition", key="new_text", placeholder="A man is playing a guitar.")
    c1, c2 = st.columns(2)
    c1.text_input("Language", value="en", key="new_language")
    c2.text_input("Run", value="manual", key="new_run")
    st.form_submit_button("Add", on_click=on_add_proposition, args=(store,))

with relate_tab:
    if not ids:
        st.info("Add propositions first.")
    else:
        with st.form("add_relation"):
            st.selectbox("From", ids, format_func=labels.get, key="rel_source")
            st.radio("Relation", RELATION_TYPES, horizontal=True, key="rel_type")
            st.selectbox("To", ids, format_func=labels.get, key="rel_target")
            c1, c2 = st.columns(2)
            c1.slider("Confidence", 0.0, 1.0, 0.9, 0.05, key="rel_confidence")
            c2.text_input("Run", value="manual", key="rel_run")
            st.form_submit_button("Add relation", on_click=on_add_relation, args=(store, labels))

hits = []
with search_tab:
    query = st.text_input("Find propositions nearest in meaning to", key="search_text",
                          placeholder="someone makes music")
    k = st.slider("How many", 1, 20, 5, key="search_k")
    if query.strip():
        with reported("Searching"):
            hits = store.nearest(embed([query])[0], k=k)
            if hits:
                st.dataframe([{"rank": i, "cosine": round(h.score, 3), "text": h.proposition.text}
                              for i, h in enumerate(hits, 1)], hide_index=True)
                st.caption("Ranked by cosine similarity between the embeddings of your text and of each "
                           "proposition (1 = same direction); the graph marks each hit with its rank and score.")
            else:
                st.info("No proposition with an embedding yet.")

with follow_tab:
    if ids:
        start = st.selectbox("Proposition", ids, format_func=labels.get, key="follow_id")
        direction = st.radio("Direction", ["out", "in", "both"], horizontal=True, key="follow_direction",
                             format_func={"out": "forward", "in": "backward", "both": "both"}.get)
        with reported("Following relations"):
            links = store.neighbours(start, direction=direction)
            st.dataframe([{"relation": f"{'→' if link.relation.source == start else '←'} {link.relation.type}",
                           "confidence": link.relation.confidence, "proposition": link.proposition.text}
                          for link in links], hide_index=True)
    else:
        st.info("Add propositions first.")

with io_tab:
    st.download_button("Download the graph as JSON", lambda: export_bytes(store), file_name="longterm-graph.json",
                       mime="application/json", key="export")
    st.caption("Same shape as the dual-memory fork's `export_entailment_graph_json` (`nodes`, `edges`); "
               f"its files import here too, up to {MAX_IMPORT_MB} MB.")
    uploaded = st.file_uploader("Import a JSON graph", type=["json"], key="import_file",
                                max_upload_size=MAX_IMPORT_MB)
    st.button("Import", key="import", disabled=uploaded is None, on_click=on_import, args=(store,))

with clear_tab:
    if runs:
        st.selectbox("Run", runs, key="clear_run")
        sure = st.checkbox("Yes, delete this run's propositions, relations and logs", key="clear_sure")
        st.button("Clear run", key="clear", disabled=not sure, on_click=on_clear_run, args=(store,))
    else:
        st.info("Nothing stored yet.")

st.subheader("Graph")
if graph is not None and graph.nodes:
    c1, c2, c3 = st.columns(3)
    chosen_runs = c1.multiselect("Runs", runs, key="show_runs", placeholder="every run",
                                 help="A training run's name, 'manual', 'import', 'demo', a preset's graph…")
    languages = sorted({p.language or "" for p in graph.nodes})
    chosen_languages = c2.multiselect("Languages", languages, key="show_languages", placeholder="every language",
                                      format_func=lambda lang: lang or "(none)")
    chosen_relations = c3.multiselect("Relations", RELATION_TYPES, key="show_relations",
                                      placeholder="every relation")
    shown = graph.filtered(chosen_runs or None, [lang or None for lang in chosen_languages] or None,
                           chosen_relations or None)
    height = GRAPH_HEIGHT + 160 if teacher_mode() else GRAPH_HEIGHT          # larger on a projector
    html = graph_html(shown, height_px=height, highlight=[h.proposition.id for h in hits], max_nodes=MAX_DRAWN,
                      ranks={h.proposition.id: (i, h.score) for i, h in enumerate(hits, 1)},
                      font_size=20 if teacher_mode() else 14)
    if len(shown.nodes) > MAX_DRAWN:
        st.caption(f"Showing {MAX_DRAWN} of {len(shown.nodes)} propositions (search hits first).")
    elif len(shown.nodes) < len(graph.nodes):
        st.caption(f"Showing {len(shown.nodes)} of {len(graph.nodes)} propositions and {len(shown.edges)} of "
                   f"{len(graph.edges)} relations (the filters above).")
    st.iframe(sandboxed_frame(html, height + 30), height=height + 30)
    st.markdown("Relations: " + " · ".join(f"<span style='color:{c}'>━━▶</span> {t.lower()}"
                                            for t, c in RELATION_COLOURS.items())
                + f" (label: relation and confidence) · <span style='color:{HIGHLIGHT_COLOUR}'>●</span> search hit "
                  "(#rank · cosine). Hover a node for its whole text.", unsafe_allow_html=True)
else:
    st.info("The graph is empty: load the example graph or add propositions.")
