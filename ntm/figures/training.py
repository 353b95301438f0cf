"""Figures for training and generalisation: plain data (metrics lines, sample and evaluation rows)
in, Plotly figures out. Nothing here reads a trace or the library.

    curves_figure(metrics, smooth=10)  metrics.jsonl lines -> loss and cost per sequence vs sequences seen
                                       (optionally a trailing moving average over the last reports)
    moving_average(values, window)     the trailing mean the smoothing uses
    sample_figure(sample)              sample.json -> target vs output heatmaps of the scored steps
    generalisation_figure(series)      {label: rows of evaluate()} -> bit errors per sequence vs length
    repeats_grid_figure(grids)         {label: rows of generalisation_grid()} -> a heatmap per model over
                                       (length, repeats): cost per sequence, bit errors or % perfect
    examples_figure(target, outputs)   one long example: target, then each model's output

The paper's figures plot "cost per sequence (bits)" against sequences seen (figs. 3, 4, 9) and
show target/output pairs as heatmaps with time running left to right (figs. 4, 5); these follow.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..numbers import percent

HEATMAP_SCALE = "Greys"       # 0 = white, 1 = black: reads like the paper's bit plots
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
LOG_FLOOR = 1e-2              # where a zero lands on a log axis (a perfect length)
FLOOR_LABEL = "◇ on this dotted line: 0 errors (a log axis has no zero)"
MAX_CURVE_POINTS = 2000       # more metrics lines than this are thinned before drawing


def format_duration(seconds: float | None) -> str:
    """``75`` -> ``"1 min 15 s"``; None -> ``"–"``."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _empty(message: str, height: int = 260) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average: ``y_i = mean(v_j for j in max(0, i - window + 1) .. i)``.

    The first values average over what there is so far, so the curve starts where the data starts
    and never looks ahead (a point says what training had reached by then). ``window <= 1``: unchanged.
    """
    v = [float(x) for x in values]
    if window <= 1 or not v:
        return v
    sums = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(1, len(v) + 1)
    lo = np.maximum(i - window, 0)
    return ((sums[i] - sums[lo]) / (i - lo)).tolist()


def curves_figure(metrics: Sequence[dict[str, Any]], smooth: int = 0) -> go.Figure:
    """Training curves from metrics lines (``ntm.training``: sequences, loss, cost_bits, bit_errors).

    Left: loss, the mean binary cross-entropy per scored bit (nats) the optimiser minimises.
    Right: cost per sequence in bits (the paper's y-axis), with bit errors per sequence dotted.
    ``smooth``: a window of reports; above 1 each curve is its trailing moving average
    (``moving_average``) over that many reports, drawn over the raw values shown faint.
    """
    if not metrics:
        return _empty("Waiting for the first report…")
    metrics = list(metrics)
    x = [m["sequences"] for m in metrics]
    columns = {"loss": [m["loss"] for m in metrics], "cost (bits)": [m["cost_bits"] for m in metrics]}
    if all("bit_errors" in m for m in metrics):
        columns["bit errors"] = [m["bit_errors"] for m in metrics]
    smoothing = smooth > 1 and len(metrics) > 1
    keep = list(range(len(metrics)))
    if len(metrics) > MAX_CURVE_POINTS:                  # thin long runs (after smoothing); keep the latest point
        step = math.ceil(len(metrics) / MAX_CURVE_POINTS)
        keep = keep[::step] + ([len(metrics) - 1] if (len(metrics) - 1) % step else [])
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (BCE per bit)", "cost per sequence"),
                        horizontal_spacing=0.12)
    styles = {"loss": (1, PALETTE[0], "solid"), "cost (bits)": (2, PALETTE[1], "solid"),
              "bit errors": (2, PALETTE[2], "dot")}
    for name, values in columns.items():
        col, color, dash = styles[name]
        shown = moving_average(values, smooth) if smoothing else values
        if smoothing:
            fig.add_trace(go.Scatter(x=[x[i] for i in keep], y=[values[i] for i in keep], mode="lines",
                                     name=f"{name} (raw)", legendgroup=name, showlegend=False, opacity=0.3,
                                     line=dict(color=color, dash=dash, width=1), hoverinfo="skip"), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=[x[i] for i in keep], y=[shown[i] for i in keep], name=name, legendgroup=name,
            mode="lines" if smoothing or dash != "solid" else "lines+markers", marker=dict(size=4),
            line=dict(color=color, dash=dash)), row=1, col=col)
    fig.update_xaxes(title_text="sequences seen")
    fig.update_yaxes(title_text="nats per bit", row=1, col=1)
    fig.update_yaxes(title_text="bits per sequence", row=1, col=2)
    fig.update_yaxes(rangemode="tozero")
    title = f"moving average over {smooth} reports (raw values faint)" if smoothing else ""
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=60 if title else 40, b=10),
                      title=dict(text=title, x=0, y=0.99, font=dict(size=12)) if title else None,
                      legend=dict(orientation="h", x=0, y=-0.3, yanchor="top"))
    return fig


def _scored(rows: Sequence[Sequence[float]], mask: Sequence[bool] | None) -> np.ndarray:
    """``[T, W]`` rows -> ``[W, T_scored]`` (bits down, time across), keeping the scored steps."""
    a = np.asarray(rows, dtype=float)
    if mask is not None:
        a = a[np.asarray(mask, dtype=bool)]
    return a.T if a.size else np.zeros((0, 0))


def bit_errors_of(target: np.ndarray, output: np.ndarray) -> int:
    """Bits whose thresholded output (> 0.5) differs from the target."""
    return int(((np.asarray(output) > 0.5) != (np.asarray(target) > 0.5)).sum())


def _heatmap(z: np.ndarray, name: str, showscale: bool) -> go.Heatmap:
    return go.Heatmap(z=z, zmin=0, zmax=1, colorscale=HEATMAP_SCALE, name=name, showscale=showscale,
                      colorbar=dict(len=0.8, thickness=10),
                      hovertemplate="step %{x}, bit %{y}: %{z:.2f}<extra>" + name + "</extra>")


def sample_figure(sample: dict[str, Any] | None) -> go.Figure:
    """The model's current answer to one fixed example (``sample.json``): target above, output
    (sigmoid probabilities) below, over the scored timesteps."""
    if not sample:
        return _empty("No sample prediction yet.")
    mask = sample.get("mask")
    target, output = _scored(sample["targets"], mask), _scored(sample["outputs"], mask)
    errors = bit_errors_of(target, output)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("target", f"output ({errors} bit error{'s' if errors != 1 else ''})"))
    fig.add_trace(_heatmap(target, "target", False), row=1, col=1)
    fig.add_trace(_heatmap(output, "output", True), row=2, col=1)
    fig.update_yaxes(title_text="bit", autorange="reversed")
    fig.update_xaxes(title_text="scored timestep", row=2, col=1)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=60, b=10),
                      title=dict(text=f"sample prediction at batch {sample.get('batches', '?')}", x=0, y=0.98,
                                 font=dict(size=14)))
    return fig


def generalisation_figure(series: dict[str, Sequence[dict[str, Any]]], train_lengths: Sequence[int] | None = None,
                          length_name: str = "sequence length", log_y: bool = False,
                          dashed: Iterable[str] = (), same_color: dict[str, str] | None = None) -> go.Figure:
    """Bit errors per sequence against length, one line per model (rows of ``ntm.evaluation.evaluate``:
    ``length``, ``bit_errors``, ``bit_errors_max``, ``perfect``).

    ``train_lengths``: (lo, hi) shaded as the lengths seen in training. ``dashed``: labels drawn
    dashed (e.g. the table saved when the preset was trained). ``same_color``: label -> another
    label whose colour it takes (the same model, evaluated twice). ``log_y``: a log axis has no
    zero, so a length without errors is drawn on a marked floor: a dotted line at ``LOG_FLOOR``
    whose tick reads "0" and whose legend entry says so (``FLOOR_LABEL``), the point an open diamond,
    and the hover the true value.
    """
    series = {label: rows for label, rows in series.items() if rows}
    if not series:
        return _empty("No evaluation yet.", height=380)
    dashed, same_color = set(dashed), same_color or {}
    colors: dict[str, str] = {}
    for label in series:
        if label not in same_color:
            colors[label] = PALETTE[len(colors) % len(PALETTE)]
    for label, other in same_color.items():
        colors.setdefault(label, colors.get(other, PALETTE[len(colors) % len(PALETTE)]))
    fig = go.Figure()
    if train_lengths:
        lo, hi = train_lengths
        fig.add_vrect(x0=lo - 0.5, x1=hi + 0.5, fillcolor="rgba(120,120,120,0.15)", line_width=0,
                      annotation_text="training lengths", annotation_position="top left")
    zeros = False
    for label, rows in series.items():
        rows = sorted(rows, key=lambda r: r["length"])
        y = [float(r["bit_errors"]) for r in rows]
        on_floor = [log_y and v < LOG_FLOOR for v in y]
        zeros = zeros or any(on_floor)
        fig.add_trace(go.Scatter(
            x=[r["length"] for r in rows], y=[max(v, LOG_FLOOR) for v in y] if log_y else y,
            customdata=[[v, float(r.get("bit_errors_max", float("nan"))), 100 * float(r.get("perfect", float("nan")))]
                        for v, r in zip(y, rows)],
            text=[percent(r["perfect"]) if "perfect" in r else "?%" for r in rows],   # 99.9% never reads 100%
            hovertemplate=(f"{label}<br>{length_name} %{{x}}: %{{customdata[0]:.2f}} bit errors/sequence"
                           "<br>max %{customdata[1]:.0f}, %{text} perfect<extra></extra>"),
            mode="lines+markers", name=label,
            marker=dict(symbol=["diamond-open" if z else "circle" for z in on_floor],
                        size=[10 if z else 6 for z in on_floor]),
            line=dict(color=colors[label], dash="dash" if label in dashed else "solid")))
    fig.update_xaxes(title_text=length_name)
    fig.update_yaxes(title_text="bit errors per sequence", type="log" if log_y else "linear",
                     rangemode="normal" if log_y else "tozero")
    if log_y:
        top = max((float(r["bit_errors"]) for rows in series.values() for r in rows), default=1.0)
        decades = range(int(math.log10(LOG_FLOOR)), int(math.ceil(math.log10(max(top, 1.0)))) + 1)
        ticks = [10.0 ** k for k in decades]
        fig.update_yaxes(tickvals=ticks, ticktext=["0"] + [f"{t:g}" for t in ticks[1:]],
                         range=[math.log10(LOG_FLOOR) - 0.3, math.log10(max(top, 1.0)) + 0.2])
        if zeros:                      # the floor as a trace of its own: data coordinates, and a legend entry
            xs = [r["length"] for rows in series.values() for r in rows]
            fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[LOG_FLOOR, LOG_FLOOR], mode="lines", name=FLOOR_LABEL,
                                     line=dict(color="rgba(80,80,80,0.7)", dash="dot", width=1), hoverinfo="skip"))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig


# What a repeats grid can colour its cells by: row key -> (title, colorscale). Bits are coloured by
# log10(1 + value), so 0.1 bits and 1000 bits both read; the cells' text and the hover give the value.
GRID_MEASURES: dict[str, tuple[str, str]] = {
    "cost_bits": ("cost per sequence (bits)", "Reds"),
    "bit_errors": ("bit errors per sequence", "Reds"),
    "perfect": ("% perfect sequences", "Greens"),
}


def _grid_value(measure: str, row: dict[str, Any] | None) -> float:
    """A row's value as drawn (``perfect`` in %), NaN for a cell not evaluated (yet)."""
    if row is None:
        return float("nan")
    return 100 * float(row["perfect"]) if measure == "perfect" else float(row[measure])


def _grid_text(measure: str, value: float) -> str:
    if not math.isfinite(value):
        return ""
    return percent(value / 100) if measure == "perfect" else f"{value:.2g}" if value < 10 else f"{value:.0f}"


def _inside(values: Sequence[int], span: Sequence[int] | None) -> tuple[float, float] | None:
    """The cell edges (``i - 0.5``, ``j + 0.5``) around the tested values within the inclusive ``span``,
    or None when no tested value is in it."""
    if not span:
        return None
    idx = [i for i, v in enumerate(values) if span[0] <= v <= span[1]]
    return (idx[0] - 0.5, idx[-1] + 0.5) if idx else None


def repeats_grid_figure(grids: dict[str, Sequence[dict[str, Any]]], measure: str = "cost_bits",
                        train_lengths: Sequence[int] | None = None, train_repeats: Sequence[int] | None = None,
                        lengths: Sequence[int] | None = None, repeats: Sequence[int] | None = None,
                        length_name: str = "sequence length") -> go.Figure:
    """Repeat copy's generalisation over both size knobs (section 4.2): one heatmap per model, the
    sequence length L across, the number of repeats r up, each cell a row of
    ``ntm.evaluation.generalisation_grid`` (``length``, ``repeats``, ``cost_bits``, ``bit_errors``,
    ``perfect``) coloured by ``measure`` (a key of ``GRID_MEASURES``).

    z ``[R, L]`` per model: ``log10(1 + value)`` for bits (colour bar ticks read the value), % for
    ``perfect``; the cells' text is the value, the hover every measure. ``lengths``/``repeats``: the axes
    (default: the values in the rows), so a grid drawn while it is evaluated keeps its shape, its
    missing cells blank. ``train_lengths``, ``train_repeats``: inclusive (lo, hi) of training, the
    cells inside them outlined. Axes are cell indices, ticks labelled with the values (``ticktext``),
    so uneven steps (1, 3, 5, 8) still give square cells and the outline sits on cell edges.
    """
    if measure not in GRID_MEASURES:
        raise ValueError(f"measure must be one of {sorted(GRID_MEASURES)}; got {measure!r}")
    grids = {label: rows for label, rows in grids.items() if rows}
    if not grids:
        return _empty("No evaluation yet.", height=380)
    every = [r for rows in grids.values() for r in rows]
    xs = sorted(lengths) if lengths else sorted({int(r["length"]) for r in every})
    ys = sorted(repeats) if repeats else sorted({int(r["repeats"]) for r in every})
    title, scale = GRID_MEASURES[measure]
    bits = measure != "perfect"
    top = max((_grid_value(measure, r) for r in every), default=0.0)
    top = top if math.isfinite(top) and top > 0 else 1.0
    if bits:                                   # colour bar ticks at 0, 1, 10, 100, ... up to the largest value
        ticks = [0.0] + [10.0 ** k for k in range(int(math.floor(math.log10(max(top, 1.0)))) + 1)]
        zmax, bar = math.log10(1 + top), dict(tickvals=[math.log10(1 + t) for t in ticks],
                                               ticktext=[f"{t:g}" for t in ticks])
    else:
        zmax, bar = 100.0, dict(ticksuffix="%")
    fig = make_subplots(rows=1, cols=len(grids), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=list(grids))
    box_x, box_y = _inside(xs, train_lengths), _inside(ys, train_repeats)
    for col, (label, rows) in enumerate(grids.items(), start=1):
        cell = {(int(r["length"]), int(r["repeats"])): r for r in rows}
        value = [[_grid_value(measure, cell.get((x, y))) for x in xs] for y in ys]         # [R, L]
        nan = float("nan")
        fig.add_trace(go.Heatmap(
            z=[[(math.log10(1 + v) if bits else v) if math.isfinite(v) else nan for v in row] for row in value],
            x=list(range(len(xs))), y=list(range(len(ys))), zmin=0, zmax=zmax, colorscale=scale, name=label,
            showscale=col == 1, colorbar=dict(title=dict(text=title, side="right"), thickness=12, **bar),
            text=[[_grid_text(measure, v) for v in row] for row in value], texttemplate="%{text}",
            customdata=[[[x, y, *(float(cell[x, y][k]) if (x, y) in cell else nan
                                  for k in ("cost_bits", "bit_errors", "perfect"))] for x in xs] for y in ys],
            hovertemplate=(f"{label}<br>{length_name} %{{customdata[0]}}, %{{customdata[1]}} repeats<br>"
                           "cost %{customdata[2]:.2f} bits per sequence<br>%{customdata[3]:.2f} bit errors "
                           "per sequence, %{customdata[4]:.1%} perfect<extra></extra>")), row=1, col=col)
        fig.update_xaxes(tickvals=list(range(len(xs))), ticktext=[str(x) for x in xs], title_text=length_name,
                         row=1, col=col)
        if box_x and box_y:
            fig.add_shape(type="rect", x0=box_x[0], x1=box_x[1], y0=box_y[0], y1=box_y[1], row=1, col=col,
                          line=dict(color="#2563eb", width=3, dash="dash"), fillcolor="rgba(0,0,0,0)")
    fig.update_yaxes(tickvals=list(range(len(ys))), ticktext=[str(y) for y in ys])
    fig.update_yaxes(title_text="number of repeats", row=1, col=1)
    trained = []
    if train_lengths:
        trained.append(f"{length_name} {train_lengths[0]}–{train_lengths[1]}")
    if train_repeats:
        trained.append(f"{train_repeats[0]}–{train_repeats[1]} repeats")
    note = ("trained on " + ", ".join(trained) + (" (dashed outline)" if box_x and box_y else
                                                 " (no tested cell inside)")) if trained else ""
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=70, b=10),
                      title=dict(text=f"{title} by {length_name} and number of repeats"
                                      + (f"<br><sup>{note}</sup>" if note else ""), x=0, font=dict(size=14)))
    return fig


def comparison_figure(fresh: dict[str, Sequence[dict[str, Any]]],
                      as_trained: dict[str, Sequence[dict[str, Any]]] | None = None,
                      **figure_args: Any) -> go.Figure | None:
    """The Generalisation page's picture of the rows evaluated so far (``fresh``: label -> rows), or
    None while there is no model to draw.

    With ``measure`` in ``figure_args`` (repeat copy's (length, repeats) grid): one heatmap per model,
    ``repeats_grid_figure(fresh, **figure_args)``. Otherwise the curves by length,
    ``generalisation_figure``, with the tables saved at training (``as_trained``, labels ending
    " (as trained)") dashed in the colour of the model they belong to.
    """
    as_trained = as_trained or {}
    if not fresh and not as_trained:
        return None
    if "measure" in figure_args:
        return repeats_grid_figure(fresh, **figure_args)
    return generalisation_figure({**fresh, **as_trained}, dashed=as_trained, **figure_args,
                                 same_color={k: k.removesuffix(" (as trained)") for k in as_trained})


def examples_figure(target: Sequence[Sequence[float]], outputs: dict[str, Sequence[Sequence[float]]],
                    title: str = "") -> go.Figure:
    """One example: the target, then each model's output, as ``[T, W]`` rows of the scored steps
    (time across, bits down), each titled with its bit errors."""
    t = _scored(target, None)
    rows = [("target", t)] + [(label, _scored(out, None)) for label, out in outputs.items()]
    titles = ["target"] + [f"{label} ({bit_errors_of(t, z)} bit errors)" for label, z in rows[1:]]
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=titles)
    for i, (label, z) in enumerate(rows):
        fig.add_trace(_heatmap(z, label, i == 0), row=i + 1, col=1)
    fig.update_yaxes(title_text="bit", autorange="reversed")
    fig.update_xaxes(title_text="scored timestep", row=len(rows), col=1)
    fig.update_layout(height=150 + 150 * len(rows), margin=dict(l=10, r=10, t=50 if title else 30, b=10),
                      title=dict(text=title, x=0, font=dict(size=14)) if title else None)
    return fig
