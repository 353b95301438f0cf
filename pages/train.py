"""Train: an NTM, the LSTM baseline or a (sparse) DNC on one of the paper's tasks, in the background.

Inputs → ``ntm.training.resolve_params`` (validation) → ``ntm.jobs.start_job`` (a process of its own); the
lecture demo starts ``ntm.recipes.LECTURE_DEMO``. Picking a task (for an NTM) fills the form with its five-minute
recipe (``ntm.recipes.task_recipe``), whose other settings (optimiser, compile, time limit) the job takes unless
unticked. The chosen job's panel sits at the top (the page scrolls to it after a start), read from the job folders
(``ntm.jobs``) in a fragment that reruns every ``POLL_SECONDS`` while a job is active; figures come from
``ntm.figures.training``. Start, cancel, resume and remove are ``on_click`` callbacks that ``flash`` their message.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import streamlit as st

from ntm import jobs
from ntm.device import device_choices
from ntm.figures.training import curves_figure, format_duration, sample_figure
from ntm.recipes import LECTURE_DEMO, recipe_spec, task_recipe
from ntm.tasks import TASKS, task_params
from ntm.training import TrainSettings, resolve_params, valid_param_keys
from pages._shared import flash, page_link, plain, show_flashes, teacher_mode

POLL_SECONDS = 1.5
RERUN_KEY = "train_rerun"       # set by a job button: the fragment then reruns the whole page (messages)
REPORT_INTERVAL, CHECKPOINT_INTERVAL = 50, 200      # the form's defaults (fixed in teacher mode)
SMOOTH_REPORTS = 10             # the curves' moving-average window, when smoothing is on
SCROLL_KEY = "train_scroll"     # set by a start: the next run scrolls the page (the component's parent) to the panel
SCROLL_SCRIPT = "<script>window.parent.document.getElementById('current-job')?.scrollIntoView();</script>"
MODEL_LABELS = {"ntm": "NTM", "lstm": "LSTM baseline", "dnc": "DNC", "sdnc": "Sparse DNC"}
STATE_ICONS = {state: f":material/{icon}:" for state, icon in {
    "starting": "hourglass_top", "running": "play_circle", "stopping": "stop_circle", "saving": "save", "done":
    "check_circle", "cancelled": "cancel", "interrupted": "warning", "failed": "error", "diverged": "warning"}.items()}
# Model fields the form shows, with (min, max) from ntm.jobs.LIMITS.
MODEL_FIELDS = {"ntm": {"controller_size": "Controller size", "memory_slots": "Memory slots (N)",
                        "memory_width": "Memory width (M)"},
                "lstm": {"hidden_size": "Hidden units per layer", "layers": "LSTM layers"}}
MODEL_FIELDS["dnc"] = MODEL_FIELDS["sdnc"] = {"hidden_size": "Controller size", "nr_cells": "Memory cells (N)",
                                              "cell_size": "Cell size (W)", "read_heads": "Read heads (R)"}


def limits(key: str, kind: type = int) -> dict:
    return dict(zip(("min_value", "max_value"), map(kind, jobs.LIMITS[key])))


def task_title(name: str) -> str:
    return TASKS[name].title if name in TASKS else name


def form_defaults() -> None:
    """on_change of the task and the model (and the first run): the task's recipe's settings, or the defaults."""
    state = st.session_state
    recipe = task_recipe(state.get("train_task", "copy")) if state.get("train_model", "ntm") == "ntm" else None
    s = recipe.spec.settings if recipe else TrainSettings(num_batches=2000)
    state.update(train_batch_size=s.batch_size, train_num_batches=s.num_batches, train_lr=float(s.lr),
                 train_recipe=recipe is not None)


def start(task: str | None = None, model_type: str = "", widget_keys: dict | None = None, name_key: str = "",
          advanced: bool = False) -> None:
    """on_click of "Start training": the form's values (``widget_keys``: parameter -> widget key) over the ticked
    recipe's, or without a task the lecture demo (``ntm.recipes``); the new job is chosen and scrolled to."""
    state = st.session_state
    recipe = task_recipe(task) if task and model_type == "ntm" and state.get("train_recipe") else None
    base, model = (asdict(recipe.spec.settings), recipe.spec.model) if recipe else ({}, {})
    pairs = [f"{k}={v}" for k, v in model.items()] + [f"{p}={state[k]}" for p, k in (widget_keys or {}).items()]
    try:
        if task is None:
            job = jobs.start_job(recipe_spec(LECTURE_DEMO.name), jobs.free_preset_name(LECTURE_DEMO.name),
                                 name=LECTURE_DEMO.name)
        else:
            every = {k: int(state[f"train_{k}"]) for k in ("report_interval", "checkpoint_interval") if advanced}
            spec = resolve_params(task, model_type, pairs, settings_overrides={
                "report_interval": REPORT_INTERVAL, "checkpoint_interval": CHECKPOINT_INTERVAL, **base, **every,
                "batch_size": int(state["train_batch_size"]), "num_batches": int(state["train_num_batches"]),
                "lr": float(state["train_lr"]), "device": state.get("train_device", "cpu")})
            spec.seed = int(state["train_seed"])
            job = jobs.start_job(spec, state[name_key])
    except ValueError as exc:               # resolve_params and jobs.JobError: one line saying what to fix
        flash(f"Not started: {plain(exc, 400)}", "error")
        return
    flash(f"Started job {job.id}." + (" The lecture demo: watch the cost fall." if task is None else ""))
    state["train_job"], state[SCROLL_KEY] = job.id, True
    state["train_starts"] = state.get("train_starts", 0) + 1     # a fresh preset-name box (and name)


def cancel(job_id: str) -> None:
    """on_click of "Cancel": the job checkpoints and stops (this waits for it)."""
    with st.spinner("Stopping: the job writes a checkpoint first…"):
        job = jobs.cancel_job(job_id)
    flash(f"Job {job.state}: {job.message}" if job.message else f"Job {job.state}.", "info")
    st.session_state[RERUN_KEY] = True


def resume(job_id: str, lr: float | None = None) -> None:
    """on_click of "Resume": from the last checkpoint up to the total batches asked (after a divergence, at ``lr``)."""
    try:
        jobs.resume_job(job_id, num_batches=int(st.session_state[f"resume-total-{job_id}"]), lr=lr)
    except jobs.JobError as exc:
        flash(f"Not resumed: {plain(exc, 400)}", "error")
    else:
        flash("Resumed from the last checkpoint.")
    st.session_state[RERUN_KEY] = True


def remove(job_id: str) -> None:
    """on_click of "Remove job": delete its folder (a saved preset stays)."""
    try:
        jobs.remove_job(job_id)
    except jobs.JobError as exc:
        flash(f"Not removed: {plain(exc, 400)}", "error")
    else:
        flash("Job removed (its preset, if it saved one, stays).")
        st.session_state.pop("train_job", None)
    st.session_state[RERUN_KEY] = True


def job_panel(job: jobs.Job) -> None:
    st.markdown(f"{STATE_ICONS.get(job.state, '')} **{job.state}** · {task_title(job.task)} · "
                f"{MODEL_LABELS[job.model_type]} · preset `{job.preset_name}`")
    eta = f" · ETA {format_duration(job.eta_seconds)}" if job.state == "running" else ""
    st.progress(job.fraction, text=f"{job.fraction:.0%} · {job.sequences:,} of {job.total_sequences:,} "
                                   f"sequences · batch {job.batches:,} of {job.num_batches:,}{eta}")
    if job.state == "failed":
        st.error(f"Failed: {job.message}")
        st.code(job.log_tail() or "(the log is empty)", language="text")
    elif job.state in ("interrupted", "diverged"):
        st.warning(job.message)
    elif job.state == "done" and job.preset_saved:
        st.success(f"Saved as preset **{job.preset_name}**.")
        if job.model_type != "lstm":        # machines with a memory can be stepped through; all compared
            page_link("step_through", f"Step through {job.preset_name}", {"preset": job.preset_name})
        page_link("generalisation", "Compare on the Generalisation page")
    elif job.state == "done":
        st.warning(f"{job.message}, but the preset folder is gone (deleted?).")
    elif job.message:
        st.caption(job.message)

    if job.active:
        st.button("Cancel", key=f"cancel-{job.id}", icon=":material/stop:", on_click=cancel, args=(job.id,))
    else:
        c_resume, c_total, c_remove = st.columns([1, 1, 2], vertical_alignment="bottom") if job.resumable \
            else (None, None, st.container())
        if job.resumable:
            c_total.number_input("Total batches", value=job.num_batches, step=100, min_value=max(job.batches, 1),
                                 max_value=int(jobs.LIMITS["num_batches"][1]), key=f"resume-total-{job.id}",
                                 help="Resume trains up to this many batches in all.")
            half = job.spec["settings"]["lr"] / 2 if job.state == "diverged" else None
            c_resume.button("Resume with half the learning rate" if half else "Resume", key=f"resume-{job.id}",
                            icon=":material/play_arrow:", type="primary", on_click=resume, args=(job.id, half),
                            help="Continue from the last (good) checkpoint, up to the total batches beside")
        c_remove.button("Remove job", key=f"remove-{job.id}", icon=":material/delete:",
                        help="Delete the job's folder (a saved preset stays)", on_click=remove, args=(job.id,))

    page_link("observatory", "Watch and compare in the Observatory", {"job": job.id})
    c_curves, c_sample = st.columns([3, 2])
    smooth = SMOOTH_REPORTS if st.session_state.get("train_smooth") else 0
    c_curves.plotly_chart(curves_figure(job.metrics(), smooth=smooth), key=f"curves-{job.id}")
    c_sample.plotly_chart(sample_figure(job.sample()), key=f"sample-{job.id}")
    if job.state != "failed":
        st.expander("Log").code(job.log_tail(40) or "(empty)", language="text")


def jobs_section(polling: bool) -> None:
    """The chosen job's panel, then every job (a fragment: it reruns alone while it polls)."""
    all_jobs = jobs.list_jobs()
    if st.session_state.pop(RERUN_KEY, False) or any(j.active for j in all_jobs) != polling:
        st.rerun()                          # show the messages; start or stop polling (redefines the fragment)
    head, smooth, refresh = st.columns([4, 2, 1], vertical_alignment="bottom")
    head.subheader("Current job", anchor="current-job")
    smooth.toggle("Smooth the curves", key="train_smooth",
                  help=f"A moving average over the last {SMOOTH_REPORTS} reports, over the raw values drawn faint.")
    refresh.button("Refresh", icon=":material/refresh:", key="train_refresh",
                   help="Jobs started in other tabs appear here; running jobs refresh by themselves.")
    if not all_jobs:
        st.info("No jobs yet: start the lecture demo above or a job of your own below.")
        return
    by_id = {j.id: j for j in all_jobs}
    if st.session_state.get("train_job") not in by_id:
        st.session_state["train_job"] = all_jobs[0].id
    job_panel(by_id[st.selectbox("Job", list(by_id), key="train_job", format_func=lambda i: f"{by_id[i].name} "
                                 f"(started {time.strftime('%H:%M', time.localtime(by_id[i].created))})")])
    with st.expander(f"All jobs ({len(all_jobs)})"):
        st.dataframe([{"job": j.name, "state": j.state, "progress": f"{j.fraction:.0%}",
                       "task": j.task, "model": MODEL_LABELS[j.model_type], "preset": j.preset_name,
                       "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))} for j in all_jobs],
                     hide_index=True, key="train_table")


# ---- the page -----------------------------------------------------------------------------------
st.session_state.pop(RERUN_KEY, None)      # this is the whole-page run a job button asked for
show_flashes()      # app.py has drawn them already, unless this page runs on its own (AppTest does)
st.title("Train")
st.markdown(
    "Train an NTM, the paper's LSTM baseline or a (sparse) DNC on one of the paper's tasks, in a process of its "
    "own: keep exploring, reload or close the tab. **Cost** is what the paper plots: binary cross-entropy summed "
    "over a sequence's output bits, in bits. A finished job is evaluated on longer sequences and saved as a preset.")
c_demo, c_about = st.columns([1, 2], vertical_alignment="center")
c_demo.button(LECTURE_DEMO.title, type="primary", icon=":material/school:", key="train_demo", on_click=start,
              use_container_width=True)
c_about.caption(LECTURE_DEMO.description)
polling = any(j.active for j in jobs.list_jobs())
st.fragment(jobs_section, run_every=POLL_SECONDS if polling else None)(polling)
if st.session_state.pop(SCROLL_KEY, False):
    st.iframe(SCROLL_SCRIPT, height=1)

st.subheader("New job")
if "train_batch_size" not in st.session_state:      # the first run (or back from another page)
    form_defaults()
c_task, c_model = st.columns([2, 1])
task = c_task.selectbox("Task", list(TASKS), format_func=task_title, key="train_task", on_change=form_defaults)
model_type = c_model.radio("Model", list(MODEL_LABELS), format_func=MODEL_LABELS.get, horizontal=True,
                           key="train_model", on_change=form_defaults)
defaults = valid_param_keys(task, model_type)
recipe = task_recipe(task) if model_type == "ntm" else None     # its settings are the form's defaults
advanced = not teacher_mode()
widget_keys = {key: f"train_{model_type}_{key}" for key in MODEL_FIELDS[model_type]}
widget_keys.update({key: f"train_{task}_{key}" for key in task_params(task)})

with st.form("new_job"):
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input("Batch size", step=1, **limits("batch_size"), key="train_batch_size")
    c2.number_input("Batches", step=100, **limits("num_batches"),
                    help="Sequences seen = batches × batch size.", key="train_num_batches")
    c3.number_input("Learning rate", step=1e-4, format="%.4f", **limits("lr", float), key="train_lr")
    c4.number_input("Seed", value=1000, step=1, min_value=0, max_value=2**31 - 1, key="train_seed")
    c5.selectbox("Device", device_choices(), key="train_device",
                 help="Where the job trains: cpu, or a GPU (cuda, cuda:N) when torch sees one on this machine.")
    if recipe:
        st.checkbox(f"Recipe **{recipe.name}**: {recipe.spec.settings.optimizer}, compiled, stops after "
                    f"{recipe.spec.settings.max_seconds:g} s", key="train_recipe", help=recipe.description)
    for col, (key, label) in zip(st.columns(4), MODEL_FIELDS[model_type].items()):
        col.number_input(label, value=int(defaults["model"][key]), step=1, **limits(key), key=widget_keys[key])
    params = task_params(task)
    for col, (key, (_, default)) in zip(st.expander("Task parameters").columns(len(params)), params.items()):
        col.number_input(key, value=int(default), step=1, min_value=1, key=widget_keys[key])
    if advanced:
        r1, r2 = st.expander("Reporting and checkpoints").columns(2)
        r1.number_input("Report every (batches)", value=REPORT_INTERVAL, step=10, **limits("report_interval"),
                        key="train_report_interval", help="A point on the curves and a fresh sample prediction.")
        r2.number_input("Checkpoint every (batches)", value=CHECKPOINT_INTERVAL, step=100,
                        **limits("checkpoint_interval"), key="train_checkpoint_interval",
                        help="A kill loses at most this much progress; 0: only at the end.")
    name_key = f"train_preset_name_{task}_{model_type}_{st.session_state.get('train_starts', 0)}"   # new per start
    st.text_input("Save as preset", value=jobs.free_preset_name(f"my-{task}-{model_type}"), key=name_key,
                  help="Letters, digits, '-', '_' or '.'; not the name of an existing preset.")
    st.form_submit_button("Start training", type="primary", on_click=start,
                          args=(task, model_type, widget_keys, name_key, advanced))
