"""Addressing lab: one head's four addressing stages (eqs. 5-9), with every input set by hand.

The page builds a small memory, a key, beta, the previous weighting, g, a shift kernel and
gamma from the controls, calls the same ``ntm.addressing`` functions the model calls, and
shows each stage's result beside its equation and the library source that computes it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ntm import addressing
from ntm import figures as F
from ntm.trace import NTMHead

EQUATIONS = {key: equation for key, _, equation, _ in NTMHead.STAGES}   # the same LaTeX as the model's trace

ROOT = Path(__file__).resolve().parent.parent
K = "lab_"
MAX_SLOTS, MAX_WIDTH = 32, 8


@st.cache_data(show_spinner=False)
def library_source(name: str) -> tuple[str, str]:
    """(``ntm/addressing.py:first-last``, the body of ``addressing.<name>`` without its docstring)."""
    func = getattr(addressing, name)
    lines, start = inspect.getsourcelines(func)
    body = ast.parse(textwrap.dedent("".join(lines))).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]                               # the docstring
    first, last = body[0].lineno, body[-1].end_lineno
    code = textwrap.dedent("".join(lines[first - 1:last]))
    path = Path(inspect.getsourcefile(func)).resolve()
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    lines_at = f"{start + first - 1}" if first == last else f"{start + first - 1}-{start + last - 1}"
    return f"{path}:{lines_at}", code


def _reset_editor(name: str) -> None:
    st.session_state[K + name + "_version"] = st.session_state.get(K + name + "_version", 0) + 1


def _key_from_slot(memory: np.ndarray) -> None:
    slot = st.session_state[K + "key_slot"]
    for j, v in enumerate(memory[slot]):
        st.session_state[f"{K}key_{j}"] = round(float(v), 3)


def memory_controls() -> np.ndarray | None:
    c1, c2, c3 = st.columns(3)
    n = c1.number_input("Slots N", 3, MAX_SLOTS, 8, key=K + "n", persist_state="session")
    m = c2.number_input("Width M", 1, MAX_WIDTH, 4, key=K + "m", persist_state="session")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key=K + "seed", persist_state="session")
    memory = torch.randn(n, m, generator=torch.Generator().manual_seed(int(seed))).numpy().round(2)
    if st.toggle("Edit the memory by hand", key=K + "edit_memory", persist_state="session"):
        table = pd.DataFrame(memory, columns=[f"M[:, {j}]" for j in range(m)])
        version = st.session_state.get(K + "memory_version", 0)
        edited = st.data_editor(table, key=f"{K}memory_{n}_{m}_{seed}_{version}", num_rows="fixed")
        st.button("Reset to the seeded memory", key=K + "reset_memory", on_click=_reset_editor, args=("memory",))
        values = edited.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(values).any():
            row, col = np.argwhere(np.isnan(values))[0]
            st.error(f"Memory slot {row}, column {col} is empty: every cell needs a number.")
            return None
        memory = values
    return memory


def key_controls(memory: np.ndarray) -> np.ndarray:
    n, m = memory.shape
    st.session_state[K + "key_slot"] = min(st.session_state.get(K + "key_slot", 2), n - 1)
    if any(f"{K}key_{j}" not in st.session_state for j in range(m)):
        _key_from_slot(memory)
    c1, c2 = st.columns(2, vertical_alignment="bottom")
    c1.selectbox("Slot to copy", range(n), key=K + "key_slot", format_func=lambda i: f"slot {i}")
    c2.button("Copy into key", key=K + "copy_key", on_click=_key_from_slot, args=(memory,),
              help="Set the key to the chosen slot's content: content addressing then focuses there.")
    cols = st.columns(min(m, 2))
    key = [cols[j % len(cols)].number_input(f"k[{j}]", step=0.1, format="%.3f", key=f"{K}key_{j}")
           for j in range(m)]
    return np.array(key, dtype=float)


def parameter_controls(n: int) -> dict:
    beta = st.slider("β, key strength", 0.0, 50.0, 5.0, 0.1, key=K + "beta", persist_state="session")
    g = st.slider("g, interpolation gate", 0.0, 1.0, 0.5, 0.01, key=K + "g", persist_state="session")
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    prev_kind = c1.selectbox("Previous weighting", ["focused on one slot", "uniform"], key=K + "prev_kind",
                             persist_state="session")
    prev = np.full(n, 1.0 / n)
    if prev_kind == "focused on one slot":
        st.session_state[K + "prev_slot"] = min(st.session_state.get(K + "prev_slot", 0), n - 1)
        slot = c2.number_input("on slot", 0, n - 1, key=K + "prev_slot")
        prev = np.zeros(n)
        prev[slot] = 1.0
    st.markdown("Shift kernel s over offsets −1, 0, +1 (normalised to sum to 1)")
    sc = st.columns(3)
    raw = np.array([sc[0].number_input("s(−1)", 0.0, 10.0, 0.0, 0.05, key=K + "s_m1"),
                    sc[1].number_input("s(0)", 0.0, 10.0, 0.0, 0.05, key=K + "s_0"),
                    sc[2].number_input("s(+1)", 0.0, 10.0, 1.0, 0.05, key=K + "s_p1")])
    if raw.sum() <= 0:
        st.warning("The shift kernel is all zeros; using no shift (s(0) = 1) instead.")
        raw = np.array([0.0, 1.0, 0.0])
    gamma = st.slider("γ, sharpening", 1.0, 50.0, 1.0, 0.1, key=K + "gamma", persist_state="session")
    return {"beta": beta, "g": g, "prev": prev, "s": raw / raw.sum(), "gamma": gamma}


def compute(memory: np.ndarray, key: np.ndarray, p: dict) -> dict[str, np.ndarray]:
    """Every stage, through the library's own functions (batch of one)."""
    mem = torch.tensor(memory, dtype=torch.float32).unsqueeze(0)     # [1, N, M]
    k = torch.tensor(key, dtype=torch.float32).unsqueeze(0)          # [1, M]
    one = lambda x: torch.tensor([[float(x)]])                       # noqa: E731  [1, 1]
    similarity = addressing.cosine_similarity(mem, k)
    w_content = addressing.content_weights(mem, k, one(p["beta"]))
    w_prev = torch.tensor(p["prev"], dtype=torch.float32).unsqueeze(0)
    w_gated = addressing.interpolate(w_content, w_prev, one(p["g"]))
    w_shifted = addressing.shift(w_gated, torch.tensor(p["s"], dtype=torch.float32).unsqueeze(0))
    w = addressing.sharpen(w_shifted, one(p["gamma"]))
    return {k_: v[0].numpy() for k_, v in {"similarity": similarity, "content": w_content, "gated": w_gated,
                                          "shifted": w_shifted, "weights": w}.items()}


def stage_row(number: int, title: str, equation: str, call: str, function: str, fig, teacher: bool,
              note: str) -> None:
    """Equation, note and library source on the left; the stage's result on the right."""
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"#### {number}. {title}")
        st.latex(equation)
        if note:
            st.caption(note)
        where, source = library_source(function)
        st.code(f"{call}\n\n# {where}\n{source}", language="python", wrap_lines=True)
    with right:
        if teacher:
            F.enlarge(fig, 1.25)
        st.plotly_chart(fig, config=F.plotly_config(f"lab-{function}"), key=f"{K}fig_{function}")


def main() -> None:
    teacher = bool(st.session_state.get("teacher", False))
    st.title("Addressing lab")
    st.markdown("Set one head's inputs by hand and watch its weighting take shape, stage by stage. "
                "Every result below is computed by the same `ntm.addressing` functions the model uses.")

    c_mem, c_key, c_par = st.columns([1.2, 1, 1.2], gap="large")
    with c_mem:
        st.subheader("Memory M")
        memory = memory_controls()
    if memory is None:
        return
    with c_key:
        st.subheader("Key k")
        st.caption("Copy a slot's content into the key, then edit it.")
        key = key_controls(memory)
    with c_par:
        st.subheader("Head parameters")
        params = parameter_controls(memory.shape[0])

    out = compute(memory, key, params)
    r = max(float(np.abs(memory).max(initial=0.0)), float(np.abs(key).max(initial=0.0)), 1e-6)
    m1, m2 = st.columns([3, 2])
    m1.plotly_chart(F.matrix_figure(memory, "Memory M (slots down, columns across)", r,
                                    height=min(120 + 28 * memory.shape[0], 560)), key=K + "fig_memory",
                    config=F.plotly_config("lab-memory"))
    m2.plotly_chart(F.matrix_figure(key[None, :], "Key k (same colour scale)", r, height=170, row_label="",
                                    colorbar=False),
                    key=K + "fig_key", config=F.plotly_config("lab-key"))

    eq = EQUATIONS
    s_text = ", ".join(f"{o}: {v:.3g}" for o, v in zip(("−1", "0", "+1"), params["s"]))
    rows = [  # (title, equation, the call, library function, figure, note)
        ("Similarity of the key to each slot", r"K[u, v] = \frac{u \cdot v}{\lVert u \rVert\,\lVert v \rVert}",
         "similarity = cosine_similarity(memory, key)", "cosine_similarity",
         F.similarity_figure(out["similarity"]),
         "Eq. 6: 1 where a slot points the same way as the key, 0 when orthogonal, −1 opposite."),
        (f"Content weighting (β = {params['beta']:.3g})", eq["content"],
         "w_content = content_weights(memory, key, beta)", "content_weights",
         F.weighting_figure(out["content"], "content weighting wᶜ"),
         "Eq. 5: a softmax of the similarities; a larger β makes it peakier."),
        (f"Interpolation (g = {params['g']:.3g})", eq["gated"],
         "w_gated = interpolate(w_content, w_prev, g)", "interpolate",
         F.weighting_figure(out["gated"], "gated weighting wᵍ (grey: previous weighting)", previous=params["prev"]),
         "Eq. 7: g = 1 keeps the content weighting, g = 0 keeps last step's weighting."),
        (f"Convolutional shift (s = {{{s_text}}})", eq["shifted"],
         "w_shifted = shift(w_gated, s)", "shift",
         F.weighting_figure(out["shifted"], "shifted weighting w̃"),
         "Eq. 8: a circular convolution; s(+1) = 1 moves the focus from slot i to slot i + 1 "
         "(the last slot wraps round to 0)."),
        (f"Sharpening (γ = {params['gamma']:.3g})", eq["weights"],
         "w = sharpen(w_shifted, gamma)", "sharpen",
         F.weighting_figure(out["weights"], "final weighting w"),
         "Eq. 9: raising to γ ≥ 1 and renormalising undoes the blur a fractional shift adds."),
    ]
    for number, (title, equation, call, function, fig, note) in enumerate(rows, start=1):
        stage_row(number, title, equation, call, function, fig, teacher, note)
    st.caption("Weightings are drawn on a fixed 0–1 scale; hover a bar for its exact value.")


main()
