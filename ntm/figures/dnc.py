"""Figures of the DNC's memory management at timestep t (Graves et al. 2016, Methods; the sparse DNC
of Rae et al. 2016): which slot is written and why, the temporal link matrix with the write order
drawn through it, each read head's read modes, and the free gates with the retention they give.

Each function takes a ``Trace`` of model type ``dnc`` or ``sdnc`` and a timestep ``t`` and returns a
``plotly.graph_objects.Figure`` on fixed ranges (weightings, gates and links on [0, 1]); time-on-x
panels carry a cursor at ``t`` and show nothing after it. What a figure needs comes from the trace:

    heads[0]            DNCWriteHead: allocation a_t, weights w^w_t, gates g^a_t, g^w_t   [T, N], [T]
    heads[1:]           DNCReadHead: weights w^r_t [T, N], read_modes pi_t [T, 3], free_gate f_t [T]
    extras["usage"]     u_t [T, N] (dense DNC); the sparse DNC has extras["last_access"] [T, N]
    extras["retention"] psi_t [T, N] (dense DNC)
    extras["link"]      L_t [T, N, N], L_t[i, j]: how much slot i was written right after slot j

The sparse DNC has no usage, free gates or retention, and records its link matrix only for small
memories; ``ntm.step_view.dnc_panels`` says which of these figures a trace can draw.
``dnc_stage_figure`` draws a DNC head's stage table through the generic ``addressing_figure``, with
the DNC's parameters in the titles and, as the grey "previous" line, what each stage's equation
really mixes in.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.figures.addressing import WIDE_TITLES, addressing_figure
from ntm.figures.common import (CURSOR_COLOR, HOVER_NUMBER, PREVIOUS_COLOR, WEIGHT_RANGE, axis_key, check_t,
                                cursor_shape, figure, grid, panel_title, phase_marks, slot_axis, slot_window,
                                strip_shift, trace_phases, weight_axis)
from ntm.trace import HeadRecord, Trace

DNC_TYPES = ("dnc", "sdnc")
# A step counts as a write (a point of the write order) when it puts at least half a slot's worth of
# weight into memory, sum_i w^w_t[i] >= 0.5: a closed write gate (g^w ~ 0) writes nowhere.
WRITE_THRESHOLD = 0.5
MODES = ("backward", "content", "forward")            # pi_t[1], pi_t[2], pi_t[3], as in the paper
MODE_COLORS = ("#9467bd", "#2ca02c", "#ff7f0e")
ALLOCATION_COLOR, WRITE_COLOR, READ_COLORS = "#ff7f0e", "#d62728", ("#1f77b4", "#17becf", "#8c564b", "#e377c2")
# Legends sit under the panels (below their x-axis titles), in one row.
BELOW = dict(orientation="h", x=0.0, xanchor="left", y=0.0, yref="container", yanchor="bottom")
SHOWN_ORDER = 8                                      # slots of the write order named in the link title
TIME_WIDTH_PX = 600                                  # a time panel's expected width, for phase names
# The temporal link update (Graves et al. 2016, Methods), drawn by ``link_order_figure``.
LINK_EQUATION = (r"\begin{aligned} L_t[i, j] &= (1 - w^w_t[i] - w^w_t[j])\, L_{t-1}[i, j] \\ "
                 r"&\quad + w^w_t[i]\, p_{t-1}[j], \qquad L_t[i, i] = 0 \end{aligned}")


# ---- what a trace has ------------------------------------------------------------------------------

def is_dnc(trace: Trace) -> bool:
    return trace.model_type in DNC_TYPES


def write_head(trace: Trace) -> HeadRecord:
    """The DNC's one write head (``heads[0]`` by the trace contract)."""
    return next(h for h in trace.heads if h.kind == "write")


def read_heads(trace: Trace) -> list[HeadRecord]:
    return [h for h in trace.heads if h.kind == "read"]


def write_order(trace: Trace, t: int) -> list[tuple[int, int]]:
    """(step, slot) of every write up to ``t``: the slot argmax_i w^w_k[i] of each step k <= t that
    wrote at least ``WRITE_THRESHOLD`` of weight, in time order."""
    w = np.asarray(write_head(trace).weights[:t + 1])
    return [(k, int(w[k].argmax())) for k in range(w.shape[0]) if float(w[k].sum()) >= WRITE_THRESHOLD]


def last_access_before(trace: Trace, t: int) -> np.ndarray:
    """Sparse DNC: ``[N]`` the step each slot was last read or written before step ``t`` (-1: never),
    which is what step ``t``'s least-recently-used allocation looks at."""
    last = np.asarray(trace.extras["last_access"])
    return last[t - 1] if t >= 1 else np.full(last.shape[1], -1.0)


def _up_to(values: np.ndarray, t: int) -> np.ndarray:
    """``[T, ...]`` -> float copy with every step after ``t`` blank (NaN): the future is not shown."""
    out = np.array(values, dtype=float)
    out[t + 1:] = np.nan
    return out


def _cursor(t: int, xa: str) -> dict[str, Any]:
    shape = cursor_shape(t)
    shape["xref"] = xa
    return shape


# ---- usage and allocation: which slot is written, and why -------------------------------------------

def usage_allocation_figure(trace: Trace, t: int, height: int = 390,
                            slots: str | tuple[int, int] = "visited") -> go.Figure:
    """Left: usage u over time up to ``t`` (slot down), with the slot each step wrote marked. Right,
    at ``t``: u_t as bars, the allocation weighting a_t and the write weighting w^w_t on top of them.

    a_t[phi_t[j]] = (1 - u_t[phi_t[j]]) prod_{i<j} u_t[phi_t[i]] points at the least used slot, and
    w^w_t = g^w_t [g^a_t a_t + (1 - g^a_t) c^w_t]. The sparse DNC allocates the least recently used
    slot instead: its left panel shows steps since each slot's last access, its right panel that
    age (right axis) under the one-hot a_t. Both show the slots ``slots`` (default: those the heads
    visit); the episode's phases run above the left panel.
    """
    t = check_t(trace, t)
    window = slot_window(trace, slots)
    head, sparse = write_head(trace), "usage" not in trace.extras
    steps, n = np.arange(trace.steps), head.weights.shape[1]
    slots = np.arange(n)
    axes, layout = grid(2, 1, widths=[2, 1], hgap=0.1)
    (xa, ya), (xb, yb) = axes[0]
    if sparse:
        last = np.asarray(trace.extras["last_access"])
        before = np.vstack([np.full((1, n), -1.0), last[:-1]])             # as step k saw it
        age = np.where(before >= 0, steps[:, None] - before, steps[:, None] + 1)
        over_time, name, scale = _up_to(age, t), "steps since last access", dict(
            zmin=0, zmax=max(trace.steps, 1), colorscale="Greys",
            colorbar=dict(title=dict(text="age"), thickness=14, x=layout[axis_key(xa, "x")]["domain"][1] + 0.01))
    else:
        over_time, name, scale = _up_to(trace.extras["usage"], t), "usage u", dict(coloraxis="coloraxis")
    data = [dict(type="heatmap", z=over_time.T, x=steps, y=slots, xaxis=xa, yaxis=ya, name=name, **scale,
                 hovertemplate=f"t=%{{x}} · slot %{{y}}<br>{name} = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    order = write_order(trace, t)
    data.append(dict(type="scatter", x=[k for k, _ in order], y=[s for _, s in order], xaxis=xa, yaxis=ya,
                     mode="markers", name="slot written", marker=dict(symbol="x-thin", size=9, color=WRITE_COLOR,
                                                                      line=dict(width=2, color=WRITE_COLOR)),
                     hovertemplate="t=%{x}: wrote slot %{y}<extra></extra>"))
    a, w = np.asarray(head.allocation[t]), np.asarray(head.weights[t])
    if sparse:
        now = last_access_before(trace, t)
        ages = np.where(now >= 0, t - now, t + 1)
        data.append(dict(type="bar", x=slots, y=ages, xaxis=xb, yaxis="y3", name="age",
                         marker=dict(color="#c7c7c7", line=dict(width=0)), customdata=now,
                         hovertemplate="slot %{x}: last access at step %{customdata} (-1: never)<extra></extra>"))
        layout["yaxis3"] = dict(overlaying=yb, anchor=xb, side="right", range=[0, max(trace.steps, 1)],
                                title=dict(text="steps since last access"), showgrid=False, fixedrange=True)
    else:
        u = np.asarray(trace.extras["usage"][t])
        data.append(dict(type="bar", x=slots, y=u, xaxis=xb, yaxis=yb, name="usage u",
                         marker=dict(color=u, coloraxis="coloraxis", line=dict(width=0)),
                         hovertemplate=f"slot %{{x}}<br>u = %{{y{HOVER_NUMBER}}}<extra></extra>"))
    for values, label, colour, symbol in ((a, "allocation a", ALLOCATION_COLOR, "diamond"),
                                          (w, "write weighting wʷ", WRITE_COLOR, "circle")):
        data.append(dict(type="scatter", x=slots, y=values, xaxis=xb, yaxis=yb, mode="lines+markers", name=label,
                         line=dict(color=colour, width=1.5, shape="linear"), marker=dict(symbol=symbol, size=7),
                         hovertemplate=f"slot %{{x}}<br>{label} = %{{y{HOVER_NUMBER}}}<extra></extra>"))
    layout[axis_key(xa, "x")].update(title=dict(text="timestep t"), range=[-0.5, trace.steps - 0.5],
                                     showgrid=False, zeroline=False)
    layout[axis_key(ya, "y")].update(title=dict(text="slot i"), showgrid=False, zeroline=False,
                                     **slot_axis(window, reversed_=True))
    layout[axis_key(xb, "x")].update(title=dict(text="slot i"), showgrid=False, zeroline=False, **slot_axis(window))
    layout[axis_key(yb, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
    top, bottom = 100, 95
    shapes, names = phase_marks(trace_phases(trace), xa, ya, trace.steps, width_px=TIME_WIDTH_PX)
    annotations = [panel_title(f"{name} over time, slot written (x)", xa, ya, layout, yshift=strip_shift(), size=13),
                   panel_title(f"at t = {t}: {'age' if sparse else 'u'}, a and wʷ", xb, yb, layout,
                               yshift=strip_shift(), size=13)] + names
    layout.update(coloraxis=weight_axis("u"), shapes=shapes + [_cursor(t, xa)], annotations=annotations, bargap=0.15,
                  showlegend=True, legend=BELOW, margin=dict(l=55, r=20, t=top, b=bottom))
    return figure(data, layout, height=height, title=usage_allocation_title(trace, t), margin_top=top,
                  title_on_top=True)


def usage_allocation_title(trace: Trace, t: int) -> str:
    """'Step 5 writes slot 3' and, on a second line, why: 'allocation → slot 3, the least used (u = 0.02) ·
    gᵃ = 0.97, gʷ = 0.99'."""
    head = write_head(trace)
    a_slot, w = int(np.asarray(head.allocation[t]).argmax()), np.asarray(head.weights[t])
    if "usage" in trace.extras:
        why = f"the least used (u = {float(trace.extras['usage'][t][a_slot]):.2f})"
    else:
        last = int(last_access_before(trace, t)[a_slot])
        why = f"the least recently used ({'never used' if last < 0 else f'last used at step {last}'})"
    gates = (f"allocation gate gᵃ = {float(head.allocation_gate[t]):.2f}, "
             f"write gate gʷ = {float(head.write_gate[t]):.2f}")
    wrote = f"writes slot {int(w.argmax())}" if float(w.sum()) >= WRITE_THRESHOLD else "hardly writes"
    return f"Step {t} {wrote}<br><sup>allocation → slot {a_slot}, {why} · {gates}</sup>"


# ---- the temporal link matrix with the write order ----------------------------------------------------

def link_order_figure(trace: Trace, t: int, height: int = 420,
                      slots: str | tuple[int, int] = "visited") -> go.Figure:
    """L_t as a heatmap (row i, column j: how much slot i was written right after slot j) on the fixed
    [0, 1] scale, with the write order up to ``t`` drawn through it: for consecutive writes
    s_{k-1} -> s_k a marker on cell (row s_k, column s_{k-1}), labelled with step k and joined by
    arrows in time order. A DNC that writes in order lights exactly those cells. Both axes show the
    slots ``slots`` (default: those the heads visit).

    L_t[i, j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i, j] + w^w_t[i] p_{t-1}[j],  L_t[i, i] = 0.
    """
    t = check_t(trace, t)
    link = np.asarray(trace.extras["link"][t])
    n = link.shape[0]
    lo, hi = window = slot_window(trace, slots)
    few = hi - lo < 32
    data = [dict(type="heatmap", z=link, x=np.arange(n), y=np.arange(n), coloraxis="coloraxis", name="L",
                 xgap=1 if few else 0, ygap=1 if few else 0,
                 hovertemplate=f"L[%{{y}}, %{{x}}] = %{{z{HOVER_NUMBER}}}<br>slot %{{y}} written after slot %{{x}}"
                               "<extra></extra>")]
    order = write_order(trace, t)
    pairs = [(order[k - 1][1], slot, step) for k, (step, slot) in enumerate(order) if k and order[k - 1][1] != slot]
    data.append(dict(type="scatter", x=[j for j, _, _ in pairs], y=[i for _, i, _ in pairs], name="write order",
                     mode="lines+markers+text", text=[str(s) for _, _, s in pairs], textposition="top right",
                     textfont=dict(color=CURSOR_COLOR, size=11),
                     line=dict(color=CURSOR_COLOR, width=1.5, dash="dot"),
                     marker=dict(symbol="arrow", angleref="previous", size=11, color=CURSOR_COLOR),
                     customdata=[s for _, _, s in pairs],
                     hovertemplate="step %{customdata}: wrote slot %{y} after slot %{x}<extra></extra>"))
    layout = dict(xaxis=dict(title=dict(text="slot j (written before)"), showgrid=False, zeroline=False,
                             **slot_axis(window)),
                  yaxis=dict(title=dict(text="slot i (written after)"), showgrid=False, zeroline=False,
                             **slot_axis(window, reversed_=True)),
                  coloraxis=weight_axis("L"))
    return figure(data, layout, height=height, title=link_order_title(trace, t), margin_top=70)


def link_order_title(trace: Trace, t: int) -> str:
    """'Temporal links L at t = 7' and, on a second line, 'write order 2 → 3 → 4' (the last
    ``SHOWN_ORDER`` slots written), so the title fits a half-width column."""
    slots = [s for _, s in write_order(trace, t)]
    slots = [s for k, s in enumerate(slots) if not k or slots[k - 1] != s]
    shown = " → ".join(map(str, slots[-SHOWN_ORDER:]))
    return f"Temporal links L at t = {t}<br><sup>" + (
        f"write order {'… → ' if len(slots) > SHOWN_ORDER else ''}{shown}" if slots else "nothing written yet") + "</sup>"


# ---- read modes -------------------------------------------------------------------------------------

def read_modes_over_time_figure(trace: Trace, t: int, height: int = 310) -> go.Figure:
    """Each read head's read modes pi_t = (backward, content, forward) over time up to ``t`` as stacked
    bars (they sum to 1), one panel per read head, cursor at ``t``.

    w^{r,i}_t = pi^i_t[1] b^i_t + pi^i_t[2] c^{r,i}_t + pi^i_t[3] f^i_t.
    """
    t = check_t(trace, t)
    heads = read_heads(trace)
    axes, layout = grid(max(len(heads), 1), 1, hgap=0.05)
    steps = np.arange(trace.steps)
    data, annotations, shapes = [], [], []
    top, bottom, phases = 84, 95, trace_phases(trace)
    phase_names: list[dict[str, Any]] = []   # after the panel titles, so annotations[h] titles head h
    for h, (head, (xa, ya)) in enumerate(zip(heads, axes[0])):
        modes = _up_to(head.read_modes, t)
        for m, (mode, colour) in enumerate(zip(MODES, MODE_COLORS)):
            data.append(dict(type="bar", x=steps, y=modes[:, m], xaxis=xa, yaxis=ya, name=mode, legendgroup=mode,
                             showlegend=h == 0, marker=dict(color=colour, line=dict(width=0)),
                             hovertemplate=f"{head.name} · t=%{{x}}<br>{mode} = %{{y{HOVER_NUMBER}}}<extra></extra>"))
        layout[axis_key(xa, "x")].update(title=dict(text="timestep t"), range=[-0.5, trace.steps - 0.5])
        layout[axis_key(ya, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True,
                                         title=dict(text="π" if h == 0 else ""), showticklabels=h == 0)
        pi = head.read_modes[t]
        at_t = " · ".join(f"{m[0]} {float(p):.2f}" for m, p in zip(MODES, pi))
        annotations.append(panel_title(f"{head.name}: {at_t}", xa, ya, layout, yshift=strip_shift(), size=13))
        marks, names = phase_marks(phases, xa, ya, trace.steps, width_px=TIME_WIDTH_PX / max(len(heads), 1), line_color="rgba(60,60,60,0.6)",
                                   labels=h == 0)
        shapes += marks + [_cursor(t, xa)]
        phase_names += names
    layout.update(barmode="stack", bargap=0.1, annotations=annotations + phase_names, shapes=shapes, showlegend=True,
                  legend=BELOW, margin=dict(l=55, r=20, t=top, b=bottom))
    return figure(data, layout, height=height, title=f"Read modes π up to t = {t}: backward, content, forward",
                  margin_top=top, title_on_top=True)


# ---- free gates and retention -----------------------------------------------------------------------

def free_gates_figure(trace: Trace, t: int, height: int = 350,
                      slots: str | tuple[int, int] = "visited") -> go.Figure:
    """Left: each read head's free gate f^i over time up to ``t``. Right, at ``t``: the retention
    psi_t = prod_i (1 - f^i_t w^{r,i}_{t-1}) as bars, and each head's previous read weighting
    w^{r,i}_{t-1} (what its free gate can release) as a line. A slot with psi_t < 1 loses that share
    of its usage: u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} w^w_{t-1}) psi_t. The right panel shows the
    slots ``slots`` (default: those the heads visit); the episode's phases run above the left one.
    """
    t = check_t(trace, t)
    window = slot_window(trace, slots)
    heads, steps = read_heads(trace), np.arange(trace.steps)
    axes, layout = grid(2, 1, widths=[1.4, 1], hgap=0.08)
    (xa, ya), (xb, yb) = axes[0]
    data = []
    for h, head in enumerate(heads):
        colour = READ_COLORS[h % len(READ_COLORS)]
        data.append(dict(type="scatter", x=steps, y=_up_to(head.free_gate, t), xaxis=xa, yaxis=ya, mode="lines+markers",
                         name=f"{head.name} free gate", line=dict(color=colour, width=2), marker=dict(size=5),
                         hovertemplate=f"{head.name} · t=%{{x}}<br>f = %{{y{HOVER_NUMBER}}}<extra></extra>"))
    psi = np.asarray(trace.extras["retention"][t])
    slots = np.arange(psi.shape[0])
    data.append(dict(type="bar", x=slots, y=psi, xaxis=xb, yaxis=yb, name="retention ψ",
                     marker=dict(color=psi, coloraxis="coloraxis", line=dict(width=0)),
                     hovertemplate=f"slot %{{x}}<br>ψ = %{{y{HOVER_NUMBER}}}<extra></extra>"))
    for h, head in enumerate(heads):
        prev = head.previous_weights(t)
        if prev is not None:
            data.append(dict(type="scatter", x=slots, y=np.asarray(prev), xaxis=xb, yaxis=yb, mode="lines",
                             name=f"{head.name} read at t-1", line=dict(color=READ_COLORS[h % len(READ_COLORS)],
                                                                       width=1.5, shape="hvh"),
                             hovertemplate=f"{head.name} w at t-1 · slot %{{x}}<br>w = %{{y{HOVER_NUMBER}}}"
                                           "<extra></extra>"))
    layout[axis_key(xa, "x")].update(title=dict(text="timestep t"), range=[-0.5, trace.steps - 0.5])
    layout[axis_key(ya, "y")].update(range=[-0.02, 1.02], fixedrange=True, title=dict(text="free gate f"))
    layout[axis_key(xb, "x")].update(title=dict(text="slot i"), showgrid=False, **slot_axis(window))
    layout[axis_key(yb, "y")].update(range=list(WEIGHT_RANGE), fixedrange=True)
    top, bottom = 80, 95
    shapes, names = phase_marks(trace_phases(trace), xa, ya, trace.steps, width_px=TIME_WIDTH_PX * 1.4 / 2.4, line_color="rgba(60,60,60,0.6)")
    annotations = [panel_title("free gate per read head", xa, ya, layout, yshift=strip_shift(), size=13),
                   panel_title(f"retention ψ at t = {t}, reads at t-1", xb, yb, layout, yshift=strip_shift(),
                               size=13)] + names
    layout.update(coloraxis=weight_axis("ψ"), shapes=shapes + [_cursor(t, xa)], annotations=annotations,
                  bargap=0.15, showlegend=True, legend=BELOW, margin=dict(l=55, r=20, t=top, b=bottom))
    return figure(data, layout, height=height, title=free_gates_title(trace, t), margin_top=top, title_on_top=True)


def free_gates_title(trace: Trace, t: int) -> str:
    """'Free gates at t = 4: slot 2 is freed most (ψ = 0.41)', or that nothing is freed."""
    psi = np.asarray(trace.extras["retention"][t])
    i = int(psi.argmin())
    if psi[i] > 0.99:
        return f"Free gates at t = {t}: no slot is freed (ψ ≥ 0.99 everywhere)"
    return f"Free gates at t = {t}: slot {i} is freed most (ψ = {float(psi[i]):.2f})"


# ---- a DNC head's stage table at t -----------------------------------------------------------------

def dnc_stage_parameters(trace: Trace, head: HeadRecord, t: int) -> dict[str, dict[str, Any]]:
    """{stage key: {"field", "symbol", "label", "value"}} for a DNC head's stages at ``t``, like
    ``stage_parameters`` but read under the DNC's names: the read strength beta^r_t of the head; the
    free gates f^i_t of every read head (retention) and the read modes pi_t as {name: value} dicts."""
    out = {}
    for stage in head.stages():
        param = stage.parameter
        if param is None:
            continue
        if param.name == "read_modes":
            value: Any = {m: float(p) for m, p in zip(MODES, head.read_modes[t])}
        elif param.name == "free_gates":
            gates = {h.name: h.free_gate for h in read_heads(trace)}
            if any(g is None for g in gates.values()):
                continue
            value = {name: float(g[t]) for name, g in gates.items()}
        else:
            values = getattr(head, {"read_strengths": "strength"}.get(param.name, param.name), None)
            if values is None:
                continue
            value = float(np.asarray(values[t]))
        out[stage.key] = {"field": param.name, "symbol": param.symbol, "label": param.title, "value": value}
    return out


def format_value(param: dict[str, Any]) -> str:
    """'βʳ = 3.21', or 'π: backward 0.20 · content 0.50 · forward 0.30'."""
    value = param["value"]
    if isinstance(value, dict):
        return f"{param['symbol']}: " + " · ".join(f"{k} {v:.2f}" for k, v in value.items())
    return f"{param['symbol']} = {value:.4g}"


def previous_of(trace: Trace, head: HeadRecord, key: str, t: int) -> np.ndarray | None:
    """``[N]`` what the stage ``key``'s equation mixes in from step t-1, as its grey line: u_{t-1} for
    usage, p_{t-1} for precedence, w^r_{t-1} for forward/backward; None for retention (it mixes every
    read head's w^r_{t-1}; the free-gates figure draws them)."""
    if key in ("usage", "precedence"):
        values = trace.extras.get(key)
        return None if values is None or t == 0 else np.asarray(values[t - 1])
    if key in ("forward", "backward"):
        return head.previous_weights(t)
    return None


def dnc_stage_figure(trace: Trace, head: HeadRecord, t: int, height: int = 280,
                    widths: Sequence[float] | None = None, slots: str | tuple[int, int] = "visited") -> go.Figure:
    """A DNC head's stage weightings at ``t`` (``addressing_figure`` over ``head.stages()``), titled with
    the DNC's parameters, each grey line showing what that stage mixes in from step t-1 (named once in
    the legend), on the slots ``slots`` (default: those any head visits, the same for every head)."""
    fig = addressing_figure(head, t, height=height, widths=widths, slots=slot_window(trace, slots))
    params = dnc_stage_parameters(trace, head, t)
    stages = head.stages()
    axis = {("x" if k == 0 else f"x{k + 1}"): stage for k, stage in enumerate(stages)}
    for stage, ann in zip(stages, fig.layout.annotations):
        param = params.get(stage.key)
        sep = "<br>" if len(stages) > WIDE_TITLES else " · "
        ann.text = f"{stage.symbol}  {stage.label}" + (f"{sep}{format_value(param)}" if param is not None
                                                       and not isinstance(param["value"], dict) else "")
    # addressing_figure draws w_{t-1} beside every stage that mixes in the past; put the right quantity
    # there instead (in place: rebuilding the figure's traces costs more than the figure itself).
    shown = False
    for d in fig.data:
        if d.name == "previous w":
            stage = axis[d.xaxis]
            prev = previous_of(trace, head, stage.key, t)
            if prev is None:
                d.update(visible=False, showlegend=False)
            else:
                d.update(y=np.asarray(prev), name="previous", showlegend=not shown,
                         hovertemplate=f"{stage.label} mixes in, from t-1 · slot %{{x}}<br>"
                                       f"value = %{{y{HOVER_NUMBER}}}<extra></extra>")
                shown = True
    return fig

__all__ = ["DNC_TYPES", "WRITE_THRESHOLD", "MODES", "LINK_EQUATION", "is_dnc", "write_head", "read_heads",
           "write_order", "last_access_before", "usage_allocation_figure", "usage_allocation_title",
           "link_order_figure", "link_order_title", "read_modes_over_time_figure", "free_gates_figure",
           "free_gates_title", "dnc_stage_parameters", "format_value", "previous_of", "dnc_stage_figure"]
