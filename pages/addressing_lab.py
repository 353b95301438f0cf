"""Addressing lab: one head's four addressing stages (eqs. 5-9), with every input set by hand.

Widgets build a small memory, a key, beta, the previous weighting, g, a shift kernel and gamma;
``ntm.lab.address_by_hand`` runs them through the model's own ``ntm.addressing.address``; each
stage of ``ntm.addressing.STAGES`` is then shown with its equation, its line of ``address`` and
the library source of the function that line calls, beside its result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ntm import addressing, lab
from ntm import figures as F
from pages._shared import teacher_mode

K = "lab_"
MAX_SLOTS, MAX_WIDTH = 32, 8
PARAMETERS = {stage.parameter.name: stage.parameter for stage in addressing.STAGES}


@st.cache_data(show_spinner=False)
def library_source(name: str) -> tuple[str, str]:
    """(``ntm/addressing.py:first-last``, the body of ``addressing.<name>``)."""
    return lab.source_of(name)


def _reset_editor(name: str) -> None:
    st.session_state[K + name + "_version"] = st.session_state.get(K + name + "_version", 0) + 1


def _key_from_slot(memory: np.ndarray) -> None:
    slot = st.session_state[K + "key_slot"]
    for j, v in enumerate(memory[slot]):
        st.session_state[f"{K}key_{j}"] = round(float(v), 3)


teacher = teacher_mode()
st.title("Addressing lab")
st.markdown("Set one head's inputs by hand and watch its weighting take shape, stage by stage. "
            "Every result below is computed by the same `ntm.addressing` functions the model uses.")

c_mem, c_key, c_par = st.columns([1.2, 1, 1.2], gap="large")

# ---- memory M --------------------------------------------------------------------------------
with c_mem:
    st.subheader("Memory M")
    c1, c2, c3 = st.columns(3)
    n = c1.number_input("Slots N", 3, MAX_SLOTS, 8, key=K + "n", persist_state="session")
    m = c2.number_input("Width M", 1, MAX_WIDTH, 4, key=K + "m", persist_state="session")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key=K + "seed", persist_state="session")
    memory = lab.seeded_memory(n, m, seed)
    if st.toggle("Edit the memory by hand", key=K + "edit_memory", persist_state="session"):
        table = pd.DataFrame(memory, columns=[f"M[:, {j}]" for j in range(m)])
        version = st.session_state.get(K + "memory_version", 0)
        edited = st.data_editor(table, key=f"{K}memory_{n}_{m}_{seed}_{version}", num_rows="fixed")
        st.button("Reset to the seeded memory", key=K + "reset_memory", on_click=_reset_editor, args=("memory",))
        values = edited.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(values).any():
            row, col = np.argwhere(np.isnan(values))[0]
            st.error(f"Memory slot {row}, column {col} is empty: every cell needs a number.")
            st.stop()
        memory = values

# ---- key k -----------------------------------------------------------------------------------
with c_key:
    st.subheader("Key k")
    st.caption("Copy a slot's content into the key, then edit it.")
    st.session_state[K + "key_slot"] = min(st.session_state.get(K + "key_slot", 2), n - 1)
    if any(f"{K}key_{j}" not in st.session_state for j in range(m)):
        _key_from_slot(memory)
    c1, c2 = st.columns(2, vertical_alignment="bottom")
    c1.selectbox("Slot to copy", range(n), key=K + "key_slot", format_func=lambda i: f"slot {i}")
    c2.button("Copy into key", key=K + "copy_key", on_click=_key_from_slot, args=(memory,),
              help="Set the key to the chosen slot's content: content addressing then focuses there.")
    cols = st.columns(min(m, 2))
    key = np.array([cols[j % len(cols)].number_input(f"k[{j}]", step=0.1, format="%.3f", key=f"{K}key_{j}")
                    for j in range(m)], dtype=float)

# ---- head parameters -------------------------------------------------------------------------
with c_par:
    st.subheader("Head parameters")
    params = {"beta": st.slider(PARAMETERS["beta"].title, 0.0, 50.0, 5.0, 0.1, key=K + "beta",
                                persist_state="session"),
              "g": st.slider(PARAMETERS["g"].title, 0.0, 1.0, 0.5, 0.01, key=K + "g", persist_state="session")}
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    prev_kind = c1.selectbox("Previous weighting", ["focused on one slot", "uniform"], key=K + "prev_kind",
                             persist_state="session")
    focus = None
    if prev_kind == "focused on one slot":
        st.session_state[K + "prev_slot"] = min(st.session_state.get(K + "prev_slot", 0), n - 1)
        focus = int(c2.number_input("on slot", 0, n - 1, key=K + "prev_slot"))
    w_prev = lab.previous_weighting(n, focus)
    st.markdown("Shift kernel s over offsets −1, 0, +1 (normalised to sum to 1)")
    sc = st.columns(3)
    params["s"], fell_back = lab.shift_kernel([
        sc[0].number_input("s(−1)", 0.0, 10.0, 0.0, 0.05, key=K + "s_m1"),
        sc[1].number_input("s(0)", 0.0, 10.0, 0.0, 0.05, key=K + "s_0"),
        sc[2].number_input("s(+1)", 0.0, 10.0, 1.0, 0.05, key=K + "s_p1")])
    if fell_back:
        st.warning("The shift kernel is all zeros; using no shift (s(0) = 1) instead.")
    params["gamma"] = st.slider(PARAMETERS["gamma"].title, 1.0, 50.0, 1.0, 0.1, key=K + "gamma",
                                persist_state="session")

# ---- the inputs, drawn -------------------------------------------------------------------------
out = lab.address_by_hand(memory, key, w_prev, **params)
r = max(float(np.abs(memory).max(initial=0.0)), float(np.abs(key).max(initial=0.0)), 1e-6)
m1, m2 = st.columns([3, 2])
m1.plotly_chart(F.matrix_figure(memory, "Memory M (slots down, columns across)", r,
                                height=min(120 + 28 * memory.shape[0], 560)), key=K + "fig_memory",
                config=F.plotly_config("lab-memory"))
m2.plotly_chart(F.matrix_figure(key[None, :], "Key k (same colour scale)", r, height=170, row_label="",
                                colorbar=False),
                key=K + "fig_key", config=F.plotly_config("lab-key"))

# ---- each stage: heading, equation, note and source on the left; its result on the right -----------
rows = [(addressing.SIMILARITY, addressing.SIMILARITY.title, F.similarity_figure(out.similarity))]
for stage in addressing.STAGES:
    p = stage.parameter
    value = F.format_parameter({"symbol": p.symbol, "value": lab.parameter_value(p.name, params[p.name])})
    rows.append((stage, f"{stage.title} ({value})",
                 F.stage_figure(stage, getattr(out.stages, stage.key), previous=w_prev)))
for number, (stage, heading, fig) in enumerate(rows, start=1):
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"#### {number}. {heading}")
        st.latex(stage.equation)
        st.caption(stage.note)
        where, source = library_source(stage.function)
        st.code(f"{stage.code}\n\n# {where}\n{source}", language="python", wrap_lines=True)
    with right:
        if teacher:
            F.enlarge(fig, 1.25)
        st.plotly_chart(fig, config=F.plotly_config(f"lab-{stage.function}"), key=f"{K}fig_{stage.function}")
st.caption("Weightings are drawn on a fixed 0–1 scale; hover a bar for its exact value.")
