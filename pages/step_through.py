"""Step through: run a preset (an NTM, a DNC or a sparse DNC) on one sequence and follow it timestep by timestep.

Preset, seed and length (or the user's bits) -> ``ntm.step_view`` (view checked, trace recorded once,
cached) -> ``ntm.figures.client`` (every view once, and what in it changes with t; cached) -> the
stepper component (``pages/components/stepper``), which moves every view to t in the browser: buttons,
slider, Play and keys, with no server round trip per step. The URL holds the view; the browser writes
t into it at once and reports t back when stepping stops, so a rerun or a copied link keeps it.
``pages/_step_views.py`` lays the views out (in teacher mode, the one-screen lecture layout).
"""

from __future__ import annotations

import hashlib
import time

import pandas as pd
import streamlit as st

from ntm import step_view as sv
from ntm.figures import client
from ntm.presets import BundleError, catalogue, load_preset
from ntm.story import what_to_look_at
from pages._shared import plain, teacher_mode
from pages._step_views import lay_out
from pages.components.stepper import stepper

SOURCES = {"random": "Random sequence", "bits": "My own bits"}
K = "st_"                              # prefix of this page's session-state keys


@st.cache_resource(max_entries=8, show_spinner=False)
def load(path: str, stamp: tuple):
    """A preset's model, shared by every session; a re-saved preset has a new ``stamp``."""
    return load_preset(path)


@st.cache_resource(max_entries=32, show_spinner="Running the machine on the sequence…")
def trace_of(path: str, stamp: tuple, view: sv.View):
    return sv.record_view(load(path, stamp), view)


@st.cache_resource(max_entries=16, show_spinner="Drawing every timestep…")
def views_of(path: str, stamp: tuple, view: sv.View, teacher: bool) -> dict:
    """What the browser needs to show every timestep of the view's trace (never mutated)."""
    trace = trace_of(path, stamp, view)
    return {"views": client.step_views(trace, enlarge=teacher, name=f"{view.preset}-seed{view.seed}",
                                       panels=sv.dnc_panels(trace)),
            "captions": [sv.step_caption(trace, t) for t in range(trace.steps)], "story": story(trace)}


def story(trace) -> list[str]:
    """What to look at, one line per timestep (shown in teacher mode), computed from the trace."""
    return what_to_look_at(trace)


# t lives in K + "t". The browser moves t on its own and reports it once stepping stops (report_t);
# K + "t_version" changes whenever the server moves t (a link, a new input), telling the browser to follow.
def set_t(t: int) -> None:
    st.session_state[K + "t"] = int(t)
    st.session_state[K + "t_version"] = st.session_state.get(K + "t_version", 0) + 1


def report_t(t=None) -> None:
    """The t the browser shows, once stepping stops (the stepper's state) or in the address it sends."""
    t = st.session_state[K + "stepper"]["t"] if t is None else t
    if isinstance(t, int) and 0 <= t <= st.session_state.get(K + "last", 0):
        st.session_state[K + "t"] = t


def new_editor(rows) -> None:
    st.session_state[K + "bits_base"] = list(rows)
    st.session_state[K + "editor_version"] = st.session_state.get(K + "editor_version", 0) + 1


def open_failure(examples: list) -> None:
    """Open the next of the preset's failing examples (``sv.failing_examples``); clicks take turns."""
    i = (st.session_state.get(K + "failure_i", -1) + 1) % len(examples)
    st.session_state.update({K + "failure_i": i, K + "seed": examples[i].seed, K + "length": examples[i].length,
                             K + "source": "random"})
    set_t(0)


def step_views(trace, teacher: bool, payload: dict, ident: str) -> None:
    """Every view of the trace, moved to t in the browser (laid out by ``pages/_step_views.py``)."""
    started = time.perf_counter()
    mount, plotly_url = stepper()
    last = trace.steps - 1
    st.session_state[K + "last"] = last
    # The browser follows ctl.t only for a new trace or version; its data stays the same otherwise, so
    # a reported t (and the rerun it causes) does not make the browser take its views in again.
    version = (ident, st.session_state.get(K + "t_version", 0))
    if st.session_state.get(K + "sent", (None,))[0] != version:
        st.session_state[K + "sent"] = (version, st.session_state[K + "t"])
    common = {"ctl": {"trace": ident, "version": version[1], "t": st.session_state[K + "sent"][1], "last": last},
              "plotly": plotly_url, "teacher": teacher, "views_id": f"{ident}-{int(teacher)}"}
    lay_out(mount, common, trace, payload, teacher, report_t)
    st.session_state[K + "view_ms"] = (time.perf_counter() - started) * 1000   # the layout's server time


teacher = teacher_mode()
st.title("Step through an NTM or a DNC")
if not teacher:
    st.markdown("Pick a trained machine and a sequence, then move through time: every panel shows the same "
                "timestep **t**.")

entries = catalogue()
steppable = [e for e in entries if sv.steppable(e)]
others = plain(sv.unlisted_note(entries), 300)
if not steppable:
    st.info("There are no NTM presets or DNC presets yet. Train one on the Train page, or with `python -m ntm train "
            f"--task copy --preset-out presets/copy`, then reload this page. {others}")
    st.stop()
by_id = {e.id: e for e in steppable}
ids = list(by_id)
default_id = sv.DEFAULT_PRESET if sv.DEFAULT_PRESET in ids else ids[0]

# Read the link on the first visit, and whenever the URL asks for another view than the one this
# page last wrote (a link from another page, an edited address). A URL without any of this page's
# parameters (the sidebar navigation) keeps the current view.
warnings: list[str] = []
# The browser writes the t it shows into the address bar as it steps, and a rerun sends that address:
# a t of this run that differs only there is the browser's own t, taken as reported (see report_t).
asked = {k: st.query_params[k] for k in sv.URL_PARAMS if k in st.query_params}
written = st.session_state.get(K + "url_written", {})
if asked.get("t", "").isdigit() and asked != written and {**asked, "t": written.get("t")} == written:
    report_t(int(asked["t"]))
elif K + "preset" not in st.session_state or (asked and asked != written):
    view, warnings = sv.read_link(asked, ids, default_id)
    st.session_state.update({K + "preset": view.preset, K + "seed": view.seed, K + "length": view.length,
                             K + "source": "random", K + "url_bits": asked.get("bits"),
                             K + "url_t": asked.get("t")})
    set_t(0)
if st.session_state[K + "preset"] not in ids:            # the preset went away since
    st.session_state[K + "preset"] = default_id

cols = st.columns([3, 2, 1.2, 1.2]) if not teacher else st.columns([3, 1.2, 1.2, 2])
cols[0].selectbox("Preset", ids, key=K + "preset", format_func=lambda i: f"{i} — {by_id[i].summary}",
                  persist_state="session")
if others and not teacher:
    cols[0].caption(others)
entry = by_id[st.session_state[K + "preset"]]
try:
    preset = load(str(entry.path), entry.stamp)
except BundleError as exc:
    st.error(plain(f"Preset {entry.id} cannot be opened: {exc}", 600))
    st.stop()
task = preset.task

url_bits = st.session_state.pop(K + "url_bits", None)     # checked now that the vector width is known
if url_bits is not None:
    bits, problem = sv.check_bits(url_bits, task)
    warnings += [problem] if problem else []
    if bits is not None:
        st.session_state[K + "source"] = "bits"
        new_editor(bits)

seed_col, len_col = (cols[1], cols[2]) if teacher else (cols[2], cols[3])
if task.sequence_width is not None and not teacher:
    source = cols[1].radio("Input", list(SOURCES), format_func=SOURCES.get, key=K + "source", horizontal=True,
                           persist_state="session")
else:
    source = st.session_state.get(K + "source", "random") if task.sequence_width else "random"
    if source == "bits":
        cols[3].caption("Input: your own bits (turn teacher mode off to edit them)")
seed = seed_col.number_input("Seed", 0, sv.MAX_SEED, key=K + "seed", step=1, persist_state="session",
                             help="Seeds the random sequence (and repeat-copy's repeat count).")
length = st.session_state[K + "length"]
if source == "random":
    length = len_col.number_input("Length", task.min_length, sv.MAX_LENGTH, key=K + "length", step=1,
                                  persist_state="session", help=f"The task's {task.length_name}.")

bits = None
if source == "bits":
    base = st.session_state.get(K + "bits_base")
    if not base or len(base[0]) != task.sequence_width:
        base = sv.random_bits(task, seed, max(length, task.min_length))
        new_editor(base)
    bits, problem = tuple(base), None
    if not teacher:
        with st.expander(f"Your input: one row per timestep, {task.sequence_width} bits each (0 or 1)", expanded=True):
            columns = [f"bit {i}" for i in range(task.sequence_width)]
            table = pd.DataFrame([[int(c) for c in row] for row in base], columns=columns)
            edited = st.data_editor(
                table, key=f"{K}editor_{st.session_state.get(K + 'editor_version', 0)}", num_rows="dynamic",
                column_config={c: st.column_config.NumberColumn(c, step=1, format="%d") for c in columns})
            st.button("Reset to the seed's random sequence", key=K + "reset_bits", on_click=new_editor,
                      args=(sv.random_bits(task, seed, max(length, task.min_length)),))
        bits, problem = sv.bits_from_rows(edited.astype(object).where(edited.notna(), None).values.tolist(),
                                          task.sequence_width, columns)
    if problem:
        st.error(f"Your input cannot be used: {plain(problem, 300)}")
        st.stop()
    length = len(bits)

# A failing example is a teaching moment: one click opens a sequence the preset's own evaluation got wrong.
examples = sv.failing_examples(preset.metrics)
if examples:
    f1, f2 = st.columns([1, 3], vertical_alignment="center")
    f1.button("Open a failing example", key=K + "failure", on_click=open_failure, args=(examples,),
              icon=":material/error:", help="A sequence this preset gets wrong; each click opens the next one.")
    failure = sv.failure_at(examples, int(seed), int(length)) if bits is None else None
    f2.caption(sv.failure_caption(failure) if failure else f"Its evaluation lists {len(examples)} failing "
               f"sequence{'s' if len(examples) != 1 else ''} short enough to step through here.")
else:
    st.caption(sv.no_failure_note(preset.metrics))
for w in warnings:
    st.warning(plain(w, 600))
view = sv.View(entry.id, int(seed), int(length), bits)
written = view.url()                                     # the URL says exactly what is shown
st.query_params.pop("length" if bits is not None else "bits", None)
st.query_params.update(written)
st.session_state[K + "url_written"] = written
try:
    trace = trace_of(str(entry.path), entry.stamp, view)
except (BundleError, ValueError, RuntimeError) as exc:
    st.error(f"The machine could not run on this input: {plain(exc, 300)}")
    st.stop()

t, problem = sv.check_t(st.session_state.pop(K + "url_t", None), trace.steps - 1, st.session_state.get(K + "t", 0))
if problem:
    st.warning(plain(problem, 600))
if t != st.session_state.get(K + "t"):
    set_t(t)
st.query_params["t"] = st.session_state[K + "url_written"]["t"] = str(st.session_state[K + "t"])

if not teacher:
    d1, d2 = st.columns([1, 3], vertical_alignment="center")
    d1.download_button("Download the trace (JSON)", data=trace.to_json, mime="application/json",
                       file_name=f"trace-{entry.id}-seed{seed}-len{length}.json", on_click="ignore",
                       key=K + "download", icon=":material/download:")
    d2.caption(f"{trace.steps} timesteps · {task.name} task · {trace.bit_errors()} bit errors in total. The JSON "
               "holds every recorded quantity; reload it with `ntm.trace.Trace.from_json`.")

ident = hashlib.sha1(repr((entry.id, entry.stamp, view)).encode()).hexdigest()[:16]
step_views(trace, teacher, views_of(str(entry.path), entry.stamp, view, teacher), ident)
