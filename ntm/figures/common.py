"""What every figure shares: fixed colour scales and ranges, the time cursor, Plotly settings, and
a small layout helper that places panels by axis domains.

Colour scales are fixed, never fitted to the data on screen:

    weights, bits       [0, 1]           sequential (WEIGHT_COLORSCALE), with a colour bar
    memory M_t          [-R, R]          diverging around 0, R = max |M| over the whole trace
    memory change       [-D, D]          diverging, D = max |M_t - M_{t-1}| over the trace

so a near-uniform weighting looks near-uniform (an auto-scaled colour bar would stretch
1/128 +- 1e-4 into the full range) and colours compare across timesteps. Hover shows the
exact value of every cell and bar (``HOVER_NUMBER``).

Figures are laid out with plain axis domains (``grid``) rather than ``make_subplots``: building
a figure is ~1-2 ms that way instead of ~12 ms, which keeps a step of the explorer fast.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.trace import Trace

WEIGHT_RANGE = (0.0, 1.0)
WEIGHT_COLORSCALE = "Viridis"
MEMORY_COLORSCALE = "RdBu_r"          # blue < 0 < red, white at 0
CURSOR_NAME = "cursor"                # the layout shape that marks timestep t
CURSOR_COLOR = "#ff4b4b"
ERROR_COLOR = "#ff4b4b"
PREVIOUS_COLOR = "#7f7f7f"
HOVER_NUMBER = ":.6~g"                # d3 format: up to 6 significant digits, no padding
# Smallest symmetric range for a diverging scale, so an all-zero memory still has a scale.
MIN_RANGE = 1e-6


# ---- fixed ranges ------------------------------------------------------------------------------

def memory_range(trace: Trace) -> float:
    """R = max |M_t| over every timestep: the fixed half-range of the memory colour scale."""
    return max(float(np.abs(trace.memory).max(initial=0.0)), MIN_RANGE)


def change_range(trace: Trace) -> float:
    """D = max |M_t - M_{t-1}| over the trace: the fixed half-range of the change colour scale."""
    diffs = np.diff(trace.memory, axis=0)
    return max(float(np.abs(diffs).max(initial=0.0)), MIN_RANGE)


def check_t(trace: Trace, t: int) -> int:
    if not 0 <= int(t) < trace.steps:
        raise ValueError(f"timestep t={t} is outside the trace (0..{trace.steps - 1})")
    return int(t)


# ---- the time cursor, Plotly settings, projection -------------------------------------------

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


# ---- layout helpers --------------------------------------------------------------------------

def grid(cols: int, rows: int = 1, *, widths: Sequence[float] | None = None,
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


def axis_key(ref: str, axis: str) -> str:
    """'x3' -> 'xaxis3', 'y' -> 'yaxis'."""
    return f"{axis}axis{ref[1:]}"


def panel_title(text: str, xa: str, ya: str, layout: dict[str, Any]) -> dict[str, Any]:
    """A panel title (an annotation) placed above the panel whose axes are (xa, ya)."""
    xd = layout[axis_key(xa, "x")]["domain"]
    yd = layout[axis_key(ya, "y")]["domain"]
    return dict(text=text, x=(xd[0] + xd[1]) / 2, y=yd[1], xref="paper", yref="paper",
                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=14))


def weight_axis(title: str = "weight") -> dict[str, Any]:
    """A colour axis on the fixed [0, 1] weight scale, with its colour bar titled ``title``."""
    return dict(cmin=WEIGHT_RANGE[0], cmax=WEIGHT_RANGE[1], colorscale=WEIGHT_COLORSCALE,
                colorbar=dict(title=dict(text=title), thickness=14, len=0.9))


def figure(data: list, layout: dict[str, Any], *, height: int, title: str | None = None,
           margin_top: int = 40) -> go.Figure:
    """A figure from trace dicts and a layout, with the explorer's margins and title style."""
    layout = dict(layout)
    layout.setdefault("margin", dict(l=55, r=20, t=margin_top, b=45))
    layout["height"] = height
    if title:
        layout["title"] = dict(text=title, x=0.0, xanchor="left", font=dict(size=16))
    layout.setdefault("showlegend", False)
    return go.Figure(data=data, layout=layout)


def matrix_heatmap(z: np.ndarray, half_range: float, *, name: str, colorbar: str, height: int,
                   title: str) -> go.Figure:
    """An ``[N, M]`` matrix (slots down, columns across) on a diverging scale over [-r, r]."""
    n, m = z.shape
    data = [dict(
        type="heatmap", z=z, x=np.arange(m), y=np.arange(n), zmin=-half_range, zmax=half_range, zmid=0.0,
        colorscale=MEMORY_COLORSCALE, name=name, colorbar=dict(title=dict(text=colorbar), thickness=14),
        hovertemplate=f"slot %{{y}} · column %{{x}}<br>{name} = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="memory column"), showgrid=False, zeroline=False),
                  yaxis=dict(title=dict(text="slot i"), autorange="reversed", showgrid=False, zeroline=False))
    return figure(data, layout, height=height, title=title)
