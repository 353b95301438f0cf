"""Figures of a recorded run at timestep t: the sequences, the memory, every head's weighting
over time (the paper's Figure 6), and the erase, add and read vectors.

Each function takes a ``Trace`` and a timestep ``t`` and returns a ``plotly.graph_objects.Figure``
on the fixed scales of ``ntm.figures.common``; time-on-x figures carry a cursor at ``t``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from ntm.figures.common import (ERROR_COLOR, HOVER_NUMBER, MIN_RANGE, axis_key, change_range, check_t, cursor_shape,
                                figure, grid, matrix_heatmap, memory_range, panel_title, weight_axis)
from ntm.trace import Trace


# ---- sequences -------------------------------------------------------------------------------

def sequence_figure(trace: Trace, t: int) -> go.Figure:
    """Input, target and output over time (time on x, bit channel on y) with a cursor at ``t``.

    Wrong output bits on scored timesteps (thresholded at 0.5) are marked with a red x.
    Unscored timesteps are shaded on the target and output panels.
    """
    t = check_t(trace, t)
    panels = [("input", trace.inputs), ("target", trace.targets), ("output", trace.outputs)]
    axes, layout = grid(1, 3, heights=[p[1].shape[1] for p in panels], vgap=0.1, share_x=True)
    steps = np.arange(trace.steps)
    data = []
    for (name, values), ((xa, ya),) in zip(panels, axes):
        data.append(dict(
            type="heatmap", z=values.T, x=steps, y=np.arange(values.shape[1]), coloraxis="coloraxis",
            xaxis=xa, yaxis=ya, name=name, xgap=1, ygap=1,
            hovertemplate=f"{name} · t=%{{x}} · bit %{{y}}<br>value = %{{z{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(ya, "y")].update(title=dict(text=name), autorange="reversed", showgrid=False,
                                         zeroline=False)
        layout[axis_key(xa, "x")].update(showgrid=False, zeroline=False)
    wrong = ((trace.outputs > 0.5) != (trace.targets > 0.5)) & trace.mask[:, None]
    err_t, err_bit = np.nonzero(wrong)
    out_x, out_y = axes[2][0]
    data.append(dict(
        type="scatter", x=err_t, y=err_bit, mode="markers", xaxis=out_x, yaxis=out_y, name="bit error",
        marker=dict(symbol="x-thin", size=9, line=dict(width=2, color=ERROR_COLOR), color=ERROR_COLOR),
        hovertemplate="bit error · t=%{x} · bit %{y}<extra></extra>"))
    # Fade the outputs of unscored timesteps: only the answer phase counts.
    shapes = []
    for start, stop in _runs(np.nonzero(~trace.mask)[0]):
        shapes.append(dict(type="rect", xref=out_x, yref=f"{out_y} domain", x0=start - 0.5, x1=stop + 0.5,
                           y0=0, y1=1, fillcolor="rgba(255,255,255,0.55)", line=dict(width=0),
                           layer="above", name="unscored"))
    shapes.append(cursor_shape(t))
    layout.update(coloraxis=weight_axis("value"), shapes=shapes)
    layout[axis_key(out_x, "x")]["title"] = dict(text="timestep t")
    return figure(data, layout, height=360, title=sequence_title(trace, t))


def sequence_title(trace: Trace, t: int) -> str:
    """'Input, target and output — 3 bit errors in total, 1 at t = 12'."""
    errors = int(trace.bit_errors())
    return (f"Input, target and output — {errors} bit error{'s' if errors != 1 else ''} "
            f"in total, {int(trace.bit_errors_per_step()[t])} at t = {t}")


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Sorted integer indices -> list of inclusive (start, stop) runs."""
    runs: list[tuple[int, int]] = []
    for i in indices.tolist():
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


# ---- memory ----------------------------------------------------------------------------------

def memory_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """M_t, the memory after step ``t`` (slots down, columns across), on the trace's fixed scale."""
    t = check_t(trace, t)
    return matrix_heatmap(trace.memory[t + 1], memory_range(trace), name="M", colorbar="M",
                          height=height, title=memory_title(t))


def memory_change_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """M after step ``t`` minus M before it: what step ``t`` erased and added."""
    t = check_t(trace, t)
    return matrix_heatmap(trace.memory_change(t), change_range(trace), name="ΔM", colorbar="ΔM",
                          height=height, title=memory_change_title(t))


def memory_title(t: int) -> str:
    return f"Memory M after step {t}"


def memory_change_title(t: int) -> str:
    return f"Change made by step {t}"


# ---- weightings over time (the paper's Figure 6) ----------------------------------------------

def weights_over_time_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """Every head's final weighting w_t over all timesteps (time on x, slot on y), cursor at ``t``.

    Write heads come first, as in the paper's Figure 6.
    """
    t = check_t(trace, t)
    heads = sorted(trace.heads, key=lambda h: (h.kind != "write", h.name))
    axes, layout = grid(len(heads), 1, hgap=0.05)
    steps = np.arange(trace.steps)
    data, annotations = [], []
    for head, (xa, ya) in zip(heads, axes[0]):
        n = head.weights.shape[1]
        data.append(dict(
            type="heatmap", z=head.weights.T, x=steps, y=np.arange(n), coloraxis="coloraxis", xaxis=xa, yaxis=ya,
            name=head.name,
            hovertemplate=f"{head.name} · t=%{{x}} · slot %{{y}}<br>w = %{{z{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(xa, "x")].update(title=dict(text="timestep t"), showgrid=False, zeroline=False)
        first = ya == "y"
        layout[axis_key(ya, "y")].update(autorange="reversed", showgrid=False, zeroline=False,
                                         showticklabels=first, title=dict(text="slot i" if first else ""))
        annotations.append(panel_title(f"{head.name} weighting", xa, ya, layout))
    shapes = []
    for xa, _ in axes[0]:
        shape = cursor_shape(t)
        shape["xref"] = xa
        shapes.append(shape)
    layout.update(coloraxis=weight_axis("w"), shapes=shapes, annotations=annotations)
    return figure(data, layout, height=height, title="Read and write weightings over time", margin_top=70)


# ---- vectors: erase, add, read ------------------------------------------------------------------

def vector_panels(trace: Trace) -> list[tuple[Any, str, str, tuple[float, float]]]:
    """(head, field, label, fixed y range) of every per-step vector the trace holds. The DNC's write
    vector v_t has no activation, so its range is max |v| over the trace."""
    r = memory_range(trace)
    panels = []
    for head in trace.heads:
        v = getattr(head, "write_vector", None)
        v_range = max(float(np.abs(v).max(initial=0.0)), MIN_RANGE) if v is not None else 1.0
        for field, label, rng in (("erase", "erase vector e", (0.0, 1.0)), ("add", "add vector a", (-1.0, 1.0)),
                                  ("write_vector", "write vector v", (-v_range, v_range)),
                                  ("read", "read vector r", (-r, r))):
            if getattr(head, field, None) is not None:
                panels.append((head, field, label, rng))
    return panels


def vectors_figure(trace: Trace, t: int, height: int = 250) -> go.Figure:
    """Erase and add vectors (write heads) and read vectors (read heads) at ``t``, as bars over
    the memory columns, each on a range fixed for the whole trace."""
    t = check_t(trace, t)
    panels = vector_panels(trace)
    axes, layout = grid(max(len(panels), 1), 1, hgap=0.05)
    data, annotations = [], []
    for (head, field, label, rng), (xa, ya) in zip(panels, axes[0]):
        v = np.asarray(getattr(head, field)[t])
        colour = "#1f77b4" if head.kind == "read" else "#d62728"
        data.append(dict(
            type="bar", x=np.arange(v.shape[0]), y=v, xaxis=xa, yaxis=ya, name=f"{head.name} {field}",
            marker=dict(color=colour, line=dict(width=0)),
            hovertemplate=f"{head.name} {field} · column %{{x}}<br>value = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(xa, "x")].update(title=dict(text="memory column"), showgrid=False)
        layout[axis_key(ya, "y")].update(range=list(rng), fixedrange=True)
        annotations.append(panel_title(f"{head.name}: {label}", xa, ya, layout))
    layout.update(annotations=annotations)
    return figure(data, layout, height=height, title=vectors_title(t), margin_top=70)


def vectors_title(t: int) -> str:
    return f"Vectors at t = {t}"
