"""Figures of the training observatory: plain rows of ``ntm.observatory`` in, Plotly figures out.

    learning_curves_figure(rows)     cost per sequence vs sequences seen, one line per run, coloured by
                                     model (the paper's figs. 3, 4, 6, 9, 11 from our own runs)
    length_cost_figure(rows)         cost per sequence by sequence length during training, as a heatmap
                                     (length x sequences seen) or one line per length (pytorch-ntm)
    history_figure(history, i)       target and output on fixed example ``i`` with one animation frame per
                                     report, a slider and a play button (pytorch-ntm's training GIFs)

Runs of one model share a colour (NTM with an LSTM controller, NTM with a feed-forward one, LSTM...),
so several seeds of each read as a band; each line is still named by its run in the hover.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ntm.figures.training import HEATMAP_SCALE, LOG_FLOOR, PALETTE, _empty, bit_errors_of

LENGTH_SCALE = "Viridis"          # lengths, short (dark) to long (yellow)
MAX_FRAMES = 200                  # longer histories are thinned to this many frames (the last kept)


def _thin(items: Sequence[Any], most: int) -> list[Any]:
    """At most ``most`` items evenly spaced, always keeping the last."""
    if len(items) <= most:
        return list(items)
    step = math.ceil(len(items) / most)
    kept = list(items[::step])
    return kept if kept[-1] is items[-1] else kept + [items[-1]]


def learning_curves_figure(rows: Sequence[dict[str, Any]], log_y: bool = False, height: int = 420) -> go.Figure:
    """Cost per sequence (bits) against sequences seen, one line per run, one colour per group.

    ``rows``: ``{run, group, sequences, cost_bits}`` (``ntm.observatory.curve_rows``), in order of
    sequences within a run. ``log_y``: a log axis (zeros drawn at ``LOG_FLOOR``).
    """
    if not rows:
        return _empty("No run with a learning curve chosen.", height=height)
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        runs.setdefault(r["run"], []).append(r)
    colours: dict[str, str] = {}
    fig = go.Figure()
    for run, points in runs.items():
        group = str(points[0].get("group", run))
        first = group not in colours
        colour = colours.setdefault(group, PALETTE[len(colours) % len(PALETTE)])
        points = sorted(points, key=lambda p: p["sequences"])
        y = [float(p["cost_bits"]) for p in points]
        fig.add_trace(go.Scatter(
            x=[p["sequences"] for p in points], y=[max(v, LOG_FLOOR) for v in y] if log_y else y,
            customdata=y, mode="lines", name=run, legendgroup=group,
            legendgrouptitle=dict(text=group) if first else None, line=dict(color=colour, width=1.6),
            hovertemplate=f"{run}<br>%{{x:,}} sequences: %{{customdata:.2f}} bits per sequence<extra>{group}</extra>"))
    fig.update_xaxes(title_text="sequences seen")
    fig.update_yaxes(title_text="cost per sequence (bits)", type="log" if log_y else "linear",
                     rangemode="normal" if log_y else "tozero")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(groupclick="toggleitem"))
    return fig


def length_cost_figure(rows: Sequence[dict[str, Any]], kind: str = "heatmap", log_z: bool = False,
                       height: int = 380) -> go.Figure:
    """Cost per sequence by sequence length during one run (``ntm.observatory.length_rows``:
    ``{sequences, length, cost_bits}``).

    ``kind="heatmap"``: length up, sequences seen across, colour the cost (log10 with ``log_z``).
    ``kind="lines"``: one line per length, coloured from short to long.
    """
    if kind not in ("heatmap", "lines"):
        raise ValueError(f"kind must be 'heatmap' or 'lines'; got {kind!r}")
    if not rows:
        return _empty("This run recorded no cost by length (runs trained before it was kept have none).",
                      height=height)
    xs = sorted({r["sequences"] for r in rows})
    lengths = sorted({r["length"] for r in rows})
    fig = go.Figure()
    if kind == "heatmap":
        z = np.full((len(lengths), len(xs)), np.nan)
        col, row = {x: i for i, x in enumerate(xs)}, {n: i for i, n in enumerate(lengths)}
        for r in rows:
            z[row[r["length"]], col[r["sequences"]]] = r["cost_bits"]
        shown = np.log10(np.maximum(z, LOG_FLOOR)) if log_z else z
        fig.add_trace(go.Heatmap(
            x=xs, y=lengths, z=shown, customdata=z, colorscale="Magma_r", name="cost",
            colorbar=dict(title="log10 bits" if log_z else "bits", thickness=12),
            hovertemplate="length %{y}, %{x:,} sequences: %{customdata:.2f} bits<extra></extra>"))
        fig.update_yaxes(title_text="sequence length", tick0=lengths[0],
                         dtick=max(1, math.ceil((lengths[-1] - lengths[0]) / 10)))        # whole lengths only
    else:
        top = max(len(lengths) - 1, 1)
        colours = sample_colorscale(LENGTH_SCALE, [i / top for i in range(len(lengths))])
        for n, colour in zip(lengths, colours):
            points = sorted((r for r in rows if r["length"] == n), key=lambda r: r["sequences"])
            fig.add_trace(go.Scatter(x=[p["sequences"] for p in points], y=[p["cost_bits"] for p in points],
                                     mode="lines", name=f"length {n}", line=dict(color=colour, width=1.4),
                                     hovertemplate=f"length {n}<br>%{{x:,}} sequences: %{{y:.2f}} bits"
                                                   f"<extra></extra>"))
        fig.update_yaxes(title_text="cost per sequence (bits)", type="log" if log_z else "linear")
    fig.update_xaxes(title_text="sequences seen")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def _output_title(target: np.ndarray, output: np.ndarray, frame: dict[str, Any]) -> str:
    errors = bit_errors_of(target, output)
    return (f"output after {frame['sequences']:,} sequences (batch {frame['batches']:,}): "
            f"{errors} bit error{'' if errors == 1 else 's'}")


def history_figure(history: dict[str, Any] | None, index: int = 0, height: int = 380) -> go.Figure:
    """Target and output on fixed example ``index`` of a run's history (``ntm.observatory.history``),
    one animation frame per report: a slider over the reports and a play button. The figure opens
    at the latest report. Both panels show the scored steps, time across and bits down."""
    if not history or not history.get("frames"):
        return _empty("No output history: it is kept by runs trained from the app or the command line "
                      "since the observatory exists (not in presets).", height=height)
    examples, frames = history["examples"], _thin(history["frames"], MAX_FRAMES)
    if not 0 <= index < len(examples):
        raise ValueError(f"example index must be in [0, {len(examples)}); got {index}")
    target = np.asarray(examples[index]["targets"], dtype=float).T                # [W, T_scored]
    outputs = [np.asarray(f["outputs"][index], dtype=float).T for f in frames]
    last = len(frames) - 1
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.16,
                        subplot_titles=("target", _output_title(target, outputs[last], frames[last])))

    def heatmap(z: np.ndarray, name: str, scale: bool) -> go.Heatmap:
        return go.Heatmap(z=z, zmin=0, zmax=1, colorscale=HEATMAP_SCALE, name=name, showscale=scale,
                          colorbar=dict(len=0.8, thickness=10),
                          hovertemplate="step %{x}, bit %{y}: %{z:.2f}<extra>" + name + "</extra>")

    fig.add_trace(heatmap(target, "target", False), row=1, col=1)
    fig.add_trace(heatmap(outputs[last], "output", True), row=2, col=1)
    titles = [a.to_plotly_json() for a in fig.layout.annotations]          # the panels' titles
    fig.frames = [go.Frame(name=str(f["batches"]), data=[heatmap(z, "output", True)], traces=[1],
                           layout=dict(annotations=[titles[0], {**titles[1], "text": _output_title(target, z, f)}]))
                  for f, z in zip(frames, outputs)]
    steps = [dict(method="animate", label=f"{f['sequences']:,}",
                  args=[[str(f["batches"])], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                  transition=dict(duration=0))]) for f in frames]
    fig.update_layout(
        height=height + 90, margin=dict(l=10, r=10, t=40, b=10),
        sliders=[dict(active=last, steps=steps, x=0.14, len=0.86, y=-0.08, yanchor="top",
                      currentvalue=dict(prefix="sequences seen: ", xanchor="right"), pad=dict(t=30))],
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.08, xanchor="left", yanchor="top",
                          pad=dict(t=30), buttons=[
                              dict(label="▶ Play", method="animate",
                                   args=[None, dict(frame=dict(duration=250, redraw=True), fromcurrent=False,
                                                    transition=dict(duration=0))])])])
    fig.update_yaxes(title_text="bit", autorange="reversed")
    fig.update_xaxes(title_text="scored timestep", row=2, col=1)
    return fig
