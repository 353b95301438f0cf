"""Step through: run a preset (an NTM, a DNC or a sparse DNC) on one sequence and follow it timestep by timestep.

Preset, seed and length (or the user's bits) -> ``ntm.step_view`` (view checked, trace recorded once,
cached) -> figure functions at t -> layout. The URL holds the view; only the step view reruns when t moves.
The DNC's own panels and stage columns are laid out by ``pages/_step_dnc.py``.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from ntm import figures as F
from ntm import step_view as sv
from ntm.presets import BundleError, catalogue, load_preset
from pages._shared import plain, teacher_mode
from pages._step_dnc import chart, dnc_view

PLAY_INTERVAL = 0.7                    # seconds per timestep while playing
SOURCES = {"random": "Random sequence", "bits": "My own bits"}
K = "st_"                              # prefix of this page's session-state keys


@st.cache_resource(max_entries=8, show_spinner=False)
def load(path: str, stamp: tuple):
    """A preset's model, shared by every session; a re-saved preset has a new ``stamp``."""
    return load_preset(path)


@st.cache_resource(max_entries=32, show_spinner="Running the machine on the sequence…")
def trace_of(path: str, stamp: tuple, view: sv.View):
    return sv.record_view(load(path, stamp), view)


# t lives in K + "t", not in the slider's state: the slider gets a new key whenever the server moves t,
# so a click from a browser that has not yet received the last step is ignored instead of pulling t back.
def set_t(t: int) -> None:
    st.session_state[K + "t"] = int(t)
    st.session_state[K + "t_version"] = st.session_state.get(K + "t_version", 0) + 1


def go(to: str, last: int) -> None:
    t = st.session_state[K + "t"]
    set_t({"first": 0, "prev": max(t - 1, 0), "next": min(t + 1, last), "last": last}[to])
    st.session_state[K + "playing"] = False


def toggle_play(last: int) -> None:
    playing = not st.session_state.get(K + "playing", False)
    if playing and st.session_state[K + "t"] >= last:
        set_t(0)
    st.session_state[K + "playing"] = playing
    st.session_state[K + "last_tick"] = time.monotonic()


def slider_moved(key: str) -> None:
    if key == f"{K}slider_{st.session_state.get(K + 't_version', 0)}":   # else a replaced, stale slider
        st.session_state[K + "t"] = st.session_state[key]
        st.session_state[K + "playing"] = False


def new_editor(rows) -> None:
    st.session_state[K + "bits_base"] = list(rows)
    st.session_state[K + "editor_version"] = st.session_state.get(K + "editor_version", 0) + 1


def step_view(trace, teacher: bool) -> None:
    started = time.perf_counter()
    last, playing = trace.steps - 1, st.session_state.get(K + "playing", False)
    if playing != st.session_state.get(K + "ticking", False):     # start or stop the timer
        st.rerun()
    if playing:
        t, st.session_state[K + "last_tick"], playing = sv.play_tick(
            st.session_state[K + "t"], last, st.session_state.get(K + "last_tick", 0.0), time.monotonic(), PLAY_INTERVAL)
        if t != st.session_state[K + "t"]:
            set_t(t)
        if not playing:
            st.session_state[K + "playing"] = False
            st.rerun()
    t = st.session_state[K + "t"]
    cols = st.columns([1.25, 1.25, 1.25, 1.25, 1.35, 5], vertical_alignment="bottom")
    for col, (to, icon) in zip(cols, (("first", "first_page"), ("prev", "chevron_left"),
                                      ("next", "chevron_right"), ("last", "last_page"))):
        col.button(to.capitalize(), icon=f":material/{icon}:", key=K + to, on_click=go, args=(to, last),
                   disabled=t == (0 if to in ("first", "prev") else last), width="stretch",
                   type="primary" if to == "next" else "secondary")
    cols[4].button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                   key=K + "play", on_click=toggle_play, args=(last,), width="stretch")
    slider_key = f"{K}slider_{st.session_state.get(K + 't_version', 0)}"
    cols[5].slider("Timestep t", 0, last, value=t, key=slider_key, on_change=slider_moved, args=(slider_key,))
    st.query_params["t"] = str(t)
    st.session_state.setdefault(K + "url_written", {})["t"] = str(t)

    st.markdown(f"### t = {t} <span style='font-weight:400;font-size:0.7em'>{sv.step_caption(trace, t)}</span>",
                unsafe_allow_html=True)
    base = f"{trace.meta.get('preset', 'ntm')}-seed{trace.meta.get('seed')}-t{t}"
    chart(F.sequence_figure(trace, t), f"sequences-{base}", teacher, K + "fig_seq")
    for col, (figure, name, key) in zip(st.columns([1, 1, 2]), ((F.memory_figure, "memory", "fig_mem"), (
            F.memory_change_figure, "memory-change", "fig_dmem"), (F.weights_over_time_figure, "weights", "fig_wot"))):
        with col:
            chart(figure(trace, t), f"{name}-{base}", teacher, K + key)
    st.caption("Memory colours are fixed for the whole run (blue < 0 < red); weights use a fixed 0–1 scale, "
               "so a flat, unfocused weighting looks flat. Hover for exact values; the camera icon saves a PNG.")
    if F.is_dnc(trace):                      # its memory management, then its heads' stage tables
        dnc_view(trace, t, teacher, base)
    for i, head in enumerate([] if F.is_dnc(trace) else trace.heads):
        st.subheader(f"{head.name.capitalize()} head: how it addresses memory at t = {t}")
        stages = head.stages()
        params = F.stage_parameters(head, t)
        widths = F.stage_widths(head)             # the figure's panels line up with these columns
        for j, (col, stage) in enumerate(zip(st.columns(widths, gap="small"), stages)):
            with col:
                st.markdown(f"**{j + 1}. {stage.label}**")
                st.latex(r"\small " + stage.equation)
                param = params.get(stage.key)
                if param is not None and isinstance(param["value"], dict):
                    st.plotly_chart(F.shift_figure(head, t, height=140), key=f"{K}fig_shift_{i}",
                                    config=F.plotly_config(f"shift-{head.name}-{base}"))
                elif param is not None:
                    st.metric(param["label"], f"{param['value']:.4g}")
                if not teacher:
                    st.code(stage.code, language="python", wrap_lines=True)
        chart(F.addressing_figure(head, t, widths=widths), f"addressing-{head.name}-{base}", teacher,
              f"{K}fig_addr_{i}")
    st.subheader(f"Erase, add and read vectors at t = {t}")
    chart(F.vectors_figure(trace, t), f"vectors-{base}", teacher, K + "fig_vec")
    st.session_state[K + "view_ms"] = (time.perf_counter() - started) * 1000   # read by bench/bench_app.py


teacher = teacher_mode()
st.title("Step through an NTM or a DNC")
st.markdown("Pick a trained machine and a sequence, then move through time: every panel shows the same timestep **t**.")

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
asked = {k: st.query_params[k] for k in sv.URL_PARAMS if k in st.query_params}
if K + "preset" not in st.session_state or (asked and asked != st.session_state.get(K + "url_written")):
    view, warnings = sv.read_link(asked, ids, default_id)
    st.session_state.update({K + "preset": view.preset, K + "seed": view.seed, K + "length": view.length,
                             K + "source": "random", K + "url_bits": asked.get("bits"),
                             K + "url_t": asked.get("t"), K + "playing": False})
    set_t(0)
if st.session_state[K + "preset"] not in ids:            # the preset went away since
    st.session_state[K + "preset"] = default_id

cols = st.columns([3, 2, 1.2, 1.2]) if not teacher else st.columns([3, 1.2, 1.2, 2])
cols[0].selectbox("Preset", ids, key=K + "preset", format_func=lambda i: f"{i} — {by_id[i].summary}",
                  persist_state="session")
if others:
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

if not teacher:
    d1, d2 = st.columns([1, 3], vertical_alignment="center")
    d1.download_button("Download the trace (JSON)", data=trace.to_json, mime="application/json",
                       file_name=f"trace-{entry.id}-seed{seed}-len{length}.json", on_click="ignore",
                       key=K + "download", icon=":material/download:")
    d2.caption(f"{trace.steps} timesteps · {task.name} task · {trace.bit_errors()} bit errors in total. The JSON "
               "holds every recorded quantity; reload it with `ntm.trace.Trace.from_json`.")

st.session_state[K + "ticking"] = playing = st.session_state.get(K + "playing", False)
st.fragment(run_every=PLAY_INTERVAL if playing else None)(step_view)(trace, teacher)
