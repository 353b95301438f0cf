"""Observatory: training runs (jobs and presets) watched and compared.

Job folders and presets → ``ntm.observatory`` (runs as plain rows, output histories, a live trace
of a job's latest checkpoint) → ``ntm.figures.observatory`` (curves overlaid, cost by length, the
outputs over training as a slider and animation) and ``ntm.figures.step`` (memory and weightings).
The look inside a job is a fragment that reruns every ``LIVE_SECONDS`` while the job is active.
"""

from __future__ import annotations

import streamlit as st

from ntm import observatory as obs
from ntm.figures.common import enlarge, plotly_config
from ntm.figures.observatory import history_figure, learning_curves_figure, length_cost_figure
from ntm.figures.step import memory_figure, weights_over_time_figure
from ntm.jobs import ACTIVE_STATES
from ntm.tasks import TASKS
from pages._shared import page_link, plain, show_flashes, teacher_mode

LIVE_SECONDS = 3.0
MAX_DEFAULT_RUNS = 8             # runs chosen when a task is first opened
WITH_MEMORY = ("ntm", "dnc", "sdnc")


@st.cache_resource(show_spinner=False, max_entries=8)
def live_trace(job_dir: str, stamp: int, length: int | None):
    """The job's checkpoint as of ``stamp`` (checkpoint.json's mtime) on the fixed example."""
    return obs.live_trace(job_dir, length)


def checkpoint_stamp(run: obs.Run) -> int:
    try:
        return (run.folder / "checkpoint.json").stat().st_mtime_ns
    except OSError:
        return 0


def task_title(name: str) -> str:
    return TASKS[name].title if name in TASKS else name


def run_name(run: obs.Run) -> str:
    return run.label if run.source == "preset" else f"{run.label} · {run.state}"


def show(fig, key: str, teacher: bool, filename: str) -> None:
    st.plotly_chart(enlarge(fig) if teacher else fig, key=key, config=plotly_config(filename))


def live_panel(run: obs.Run, length: int | None, teacher: bool) -> None:
    """Memory and head weightings of the job's latest checkpoint on the fixed example."""
    try:
        trace = live_trace(str(run.folder), checkpoint_stamp(run), length)
    except obs.ObservatoryError as exc:
        st.info(plain(exc, 300))
        return
    t = trace.steps - 1
    st.caption(f"Checkpoint at batch {int(trace.meta.get('batches') or 0):,}, on a fixed example of length "
               f"{trace.meta.get('length')}: {trace.bit_errors()} bit errors. "
               + ("Refreshed every few seconds while the job trains." if run.state in ACTIVE_STATES else ""))
    c_memory, c_weights = st.columns(2)
    with c_memory:
        show(memory_figure(trace, t, height=420), "obs_live_memory", teacher, "live-memory")
    with c_weights:
        show(weights_over_time_figure(trace, t, height=420), "obs_live_weights", teacher, "live-weightings")


# ---- the page -----------------------------------------------------------------------------------
show_flashes()      # app.py has drawn them already, unless this page runs on its own (AppTest does)
teacher = teacher_mode()
st.title("Observatory")
st.markdown(
    "Watch training runs and compare them: your jobs (running or finished, a sweep's runs among them) "
    "and the presets' saved curves. The paper plots **cost per sequence** (binary cross-entropy summed "
    "over a sequence's output bits, in bits) against the number of **sequences seen**; here the NTM, its "
    "feed-forward variant, the DNC and the LSTM baseline can be laid over each other, several seeds each.")

all_runs = obs.list_runs()
tasks = sorted({r.task for r in all_runs}, key=lambda t: list(TASKS).index(t) if t in TASKS else len(TASKS))
if not tasks:
    st.info("No runs yet: start a job on the Train page, and come back to watch it learn.")
    page_link("train", "Train a model")
    st.stop()
wanted = st.query_params.get("job")
if "obs_task" not in st.session_state:          # a link from a job's panel opens its task
    job_task = next((r.task for r in all_runs if r.key == f"job:{wanted}"), None)
    st.session_state["obs_task"] = job_task if job_task in tasks else ("copy" if "copy" in tasks else tasks[0])
task = st.selectbox("Task", tasks, format_func=task_title, key="obs_task")
runs = [r for r in all_runs if r.task == task]
by_key = {r.key: r for r in runs}
c_runs, c_log = st.columns([5, 1], vertical_alignment="bottom")
chosen = c_runs.multiselect("Runs", list(by_key), default=list(by_key)[:MAX_DEFAULT_RUNS],
                            format_func=lambda k: run_name(by_key[k]), key=f"obs_runs_{task}",
                            help="Jobs (newest first), then presets. Runs of one model share a colour.")
log_y = c_log.toggle("Log scale", value=False, key="obs_log")
selected = [by_key[k] for k in chosen if k in by_key]

st.subheader("Learning curves")
if not selected:
    st.info("Choose one or more runs above.")
    st.stop()
show(learning_curves_figure(obs.curve_rows(selected), log_y=log_y), "obs_curves", teacher, "learning-curves")
st.caption("Each point is the mean over one report's batches. A curve that stops early belongs to a run "
           "still training, cancelled or diverged; the Train page says which.")

st.subheader("Cost by sequence length")
st.markdown("Lengths are drawn at random in training; the cost of each length shows what the model "
            "learns first (pytorch-ntm's copy figure: short sequences are copied long before long ones).")
c_run, c_kind = st.columns([3, 2], vertical_alignment="bottom")
length_run = by_key[c_run.selectbox("Run", [r.key for r in selected], format_func=lambda k: run_name(by_key[k]),
                                    key="obs_length_run")]
kind = c_kind.radio("Draw as", ["heatmap", "lines"], horizontal=True, key="obs_length_kind",
                    format_func={"heatmap": "lengths × sequences", "lines": "a line per length"}.get)
show(length_cost_figure(obs.length_rows(length_run), kind=kind, log_z=log_y), "obs_lengths", teacher,
     "cost-by-length")

st.subheader("Outputs over training")
histories = {r.key: h for r in selected if (h := obs.history(r))}
if not histories:
    st.info("None of the chosen runs kept its outputs over training: jobs do (presets keep only the curve). "
            "Choose a job above, or start one on the Train page.")
else:
    history_run = by_key[st.selectbox("Run", list(histories), format_func=lambda k: run_name(by_key[k]),
                                      key="obs_history_run")]
    history = histories[history_run.key]
    st.markdown("The same fixed inputs, answered at every report: move the slider, or press ▶ Play to "
                "watch the answer form (pytorch-ntm's training animations). The second is longer than "
                "any sequence seen in training.")
    for i, (column, example) in enumerate(zip(st.columns(len(history["examples"])), history["examples"])):
        longest = i == 0
        with column:
            st.markdown(f"**{'Longest training length' if longest else 'Longer than training'}: "
                        f"{example['length']}**")
            show(history_figure(history, i), f"obs_history_{i}", teacher, f"outputs-length-{example['length']}")

st.subheader("Look inside a job")
inside = [r for r in runs if r.source == "job" and r.model_type in WITH_MEMORY]
if not inside:
    st.info("The memory and head weightings of a job's latest checkpoint are shown here: start an NTM or "
            "DNC job on the Train page.")
    page_link("train", "Train a model")
    st.stop()
keys = [r.key for r in inside]
if wanted and f"job:{wanted}" in keys and "obs_inside" not in st.session_state:
    st.session_state["obs_inside"] = f"job:{wanted}"
c_job, c_len = st.columns([3, 2], vertical_alignment="bottom")
inside_run = by_key[c_job.selectbox("Job", keys, format_func=lambda k: run_name(by_key[k]), key="obs_inside")]
lengths = {"training": None}
longer = obs.history(inside_run)
if longer and len(longer["examples"]) > 1:
    lengths["longer"] = longer["examples"][1]["length"]
which = c_len.radio("Example", list(lengths), horizontal=True, key="obs_inside_length",
                    format_func={"training": "longest training length", "longer": "longer"}.get)
active = inside_run.state in ACTIVE_STATES
st.fragment(live_panel, run_every=LIVE_SECONDS if active else None)(inside_run, lengths.get(which), teacher)
