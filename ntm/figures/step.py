"""Figures of a recorded run at timestep t: the sequences, the memory, every head's weighting
over time (the paper's Figure 6), and the erase, add and read vectors.

Each function takes a ``Trace`` and a timestep ``t`` and returns a ``plotly.graph_objects.Figure``
on the fixed scales of ``ntm.figures.common``; time-on-x figures carry a cursor at ``t`` and the
episode's phases (input, delimiter, answer, ...) as a strip above each time panel. Slot axes show the
slots the heads visit (``slots="visited"``, the default) or all N (``slots="all"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from ntm.figures.common import (ERROR_COLOR, HOVER_NUMBER, MEMORY_PERCENTILE, MIN_RANGE, axis_key,
                                change_range, check_t, cursor_shape, figure, grid, matrix_heatmap, memory_clip,
                                memory_range, panel_title, phase_at, phase_marks, slot_axis, slot_window,
                                strip_shift, trace_phases, weight_axis)
from ntm.trace import Trace


# ---- sequences -------------------------------------------------------------------------------

SEQUENCE_WIDTH_PX = 1000     # the sequence strip's expected width (the page's full width), for phase names
WEIGHTS_WIDTH_PX = 520       # the weightings-over-time figure's expected width, shared by its head panels


def sequence_figure(trace: Trace, t: int, height: int = 360) -> go.Figure:
    """Input, target and output over time (time on x, bit channel on y) with a cursor at ``t``.

    Wrong output bits on scored timesteps (thresholded at 0.5) are marked with a red x.
    Unscored timesteps are shaded on the target and output panels. The episode's phases are named
    in a strip above the input and begin at the dotted lines.
    """
    t = check_t(trace, t)
    panels = [("input", trace.inputs), ("target", trace.targets), ("output", trace.outputs)]
    heights = [p[1].shape[1] for p in panels]
    axes, layout = grid(1, 3, heights=heights, vgap=0.1, share_x=True)
    margin_top, margin_bottom = 66, 45
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
    annotations = []
    phases = trace_phases(trace)
    (xa, ya), bottom = axes[0][0], layout[axis_key(axes[2][0][1], "y")]["domain"][0]
    top = layout[axis_key(ya, "y")]["domain"][1]
    marks, annotations = phase_marks(phases, xa, ya, trace.steps, width_px=SEQUENCE_WIDTH_PX, lines_span=(bottom, top))
    shapes += marks
    shapes.append(cursor_shape(t))
    layout.update(coloraxis=weight_axis("value"), shapes=shapes, annotations=annotations,
                  margin=dict(l=55, r=20, t=margin_top, b=margin_bottom))
    layout[axis_key(out_x, "x")]["title"] = dict(text="timestep t")
    return figure(data, layout, height=height, title=sequence_title(trace, t), title_on_top=True)


def sequence_title(trace: Trace, t: int) -> str:
    """'Input, target and output' and, on a second line (so it fits a narrow column), '3 bit errors in
    total, 1 at t = 12 (answer)'."""
    errors = int(trace.bit_errors())
    phase = phase_at(trace, t)
    return (f"Input, target and output<br><sup>{errors} bit error{'s' if errors != 1 else ''} "
            f"in total, {int(trace.bit_errors_per_step()[t])} at t = {t}" + (f" ({phase['label']})" if phase else "")
            + "</sup>")


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

MEMORY_COLORBAR = f"M<br><sup>clipped</sup><br><sup>at ±p{MEMORY_PERCENTILE}</sup>"


def memory_figure(trace: Trace, t: int, height: int = 520, slots: str | tuple[int, int] = "visited") -> go.Figure:
    """M_t, the memory after step ``t`` (slots down, columns across), on the trace's fixed scale:
    ±R with R the 99th percentile of |M| over the trace in the visited slots (``memory_clip``), so a
    few large values do not wash the rest out; the colour bar says it is clipped. ``slots`` picks the
    slots shown (``slot_window``)."""
    t = check_t(trace, t)
    window = slot_window(trace, slots)
    return matrix_heatmap(trace.memory[t + 1], memory_clip(trace, slot_window(trace)), name="M",
                          colorbar=MEMORY_COLORBAR, height=height, title=memory_title(t), window=window)


def memory_change_figure(trace: Trace, t: int, height: int = 520,
                         slots: str | tuple[int, int] = "visited") -> go.Figure:
    """M after step ``t`` minus M before it: what step ``t`` erased and added, on the slots ``slots``."""
    t = check_t(trace, t)
    return matrix_heatmap(trace.memory_change(t), change_range(trace), name="ΔM", colorbar="ΔM",
                          height=height, title=memory_change_title(t), window=slot_window(trace, slots))


def memory_title(t: int) -> str:
    return f"Memory M after step {t}"


def memory_change_title(t: int) -> str:
    return f"Change made by step {t}"


# ---- weightings over time (the paper's Figure 6) ----------------------------------------------

def weights_over_time_figure(trace: Trace, t: int, height: int = 520,
                             slots: str | tuple[int, int] = "visited") -> go.Figure:
    """Every head's final weighting w_t over all timesteps (time on x, slot on y), cursor at ``t``,
    the episode's phases above each panel, on the slots ``slots`` (default: those the heads visit).

    Write heads come first, as in the paper's Figure 6.
    """
    t = check_t(trace, t)
    heads = sorted(trace.heads, key=lambda h: (h.kind != "write", h.name))
    axes, layout = grid(len(heads), 1, hgap=0.05)
    steps = np.arange(trace.steps)
    window = slot_window(trace, slots)
    margin_top, margin_bottom = 76, 45
    phases = trace_phases(trace)
    data, annotations, shapes = [], [], []
    phase_names: list[dict[str, Any]] = []
    for head, (xa, ya) in zip(heads, axes[0]):
        n = head.weights.shape[1]
        data.append(dict(
            type="heatmap", z=head.weights.T, x=steps, y=np.arange(n), coloraxis="coloraxis", xaxis=xa, yaxis=ya,
            name=head.name,
            hovertemplate=f"{head.name} · t=%{{x}} · slot %{{y}}<br>w = %{{z{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(xa, "x")].update(title=dict(text="timestep t"), showgrid=False, zeroline=False)
        first = ya == "y"
        layout[axis_key(ya, "y")].update(showgrid=False, zeroline=False, showticklabels=first,
                                         title=dict(text="slot i" if first else ""), **slot_axis(window, True))
        annotations.append(panel_title(head.name, xa, ya, layout, yshift=strip_shift()))
        marks, names = phase_marks(phases, xa, ya, trace.steps, width_px=WEIGHTS_WIDTH_PX / len(heads), labels=first)   # named once
        shapes += marks
        phase_names += names
    annotations += phase_names                   # after the panel titles: annotations[k] titles head k
    for xa, _ in axes[0]:
        shape = cursor_shape(t)
        shape["xref"] = xa
        shapes.append(shape)
    layout.update(coloraxis=weight_axis("w"), shapes=shapes, annotations=annotations,
                  margin=dict(l=55, r=20, t=margin_top, b=margin_bottom))
    return figure(data, layout, height=height, title="Weightings w over time", margin_top=margin_top,
                  title_on_top=True)


# ---- vectors: erase, add, read ------------------------------------------------------------------

def vector_panels(trace: Trace) -> list[tuple[Any, str, str, tuple[float, float]]]:
    """(head, field, label, fixed y range) of every per-step vector the trace holds. The DNC's write
    vector v_t has no activation, so its range is max |v| over the trace."""
    r = memory_range(trace)
    panels = []
    for head in trace.heads:
        v = getattr(head, "write_vector", None)
        v_range = max(float(np.abs(v).max(initial=0.0)), MIN_RANGE) if v is not None else 1.0
        for field, label, rng in (("erase", "erase e", (0.0, 1.0)), ("add", "add a", (-1.0, 1.0)),
                                  ("write_vector", "write v", (-v_range, v_range)),
                                  ("read", "read r", (-r, r))):
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
