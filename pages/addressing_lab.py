"""Addressing lab: one head's four addressing stages (eqs. 5-9), with every input set by hand.

The controls sit in a column beside the stage pictures: a memory, a key, beta, the previous
weighting, g, a shift kernel and gamma. ``ntm.lab.address_by_hand`` runs them through the model's
own ``ntm.addressing.address``; the pictures are a 2 x 3 grid of fixed-size figures (the memory and
key, then each stage of ``ntm.addressing.STAGES``, numbered, with its equation above its picture), so
in teacher mode the lab is one 1280 x 720 screen whatever the scenario or memory size
(tests/browser/test_addressing_lab_screen.py). Outside teacher mode each stage's note and the library
source of the function that computes it (folded away) are under its picture; in teacher mode the note
is on the equation's hover and the source is hidden. The whole lab is in the URL
(``ntm.lab.to_params``/``parse_params``), and ``?scenario=<name>`` opens one of ``ntm.lab.SCENARIOS``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from ntm import addressing, lab
from ntm import figures as F
from pages._shared import TEACHER_KEY, plain, teacher_mode

K = "lab_"
CUSTOM = "custom"
PARAMETERS = {stage.parameter.name: stage.parameter for stage in addressing.STAGES}
KEEP = {"persist_state": "session"}       # the lab is as the user left it after a visit to another page
SHIFT_KEYS = (K + "s_m1", K + "s_0", K + "s_p1")


@st.cache_data(show_spinner=False)
def library_source(name: str) -> tuple[str, str]:
    """(``ntm/addressing.py:first-last``, the body of ``addressing.<name>``)."""
    return lab.source_of(name)


def _apply(state: lab.LabState) -> None:
    """Set every control to ``state`` (before the widgets are drawn, or in a callback)."""
    ss = st.session_state
    ss.update({K + "n": state.slots, K + "m": state.width, K + "seed": state.seed, K + "beta": state.beta,
               K + "g": state.g, K + "gamma": state.gamma, K + "key_slot": state.key_slot,
               K + "prev_kind": "uniform" if state.previous is None else "one slot",
               K + "prev_slot": state.previous or 0, K + "edit_memory": False})
    ss.update({k: float(v) for k, v in zip(SHIFT_KEYS, state.shift)})
    ss.update({f"{K}key_{j}": round(float(v), 3) for j, v in enumerate(state.key_vector())})


def _state() -> lab.LabState:
    """The lab's state as the controls hold it."""
    ss = st.session_state
    m = int(ss[K + "m"])
    key = [ss.get(f"{K}key_{j}") for j in range(m)]          # a new column's entry: None until drawn
    return lab.LabState(
        slots=int(ss[K + "n"]), width=m, seed=int(ss[K + "seed"]), key_slot=int(ss[K + "key_slot"]),
        key=None if None in key else tuple(float(v) for v in key), beta=float(ss[K + "beta"]), g=float(ss[K + "g"]),
        previous=None if ss[K + "prev_kind"] == "uniform" else int(ss[K + "prev_slot"]),
        shift=tuple(float(ss[k]) for k in SHIFT_KEYS), gamma=float(ss[K + "gamma"]))


def _scenario_of(state: lab.LabState) -> str:
    for name, scenario in lab.SCENARIOS.items():
        want = scenario.state
        if (replace(state, key=None, key_slot=0) == replace(want, key=None, key_slot=0)
                and np.allclose(state.key_vector(), want.key_vector(), atol=1e-3)):
            return name
    return CUSTOM


def _choose_scenario() -> None:
    name = st.session_state[K + "scenario"]
    if name != CUSTOM:
        _apply(lab.SCENARIOS[name].state)


def _read_url() -> list[str]:
    """Apply the URL on the first visit, or when it asks for another lab than the one last written."""
    params = {k: v for k, v in st.query_params.items() if k != TEACHER_KEY}
    if K + "n" not in st.session_state:
        _apply(lab.LabState())
    if not params or params == st.session_state.get(K + "written"):
        return []
    state, warnings = lab.parse_params(params)
    _apply(state)
    return warnings


def _write_url(state: lab.LabState) -> None:
    name = _scenario_of(state)
    params = {"scenario": name} if name != CUSTOM else lab.to_params(state)
    for k in [k for k in st.query_params if k not in params and k != TEACHER_KEY]:
        del st.query_params[k]
    st.query_params.update(params)
    st.session_state[K + "written"] = params


def _key_from_slot(memory: np.ndarray) -> None:
    slot = st.session_state[K + "key_slot"]
    for j, v in enumerate(memory[slot]):
        st.session_state[f"{K}key_{j}"] = round(float(v), 3)


def _reset_editor() -> None:
    st.session_state[K + "memory_version"] = st.session_state.get(K + "memory_version", 0) + 1


teacher = teacher_mode()
warnings = _read_url()
for text in warnings:
    st.warning(plain(text, 300))
st.session_state[K + "scenario"] = _scenario_of(_state())
# One screen: the controls in a column that stays in view beside a 2 x 3 grid of pictures (the memory and key,
# then each stage with its equation above it). Plain CSS: the controls' block sticks while the page scrolls
# (outside teacher mode the code listings make it long), and the lab's spacing is tightened to fit 1280 x 720.
st.html("<style>[data-testid='stLayoutWrapper']:has(> .st-key-lab_controls) {position: sticky; top: 3.5rem;"
        " z-index: 2; background: var(--st-background-color, #fff);}"
        " .st-key-lab_controls [data-testid='stVerticalBlock'] {gap: 0.4rem;}"
        " .stMainBlockContainer h1 {font-size: 2rem; padding: 0.75rem 0 0.25rem;}"
        " .st-key-lab_pictures {padding-top: 0.9rem;} .st-key-lab_pictures .katex-display {margin: 0.1rem 0;}"
        " .st-key-lab_pictures .katex {font-size: 1em;}"
        "</style>")
left, right = st.columns([1.25, 3.35], gap="small")
left.title("Addressing lab")
with left.container(key=K + "controls"):
    scenario = st.selectbox("Scenario", [CUSTOM, *lab.SCENARIOS], key=K + "scenario", on_change=_choose_scenario,
                            format_func=lambda n: "Your own settings" if n == CUSTOM else lab.SCENARIOS[n].title)
    st.slider(PARAMETERS["beta"].title, *lab.LIMITS["beta"], step=0.1, key=K + "beta", **KEEP)
    st.slider(PARAMETERS["g"].title, *lab.LIMITS["g"], step=0.01, key=K + "g", **KEEP)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    prev_kind = c1.selectbox("Previous weighting", ["one slot", "uniform"], key=K + "prev_kind", **KEEP)
    n = int(st.session_state[K + "n"])
    st.session_state[K + "prev_slot"] = min(int(st.session_state.get(K + "prev_slot", 0)), n - 1)
    focus = int(c2.number_input("on slot", 0, n - 1, key=K + "prev_slot", **KEEP)) \
        if prev_kind == "one slot" else None
    sc = st.columns(3)
    raw = [col.number_input(label, *lab.LIMITS["s"], step=0.05, key=key, **KEEP)
           for col, label, key in zip(sc, ("s(−1)", "s(0)", "s(+1)"), SHIFT_KEYS)]
    s, fell_back = lab.shift_kernel(raw)
    if fell_back:
        st.warning("The shift kernel is all zeros; using no shift (s(0) = 1) instead.")
    st.caption("→ s = (" + ", ".join(f"{v:.3g}" for v in s) + ")",
               help="The shift kernel s over offsets −1, 0, +1: the weights above, normalised to sum to 1.")
    st.slider(PARAMETERS["gamma"].title, *lab.LIMITS["gamma"], step=0.1, key=K + "gamma", **KEEP)

    with st.expander("Memory M and key k", expanded=not teacher):
        c1, c2, c3 = st.columns(3)
        n = c1.number_input("Slots N", 3, lab.MAX_SLOTS, key=K + "n", **KEEP)
        m = c2.number_input("Width M", 1, lab.MAX_WIDTH, key=K + "m", **KEEP)
        seed = c3.number_input("Seed", 0, lab.MAX_SEED, key=K + "seed", **KEEP)
        memory = lab.seeded_memory(n, m, seed)
        if st.toggle("Edit the memory by hand", key=K + "edit_memory", **KEEP,
                     help="A hand-edited memory is not kept in the link."):
            version = st.session_state.get(K + "memory_version", 0)
            edited = st.data_editor(pd.DataFrame(memory, columns=[f"M[:, {j}]" for j in range(m)]),
                                    key=f"{K}memory_{n}_{m}_{seed}_{version}", num_rows="fixed")
            st.button("Reset to the seeded memory", key=K + "reset_memory", on_click=_reset_editor)
            values = edited.to_numpy(dtype=float, na_value=np.nan)
            if np.isnan(values).any():
                row, col = np.argwhere(np.isnan(values))[0]
                st.error(f"Memory slot {row}, column {col} is empty: every cell needs a number.")
                st.stop()
            memory = values
        st.session_state[K + "key_slot"] = min(int(st.session_state.get(K + "key_slot", 2)), n - 1)
        if any(f"{K}key_{j}" not in st.session_state for j in range(m)):
            _key_from_slot(memory)
        st.selectbox("Slot to copy into the key", range(n), key=K + "key_slot", format_func=lambda i: f"slot {i}")
        st.button("Copy into key", key=K + "copy_key", on_click=_key_from_slot, args=(memory,),
                  help="Set the key to the chosen slot's content: content addressing then focuses there.")
        cols = st.columns(min(m, 2))
        key = np.array([cols[j % len(cols)].number_input(f"k[{j}]", step=0.1, format="%.3f", key=f"{K}key_{j}")
                        for j in range(m)], dtype=float)

params = {"beta": st.session_state[K + "beta"], "g": st.session_state[K + "g"], "s": s,
          "gamma": st.session_state[K + "gamma"]}
w_prev = lab.previous_weighting(n, focus)
out = lab.address_by_hand(memory, key, w_prev, **params)
_write_url(_state())

# ---- the pictures: memory and key, then each stage with its equation above it ------------------------
HEIGHT = 180                                 # a stage picture (x 1.1 in teacher mode, with its fonts)
rows = [(addressing.SIMILARITY, F.similarity_figure(out.similarity, height=HEIGHT,
                                                    title=F.lab_stage_title(addressing.SIMILARITY, 1)))]
for number, stage in enumerate(addressing.STAGES, start=2):
    p = stage.parameter
    param = {"symbol": p.symbol, "value": lab.parameter_value(p.name, params[p.name])}
    rows.append((stage, F.stage_figure(stage, getattr(out.stages, stage.key), previous=w_prev, height=HEIGHT,
                                       number=number, param=param)))
hint = lab.sharpening_hint(out.stages.shifted, params["gamma"])
r = max(float(np.abs(memory).max(initial=0.0)), float(np.abs(key).max(initial=0.0)), 1e-6)
memory_fig = F.memory_key_figure(memory, key, r, height=HEIGHT + 62)
with right.container(key=K + "pictures"):
    if teacher and hint:                     # the hint is what to look at, on the one screen
        st.caption(f":material/lightbulb: {hint}")
    else:
        st.caption(lab.SCENARIOS[scenario].what_to_look_at if scenario != CUSTOM else
                   "Set one head's inputs by hand and watch its weighting take shape, stage by stage, computed "
                   "by the same `ntm.addressing` functions the model uses. The address bar holds the whole lab: "
                   "copy it to share this view. Weightings are on a fixed 0–1 scale; hover a bar for its value.")
    cells = [c for _ in range(2) for c in st.columns(3, gap="small", vertical_alignment="bottom" if teacher else "top")]
    with cells[0]:
        if teacher:
            F.enlarge(memory_fig, 1.1)
        st.plotly_chart(memory_fig, key=K + "fig_memory", config=F.plotly_config("lab-memory"))
    for cell, (stage, fig) in zip(cells[1:], rows):
        with cell:
            st.latex(stage.equation, help=f"{stage.title}. {stage.note}" if teacher else None)
            if teacher:
                F.enlarge(fig, 1.1)
            st.plotly_chart(fig, config=F.plotly_config(f"lab-{stage.function}"), key=f"{K}fig_{stage.function}")
            if teacher:
                continue
            st.caption(stage.note)
            if stage.function == "sharpen" and hint:
                st.info(hint, icon=":material/lightbulb:")
            with st.expander("The code that computes it"):
                where, source = library_source(stage.function)
                st.code(f"{stage.code}\n\n# {where}\n{source}", language="python", wrap_lines=True)
