"""What every figure shares: fixed colour scales and ranges, the time cursor, Plotly settings, and
a small layout helper that places panels by axis domains.

Colour scales are fixed, never fitted to the data on screen:

    weights, bits       [0, 1]           sequential (WEIGHT_COLORSCALE), with a colour bar
    memory M_t          [-R, R]          diverging around 0, R = the 99th percentile of |M| over the
                                         whole trace in the visited slots (``memory_clip``), so a few
                                         large values do not wash out the rest; the colour bar says so
    memory change       [-D, D]          diverging, D = max |M_t - M_{t-1}| over the trace

so a near-uniform weighting looks near-uniform (an auto-scaled colour bar would stretch
1/128 +- 1e-4 into the full range) and colours compare across timesteps. Hover shows the
exact value of every cell and bar (``HOVER_NUMBER``).

Slot axes show the slots the heads visit (``slot_window``: every slot some head weighs at least
``VISIT_THRESHOLD`` at some t, with a margin) unless a figure is asked for ``slots="all"``; the window
is one axis range for the whole trace, so the view does not jump as t moves.

Time axes carry the episode's phases (``trace_phases``: ``meta["phases"]``, written by the library's
``ntm.story``, else the mask's unscored and scored runs) as a coloured strip above the panel, named in
it, with a dotted line where each phase begins (``phase_marks``).

Figures are laid out with plain axis domains (``grid``) rather than ``make_subplots``: building
a figure is ~1-2 ms that way instead of ~12 ms, which keeps a step of the explorer fast.

Inside ``with unvalidated():`` (what ``ntm.figures.client`` uses to draw every view at every t) ``figure``
returns a ``PlainFigure`` (the figure's JSON dicts, without Plotly's objects, validation and default
template), about 5x faster to build. Validation only checks these figures' known-good dicts and turns
named colour scales into lists, which ``figure`` then does itself (``resolved_colorscales``); the client
checks the result against the validated figure at t = 0, and tests/test_client_views_equivalence.py at
every t.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from _plotly_utils.basevalidators import ColorscaleValidator

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
MEMORY_PERCENTILE = 99                # the memory colour scale is clipped at +- this percentile of |M|
VISIT_THRESHOLD = 0.3                 # a head visits a slot when it puts at least this weight there
SLOT_MARGIN = 2                       # slots shown either side of the visited ones
SLOT_CHOICES = ("visited", "all")
PHASE_STRIP_PX = 14                   # the phase strip's height above a time panel, in pixels
STRIP_GAP_PX = 2                      # between the panel and its phase strip
PHASE_COLORS = {"input": "#9ecae1", "items": "#9ecae1", "delimiter": "#fdae6b", "repeat_count": "#bcbddc",
                "query": "#fdd0a2", "answer": "#a1d99b", "end": "#74c476", "predict": "#a1d99b",
                "warm_up": "#d9d9d9", "padding": "#f0f0f0", "unscored": "#d9d9d9", "scored": "#a1d99b"}
OTHER_PHASE_COLOR = "#e0e0e0"
PHASE_STARTS = "phase starts"         # the path shape of a panel's dotted phase-start lines


# ---- fixed ranges ------------------------------------------------------------------------------

def memory_range(trace: Trace) -> float:
    """R = max |M_t| over every timestep: the fixed half-range of the memory colour scale."""
    return max(float(np.abs(trace.memory).max(initial=0.0)), MIN_RANGE)


def memory_clip(trace: Trace, window: tuple[int, int] | None = None) -> float:
    """R = the ``MEMORY_PERCENTILE``-th percentile of |M_t[i, j]| over every instant of the trace and
    the slots i of ``window`` (default: the visited slots): the half-range of the memory colour scale.
    Values beyond it are drawn at the scale's ends (hover still shows them exactly). At least
    ``MIN_RANGE``; max |M| if the percentile is 0 (a memory of a few non-zero values)."""
    lo, hi = window if window is not None else slot_window(trace)
    values = np.abs(trace.memory[:, lo:hi + 1]).ravel()
    if not values.size:
        return MIN_RANGE
    # np.percentile(values, p, method="higher"), by one partition: 5x faster, and a figure is drawn per step
    k = int(np.ceil(MEMORY_PERCENTILE / 100 * (values.size - 1)))
    r = float(np.partition(values, k)[k])
    return max(r if r > 0 else float(values.max()), MIN_RANGE)


def change_range(trace: Trace) -> float:
    """D = max |M_t - M_{t-1}| over the trace: the fixed half-range of the change colour scale."""
    diffs = np.diff(trace.memory, axis=0)
    return max(float(np.abs(diffs).max(initial=0.0)), MIN_RANGE)


def check_t(trace: Trace, t: int) -> int:
    if not 0 <= int(t) < trace.steps:
        raise ValueError(f"timestep t={t} is outside the trace (0..{trace.steps - 1})")
    return int(t)


# ---- the slot window -------------------------------------------------------------------------------

def visited_window(weights: Sequence[np.ndarray], threshold: float = VISIT_THRESHOLD,
                   margin: int = SLOT_MARGIN) -> tuple[int, int]:
    """(lo, hi), inclusive: the slots some ``[T, N]`` weighting puts at least ``threshold`` on at some t,
    widened by ``margin`` each side within 0..N-1; all N when none does."""
    n = int(np.asarray(weights[0]).shape[-1])
    hit = np.zeros(n, dtype=bool)
    for w in weights:
        hit |= (np.asarray(w) >= threshold).reshape(-1, n).any(axis=0)
    if not hit.any():
        return 0, n - 1
    slots = np.nonzero(hit)[0]
    return max(int(slots[0]) - margin, 0), min(int(slots[-1]) + margin, n - 1)


def slot_window(trace: Trace, slots: str | tuple[int, int] = "visited") -> tuple[int, int]:
    """The slots a figure shows, (lo, hi) inclusive: ``"visited"`` (by any head's final weighting, and
    the DNC's allocation), ``"all"``, or an explicit (lo, hi)."""
    n = int(trace.memory.shape[1])
    if isinstance(slots, str):
        if slots not in SLOT_CHOICES:
            raise ValueError(f"slots must be one of {', '.join(SLOT_CHOICES)} or a (first, last) pair; got {slots!r}")
        if slots == "all" or not trace.heads:
            return 0, n - 1
        weights = [h.weights for h in trace.heads] + [h.allocation for h in trace.heads
                                                      if getattr(h, "allocation", None) is not None]
        return visited_window(weights)
    lo, hi = (int(x) for x in slots)
    if not 0 <= lo <= hi < n:
        raise ValueError(f"a slot window ({lo}, {hi}) must lie within 0..{n - 1}")
    return lo, hi


def head_window(weights: np.ndarray, slots: str | tuple[int, int] = "visited") -> tuple[int, int]:
    """``slot_window`` for one head's ``[T, N]`` weighting (a figure of one head, without its trace)."""
    n = int(np.asarray(weights).shape[-1])
    if isinstance(slots, str):
        if slots not in SLOT_CHOICES:
            raise ValueError(f"slots must be one of {', '.join(SLOT_CHOICES)} or a (first, last) pair; got {slots!r}")
        return (0, n - 1) if slots == "all" else visited_window([weights])
    lo, hi = (int(x) for x in slots)
    if not 0 <= lo <= hi < n:
        raise ValueError(f"a slot window ({lo}, {hi}) must lie within 0..{n - 1}")
    return lo, hi


def slot_axis(window: tuple[int, int], reversed_: bool = False) -> dict[str, Any]:
    """Axis settings showing the slots lo..hi (slot 0 on top when ``reversed_``), a tick per slot
    when at most 12 are shown."""
    lo, hi = window
    rng = [hi + 0.5, lo - 0.5] if reversed_ else [lo - 0.5, hi + 0.5]
    out: dict[str, Any] = dict(range=rng, autorange=False)
    if hi - lo < 12:
        out["dtick"] = 1
    return out


# ---- phases on time axes --------------------------------------------------------------------------

def trace_phases(trace: Trace) -> list[dict[str, Any]]:
    """The episode's phases as {"name", "start", "stop", "label"} (stop exclusive): ``meta["phases"]``
    if the trace has them (``ntm.story.phase_meta``), else the mask's runs, "not scored" and "scored"."""
    given = trace.meta.get("phases") if isinstance(trace.meta, Mapping) else None
    if given:
        return [dict(name=str(p["name"]), start=int(p["start"]), stop=int(p["stop"]), label=str(p["label"]))
                for p in given]
    mask = np.asarray(trace.mask, dtype=bool)
    out: list[dict[str, Any]] = []
    for t, scored in enumerate(mask.tolist()):
        if out and out[-1]["scored"] == scored:
            out[-1]["stop"] = t + 1
        else:
            out.append(dict(name="scored" if scored else "unscored", start=t, stop=t + 1,
                            label="scored" if scored else "not scored", scored=scored))
    for p in out:
        p.pop("scored")
    return out


def phase_at(trace: Trace, t: int) -> dict[str, Any] | None:
    """The phase holding timestep ``t``, or None."""
    return next((p for p in trace_phases(trace) if p["start"] <= t < p["stop"]), None)


def phase_marks(phases: Sequence[Mapping[str, Any]], xa: str, ya: str, steps: int, *,
                width_px: float, strip: bool = True, labels: bool = True, lines: bool = True,
                lines_span: tuple[float, float] | None = None,
                line_color: str = "rgba(255,255,255,0.85)") -> tuple[list[dict], list[dict]]:
    """(shapes, annotations) marking ``phases`` on the time-on-x panel (xa, ya): a strip of coloured
    boxes just above the panel, ``PHASE_STRIP_PX`` pixels high whatever the figure's height (a page
    may resize it), named in it, and a dotted line where each phase after the first begins (one path shape
    for them all: Plotly checks every shape, and a figure is drawn once per timestep; ``lines_span``
    (bottom, top) in paper coordinates draws them through several stacked panels). A phase too narrow
    for its name (``width_px``: the panel's expected width) shows it cut short (``fitted``); hovering
    shows the whole name and its timesteps. Static: the same at every t."""
    shapes, annotations = [], []
    px_per_step = width_px / max(steps, 1)
    for p in phases:
        a, b, name, label = int(p["start"]), int(p["stop"]), str(p["name"]), str(p["label"])
        if strip:                        # labels=False: coloured boxes only, beside a strip that names them
            shapes.append(dict(type="rect", name=f"phase {name}", xref=xa, yref=f"{ya} domain", x0=a - 0.5,
                               x1=b - 0.5, ysizemode="pixel", yanchor=1, y0=STRIP_GAP_PX,
                               y1=STRIP_GAP_PX + PHASE_STRIP_PX, fillcolor=PHASE_COLORS.get(name, OTHER_PHASE_COLOR),
                               line=dict(width=0.5, color="white"), layer="above"))
        if strip and labels:
            text = fitted(label, (b - a) * px_per_step)
            when = f"t = {a}" if b - a == 1 else f"t = {a}–{b - 1}"
            annotations.append(dict(text=text, x=(a + b - 1) / 2, xref=xa, y=1, yref=f"{ya} domain",
                                    yshift=STRIP_GAP_PX + PHASE_STRIP_PX / 2, xanchor="center", yanchor="middle",
                                    showarrow=False, font=dict(size=10),
                                    hovertext=f"{label} ({when})", name=f"phase {name}"))
    starts = [int(p["start"]) for p in phases if int(p["start"]) > 0]
    if lines and starts:
        bottom, top = lines_span if lines_span is not None else (0.0, 1.0)
        path = " ".join(f"M{a - 0.5},{bottom:.6g} V{top:.6g}" for a in starts)
        shapes.append(dict(type="path", name=PHASE_STARTS, path=path, xref=xa,
                           yref="paper" if lines_span is not None else f"{ya} domain", layer="above",
                           line=dict(color=line_color, width=1.5, dash="dot")))
    return shapes, annotations


def phase_starts(fig: go.Figure) -> list[tuple[str, float]]:
    """(x axis, x) of every phase-start line of a figure (read back from its path shapes)."""
    out = []
    for shape in fig.layout.shapes:
        if shape.name == PHASE_STARTS:
            out += [(shape.xref, float(m.split(",")[0])) for m in shape.path.split("M")[1:]]
    return out


def fitted(label: str, room: float, char_px: float = 7.5) -> str:
    """``label`` as it fits ``room`` pixels of a phase strip: whole, its first word ('end' for 'end
    marker'), cut with a full stop ('delim.'), its first letter, or nothing."""
    chars = int((room - 4) // char_px)
    if chars >= len(label):
        return label
    if 3 <= len(label.split()[0]) <= chars:
        return label.split()[0]
    if chars >= 4:
        return label[:chars - 1].rstrip() + "."
    return label[0] if room >= 9 else ""


def strip_shift() -> int:
    """Pixels a panel title moves up to clear the phase strip."""
    return STRIP_GAP_PX + PHASE_STRIP_PX + 3


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
    """Bigger fonts and a taller figure, for projecting in a classroom (in place). Phase names keep
    their size: their strip is a fixed number of pixels high. (Also a ``PlainFigure``.)"""
    # Read from the layout's JSON and set whole, without update_layout: several times faster than
    # through the annotations' objects (the client enlarges every figure it draws, at every t).
    layout = fig._layout
    annotations = []
    for ann in layout.get("annotations") or ():
        if not (ann.get("name") or "").startswith("phase"):
            font = dict(ann.get("font") or {})
            font["size"] = round((font.get("size") or 12) * factor)
            ann = {**ann, "font": font}
        annotations.append(ann)
    fig.layout.font = {**(layout.get("font") or {}), "size": round(((layout.get("font") or {}).get("size") or 12) * factor)}
    fig.layout.height = round((layout.get("height") or 300) * factor)
    if annotations:
        fig.layout.annotations = annotations
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


def panel_title(text: str, xa: str, ya: str, layout: dict[str, Any], yshift: int = 0,
                size: int = 14) -> dict[str, Any]:
    """A panel title (an annotation) placed above the panel whose axes are (xa, ya), ``yshift``
    pixels higher (to clear a phase strip)."""
    xd = layout[axis_key(xa, "x")]["domain"]
    yd = layout[axis_key(ya, "y")]["domain"]
    return dict(text=text, x=(xd[0] + xd[1]) / 2, y=yd[1], xref="paper", yref="paper", yshift=yshift,
                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=size))


def weight_axis(title: str = "weight") -> dict[str, Any]:
    """A colour axis on the fixed [0, 1] weight scale, with its colour bar titled ``title``."""
    return dict(cmin=WEIGHT_RANGE[0], cmax=WEIGHT_RANGE[1], colorscale=WEIGHT_COLORSCALE,
                colorbar=dict(title=dict(text=title), thickness=14, len=0.9))


def figure(data: list, layout: dict[str, Any], *, height: int, title: str | None = None,
           margin_top: int = 40, title_on_top: bool = False) -> go.Figure:
    """A figure from trace dicts and a layout, with the explorer's margins and title style.
    ``title_on_top`` pins the title to the figure's top edge (rather than the middle of the top
    margin), so panel titles and phase strips below it have the rest of the margin."""
    layout = dict(layout)
    layout.setdefault("margin", dict(l=55, r=20, t=margin_top, b=45))
    layout["height"] = height
    if title:
        layout["title"] = dict(text=title, x=0.0, xanchor="left", font=dict(size=16))
        if title_on_top:        # (Plotly places a title's first line by yanchor: pad for the lines below)
            layout["title"].update(y=1.0, yref="container", yanchor="top", pad=dict(t=6 + 14 * title.count("<br>")))
    layout.setdefault("showlegend", False)
    if _UNVALIDATED.get():
        return PlainFigure(data, layout)       # type: ignore[return-value]
    return go.Figure(data=data, layout=layout)


# ---- figures without validation ----------------------------------------------------------------------

_UNVALIDATED = contextvars.ContextVar("ntm_unvalidated_figures", default=False)


@contextlib.contextmanager
def unvalidated() -> Iterator[None]:
    """Within it (in this thread or task only), ``figure`` skips Plotly's validation and template."""
    token = _UNVALIDATED.set(True)
    try:
        yield
    finally:
        _UNVALIDATED.reset(token)


class PlainFigure:
    """What ``figure`` returns inside ``unvalidated()``: a figure as its JSON dicts (``_data``, ``_layout``,
    as a ``go.Figure`` holds them, less the template), with the part of ``go.Figure``'s interface that
    figure functions use on their own figure: ``fig.data`` and ``fig.layout`` and what is under them read
    and set as attributes (an unset one reads None), ``update(**properties)``. Anything else raises
    (AttributeError, NotImplementedError), and the client then draws the view validated instead."""

    def __init__(self, data: Sequence[Mapping[str, Any]], layout: Mapping[str, Any]) -> None:
        # copied (the callers' dicts stay theirs, as go.Figure copies them), named colour scales resolved
        self._data = [_copied(d, True) for d in data]
        self._layout = _copied(layout, True)

    @property
    def data(self) -> tuple["_Props", ...]:
        return tuple(_Props(d) for d in self._data)

    @property
    def layout(self) -> "_Props":
        return _Props(self._layout)


class _Props:
    """A trace's or the layout's dict (or one under it), read and set as attributes."""

    __slots__ = ("_props",)

    def __init__(self, props: dict[str, Any]) -> None:
        object.__setattr__(self, "_props", props)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._props.get(name)
        if isinstance(value, dict):
            return _Props(value)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return tuple(_Props(v) for v in value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if "_" in name:                  # go.Figure's magic underscores (font_size) are not supported
            raise NotImplementedError(f"PlainFigure cannot set {name!r}")
        self._props[name] = _copied(value)

    def update(self, props: Mapping[str, Any] | None = None, **more: Any) -> "_Props":
        for name, value in {**(props or {}), **more}.items():
            if isinstance(value, dict) and isinstance(self._props.get(name), dict):
                getattr(self, name).update(value)            # go.Figure merges a dict into a compound property
            else:
                setattr(self, name, value)
        return self


def _copied(node: Any, resolve: bool = False) -> Any:
    """Dicts, lists and tuples copied (tuples as lists); arrays and scalars shared; with ``resolve``,
    named colour scales as ``resolved_colorscales`` makes them."""
    if isinstance(node, dict):
        return {k: [list(pair) for pair in _colorscale(v)] if resolve and isinstance(v, str) and isinstance(k, str)
                and k.endswith("colorscale") else _copied(v, resolve) for k, v in node.items()}
    return [_copied(v, resolve) for v in node] if isinstance(node, (list, tuple)) else node


@functools.lru_cache(maxsize=64)
def _colorscale(name: str) -> tuple[tuple[float, str], ...]:
    return tuple((float(v), str(c)) for v, c in ColorscaleValidator("colorscale", "").validate_coerce(name))


def resolved_colorscales(node: Any) -> Any:
    """``node`` (trace or layout dicts, lists of them) with every named colour scale (a ``*colorscale``
    key holding a string such as 'Viridis' or 'RdBu_r') as the [[value, colour], ...] list Plotly's
    validation makes of it. Dicts and lists on the way to one are copied, nothing else."""
    if isinstance(node, dict):
        out = None
        for k, v in node.items():
            new = ([list(pair) for pair in _colorscale(v)] if isinstance(k, str) and k.endswith("colorscale")
                   and isinstance(v, str) else resolved_colorscales(v))
            if new is not v:
                out = dict(node) if out is None else out
                out[k] = new
        return node if out is None else out
    if isinstance(node, (list, tuple)):
        new = [resolved_colorscales(v) for v in node]
        return node if all(a is b for a, b in zip(new, node)) else new
    return node


def matrix_heatmap(z: np.ndarray, half_range: float, *, name: str, colorbar: str, height: int,
                   title: str, window: tuple[int, int] | None = None) -> go.Figure:
    """An ``[N, M]`` matrix (slots down, columns across) on a diverging scale over [-r, r], showing
    the slots of ``window`` (lo, hi) if given (all of them stay in the data, for hover and panning)."""
    n, m = z.shape
    data = [dict(
        type="heatmap", z=z, x=np.arange(m), y=np.arange(n), zmin=-half_range, zmax=half_range, zmid=0.0,
        colorscale=MEMORY_COLORSCALE, name=name, colorbar=dict(title=dict(text=colorbar), thickness=14),
        hovertemplate=f"slot %{{y}} · column %{{x}}<br>{name} = %{{z{HOVER_NUMBER}}}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="memory column"), showgrid=False, zeroline=False),
                  yaxis=dict(title=dict(text="slot i"), autorange="reversed", showgrid=False, zeroline=False))
    if window is not None:
        layout["yaxis"].update(slot_axis(window, reversed_=True))
    return figure(data, layout, height=height, title=title)
