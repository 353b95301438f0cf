"""Step through: run a preset on one sequence and follow it timestep by timestep.

Inputs (preset, a random sequence from a seed and length, or the user's own bits) -> one
``Trace`` computed once and cached -> figure functions at timestep t -> layout. Everything
that defines the view lives in the URL (``?preset=&seed=&length=&t=&bits=&teacher=1``), so a
pasted link reproduces it. Only the step view (a fragment) reruns when t moves.

Presets come from ``presets/`` (or ``$NTM_EXPLORER_PRESETS``, for tests) and then the user's
presets under ``$NTM_EXPLORER_DATA/presets``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ntm import figures as F
from ntm.presets import PRESETS_DIR, BundleError, list_presets, load_preset, user_presets_dir
from ntm.trace import Trace, record

PRESETS_ENV = "NTM_EXPLORER_PRESETS"   # overrides the built-in presets folder (tests)
DEFAULT_PRESET = "copy"
DEFAULT_SEED, DEFAULT_LENGTH = 0, 10
MAX_LENGTH = 64                        # sequence length knob; a copy episode has 2L+1 steps
MAX_SEED = 2**31 - 1
EDITABLE_TASKS = ("copy", "repeat-copy")   # tasks whose input is a plain sequence of bit vectors
PLAY_INTERVAL = 0.7                    # seconds per timestep while playing
SOURCES = {"random": "Random sequence", "bits": "My own bits"}
URL_PARAMS = ("preset", "seed", "length", "t", "bits")   # the view, as the URL holds it
K = "st_"                              # prefix of this page's session-state keys
PARAMETER_NAMES = {"beta": "β, key strength", "g": "g, interpolation gate", "gamma": "γ, sharpening"}


# ---- presets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PresetChoice:
    id: str                  # what the URL and the select box hold
    path: Path
    model_type: str | None   # None when config.json cannot be read (loading says why)
    summary: str


def _summary(config: dict) -> str:
    task = config.get("task", {}).get("name", "?")
    model = config.get("model", {})
    if config.get("model_type") == "ntm":
        return (f"{task} · NTM, {model.get('memory_slots', '?')}×{model.get('memory_width', '?')} "
                f"memory, heads {model.get('heads', '?')}")
    return f"{task} · {config.get('model_type', '?')}"


def discover_presets() -> list[PresetChoice]:
    """Built-in presets first, then the user's; a user preset whose name is taken is 'user:<name>'."""
    builtin = Path(os.environ.get(PRESETS_ENV) or PRESETS_DIR)
    found, ids = [], set()
    for root, prefix in ((builtin, ""), (user_presets_dir(), "user:")):
        for path in list_presets(root):
            pid = path.name if path.name not in ids else prefix + path.name
            try:
                config = json.loads((path / "config.json").read_text(encoding="utf-8"))
                model_type, summary = config.get("model_type"), _summary(config)
            except (OSError, ValueError, AttributeError):
                model_type, summary = None, "config.json unreadable"
            ids.add(pid)
            found.append(PresetChoice(pid, path, model_type, summary))
    return found


def _stamp(path: Path) -> tuple:
    """Changes whenever the preset's files change, so caches never serve a stale model."""
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(path.iterdir()) if p.is_file())


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(path: str, stamp: tuple):
    return load_preset(path)


# ---- episodes and traces -------------------------------------------------------------------------

def random_bits(task, seed: int, length: int) -> list[str]:
    """The sequence the task draws for (seed, length), as rows of '0'/'1'."""
    batch = task.sample(1, torch.Generator().manual_seed(seed), length=length)
    seq = batch.inputs[0, :length, :task.seq_width].to(torch.int64).tolist()
    return ["".join(str(b) for b in row) for row in seq]


def episode(task, seed: int, length: int, bits: tuple[str, ...] | None):
    """One episode (batch of 1): drawn from the seed, with the user's bits if given.

    With bits, an episode of the same length is drawn (so repeat-copy keeps the seed's repeat
    count) and its sequence is replaced, in the inputs and wherever the targets replay it.
    """
    gen = torch.Generator().manual_seed(seed)
    if bits is None:
        return task.sample(1, gen, length=length)
    seq = torch.tensor([[float(c) for c in row] for row in bits])          # [L, W]
    L, W = seq.shape
    batch = task.sample(1, gen, length=L)
    batch.inputs[0, :L, :W] = seq
    if task.name == "copy":
        batch.targets[0, L + 1:2 * L + 1, :W] = seq
    elif task.name == "repeat-copy":
        answer = int(batch.mask[0].sum()) - 1            # L * r steps, then the end marker
        j = torch.arange(answer)
        batch.targets[0, L + 2:L + 2 + answer, :W] = seq[j % L]
    else:
        raise ValueError(f"editing bits is not supported for the {task.name} task")
    return batch


@st.cache_resource(max_entries=32, show_spinner="Running the machine on the sequence…")
def compute_trace(path: str, stamp: tuple, preset_id: str, seed: int, length: int,
                  bits: tuple[str, ...] | None) -> Trace:
    """The trace for one input: computed once per (preset files, seed, length, bits)."""
    preset = _load(path, stamp)
    batch = episode(preset.task, seed, length, bits)
    meta = {"preset": preset_id, "task": preset.task.name, "seed": seed, "length": length,
            "bits": ".".join(bits) if bits else None, "config": preset.config.get("model")}
    return record(preset.model, batch.inputs, batch.targets, batch.mask, meta=meta)


# ---- URL state ---------------------------------------------------------------------------------

def parse_bits(text: str, width: int) -> tuple[tuple[str, ...] | None, str | None]:
    """'0110.1001' -> rows, or (None, what is wrong). Rows are joined by '.' or '-'."""
    rows = [r for r in text.replace("-", ".").split(".")]
    if not text or any(not r for r in rows):
        return None, "it has an empty row"
    bad = sorted({c for r in rows for c in r} - {"0", "1"})
    if bad:
        return None, f"it contains {', '.join(repr(c) for c in bad)}; only 0 and 1 are bits"
    widths = sorted({len(r) for r in rows})
    if widths != [width]:
        return None, f"its rows have {', '.join(map(str, widths))} bits, but this preset's vectors have {width}"
    if len(rows) > MAX_LENGTH:
        return None, f"it has {len(rows)} rows; at most {MAX_LENGTH} are allowed"
    return tuple(rows), None


def bits_from_table(table: pd.DataFrame, width: int) -> tuple[tuple[str, ...] | None, str | None]:
    """Validate the edited grid: every cell 0 or 1, exactly ``width`` columns, 1..MAX_LENGTH rows."""
    if table.shape[1] != width:
        return None, f"The grid has {table.shape[1]} columns, but this preset's vectors have {width} bits."
    if not 1 <= len(table) <= MAX_LENGTH:
        return None, f"The sequence needs between 1 and {MAX_LENGTH} rows; it has {len(table)}."
    rows = []
    for i, (_, row) in enumerate(table.iterrows()):
        cells = []
        for col, v in row.items():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return None, f"Row {i} has an empty cell in column '{col}'. Fill it with 0 or 1."
            try:
                x = float(v)
            except (TypeError, ValueError):
                return None, f"Row {i}, column '{col}' holds {v!r}; bits must be 0 or 1."
            if x not in (0.0, 1.0):
                return None, f"Row {i}, column '{col}' holds {v!r}; bits must be 0 or 1."
            cells.append(str(int(x)))
        rows.append("".join(cells))
    return tuple(rows), None


def _int_param(name: str, lo: int, hi: int, warnings: list[str]) -> int | None:
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        warnings.append(f"The link's `{name}={raw}` is not a whole number; using the default.")
        return None
    if not lo <= value <= hi:
        warnings.append(f"The link's `{name}={value}` is outside {lo}…{hi}; using the default.")
        return None
    return value


def _why_not(name: str) -> str:
    """Why a folder named ``name`` under a presets root is not listed, if there is one."""
    for root in (Path(os.environ.get(PRESETS_ENV) or PRESETS_DIR), user_presets_dir()):
        folder = root / name.removeprefix("user:")
        if name and "/" not in name and folder.is_dir():
            try:
                preset = load_preset(folder)
            except BundleError as exc:
                return f": {exc}"
            if preset.model_type != "ntm":
                return f": it is an {preset.model_type.upper()} model, which has no memory or heads to step through"
    return ""


def init_from_url(choices: list[PresetChoice], default_id: str, warnings: list[str]) -> None:
    """Set this page's widget state from the query parameters, once per session (or after the
    widgets were dropped), reporting every parameter that cannot be used."""
    ids = [c.id for c in choices]
    preset = st.query_params.get("preset")
    if preset is not None and preset not in ids:
        known = ", ".join(ids) or "none"
        warnings.append(f"The link's preset `{preset}` is not an available NTM preset{_why_not(preset)} "
                        f"(available: {known}); showing `{default_id}` instead.")
        preset = None
    st.session_state[K + "preset"] = preset or default_id
    seed = _int_param("seed", 0, MAX_SEED, warnings)
    st.session_state[K + "seed"] = DEFAULT_SEED if seed is None else seed
    length = _int_param("length", 1, MAX_LENGTH, warnings)
    st.session_state[K + "length"] = DEFAULT_LENGTH if length is None else length
    st.session_state[K + "source"] = "random"
    st.session_state[K + "url_bits"] = st.query_params.get("bits")
    st.session_state[K + "url_t"] = st.query_params.get("t")
    set_t(0)
    st.session_state[K + "playing"] = False


# ---- the step view (a fragment: only it reruns when t moves) ---------------------------------------

# The timestep lives in K + "t" (plain session state), not in the slider's widget state. The
# slider gets a new key whenever the server moves t (a button, a timer tick), so a click sent by
# a browser that has not yet received the last step carries the old slider's value, which is
# ignored, instead of pulling t back.

def set_t(t: int) -> None:
    st.session_state[K + "t"] = int(t)
    st.session_state[K + "t_version"] = st.session_state.get(K + "t_version", 0) + 1


def _go(to: str, last: int) -> None:
    t = st.session_state[K + "t"]
    set_t({"first": 0, "prev": max(t - 1, 0), "next": min(t + 1, last), "last": last}[to])
    st.session_state[K + "playing"] = False


def _toggle_play(last: int) -> None:
    playing = not st.session_state.get(K + "playing", False)
    if playing and st.session_state[K + "t"] >= last:
        set_t(0)
    st.session_state[K + "playing"] = playing
    st.session_state[K + "last_tick"] = time.monotonic()


def _slider_moved(key: str) -> None:
    if key != f"{K}slider_{st.session_state.get(K + 't_version', 0)}":
        return              # a slider the server has replaced since: its value is stale
    st.session_state[K + "t"] = st.session_state[key]
    st.session_state[K + "playing"] = False


def _chart(fig, name: str, teacher: bool, key: str) -> None:
    if teacher:
        F.enlarge(fig)
    st.plotly_chart(fig, config=F.plotly_config(name), key=key)


def step_view(trace: Trace, teacher: bool, show_code: bool) -> None:
    started = time.perf_counter()
    last = trace.steps - 1
    playing = st.session_state.get(K + "playing", False)
    ticking = st.session_state.get(K + "ticking", False)
    if playing != ticking:                      # start or stop the timer: redefine the fragment
        st.rerun()
    if playing:
        now = time.monotonic()
        if now - st.session_state.get(K + "last_tick", 0.0) >= 0.8 * PLAY_INTERVAL:
            st.session_state[K + "last_tick"] = now
            if st.session_state[K + "t"] < last:
                set_t(st.session_state[K + "t"] + 1)
        if st.session_state[K + "t"] >= last:
            st.session_state[K + "playing"] = False
            st.rerun()

    t = st.session_state[K + "t"]
    cols = st.columns([1.25, 1.25, 1.25, 1.25, 1.35, 5], vertical_alignment="bottom")
    cols[0].button("First", icon=":material/first_page:", key=K + "first", on_click=_go, args=("first", last),
                   disabled=t == 0, width="stretch")
    cols[1].button("Prev", icon=":material/chevron_left:", key=K + "prev", on_click=_go, args=("prev", last),
                   disabled=t == 0, width="stretch")
    cols[2].button("Next", icon=":material/chevron_right:", key=K + "next", on_click=_go, args=("next", last),
                   disabled=t == last, width="stretch", type="primary")
    cols[3].button("Last", icon=":material/last_page:", key=K + "last", on_click=_go, args=("last", last),
                   disabled=t == last, width="stretch")
    cols[4].button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                   key=K + "play", on_click=_toggle_play, args=(last,), width="stretch")
    slider_key = f"{K}slider_{st.session_state.get(K + 't_version', 0)}"
    cols[5].slider("Timestep t", 0, last, value=t, key=slider_key, on_change=_slider_moved, args=(slider_key,))
    st.query_params["t"] = str(t)
    st.session_state.setdefault(K + "url_written", {})["t"] = str(t)

    scored = bool(trace.mask[t])
    phase = "answer phase: the output is scored" if scored else "input phase: the output is not scored"
    errors = int(trace.bit_errors_per_step()[t])
    st.markdown(f"### t = {t} <span style='font-weight:400;font-size:0.7em'>of {last} · {phase}"
                f"{f' · {errors} wrong bit' + ('s' if errors != 1 else '') if scored else ''}</span>",
                unsafe_allow_html=True)

    base = f"{trace.meta.get('preset', 'ntm')}-seed{trace.meta.get('seed')}-t{t}"
    _chart(F.sequence_figure(trace, t), f"sequences-{base}", teacher, K + "fig_seq")
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        _chart(F.memory_figure(trace, t), f"memory-{base}", teacher, K + "fig_mem")
    with c2:
        _chart(F.memory_change_figure(trace, t), f"memory-change-{base}", teacher, K + "fig_dmem")
    with c3:
        _chart(F.weights_over_time_figure(trace, t), f"weights-{base}", teacher, K + "fig_wot")
    st.caption("Memory colours are fixed for the whole run (blue < 0 < red); weights use a fixed 0–1 scale, "
               "so a flat, unfocused weighting looks flat. Hover for exact values; the camera icon saves a PNG.")

    for i, head in enumerate(trace.heads):
        st.subheader(f"{head.name.capitalize()} head: how it addresses memory at t = {t}")
        stages = head.stages()
        params = F.stage_parameters(head, t)
        # Wider columns for longer equations, so each is shown whole; the figure's panels follow.
        widths = [min(max(len(stage.equation) / 60, 1.0), 1.6) for stage in stages]
        for j, (col, stage) in enumerate(zip(st.columns(widths, gap="small"), stages)):
            with col:
                st.markdown(f"**{j + 1}. {stage.label}**")
                st.latex(r"\small " + stage.equation)
                param = params.get(stage.key)
                if param is not None and isinstance(param["value"], dict):
                    st.plotly_chart(F.shift_figure(head, t, height=140), key=f"{K}fig_shift_{i}",
                                    config=F.plotly_config(f"shift-{head.name}-{base}"))
                elif param is not None:
                    st.metric(PARAMETER_NAMES.get(param["field"], param["field"]), f"{param['value']:.4g}")
                if show_code:
                    st.code(stage.code, language="python", wrap_lines=True)
        _chart(F.addressing_figure(head, t, widths=widths), f"addressing-{head.name}-{base}", teacher,
               f"{K}fig_addr_{i}")

    st.subheader(f"Erase, add and read vectors at t = {t}")
    _chart(F.vectors_figure(trace, t), f"vectors-{base}", teacher, K + "fig_vec")
    # Server time of this step view, read by bench/bench_app.py.
    st.session_state[K + "view_ms"] = (time.perf_counter() - started) * 1000


# ---- the page ----------------------------------------------------------------------------------

def main() -> None:
    teacher = bool(st.session_state.get("teacher", False))
    st.title("Step through an NTM")
    st.markdown("Pick a trained machine and a sequence, then move through time: every panel shows "
                "the same timestep **t**.")

    choices = discover_presets()
    ntm_choices = [c for c in choices if c.model_type in ("ntm", None)]
    others = [c for c in choices if c.model_type not in ("ntm", None)]
    if not ntm_choices:
        st.info("There are no NTM presets yet. Train one on the Train page, or with "
                "`python -m ntm train --task copy --preset-out presets/copy`, then reload this page."
                + (f" ({', '.join(c.id for c in others)} cannot be stepped through: only NTMs have a "
                   "memory and heads to show.)" if others else ""))
        return
    ids = [c.id for c in ntm_choices]
    default_id = DEFAULT_PRESET if DEFAULT_PRESET in ids else ids[0]
    by_id = {c.id: c for c in ntm_choices}

    # Read the link on the first visit, and whenever the URL asks for another view than the one
    # this page last wrote (a link from another page, an edited address). A URL without any of
    # this page's parameters (the sidebar navigation) keeps the current view.
    warnings: list[str] = []
    asked = {k: st.query_params[k] for k in URL_PARAMS if k in st.query_params}
    if K + "preset" not in st.session_state or (asked and asked != st.session_state.get(K + "url_written")):
        init_from_url(ntm_choices, default_id, warnings)
    if st.session_state[K + "preset"] not in ids:       # the preset went away since
        st.session_state[K + "preset"] = default_id

    # -- input row
    cols = st.columns([3, 2, 1.2, 1.2]) if not teacher else st.columns([3, 1.2, 1.2, 2])
    cols[0].selectbox("Preset", ids, key=K + "preset", format_func=lambda i: f"{i} — {by_id[i].summary}",
                      persist_state="session")
    choice = by_id[st.session_state[K + "preset"]]
    if others:
        cols[0].caption(f"Not listed: {', '.join(c.id for c in others)} (LSTM baselines have no memory "
                        "or heads to step through).")
    try:
        stamp = _stamp(choice.path)
        preset = _load(str(choice.path), stamp)
    except (BundleError, OSError) as exc:
        st.error(f"Preset `{choice.id}` cannot be opened: {exc}")
        return
    task = preset.task
    editable = task.name in EDITABLE_TASKS

    # Bits from the link, checked now that the preset (and so the vector width) is known.
    url_bits = st.session_state.pop(K + "url_bits", None)
    if url_bits is not None:
        if not editable:
            warnings.append(f"The link has `bits`, but the {task.name} task's input cannot be edited; "
                            "using a random sequence.")
        else:
            bits, problem = parse_bits(url_bits, task.seq_width)
            if problem:
                warnings.append(f"The link's `bits` cannot be used: {problem}. Using a random sequence.")
            else:
                st.session_state[K + "source"] = "bits"
                st.session_state[K + "bits_base"] = list(bits)
                st.session_state[K + "editor_version"] = st.session_state.get(K + "editor_version", 0) + 1

    if not editable or teacher:
        source = st.session_state.get(K + "source", "random") if editable else "random"
        if editable and teacher and source == "bits":
            cols[1].caption("Input: your own bits (turn teacher mode off to edit them)")
        seed_col, len_col = (cols[2], cols[3]) if not teacher else (cols[1], cols[2])
    else:
        source = cols[1].radio("Input", list(SOURCES), format_func=SOURCES.get, key=K + "source",
                               horizontal=True, persist_state="session")
        seed_col, len_col = cols[2], cols[3]
    seed = seed_col.number_input("Seed", 0, MAX_SEED, key=K + "seed", step=1, persist_state="session",
                                 help="Seeds the random sequence (and repeat-copy's repeat count).")
    length = st.session_state[K + "length"]
    if source == "random":
        length = len_col.number_input("Length", task.min_length, MAX_LENGTH,
                                      key=K + "length", step=1, persist_state="session",
                                      help=f"The task's {task.length_name}.")

    bits: tuple[str, ...] | None = None
    if source == "bits":
        base = st.session_state.get(K + "bits_base")
        if not base or len(base[0]) != task.seq_width:
            base = random_bits(task, seed, max(length, task.min_length))
            st.session_state[K + "bits_base"] = base
            st.session_state[K + "editor_version"] = st.session_state.get(K + "editor_version", 0) + 1
        if teacher:
            bits, problem = tuple(base), None
        else:
            with st.expander(f"Your input: one row per timestep, {task.seq_width} bits each (0 or 1)", expanded=True):
                table = pd.DataFrame([[int(c) for c in row] for row in base],
                                     columns=[f"bit {i}" for i in range(task.seq_width)])
                edited = st.data_editor(
                    table, key=f"{K}editor_{st.session_state.get(K + 'editor_version', 0)}", num_rows="dynamic",
                    column_config={c: st.column_config.NumberColumn(c, step=1, format="%d") for c in table.columns})
                if st.button("Reset to the seed's random sequence", key=K + "reset_bits"):
                    st.session_state[K + "bits_base"] = random_bits(task, seed, max(length, task.min_length))
                    st.session_state[K + "editor_version"] = st.session_state.get(K + "editor_version", 0) + 1
                    st.rerun()
            bits, problem = bits_from_table(edited, task.seq_width)
        if problem:
            st.error(f"Your input cannot be used: {problem}")
            return
        length = len(bits)

    for w in warnings:
        st.warning(w)

    # -- the URL says exactly what is shown
    written = {"preset": choice.id, "seed": str(seed)}
    if bits is None:
        written["length"] = str(length)
        st.query_params.pop("bits", None)
    else:
        written["bits"] = ".".join(bits)
        st.query_params.pop("length", None)
    st.query_params.update(written)
    st.session_state[K + "url_written"] = written

    try:
        trace = compute_trace(str(choice.path), stamp, choice.id, int(seed), int(length), bits)
    except (BundleError, ValueError, RuntimeError) as exc:
        st.error(f"The machine could not run on this input: {exc}")
        return

    last = trace.steps - 1
    url_t = st.session_state.pop(K + "url_t", None)
    if url_t is not None:
        try:
            wanted = int(url_t)
        except ValueError:
            st.warning(f"The link's `t={url_t}` is not a whole number; starting at t = 0.")
            wanted = 0
        if not 0 <= wanted <= last:
            st.warning(f"The link's `t={wanted}` is outside this run (0…{last}); starting at t = 0.")
            wanted = 0
        set_t(wanted)
    t = min(max(int(st.session_state.get(K + "t", 0)), 0), last)
    if t != st.session_state.get(K + "t"):
        set_t(t)

    if not teacher:
        d1, d2 = st.columns([1, 3], vertical_alignment="center")
        d1.download_button("Download the trace (JSON)", data=trace.to_json, mime="application/json",
                           file_name=f"trace-{choice.id}-seed{seed}-len{length}.json", on_click="ignore",
                           key=K + "download", icon=":material/download:")
        d2.caption(f"{trace.steps} timesteps · {task.name} task · {trace.bit_errors()} bit errors in total. "
                   "The JSON holds every recorded quantity; reload it with `ntm.trace.Trace.from_json`.")

    playing = st.session_state.get(K + "playing", False)
    st.session_state[K + "ticking"] = playing
    st.fragment(run_every=PLAY_INTERVAL if playing else None)(step_view)(trace, teacher, show_code=not teacher)


main()
