"""NLI demo: a trained dual-memory NTM judges premises against a hypothesis, reading its graph.

Preset (a dual NTM trained on cdcl-nli) + store (embedded or Neo4j) + an example (a test example or
the user's sentences) -> ``ntm.dual.demo.infer`` -> the prediction, what the long-term read
retrieved (weights, read modes) and the relations it followed, drawn on the graph, and the short-term
memory stepped through. "Remember" writes the example and its predicted relation into the graph.
"""

from __future__ import annotations

import streamlit as st

from ntm import figures as F
from ntm.dual import demo
from ntm.figures.nli import long_term_reads_figure, probabilities_figure
from ntm.longterm import LongTermStoreError, short_text
from ntm.longterm.render import graph_html, sandboxed_frame
from ntm.nli import NLIDataError
from ntm.presets import BundleError, catalogue, load_preset
from ntm.tasks.nli import load_examples
from pages._shared import flash, page_link, plain, teacher_mode
from pages._stores import ERROR_CHARS, choose_store

TEST_DATA = "data/cdcl-nli/test.json"
GRAPH_HEIGHT = 460
K = "nli_"                                  # prefix of this page's session-state keys
PROBLEMS = (LongTermStoreError, BundleError, NLIDataError, demo.DemoInputError)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def load(path: str, stamp: tuple):
    return load_preset(path)


@st.cache_data(show_spinner=False)
def test_examples() -> list[dict]:
    return [e.to_cdcl() for e in load_examples(TEST_DATA)]


def on_load_graph(store, entry) -> None:
    try:
        with st.spinner("Embedding the graph's sentences with all-MiniLM-L6-v2 (once; cached after)…"):
            counts = demo.load_preset_graph(store, entry.path)
        flash(f"The graph of {plain(entry.id)} is in the store: {counts['propositions']:,} propositions and "
              f"{counts['relations']:,} relations (run “preset {plain(entry.id)}”).")
    except PROBLEMS as exc:
        flash(f"Loading the graph failed: {plain(exc, ERROR_CHARS)}", "error")


def on_infer(source: str) -> None:
    s = st.session_state
    try:
        if source == "test":
            s[K + "example"] = test_examples()[s[K + "pick"]]
        else:
            ex = demo.make_example(s[K + "premises"].splitlines(), s[K + "hypothesis"], s[K + "language"])
            s[K + "example"] = {**ex.to_cdcl(), "user": True}
        s[K + "t"] = 0
    except PROBLEMS as exc:
        flash(f"{plain(exc, ERROR_CHARS)}", "warning")


def on_remember(store, result) -> None:
    try:
        counts = demo.remember(store, result)
        st.session_state[K + "remembered"] = demo.sentence_ids(result.example)
        flash(f"Remembered: {counts['propositions']} propositions and {counts['relations']} "
              f"{result.relation} relations (confidence {result.confidence:.0%}, run “demo”).")
    except PROBLEMS as exc:
        flash(f"Remembering failed: {plain(exc, ERROR_CHARS)}", "error")


st.title("Dual-memory NTM: inference on NLI")
st.markdown("A dual-memory NTM reads the premises and the hypothesis one sentence per timestep (their "
            "all-MiniLM-L6-v2 embeddings) and answers *entailment*, *contradiction* or *neutral* at the last "
            "step. Beside its short-term memory it **reads a long-term graph of propositions**: every step, a "
            "key finds the nearest propositions, and the read follows their relations forward and backward.")

entries = [e for e in catalogue() if e.task == "cdcl-nli" and e.model_type == "dual" and not e.problem]
if not entries:
    st.info("No dual-memory NLI preset yet. Train one: `python -m ntm train --task cdcl-nli --model-type dual "
            "--preset-out presets/my-nli` (see docs/training.md).")
    st.stop()
entry = st.selectbox("Preset", entries, format_func=lambda e: e.summary, key=K + "preset")
store = choose_store(K + "backend")
if store is None:
    st.stop()
try:
    preset = load(str(entry.path), entry.stamp)
    stats = store.stats()
    count = stats["propositions"]
except PROBLEMS as exc:
    st.error(f"{plain(exc, ERROR_CHARS)}")
    st.stop()
left, right = st.columns([3, 2])
left.metric("Propositions in the long-term graph", f"{count:,}")
right.button(f"Load {entry.id}'s graph", key=K + "load", on_click=on_load_graph, args=(store, entry),
             help="The graph its training run left behind, added to this store (loading twice adds nothing)")
if count == 0:
    st.info("The graph is empty: the model's long-term read finds nothing and reads zeros. Load the "
            "preset's graph above, or add propositions on the Long-term memory page.")

st.subheader("An example")
source = st.radio("Example", ["test", "own"], horizontal=True, key=K + "source",
                  format_func={"test": "From the held-out test split", "own": "My own sentences"}.get)
if source == "test":
    examples = test_examples()
    st.selectbox("Test example", range(len(examples)), key=K + "pick", format_func=lambda i: (
        f"{i}: {short_text(' / '.join(p['text'] for p in examples[i]['premise']), 70)} ⇒ "
        f"{short_text(examples[i]['hypothesis']['text'], 40)} ({examples[i]['label']})"))
else:
    st.text_area("Premises, one per line", "Every dog is an animal.\nRex is a dog.", key=K + "premises",
                 max_chars=demo.MAX_PREMISES * (demo.MAX_CHARS + 1))
    c1, c2 = st.columns([4, 1])
    c1.text_input("Hypothesis", "Rex is an animal.", key=K + "hypothesis", max_chars=demo.MAX_CHARS)
    c2.selectbox("Language", demo.LANGUAGES, key=K + "language")
st.button("Infer", type="primary", key=K + "infer", on_click=on_infer, args=(source,))

data = st.session_state.get(K + "example")
if data is None:
    st.stop()
example = demo.example_from(data)
# One inference per example, preset and state of the graph: moving t or the head reuses it.
asked = (repr(sorted(data.items())), entry.id, entry.stamp, id(store), tuple(sorted(stats.items())))
kept = st.session_state.get(K + "result")
try:
    if kept is not None and kept[0] == asked:
        result = kept[1]
    else:
        with st.spinner("Embedding the sentences and running the model…"):
            result = demo.infer(preset.model, store, example, preset.task.features)
        st.session_state[K + "result"] = (asked, result)
except PROBLEMS as exc:
    st.error(f"The inference failed: {plain(exc, ERROR_CHARS)}")
    st.stop()

st.subheader("The answer")
gold = None if data.get("user") else example.label
for text, _ in example.premises:
    st.markdown(f"- {plain(text, demo.MAX_CHARS)}")
st.markdown(f"⇒ **{plain(example.hypothesis[0], demo.MAX_CHARS)}**")
a, b = st.columns([2, 3])
a.metric("Prediction", result.label, f"{result.confidence:.0%} confident", delta_color="off")
if gold:
    a.metric("Gold label", gold, "right" if gold == result.label else "wrong",
             delta_color="normal" if gold == result.label else "inverse")
b.plotly_chart(probabilities_figure(result.probabilities, gold), key=K + "probs",
               config=F.plotly_config("nli-probabilities"))
st.button("Remember this example", key=K + "remember", on_click=on_remember, args=(store, result),
          help="Write its sentences and the predicted relation (with its confidence) into the long-term graph, "
               "as training does for a confident example")

st.subheader("What the long-term read retrieved")
if not result.reads:
    st.info("Nothing was read: the graph is empty (or has no embeddings).")
else:
    st.plotly_chart(long_term_reads_figure(result.reads), key=K + "reads", config=F.plotly_config("nli-reads"))
    rows = [{"proposition": h.text, "largest weight c_t": round(h.weight, 4)} for h in result.retrieved[:12]]
    st.dataframe(rows, hide_index=True, width="stretch")
    marked = [h.id for h in result.retrieved] + st.session_state.get(K + "remembered", [])
    graph = demo.neighbourhood(store, result)
    st.caption(f"The retrieved propositions (highlighted) and the {len(result.followed)} relations the read "
               f"followed out of and into them; {len(graph.nodes)} nodes drawn. Hover a node or an edge for its "
               "text, relation and confidence.")
    html = graph_html(graph, height_px=GRAPH_HEIGHT, highlight=marked, max_nodes=None)
    st.iframe(sandboxed_frame(html, GRAPH_HEIGHT + 30), height=GRAPH_HEIGHT + 30)

st.subheader("The short-term memory, step by step")
trace = result.trace
t = st.slider("Timestep t", 0, trace.steps - 1, key=K + "t",
              help="t = 0 … n-1: the premises; n: the hypothesis; n+1: the answer step")
m, w = st.columns(2)
m.plotly_chart(F.memory_figure(trace, t, height=380), key=K + "memory", config=F.plotly_config("nli-memory"))
w.plotly_chart(F.weights_over_time_figure(trace, t, height=380), key=K + "weights",
               config=F.plotly_config("nli-weights"))
head = st.radio("Head", [h.name for h in trace.heads], horizontal=True, key=K + "head")
st.plotly_chart(F.addressing_figure(trace.head(head), t), key=K + "stages", config=F.plotly_config("nli-stages"))
if not teacher_mode():
    st.caption(f"Each timestep is one sentence; the NTM's read and write heads address its "
               f"{trace.memory.shape[1]}-slot short-term memory through the four stages (content, "
               "interpolation, shift, sharpening), as on the Step-through page.")
page_link("long_term_memory", "The whole graph, its search and its Cypher: Long-term memory")
