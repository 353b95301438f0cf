"""Figures of the addressing stages (Graves et al. 2014, eqs. 5-9): one recorded head at timestep t,
and the Addressing lab's loose weightings.

A head is drawn through its stage table only: ``head.stages()`` (the rows of ``ntm.trace.Stage``
with the head's ``[T, N]`` weighting for each), each row's ``parameter`` (the emission it uses)
and ``mixes_previous`` (draw w_{t-1} beside it), and ``head.previous_weights(t)``. So another
head type with its own table (a DNC head, say) draws without changes here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.figures.common import (HOVER_NUMBER, MEMORY_COLORSCALE, MIN_RANGE, PREVIOUS_COLOR, WEIGHT_COLORSCALE,
                                WEIGHT_RANGE, axis_key, figure, grid, head_window, matrix_heatmap, panel_title,
                                slot_axis, weight_axis)
from ntm.trace import HeadRecord, Stage


# ---- one recorded head's addressing at t ---------------------------------------------------

def stage_parameters(head: HeadRecord, t: int) -> dict[str, dict[str, Any]]:
    """{stage key: {"field", "symbol", "label", "value"}}: the emission each stage uses at ``t``.

    ``field`` is the emission's name (``"beta"``), ``label`` its title (``"β, key strength"``).
    ``value`` is a float for a scalar emission and an {offset: weight} dict for a distribution
    such as the shift s_t. Stages without a parameter, or whose emission was not recorded, are absent.
    """
    out = {}
    for stage in head.stages():
        param = stage.parameter
        values = getattr(head, param.name, None) if param is not None else None
        if values is None:
            continue
        v = np.asarray(values[t])
        if v.ndim:
            offsets = getattr(head, "shift_offsets", list(range(v.shape[-1])))
            value: Any = {int(o): float(x) for o, x in zip(offsets, v)}
        else:
            value = float(v)
        out[stage.key] = {"field": param.name, "symbol": param.symbol, "label": param.title, "value": value}
    return out


def format_parameter(param: dict[str, Any]) -> str:
    """'β = 3.214', or 's = {-1: 0.05, 0: 0.1, +1: 0.85}' for the shift distribution."""
    value = param["value"]
    if isinstance(value, dict):
        body = ", ".join(f"{o:+d}: {w:.3g}" if o else f"0: {w:.3g}" for o, w in value.items())
        return f"{param['symbol']} = {{{body}}}"
    return f"{param['symbol']} = {value:.4g}"


def stage_widths(head: HeadRecord) -> list[float]:
    """Relative widths of a head's stage panels: wider for longer equations (so text laid out above
    each panel shows its equation whole), between 1 and 1.6."""
    return [min(max(len(stage.equation) / 60, 1.0), 1.6) for stage in head.stages()]


PREVIOUS_NAME = "previous w"           # the trace drawing w_{t-1}, and its legend entry
WIDE_TITLES = 4                        # with more stage panels than this, a title's parameter goes on a second line
# The legend sits in the top right corner of the figure, beside the title.
TOP_RIGHT = dict(orientation="h", x=1.0, xanchor="right", y=1.0, yref="container", yanchor="top",
                 bgcolor="rgba(255,255,255,0)", font=dict(size=12))


def addressing_figure(head: HeadRecord, t: int, height: int = 280,
                      widths: Sequence[float] | None = None,
                      slots: str | tuple[int, int] = "visited") -> go.Figure:
    """One head at ``t``: each addressing stage's weighting as bars over the slots, side by side.

    Bars are coloured on the fixed [0, 1] weight scale (colour bar on the right) and every
    panel's y axis is [0, 1]. A stage that mixes in the previous weighting (the gate, eq. 7)
    also shows w_{t-1} as a grey line, named in the legend (at t = 0, the head's initial weighting
    when the trace has it). Panel titles give the stage's symbol and its scalar parameter at ``t``.
    ``widths`` sets the panels' relative widths (to line them up with text laid out above them).
    ``slots`` is the slot window: ``"visited"`` (default: the slots this head's weighting visits
    over the run, with a margin, so each slot is a wide bar and a one-slot shift or a sharpening
    shows), ``"all"``, or (first, last), e.g. ``slot_window(trace)`` to give every head one window.
    """
    stages = head.stages()
    axes, layout = grid(len(stages), 1, widths=widths, hgap=0.045)
    extra = [head.allocation] if getattr(head, "allocation", None) is not None else []
    window = head_window(np.stack([head.weights] + extra), slots) if isinstance(slots, str) else \
        head_window(head.weights, slots)
    params = stage_parameters(head, t)
    data, annotations = [], []
    for stage, (xa, ya) in zip(stages, axes[0]):
        w = np.asarray(stage.weights[t])
        slots = np.arange(w.shape[0])
        data.append(dict(
            type="bar", x=slots, y=w, xaxis=xa, yaxis=ya, name=stage.label, showlegend=False,
            marker=dict(color=w, coloraxis="coloraxis", line=dict(width=0)),
            hovertemplate=f"{stage.label} · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        prev = head.previous_weights(t) if stage.mixes_previous else None
        if prev is not None:
            line = _previous_line(np.asarray(prev), xaxis=xa, yaxis=ya)
            line.update(showlegend=not any(d.get("showlegend") for d in data), legendgroup="previous")
            data.append(line)
        layout[axis_key(xa, "x")].update(title=dict(text="slot i"), showgrid=False, zeroline=False,
                                         **slot_axis(window))
        layout[axis_key(ya, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
        title = stage_title(stage, params.get(stage.key))
        annotations.append(panel_title(title.replace(" · ", "<br>", 1) if len(stages) > WIDE_TITLES else title,
                                       xa, ya, layout, size=13))
    layout.update(coloraxis=weight_axis("w"), annotations=annotations, bargap=0.1, showlegend=True, legend=TOP_RIGHT)
    return figure(data, layout, height=height, title=addressing_title(head, t),
                  margin_top=88 if len(stages) > WIDE_TITLES else 70)


def addressing_title(head: HeadRecord, t: int) -> str:
    return f"{head.name}: addressing at t = {t}"


def stage_title(stage: Stage, param: dict[str, Any] | None) -> str:
    """A stage panel's title: 'wᶜ  content · β = 3.214' (a shift distribution is drawn on its own)."""
    label = f"{stage.symbol}  {stage.label}"
    if param is not None and not isinstance(param["value"], dict):
        label += f" · {format_parameter(param)}"
    return label


def shift_figure(head: HeadRecord, t: int, height: int = 160) -> go.Figure:
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
    return figure(data, layout, height=height, title=shift_title(t), margin_top=28)


def shift_title(t: int) -> str:
    return f"shift distribution s at t = {t}"


def _previous_line(previous: np.ndarray, **axes: str) -> dict[str, Any]:
    """The previous weighting w_{t-1} as a grey step line over the slots."""
    return dict(type="scatter", x=np.arange(previous.shape[0]), y=previous, mode="lines", name=PREVIOUS_NAME,
                line=dict(color=PREVIOUS_COLOR, width=2, shape="hvh"),
                hovertemplate=f"w at t-1 · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>", **axes)


# ---- the Addressing lab: loose arrays, same look -------------------------------------------------
# Compact pictures that fit three across a projector's screen: no colour bar (a bar's height and the fixed
# axis carry its value; the colour repeats it on the weight scale), and a weighting's axis runs on above 1
# to LAB_HEADROOM, so the band above the bars holds the legend of the previous weighting inside the plot.

LAB_HEADROOM = 1.25
LAB_MARGIN = dict(l=40, r=8, t=30, b=36)


def slot_ticks(n: int) -> dict[str, Any]:
    """An x axis over ``n`` slots: every slot labelled up to 12, then every 2nd, then every 4th."""
    return dict(title=dict(text="slot i", standoff=4), tick0=0, dtick=1 if n <= 12 else 2 if n <= 24 else 4,
                range=[-0.5, n - 0.5], showgrid=False, zeroline=False)


def weighting_figure(w: np.ndarray, title: str, previous: np.ndarray | None = None,
                     height: int = 230) -> go.Figure:
    """One ``[N]`` weighting over the slots as bars on the fixed [0, 1] scale (ticks 0, 0.5, 1; the axis
    goes on to ``LAB_HEADROOM``), optionally with a previous weighting as a grey line, named in a legend
    in the band above the bars."""
    w = np.asarray(w, dtype=float)
    slots = np.arange(w.shape[0])
    data = [dict(type="bar", x=slots, y=w, name="w", showlegend=False,
                 marker=dict(color=w, coloraxis="coloraxis", line=dict(width=0)),
                 hovertemplate=f"slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=slot_ticks(w.shape[0]),
                  yaxis=dict(range=[WEIGHT_RANGE[0], LAB_HEADROOM], tickvals=[0, 0.5, 1], fixedrange=True),
                  coloraxis=weight_axis("w") | dict(showscale=False), bargap=0.15, margin=dict(LAB_MARGIN))
    if previous is not None:         # named in the band above the bars: inside the plot, clear of them
        data.append(_previous_line(np.asarray(previous, dtype=float)) | dict(name=PREVIOUS_NAME, showlegend=True))
        layout.update(showlegend=True, legend=dict(orientation="h", x=0.01, xanchor="left", y=1.0, yanchor="top",
                                                   bgcolor="rgba(255,255,255,0)", font=dict(size=11)))
    return figure(data, layout, height=height, title=title, margin_top=LAB_MARGIN["t"])


def lab_stage_title(stage: Stage, number: int | None = None, param: dict[str, Any] | None = None) -> str:
    """A lab picture's title: '2. content weighting wᶜ · β = 20' (a distribution's value is left out:
    the lab shows its kernel beside its inputs)."""
    title = f"cosine {stage.label} {stage.symbol}" if stage.parameter is None else \
        f"{stage.label} weighting {stage.symbol}"
    if number is not None:
        title = f"{number}. {title}"
    if param is not None and not isinstance(param["value"], dict):
        title += f" · {format_parameter(param)}"
    return title


def stage_figure(stage: Stage, w: np.ndarray, previous: np.ndarray | None = None,
                 height: int = 230, number: int | None = None, param: dict[str, Any] | None = None) -> go.Figure:
    """The ``[N]`` weighting a stage produced, titled from its table row ('content weighting wᶜ', with
    its ``number`` in the lab and its scalar ``param``, as ``stage_parameters`` gives one); ``previous``
    (w_{t-1}) is drawn, with a legend entry, when the stage mixes it in."""
    return weighting_figure(w, lab_stage_title(stage, number, param),
                            previous=previous if stage.mixes_previous else None, height=height)


def similarity_figure(similarity: np.ndarray, height: int = 230,
                      title: str = "cosine similarity K[k, M(i)]") -> go.Figure:
    """Cosine similarity K[k, M(i)] of the key to each slot (eq. 6), on its natural range [-1, 1]."""
    sim = np.asarray(similarity, dtype=float)
    data = [dict(type="bar", x=np.arange(sim.shape[0]), y=sim, name="K",
                 marker=dict(color=sim, cmin=-1, cmax=1, colorscale=MEMORY_COLORSCALE, line=dict(width=0)),
                 hovertemplate=f"slot %{{x}}<br>K = %{{y{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=slot_ticks(sim.shape[0]), yaxis=dict(range=[-1.05, 1.05], tickvals=[-1, 0, 1],
                                                             fixedrange=True),
                  bargap=0.15, margin=dict(LAB_MARGIN))
    return figure(data, layout, height=height, title=title, margin_top=LAB_MARGIN["t"])


WRITTEN_CELLS = (12, 6)                # a lab matrix writes its values in the cells up to this many rows, columns


def memory_key_figure(memory: np.ndarray, key: np.ndarray, half_range: float | None = None,
                      height: int = 300, title: str = "Memory M and key k") -> go.Figure:
    """The lab's ``[N, M]`` memory (slots down) and its ``[M]`` key as one more row below it, in one
    figure on one diverging colour scale symmetric about 0 (``half_range``, else the largest |value|),
    sharing the memory-column axis. Values are written in the cells while the memory is small
    (``WRITTEN_CELLS``); hover shows each one."""
    z, k = np.asarray(memory, dtype=float), np.asarray(key, dtype=float)
    n, m = z.shape
    r = half_range if half_range is not None else max(float(np.abs(z).max(initial=0.0)),
                                                      float(np.abs(k).max(initial=0.0)), MIN_RANGE)
    written = n <= WRITTEN_CELLS[0] and m <= WRITTEN_CELLS[1]
    key_share = min(max(1.0 / (n + 1), 0.08), 0.2)
    axes, layout = grid(1, 2, heights=[1.0 - key_share, key_share], vgap=0.06)
    (xm, ym), (xk, yk) = axes[0][0], axes[1][0]
    cells = dict(type="heatmap", x=np.arange(m), zmin=-r, zmax=r, zmid=0.0, colorscale=MEMORY_COLORSCALE,
                 xgap=1, ygap=1, texttemplate="%{z:.2f}" if written else "", textfont=dict(size=10))
    data = [cells | dict(z=z, y=np.arange(n), xaxis=xm, yaxis=ym, name="M",
                         colorbar=dict(thickness=10, len=1.0, y=0.5, yanchor="middle"),
                         hovertemplate=f"slot %{{y}} · column %{{x}}<br>M = %{{z{HOVER_NUMBER}}}<extra></extra>"),
            cells | dict(z=k[None, :], y=["k"], xaxis=xk, yaxis=yk, name="k", showscale=False,
                         hovertemplate=f"key · column %{{x}}<br>k = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    layout[axis_key(xm, "x")].update(matches=xk, showticklabels=False, dtick=1, showgrid=False, zeroline=False)
    layout[axis_key(xk, "x")].update(title=dict(text="memory column", standoff=4), dtick=1, showgrid=False,
                                     zeroline=False)
    layout[axis_key(ym, "y")].update(title=dict(text="slot i", standoff=2), autorange="reversed",
                                     dtick=1 if n <= 12 else 4, showgrid=False, zeroline=False)
    layout[axis_key(yk, "y")].update(showgrid=False, zeroline=False, fixedrange=True)
    layout.update(margin=dict(LAB_MARGIN))
    return figure(data, layout, height=height, title=title, margin_top=LAB_MARGIN["t"])


def matrix_figure(matrix: np.ndarray, title: str, half_range: float | None = None, height: int = 300,
                  row_label: str = "slot i", colorbar: bool = True) -> go.Figure:
    """A small matrix (the lab's memory, or a key as one row) on a diverging scale symmetric
    about 0, with each cell's value written in it."""
    z = np.asarray(matrix, dtype=float)
    r = half_range if half_range is not None else max(float(np.abs(z).max(initial=0.0)), MIN_RANGE)
    fig = matrix_heatmap(z, r, name="value", colorbar="", height=height, title=title)
    fig.update_traces(texttemplate="%{z:.2f}", xgap=1, ygap=1, showscale=colorbar)
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(dtick=1, title_text=row_label, showticklabels=bool(row_label))
    return fig
