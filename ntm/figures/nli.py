"""Figures of one NLI inference by the dual-memory NTM (``ntm.dual.demo.Inference``).

    probabilities_figure(probabilities, gold)   the three labels' probabilities at the answer step
    long_term_reads_figure(reads)               per timestep, the weight c_t on each retrieved
                                                proposition (rows) and the read modes pi_t

The texts of propositions are data from users. Plotly draws a few tags in any text it shows
(``<b>``, ``<br>``, ``<a href>``), so every text is HTML-escaped first (``_text``): Plotly turns
the entities back into characters and shows what was typed.
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.figures.common import HOVER_NUMBER, WEIGHT_COLORSCALE, grid, panel_title

LABEL_COLORS = {"entailment": "#2ca02c", "contradiction": "#d62728", "neutral": "#7f7f7f"}
MODE_NAMES = ("backward", "content", "forward")
ROW_CHARS = 48


def _text(text: str) -> str:
    """``text`` as Plotly shows it literally: ``&``, ``<`` and ``>`` as entities."""
    return html.escape(text, quote=False)


def _short(text: str, limit: int = ROW_CHARS) -> str:
    text = " ".join(text.split())
    return _text(text if len(text) <= limit else text[:limit - 1] + "…")


def probabilities_figure(probabilities: Mapping[str, float], gold: str | None = None,
                         height: int = 220) -> go.Figure:
    """Horizontal bars: each label's softmax probability; the predicted (largest) label outlined,
    the gold label (if known) named in the title."""
    labels = list(probabilities)
    values = [float(probabilities[k]) for k in labels]
    best = labels[int(np.argmax(values))]
    fig = go.Figure(go.Bar(
        x=values, y=labels, orientation="h", marker_color=[LABEL_COLORS.get(k, "#1f77b4") for k in labels],
        marker_line_width=[3 if k == best else 0 for k in labels], marker_line_color="black",
        text=[f"{v:.0%}" for v in values], textposition="auto",
        hovertemplate=f"%{{y}}: %{{x{HOVER_NUMBER}}}<extra></extra>"))
    title = f"prediction: {best}" + (f" (gold: {gold})" if gold else "")
    fig.update_layout(title=dict(text=title, x=0, font_size=15), height=height,
                      margin=dict(l=10, r=10, t=40, b=30), showlegend=False,
                      xaxis=dict(range=[0, 1], tickformat=".0%", title="probability (softmax at the answer step)"),
                      yaxis=dict(autorange="reversed"))
    return fig


def long_term_reads_figure(reads: Sequence, height: int | None = None) -> go.Figure:
    """Left: heat map of c_t, one row per proposition retrieved at any step (heaviest first), one
    column per timestep that read the graph. Right: the read modes pi_t (backward, content,
    forward) as stacked bars per timestep. ``reads``: ``StepRead``s (t, hits, modes)."""
    order: dict[str, str] = {}
    best: dict[str, float] = {}
    for step in reads:
        for hit in step.hits:
            order.setdefault(hit.id, hit.text)
            best[hit.id] = max(best.get(hit.id, 0.0), hit.weight)
    ids = sorted(order, key=lambda i: (-best[i], i))
    steps = [step.t for step in reads]
    z = np.zeros((len(ids), len(steps)))
    for j, step in enumerate(reads):
        for hit in step.hits:
            z[ids.index(hit.id), j] = hit.weight
    rows = [_short(order[i]) for i in ids]
    height = height or max(260, 40 + 22 * len(ids))
    axes, layout = grid(2, widths=(0.7, 0.3), hgap=0.2)
    (hx, hy), (mx, my) = axes[0]
    heat_right = layout["xaxis"]["domain"][1]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=z, x=steps, y=rows, xaxis=hx, yaxis=hy, colorscale=WEIGHT_COLORSCALE, zmin=0,
        zmax=max(float(z.max()), 1e-6), colorbar=dict(title="c_t", x=heat_right + 0.01, xanchor="left", len=0.9, thickness=10),
        customdata=np.array([[_text(order[i])] * len(steps) for i in ids], dtype=object) if ids else None,
        hovertemplate=f"t=%{{x}}<br>%{{customdata}}<br>c_t=%{{z{HOVER_NUMBER}}}<extra></extra>"))
    modes = np.array([step.modes for step in reads]).reshape(len(reads), 3)
    for k, name in enumerate(MODE_NAMES):
        fig.add_trace(go.Bar(x=steps, y=modes[:, k] if len(reads) else [], name=name, xaxis=mx, yaxis=my,
                             hovertemplate=f"t=%{{x}} {name}: %{{y{HOVER_NUMBER}}}<extra></extra>"))
    layout["annotations"] = [panel_title("weight c_t on each retrieved proposition", hx, hy, layout),
                             panel_title("read modes π_t", mx, my, layout)]
    fig.update_layout(layout)
    fig.update_layout(height=height + 30, barmode="stack", margin=dict(l=10, r=10, t=40, b=70),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left",
                                  x=layout[f"xaxis{mx[1:]}"]["domain"][0]))
    fig.layout[f"xaxis{hx[1:]}"].update(title="t", dtick=1)
    fig.layout[f"yaxis{hy[1:]}"].update(autorange="reversed", automargin=True)
    fig.layout[f"xaxis{mx[1:]}"].update(title="t", dtick=1)
    fig.layout[f"yaxis{my[1:]}"].update(range=[0, 1])
    return fig
