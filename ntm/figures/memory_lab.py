"""Figures of the Memory lab: the DNC's memory management (Graves et al. 2016, Methods) from loose arrays.

Plain NumPy in, Plotly figures out; nothing here knows the lab's settings. Weightings sit on the
fixed [0, 1] scale like every weighting of the explorer; a previous value a stage mixes in
(u_{t-1}, p_{t-1}, w^{r}_{t-1}) is a grey step line over the bars.

    lab_bars(u, "usage u", previous=u_prev)             one [N] weighting
    lab_allocation_figure(u, a, phi)                     a_t with each slot's place in the sort phi_t
    lab_write_figure(a, c_w, g_a, g_w)                   w^w_t as its two gated parts, stacked
    lab_link_figure(L, order)                            L_t as a heatmap, the write order drawn through it
    lab_precedence_figure(ps, labels)                    p after each write, one row per write
    lab_heads_figure(f, "forward f", previous=w_r_prev)  an [R, N] weighting, one panel per read head
    lab_read_figure(b, c_r, f, pi)                       w^r_t as its three mode parts, stacked per head
    lab_read_modes_figure(pi)                            each head's (backward, content, forward) mix
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.figures.common import (HOVER_NUMBER, PREVIOUS_COLOR, WEIGHT_COLORSCALE, WEIGHT_RANGE, axis_key, figure, grid,
                                panel_title, weight_axis)

MODE_NAMES = ("backward", "content", "forward")
MODE_COLORS = ("#1f77b4", "#9a9a9a", "#ff7f0e")      # backward, content, forward
ALLOCATION_COLOR, CONTENT_COLOR = "#2ca02c", "#9467bd"
ORDER_COLOR = "#ff4b4b"


def _values(x: Any) -> list[float]:
    return np.asarray(x, dtype=float).tolist()


def _previous_line(previous: Sequence[float], label: str, **axes: str) -> dict[str, Any]:
    prev = _values(previous)
    return dict(type="scatter", x=list(range(len(prev))), y=prev, mode="lines", name=label,
                line=dict(color=PREVIOUS_COLOR, width=1.5, shape="hvh"),
                hovertemplate=f"{label} · slot %{{x}}<br>%{{y{HOVER_NUMBER}}}<extra></extra>", **axes)


def _slot_axis(n: int) -> dict[str, Any]:
    return dict(title=dict(text="slot i"), dtick=1, showgrid=False, zeroline=False, range=[-0.5, n - 0.5])


def lab_bars(w: Sequence[float], title: str, previous: Sequence[float] | None = None,
              previous_label: str = "previous", height: int = 230) -> go.Figure:
    """An ``[N]`` weighting as bars on the fixed [0, 1] scale, with ``previous`` as a grey line."""
    w = _values(w)
    data = [dict(type="bar", x=list(range(len(w))), y=w, name=title,
                 marker=dict(color=w, coloraxis="coloraxis", line=dict(width=0)),
                 hovertemplate=f"slot %{{x}}<br>%{{y{HOVER_NUMBER}}}<extra></extra>")]
    if previous is not None:
        data.append(_previous_line(previous, previous_label))
    layout = dict(xaxis=_slot_axis(len(w)), yaxis=dict(range=list(WEIGHT_RANGE), fixedrange=True),
                  coloraxis=weight_axis("w"), bargap=0.15, margin=dict(l=45, r=10, t=40, b=40))
    return figure(data, layout, height=height, title=title)


def ordinal(k: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th'."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def lab_allocation_figure(usage: Sequence[float], allocation: Sequence[float], phi: Sequence[int],
                      height: int = 250) -> go.Figure:
    """a_t over the slots, each bar labelled with the slot's place in phi_t (the ascending sort of
    u_t: '1st' is the least used), u_t as a grey line; the title lists phi_t."""
    u, a = _values(usage), _values(allocation)
    rank = {int(slot): j for j, slot in enumerate(phi)}
    before = np.concatenate([[1.0], np.cumprod([u[int(s)] for s in phi])[:-1]])  # prod_{i<j} u[phi[i]]
    places = [ordinal(rank[i] + 1) for i in range(len(a))]
    data = [dict(type="bar", x=list(range(len(a))), y=a, name="allocation a", text=places, textposition="outside",
                 customdata=[[1.0 - u[i], before[rank[i]]] for i in range(len(a))],
                 marker=dict(color=a, coloraxis="coloraxis", line=dict(width=0)),
                 hovertemplate=("slot %{x} · %{text} in φ<br>a = %{y" + HOVER_NUMBER + "}"
                                "<br>1 − u = %{customdata[0]" + HOVER_NUMBER + "}"
                                "<br>∏ usage of freer slots = %{customdata[1]" + HOVER_NUMBER + "}<extra></extra>")),
            _previous_line(u, "usage u")]
    layout = dict(xaxis=_slot_axis(len(a)), yaxis=dict(range=[0.0, 1.15], fixedrange=True),
                  coloraxis=weight_axis("w"), bargap=0.15, margin=dict(l=45, r=10, t=40, b=40))
    title = f"allocation a (grey: usage u) · φ = {', '.join(str(int(s)) for s in phi)}"
    return figure(data, layout, height=height, title=title)


def lab_write_figure(allocation: Sequence[float], write_content: Sequence[float], allocation_gate: float,
                     write_gate: float, height: int = 250) -> go.Figure:
    """w^w_t = g^w g^a a_t + g^w (1 - g^a) c^w_t as two stacked bars per slot: what the
    allocation gave and what the content lookup gave; their sum is the write weighting."""
    a, c = np.asarray(allocation, dtype=float), np.asarray(write_content, dtype=float)
    parts = (("from allocation gʷ·gᵃ·a", write_gate * allocation_gate * a, ALLOCATION_COLOR),
             ("from content gʷ·(1 − gᵃ)·cʷ", write_gate * (1.0 - allocation_gate) * c, CONTENT_COLOR))
    data = [dict(type="bar", x=list(range(len(a))), y=_values(y), name=name, marker=dict(color=color),
                 hovertemplate=f"{name} · slot %{{x}}<br>%{{y{HOVER_NUMBER}}}<extra></extra>")
            for name, y, color in parts]
    layout = dict(xaxis=_slot_axis(len(a)), yaxis=dict(range=list(WEIGHT_RANGE), fixedrange=True),
                  barmode="stack", bargap=0.15, showlegend=True,
                  legend=dict(orientation="h", x=0, y=-0.3, yanchor="top", traceorder="normal"), margin=dict(l=45, r=10, t=40, b=40))
    title = f"write weighting wʷ · gᵃ = {allocation_gate:.3g}, gʷ = {write_gate:.3g}"
    return figure(data, layout, height=height + 30, title=title)


def lab_link_figure(link: np.ndarray, order: Sequence[int], height: int = 340) -> go.Figure:
    """L_t (row i written after column j) on the fixed [0, 1] scale, each cell's value written in
    it; the write order is drawn through it: a red marker on cell (next, previous) for each pair of
    consecutive writes, numbered, joined by a line."""
    z = np.asarray(link, dtype=float)
    n = z.shape[0]
    data = [dict(type="heatmap", z=z.tolist(), x=list(range(n)), y=list(range(n)), zmin=0.0, zmax=1.0,
                 colorscale=WEIGHT_COLORSCALE, texttemplate="%{z:.2f}", xgap=1, ygap=1, name="L",
                 colorbar=dict(title=dict(text="L"), thickness=14),
                 hovertemplate=f"L[%{{y}}, %{{x}}]: slot %{{y}} after slot %{{x}}<br>%{{z{HOVER_NUMBER}}}<extra></extra>")]
    pairs = list(zip(order[:-1], order[1:]))
    if pairs:
        data.append(dict(type="scatter", x=[int(j) for j, _ in pairs], y=[int(i) for _, i in pairs],
                         mode="lines+markers+text", name="write order", text=[str(k + 1) for k in range(len(pairs))],
                         textposition="top left", textfont=dict(color=ORDER_COLOR, size=12), cliponaxis=False,
                         line=dict(color=ORDER_COLOR, width=1.5, dash="dot"),
                         marker=dict(color="rgba(0,0,0,0)", size=22, symbol="square",
                                     line=dict(color=ORDER_COLOR, width=2)),
                         hovertemplate="write %{text}: slot %{y} after slot %{x}<extra></extra>"))
    layout = dict(xaxis=dict(title=dict(text="j (written before)"), dtick=1, showgrid=False, zeroline=False,
                             range=[-0.5, n - 0.5], constrain="domain"),
                  yaxis=dict(title=dict(text="i (written after)"), dtick=1, range=[n - 0.5, -0.5], showgrid=False,
                             zeroline=False, scaleanchor="x", constrain="domain"),
                  margin=dict(l=55, r=20, t=40, b=45))
    shown = " → ".join(str(int(s)) for s in order) or "none"
    return figure(data, layout, height=height, title=f"link matrix L · write order {shown}")


def lab_precedence_figure(precedences: np.ndarray, labels: Sequence[str], height: int | None = None) -> go.Figure:
    """Precedence p after each write (one row per write, oldest on top) on the fixed [0, 1] scale."""
    z = np.asarray(precedences, dtype=float)
    rows, n = z.shape
    data = [dict(type="heatmap", z=z.tolist(), x=list(range(n)), y=list(labels), zmin=0.0, zmax=1.0,
                 colorscale=WEIGHT_COLORSCALE, xgap=1, ygap=1, name="p", colorbar=dict(title=dict(text="p"), thickness=14),
                 hovertemplate=f"%{{y}} · slot %{{x}}<br>p = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="slot i"), dtick=1, showgrid=False, zeroline=False),
                  yaxis=dict(autorange="reversed", type="category", showgrid=False, zeroline=False),
                  margin=dict(l=110, r=20, t=40, b=45))
    return figure(data, layout, height=height or 110 + 26 * rows, title="precedence p after each write")


def _head_panels(heads: int) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """One panel per read head, side by side: ([(xaxis, yaxis)], layout)."""
    axes, layout = grid(heads, 1, hgap=0.08)
    return axes[0], layout


def lab_heads_figure(values: np.ndarray, title: str, previous: np.ndarray | None = None,
                 previous_label: str = "previous read wʳ", height: int = 230) -> go.Figure:
    """An ``[R, N]`` weighting, one panel of bars per read head, ``previous`` ``[R, N]`` as grey lines."""
    v = np.asarray(values, dtype=float)
    axes, layout = _head_panels(v.shape[0])
    data, annotations = [], []
    for h, (xa, ya) in enumerate(axes):
        data.append(dict(type="bar", x=list(range(v.shape[1])), y=_values(v[h]), name=f"read {h + 1}",
                         xaxis=xa, yaxis=ya, marker=dict(color=_values(v[h]), coloraxis="coloraxis", line=dict(width=0)),
                         hovertemplate=f"read {h + 1} · slot %{{x}}<br>%{{y{HOVER_NUMBER}}}<extra></extra>"))
        if previous is not None:
            data.append(_previous_line(np.asarray(previous)[h], previous_label, xaxis=xa, yaxis=ya))
        layout[axis_key(xa, "x")].update(_slot_axis(v.shape[1]))
        layout[axis_key(ya, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
        if v.shape[0] > 1:
            annotations.append(panel_title(f"read {h + 1}", xa, ya, layout))
    layout.update(coloraxis=weight_axis("w"), annotations=annotations, bargap=0.15)
    return figure(data, layout, height=height, title=title, margin_top=55 if v.shape[0] > 1 else 40)


def lab_read_figure(backward: np.ndarray, content: np.ndarray, forward: np.ndarray, modes: np.ndarray,
                    height: int = 260) -> go.Figure:
    """w^{r,i}_t = pi[1] b + pi[2] c^r + pi[3] f as three stacked bars per slot, one panel per head."""
    parts = [np.asarray(x, dtype=float) for x in (backward, content, forward)]
    pi = np.asarray(modes, dtype=float)
    axes, layout = _head_panels(pi.shape[0])
    data, annotations = [], []
    for h, (xa, ya) in enumerate(axes):
        for m, (name, color) in enumerate(zip(MODE_NAMES, MODE_COLORS)):
            y = pi[h, m] * parts[m][h]
            data.append(dict(type="bar", x=list(range(y.shape[0])), y=_values(y), name=f"{name} π·{name[0]}",
                             legendgroup=name, showlegend=h == 0, xaxis=xa, yaxis=ya, marker=dict(color=color),
                             hovertemplate=f"read {h + 1} · {name} · slot %{{x}}<br>%{{y{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(xa, "x")].update(_slot_axis(parts[0].shape[1]))
        layout[axis_key(ya, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
        mix = ", ".join(f"{pi[h, m]:.2g}" for m in range(3))
        annotations.append(panel_title(f"read {h + 1} · π = ({mix})", xa, ya, layout))
    layout.update(barmode="stack", bargap=0.15, showlegend=True, annotations=annotations,
                  legend=dict(orientation="h", x=0, y=-0.3, yanchor="top", traceorder="normal"))
    return figure(data, layout, height=height + 30, title="read weighting wʳ by read mode", margin_top=60)


def lab_read_modes_figure(modes: np.ndarray, height: int | None = None) -> go.Figure:
    """Each head's read modes pi^i_t as one horizontal stacked bar: backward, content, forward."""
    pi = np.asarray(modes, dtype=float)
    heads = [f"read {h + 1}" for h in range(pi.shape[0])]
    data = [dict(type="bar", orientation="h", y=heads, x=_values(pi[:, m]), name=name, marker=dict(color=color),
                 text=[f"{name} {x:.2f}" if x >= 0.12 else "" for x in pi[:, m]], textposition="inside",
                 hovertemplate=f"%{{y}} · {name}<br>π = %{{x{HOVER_NUMBER}}}<extra></extra>")
            for m, (name, color) in enumerate(zip(MODE_NAMES, MODE_COLORS))]
    layout = dict(barmode="stack", xaxis=dict(range=[0.0, 1.0], title=dict(text="π"), fixedrange=True),
                  yaxis=dict(autorange="reversed", fixedrange=True), showlegend=False,
                  margin=dict(l=60, r=10, t=40, b=40))
    return figure(data, layout, height=height or 100 + 34 * len(heads), title="read modes π")


__all__ = ["MODE_NAMES", "lab_bars", "ordinal", "lab_allocation_figure", "lab_write_figure", "lab_link_figure",
           "lab_precedence_figure", "lab_heads_figure", "lab_read_figure", "lab_read_modes_figure"]
