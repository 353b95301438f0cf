"""Trace -> Plotly figures: every picture the explorer shows, as pure functions.

Each function takes a ``Trace`` (or one head of it) and a timestep ``t`` and returns a
``plotly.graph_objects.Figure``; nothing here imports Streamlit, so figures are tested by
reading their data (``tests/test_figures.py``).

Colour scales are fixed, never fitted to the data on screen:

    weights, bits       [0, 1]           sequential (WEIGHT_COLORSCALE), with a colour bar
    memory M_t          [-R, R]          diverging around 0, R = max |M| over the whole trace
    memory change       [-D, D]          diverging, D = max |M_t - M_{t-1}| over the trace

so a near-uniform weighting looks near-uniform (an auto-scaled colour bar would stretch
1/128 +- 1e-4 into the full range) and colours compare across timesteps. Hover shows the
exact value of every cell and bar.

Heads are drawn through ``head.stages()``, ``head.weights``, ``head.kind`` and ``head.name``
only, so another head type (a DNC head, say) with its own stages draws without changes here.
Figures are laid out with plain axis domains rather than ``make_subplots``: building a
figure is ~1-2 ms that way instead of ~12 ms, which keeps a step of the explorer fast.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from .trace import Trace

WEIGHT_RANGE = (0.0, 1.0)
WEIGHT_COLORSCALE = "Viridis"
MEMORY_COLORSCALE = "RdBu_r"          # blue < 0 < red, white at 0
CURSOR_NAME = "cursor"                # the layout shape that marks timestep t
CURSOR_COLOR = "#ff4b4b"
ERROR_COLOR = "#ff4b4b"
PREVIOUS_COLOR = "#7f7f7f"
HOVER_NUMBER = ":.6~g"                # d3 format: up to 6 significant digits, no padding
# Smallest symmetric range for a diverging scale, so an all-zero memory still has a scale.
_MIN_RANGE = 1e-6

# Which emitted parameter belongs to which addressing stage (NTM heads). Another head type can
# declare its own ``STAGE_PARAMETERS`` class attribute: {stage key: (field, symbol)}.
NTM_STAGE_PARAMETERS: dict[str, tuple[str, str]] = {
    "content": ("beta", "β"),
    "gated": ("g", "g"),
    "shifted": ("s", "s"),
    "weights": ("gamma", "γ"),
}
STAGE_SYMBOLS = {"content": "wᶜ", "gated": "wᵍ", "shifted": "w̃", "weights": "w"}


# ---- shared pieces -------------------------------------------------------------------------

def memory_range(trace: Trace) -> float:
    """R = max |M_t| over every timestep: the fixed half-range of the memory colour scale."""
    return max(float(np.abs(trace.memory).max(initial=0.0)), _MIN_RANGE)


def change_range(trace: Trace) -> float:
    """D = max |M_t - M_{t-1}| over the trace: the fixed half-range of the change colour scale."""
    diffs = np.diff(trace.memory, axis=0)
    return max(float(np.abs(diffs).max(initial=0.0)), _MIN_RANGE)


def check_t(trace: Trace, t: int) -> int:
    if not 0 <= int(t) < trace.steps:
        raise ValueError(f"timestep t={t} is outside the trace (0..{trace.steps - 1})")
    return int(t)


def cursor_shape(t: int) -> dict[str, Any]:
    """A box around column ``t`` of every time-on-x panel of a figure."""
    return dict(type="rect", name=CURSOR_NAME, xref="x", yref="paper", x0=t - 0.5, x1=t + 0.5,
                y0=0, y1=1, line=dict(color=CURSOR_COLOR, width=2), fillcolor="rgba(0,0,0,0)",
                layer="above")


def set_cursor(fig: go.Figure, t: int) -> go.Figure:
    """Move the cursor of a time-on-x figure to ``t`` (in place; returns the figure)."""
    for shape in fig.layout.shapes:
        if shape.name == CURSOR_NAME:
            shape.update(x0=t - 0.5, x1=t + 0.5)
    return fig


def plotly_config(filename: str) -> dict[str, Any]:
    """Plotly toolbar settings: PNG download at 2x named ``filename``, no Plotly logo or links."""
    return {"displaylogo": False, "showLink": False, "showSendToCloud": False,
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}


def enlarge(fig: go.Figure, factor: float = 1.35) -> go.Figure:
    """Bigger fonts and a taller figure, for projecting in a classroom (in place)."""
    font = fig.layout.font.size or 12
    fig.update_layout(font_size=round(font * factor), height=round((fig.layout.height or 300) * factor))
    for ann in fig.layout.annotations:
        ann.font.size = round((ann.font.size or 12) * factor)
    return fig


def _grid(cols: int, rows: int = 1, *, widths: Sequence[float] | None = None,
          heights: Sequence[float] | None = None, hgap: float = 0.06, vgap: float = 0.12,
          share_x: bool = False) -> tuple[list[list[tuple[str, str]]], dict[str, Any]]:
    """Axis domains for a rows x cols grid, top row first.

    Returns ``(axes, layout)``: ``axes[r][c]`` is the (xaxis, yaxis) trace reference pair, and
    ``layout`` holds the axis entries. ``share_x`` makes every row use the bottom row's x axes'
    range (time panels stacked above each other).
    """
    widths = np.asarray(widths or [1.0] * cols, dtype=float)
    heights = np.asarray(heights or [1.0] * rows, dtype=float)
    free_w, free_h = 1.0 - hgap * (cols - 1), 1.0 - vgap * (rows - 1)
    w = widths / widths.sum() * free_w
    h = heights / heights.sum() * free_h
    axes, layout = [], {}
    top = 1.0
    k = 0
    for r in range(rows):
        row, left = [], 0.0
        for c in range(cols):
            k += 1
            suffix = "" if k == 1 else str(k)
            xa, ya = f"x{suffix}", f"y{suffix}"
            layout[f"xaxis{suffix}"] = dict(domain=[left, min(left + w[c], 1.0)], anchor=ya)
            layout[f"yaxis{suffix}"] = dict(domain=[max(top - h[r], 0.0), top], anchor=xa)
            if share_x and r < rows - 1:
                bottom = (rows - 1) * cols + c + 1
                layout[f"xaxis{suffix}"].update(matches=f"x{bottom}", showticklabels=False)
            row.append((xa, ya))
            left += w[c] + hgap
        axes.append(row)
        top -= h[r] + vgap
    return axes, layout


def _axis_key(ref: str, axis: str) -> str:
    """'x3' -> 'xaxis3', 'y' -> 'yaxis'."""
    return f"{axis}axis{ref[1:]}"


def _title(text: str, xa: str, ya: str, layout: dict[str, Any]) -> dict[str, Any]:
    """A panel title placed above the panel whose axes are (xa, ya)."""
    xd = layout[_axis_key(xa, "x")]["domain"]
    yd = layout[_axis_key(ya, "y")]["domain"]
    return dict(text=text, x=(xd[0] + xd[1]) / 2, y=yd[1], xref="paper", yref="paper",
                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=14))


def _weight_axis(title: str = "weight") -> dict[str, Any]:
    return dict(cmin=WEIGHT_RANGE[0], cmax=WEIGHT_RANGE[1], colorscale=WEIGHT_COLORSCALE,
                colorbar=dict(title=dict(text=title), thickness=14, len=0.9))


def _figure(data: list, layout: dict[str, Any], *, height: int, title: str | None = None,
            margin_top: int = 40) -> go.Figure:
    layout = dict(layout)
    layout.setdefault("margin", dict(l=55, r=20, t=margin_top, b=45))
    layout["height"] = height
    if title:
        layout["title"] = dict(text=title, x=0.0, xanchor="left", font=dict(size=16))
    layout.setdefault("showlegend", False)
    return go.Figure(data=data, layout=layout)


# ---- sequences -------------------------------------------------------------------------------

def sequence_figure(trace: Trace, t: int) -> go.Figure:
    """Input, target and output over time (time on x, bit channel on y) with a cursor at ``t``.

    Wrong output bits on scored timesteps (thresholded at 0.5) are marked with a red x.
    Unscored timesteps are shaded on the target and output panels.
    """
    t = check_t(trace, t)
    panels = [("input", trace.inputs), ("target", trace.targets), ("output", trace.outputs)]
    axes, layout = _grid(1, 3, heights=[p[1].shape[1] for p in panels], vgap=0.1, share_x=True)
    steps = np.arange(trace.steps)
    data = []
    for (name, values), ((xa, ya),) in zip(panels, axes):
        data.append(dict(
            type="heatmap", z=values.T, x=steps, y=np.arange(values.shape[1]), coloraxis="coloraxis",
            xaxis=xa, yaxis=ya, name=name, xgap=1, ygap=1,
            hovertemplate=f"{name} · t=%{{x}} · bit %{{y}}<br>value = %{{z{HOVER_NUMBER}}}<extra></extra>"))
        layout[_axis_key(ya, "y")].update(title=dict(text=name), autorange="reversed", showgrid=False,
                                          zeroline=False)
        layout[_axis_key(xa, "x")].update(showgrid=False, zeroline=False)
    errors = int(trace.bit_errors())
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
    layout.update(coloraxis=_weight_axis("value"), shapes=shapes)
    layout[_axis_key(out_x, "x")]["title"] = dict(text="timestep t")
    title = (f"Input, target and output — {errors} bit error{'s' if errors != 1 else ''} "
             f"in total, {int(trace.bit_errors_per_step()[t])} at t = {t}")
    return _figure(data, layout, height=360, title=title)


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

def _matrix_heatmap(z: np.ndarray, half_range: float, *, name: str, colorbar: str, height: int,
                    title: str) -> go.Figure:
    n, m = z.shape
    data = [dict(
        type="heatmap", z=z, x=np.arange(m), y=np.arange(n), zmin=-half_range, zmax=half_range, zmid=0.0,
        colorscale=MEMORY_COLORSCALE, name=name, colorbar=dict(title=dict(text=colorbar), thickness=14),
        hovertemplate=f"slot %{{y}} · column %{{x}}<br>{name} = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="memory column"), showgrid=False, zeroline=False),
                  yaxis=dict(title=dict(text="slot i"), autorange="reversed", showgrid=False, zeroline=False))
    return _figure(data, layout, height=height, title=title)


def memory_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """M_t, the memory after step ``t`` (slots down, columns across), on the trace's fixed scale."""
    t = check_t(trace, t)
    return _matrix_heatmap(trace.memory[t + 1], memory_range(trace), name="M", colorbar="M",
                           height=height, title=f"Memory M after step {t}")


def memory_change_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """M after step ``t`` minus M before it: what step ``t`` erased and added."""
    t = check_t(trace, t)
    return _matrix_heatmap(trace.memory_change(t), change_range(trace), name="ΔM", colorbar="ΔM",
                           height=height, title=f"Change made by step {t}")


# ---- weightings over time (the paper's Figure 6) ----------------------------------------------

def weights_over_time_figure(trace: Trace, t: int, height: int = 520) -> go.Figure:
    """Every head's final weighting w_t over all timesteps (time on x, slot on y), cursor at ``t``.

    Write heads come first, as in the paper's Figure 6.
    """
    t = check_t(trace, t)
    heads = sorted(trace.heads, key=lambda h: (h.kind != "write", h.name))
    axes, layout = _grid(len(heads), 1, hgap=0.05)
    steps = np.arange(trace.steps)
    data, annotations = [], []
    for head, (xa, ya) in zip(heads, axes[0]):
        n = head.weights.shape[1]
        data.append(dict(
            type="heatmap", z=head.weights.T, x=steps, y=np.arange(n), coloraxis="coloraxis", xaxis=xa, yaxis=ya,
            name=head.name,
            hovertemplate=f"{head.name} · t=%{{x}} · slot %{{y}}<br>w = %{{z{HOVER_NUMBER}}}<extra></extra>"))
        layout[_axis_key(xa, "x")].update(title=dict(text="timestep t"), showgrid=False, zeroline=False)
        first = ya == "y"
        layout[_axis_key(ya, "y")].update(autorange="reversed", showgrid=False, zeroline=False,
                                          showticklabels=first, title=dict(text="slot i" if first else ""))
        annotations.append(_title(f"{head.name} weighting", xa, ya, layout))
    shapes = []
    for xa, _ in axes[0]:
        shape = cursor_shape(t)
        shape["xref"] = xa
        shapes.append(shape)
    layout.update(coloraxis=_weight_axis("w"), shapes=shapes, annotations=annotations)
    return _figure(data, layout, height=height, title="Read and write weightings over time", margin_top=70)


# ---- one head's addressing pipeline at t ---------------------------------------------------

def stage_parameters(head: Any, t: int) -> dict[str, dict[str, Any]]:
    """{stage key: {"field", "symbol", "value"}} — the emitted parameter each stage uses at ``t``.

    ``value`` is a float for scalars and a {offset: weight} dict for the shift distribution.
    Stages without a parameter are absent.
    """
    mapping = getattr(head, "STAGE_PARAMETERS", NTM_STAGE_PARAMETERS)
    out = {}
    for stage in head.stages():
        if stage.key not in mapping:
            continue
        field, symbol = mapping[stage.key]
        values = getattr(head, field, None)
        if values is None:
            continue
        v = np.asarray(values[t])
        if field == "s":
            offsets = getattr(head, "shift_offsets", list(range(v.shape[-1])))
            value: Any = {int(o): float(x) for o, x in zip(offsets, v)}
        else:
            value = float(v)
        out[stage.key] = {"field": field, "symbol": symbol, "value": value}
    return out


def format_parameter(param: dict[str, Any]) -> str:
    """'β = 3.214', or 's = {-1: 0.05, 0: 0.1, +1: 0.85}' for the shift distribution."""
    value = param["value"]
    if isinstance(value, dict):
        body = ", ".join(f"{o:+d}: {w:.3g}" if o else f"0: {w:.3g}" for o, w in value.items())
        return f"{param['symbol']} = {{{body}}}"
    return f"{param['symbol']} = {value:.4g}"


def addressing_figure(head: Any, t: int, height: int = 280, widths: Sequence[float] | None = None) -> go.Figure:
    """One head at ``t``: each addressing stage's weighting as bars over the slots, side by side.

    Bars are coloured on the fixed [0, 1] weight scale (colour bar on the right) and every
    panel's y axis is [0, 1]. The gated panel also shows the previous weighting w_{t-1}
    (grey line), since the gate mixes it in (at t = 0, the head's initial weighting when the
    trace has it). ``widths`` sets the panels' relative widths
    (to line them up with text laid out above them).
    """
    stages = head.stages()
    axes, layout = _grid(len(stages), 1, widths=widths, hgap=0.045)
    params = stage_parameters(head, t)
    data, annotations = [], []
    for stage, (xa, ya) in zip(stages, axes[0]):
        w = np.asarray(stage.weights[t])
        slots = np.arange(w.shape[0])
        data.append(dict(
            type="bar", x=slots, y=w, xaxis=xa, yaxis=ya, name=stage.label,
            marker=dict(color=w, coloraxis="coloraxis", line=dict(width=0)),
            hovertemplate=f"{stage.label} · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        prev = head.previous_weights(t) if stage.key == "gated" and hasattr(head, "previous_weights") else None
        if prev is not None:
            prev = np.asarray(prev)
            data.append(dict(
                type="scatter", x=slots, y=prev, xaxis=xa, yaxis=ya, name="previous w", mode="lines",
                line=dict(color=PREVIOUS_COLOR, width=1.5, shape="hvh"),
                hovertemplate=f"w at t-1 · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        layout[_axis_key(xa, "x")].update(title=dict(text="slot i"), showgrid=False, zeroline=False)
        layout[_axis_key(ya, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
        label = f"{STAGE_SYMBOLS.get(stage.key, stage.key)}  {stage.label}"
        if stage.key in params and not isinstance(params[stage.key]["value"], dict):
            label += f" · {format_parameter(params[stage.key])}"
        annotations.append(_title(label, xa, ya, layout))
    layout.update(coloraxis=_weight_axis("w"), annotations=annotations, bargap=0.1)
    return _figure(data, layout, height=height, title=f"{head.name}: addressing at t = {t}", margin_top=70)


def shift_figure(head: Any, t: int, height: int = 160) -> go.Figure:
    """The shift distribution s_t over offsets -R..R at ``t`` (bars on a [0, 1] axis)."""
    s = np.asarray(head.s[t])
    offsets = getattr(head, "shift_offsets", list(range(s.shape[0])))
    data = [dict(type="bar", x=[f"{o:+d}" if o else "0" for o in offsets], y=s, name="s",
                 marker=dict(color=s, cmin=WEIGHT_RANGE[0], cmax=WEIGHT_RANGE[1], colorscale=WEIGHT_COLORSCALE,
                             line=dict(width=0)),
                 hovertemplate=f"shift %{{x}}<br>s = %{{y{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="shift offset"), type="category"),
                  yaxis=dict(range=list(WEIGHT_RANGE), fixedrange=True),
                  margin=dict(l=40, r=10, t=28, b=30))
    return _figure(data, layout, height=height, title=f"shift distribution s at t = {t}", margin_top=28)


# ---- vectors: erase, add, read ------------------------------------------------------------------

def vector_panels(trace: Trace) -> list[tuple[Any, str, str, tuple[float, float]]]:
    """(head, field, label, fixed y range) of every per-step vector the trace holds."""
    r = memory_range(trace)
    panels = []
    for head in trace.heads:
        for field, label, rng in (("erase", "erase vector e", (0.0, 1.0)), ("add", "add vector a", (-1.0, 1.0)),
                                  ("read", "read vector r", (-r, r))):
            if getattr(head, field, None) is not None:
                panels.append((head, field, label, rng))
    return panels


def vectors_figure(trace: Trace, t: int, height: int = 250) -> go.Figure:
    """Erase and add vectors (write heads) and read vectors (read heads) at ``t``, as bars over
    the memory columns, each on a range fixed for the whole trace."""
    t = check_t(trace, t)
    panels = vector_panels(trace)
    axes, layout = _grid(max(len(panels), 1), 1, hgap=0.05)
    data, annotations = [], []
    for (head, field, label, rng), (xa, ya) in zip(panels, axes[0]):
        v = np.asarray(getattr(head, field)[t])
        colour = "#1f77b4" if head.kind == "read" else "#d62728"
        data.append(dict(
            type="bar", x=np.arange(v.shape[0]), y=v, xaxis=xa, yaxis=ya, name=f"{head.name} {field}",
            marker=dict(color=colour, line=dict(width=0)),
            hovertemplate=f"{head.name} {field} · column %{{x}}<br>value = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        layout[_axis_key(xa, "x")].update(title=dict(text="memory column"), showgrid=False)
        layout[_axis_key(ya, "y")].update(range=list(rng), fixedrange=True)
        annotations.append(_title(f"{head.name}: {label}", xa, ya, layout))
    layout.update(annotations=annotations)
    return _figure(data, layout, height=height, title=f"Vectors at t = {t}", margin_top=70)


# ---- the addressing lab: loose arrays, same look ------------------------------------------------

def weighting_figure(w: np.ndarray, title: str, previous: np.ndarray | None = None,
                     height: int = 230) -> go.Figure:
    """One weighting over the slots as bars on the fixed [0, 1] scale (optionally with a
    previous weighting as a grey line)."""
    w = np.asarray(w, dtype=float)
    slots = np.arange(w.shape[0])
    data = [dict(type="bar", x=slots, y=w, name="w",
                 marker=dict(color=w, coloraxis="coloraxis", line=dict(width=0)),
                 hovertemplate=f"slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>")]
    if previous is not None:
        data.append(dict(type="scatter", x=slots, y=np.asarray(previous, dtype=float), mode="lines",
                         name="previous w", line=dict(color=PREVIOUS_COLOR, width=1.5, shape="hvh"),
                         hovertemplate=f"w at t-1 · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>"))
    layout = dict(xaxis=dict(title=dict(text="slot i"), dtick=1 if w.shape[0] <= 32 else None),
                  yaxis=dict(range=list(WEIGHT_RANGE), fixedrange=True),
                  coloraxis=_weight_axis("w"), bargap=0.15, margin=dict(l=45, r=10, t=40, b=40))
    return _figure(data, layout, height=height, title=title)


def similarity_figure(similarity: np.ndarray, height: int = 230) -> go.Figure:
    """Cosine similarity K[k, M(i)] of the key to each slot, on its natural range [-1, 1]."""
    sim = np.asarray(similarity, dtype=float)
    data = [dict(type="bar", x=np.arange(sim.shape[0]), y=sim, name="K",
                   marker=dict(color=sim, cmin=-1, cmax=1, colorscale=MEMORY_COLORSCALE, line=dict(width=0)),
                   hovertemplate=f"slot %{{x}}<br>K = %{{y{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="slot i"), dtick=1 if sim.shape[0] <= 32 else None),
                  yaxis=dict(range=[-1.05, 1.05], fixedrange=True), bargap=0.15,
                  margin=dict(l=45, r=10, t=40, b=40))
    return _figure(data, layout, height=height, title="cosine similarity K[k, M(i)]")


def matrix_figure(matrix: np.ndarray, title: str, half_range: float | None = None, height: int = 300,
                  row_label: str = "slot i", colorbar: bool = True) -> go.Figure:
    """A small matrix (memory, or a key as one row) on a diverging scale symmetric about 0,
    with each cell's value written in it."""
    z = np.asarray(matrix, dtype=float)
    r = half_range if half_range is not None else max(float(np.abs(z).max(initial=0.0)), _MIN_RANGE)
    fig = _matrix_heatmap(z, r, name="value", colorbar="", height=height, title=title)
    fig.update_traces(texttemplate="%{z:.2f}", xgap=1, ygap=1, showscale=colorbar)
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(dtick=1, title_text=row_label, showticklabels=bool(row_label))
    return fig


__all__ = [
    "WEIGHT_RANGE", "WEIGHT_COLORSCALE", "MEMORY_COLORSCALE", "CURSOR_NAME", "memory_range", "change_range",
    "cursor_shape", "set_cursor", "plotly_config", "enlarge", "sequence_figure", "memory_figure",
    "memory_change_figure", "weights_over_time_figure", "stage_parameters", "format_parameter",
    "addressing_figure", "shift_figure", "vector_panels", "vectors_figure", "weighting_figure",
    "similarity_figure", "matrix_figure",
]
