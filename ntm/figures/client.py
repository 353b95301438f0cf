"""The Step-through views as data for the browser: every figure once, and what in it changes with t.

The page sends a recorded run to the browser once; a small script there (``pages/components/
stepper/stepper.js``) moves every view to a timestep without asking the server. A *view* is a
figure drawn by a figure function of this package at the first timestep, plus its *patches*: the
places in the figure's JSON that differ at some other timestep, each a path and one value per t::

    {"path": ["data", 0, "z"], "values": <[T, N, M] array>}          # the memory M_t
    {"path": ["layout", "title", "text"], "values": ["Memory M after step 0", ...]}

The patches are found generically (``view_over_time``): the figure function draws the figure at
every t and the drawings are compared leaf by leaf, so whatever a figure function draws, setting
every patch's path to its value at t gives exactly the figure it draws at t. ``figure_at`` does that
here (the tests compare it with the figure functions for every view and every t) and the script does
the same in the browser. Where the drawings differ in shape (a trace only some timesteps have), the
smallest enclosing list or object is sent whole per t. Numeric arrays travel as Plotly's own typed-array
spec, ``{"dtype": "f4", "bdata": <base64>, "shape": "T, N, M"}`` (time first, float32 kept bit for bit).

    views = step_views(trace, enlarge=teacher, name="copy-seed0", panels=sv.dnc_panels(trace))
    views["main"]           sequence strip, memory, memory change, weightings over time
    views["heads"][i]       head i: its stages and the parameter each stage uses
    views["panels"]         the DNC's memory-management panels ({} for an NTM)
    views["vectors"]        erase, add (or write) and read vectors
    figure_at(views["main"]["memory"], 5)   # == memory_figure(trace, 5), as JSON
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any, Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from _plotly_utils.basevalidators import is_homogeneous_array
from _plotly_utils.utils import plotlyjsShortTypes as _TYPED, to_typed_array_spec

from ntm.figures.addressing import addressing_figure, shift_figure, stage_parameters, stage_widths
from ntm.figures.common import PlainFigure, enlarge as enlarged, plotly_config, unvalidated
from ntm.figures.dnc import (dnc_stage_figure, dnc_stage_parameters, free_gates_figure, is_dnc, link_order_figure,
                             read_modes_over_time_figure, usage_allocation_figure)
from ntm.figures.step import (memory_change_figure, memory_figure, sequence_figure, vectors_figure,
                              weights_over_time_figure)
from ntm.trace import HeadRecord, Trace

Path = Sequence[str | int]
_DTYPES = {"float32": "f4", "float64": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
           "int32": "i4", "uint32": "u4"}
# The DNC's panels (keys of ntm.step_view.DNC_PANELS) and the figure function of each.
PANEL_FIGURES = {"allocation": usage_allocation_figure, "link": link_order_figure,
                 "read_modes": read_modes_over_time_figure, "free_gates": free_gates_figure}


# ---- typed arrays and patches ------------------------------------------------------------------

def encode(values: np.ndarray) -> dict[str, str]:
    """An array as Plotly's typed-array spec: dtype code, base64 bytes (little-endian), shape."""
    a = np.ascontiguousarray(values)
    if a.dtype.name not in _DTYPES:
        a = a.astype(np.float64)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": _DTYPES[a.dtype.name], "bdata": base64.b64encode(a.tobytes()).decode("ascii"),
            "shape": ", ".join(str(n) for n in a.shape)}


def decode(spec: Any) -> Any:
    """A typed-array spec back to a NumPy array (anything else is returned as it is)."""
    if isinstance(spec, dict) and "bdata" in spec and "dtype" in spec:
        a = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
        shape = [int(n) for n in str(spec.get("shape", a.shape[0])).split(",")]
        return a.reshape(shape)
    return spec


def patch(path: Path, values: Sequence[Any] | np.ndarray) -> dict[str, Any]:
    """One place of a figure that changes with t, and its value at every t (time first): a typed
    array for equally shaped arrays, else a list of JSON values (arrays in them as typed-array specs)."""
    if isinstance(values, np.ndarray):
        return {"path": list(path), "values": encode(values)}
    return {"path": list(path), "values": [_encoded(v) for v in values]}


def value_at(p: dict[str, Any], t: int) -> Any:
    """A patch's value at t (arrays as NumPy arrays)."""
    values = p["values"]
    return decode(values)[t] if isinstance(values, dict) else _decoded(values[t])


def view(fig: go.Figure, patches: list[dict[str, Any]], filename: str) -> dict[str, Any]:
    """A figure as JSON (numeric arrays as typed-array specs, as Plotly sends them), its patches,
    and its toolbar settings (``filename`` is the PNG's name; the browser adds ``-t<t>``)."""
    return {"figure": json.loads(fig.to_json()), "patches": patches, "config": plotly_config(filename)}


def figure_at(v: dict[str, Any], t: int) -> dict[str, Any]:
    """The view's figure at timestep t, as JSON with NumPy arrays: what the browser draws."""
    fig = copy.deepcopy(v["figure"])
    for p in v["patches"]:
        if not p["path"]:
            return _decoded(value_at(p, t))
        node = fig
        for key in p["path"][:-1]:
            node = node[key]
        node[p["path"][-1]] = value_at(p, t)
    return _decoded(fig)


def _decoded(node: Any) -> Any:
    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            return decode(node)
        return {k: _decoded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decoded(v) for v in node]
    return node


def _encoded(node: Any) -> Any:
    if isinstance(node, np.ndarray):
        return encode(node)
    if isinstance(node, dict):
        return {k: _encoded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_encoded(v) for v in node]
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def differences(path: list[str | int], nodes: list[Any]) -> list[dict[str, Any]]:
    """The patches that turn ``nodes[0]`` into ``nodes[t]`` for every t: the leaves that differ, or the
    smallest object or list around a difference in shape (keys or lengths), sent whole per t."""
    first = nodes[0]
    if all(_same(first, n) for n in nodes[1:]):
        return []
    if all(isinstance(n, dict) and n.keys() == first.keys() for n in nodes) and not _is_spec(first):
        return [p for k in first for p in differences(path + [k], [n[k] for n in nodes])]
    if all(isinstance(n, list) and len(n) == len(first) for n in nodes):
        return [p for i in range(len(first)) for p in differences(path + [i], [n[i] for n in nodes])]
    if all(isinstance(n, np.ndarray) and n.shape == first.shape and n.dtype == first.dtype for n in nodes):
        return [patch(path, np.stack(nodes))]
    return [patch(path, nodes)]


def _is_spec(node: Any) -> bool:
    return isinstance(node, dict) and "bdata" in node and "dtype" in node


def as_json(fig: go.Figure, *, consume: bool = False) -> dict[str, Any]:
    """``json.loads(fig.to_json())``, without the deep copy of every array that ``to_json`` makes first
    (a third of the time of drawing each view at every t): the figure's own dicts and lists are copied,
    its arrays shared, then converted as ``to_json`` converts them. ``consume``: ``fig`` is a
    ``PlainFigure`` drawn for this call only, whose dicts are converted in place (no copy)."""
    def copied(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: copied(v) for k, v in node.items()}
        return [copied(v) for v in node] if isinstance(node, (list, tuple)) else node

    if consume and isinstance(fig, PlainFigure):
        res = {"data": fig._data, "layout": fig._layout}
    else:
        res = {"data": copied(fig._data), "layout": copied(fig._layout)}
    _to_typed_arrays(res)
    for trace in res["data"]:
        trace.pop("uid", None)
    return json.loads(to_json_plotly(res))


_SKIPPED_KEYS = frozenset({"geojson", "layer", "layers", "range"})     # as _plotly_utils.utils.is_skipped_key
_PLAIN = (str, int, float, bool, type(None))


def _to_typed_arrays(node: Any) -> None:
    """``_plotly_utils.utils.convert_to_base64`` (in place), with a quick path for the NumPy arrays
    and plain values the figures hold; anything else goes through Plotly's own functions."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (dict, list, tuple)):
                if key not in _SKIPPED_KEYS:
                    _to_typed_arrays(value)
            elif isinstance(value, _PLAIN) or key in _SKIPPED_KEYS:
                continue
            elif isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.dtype.isnative:
                node[key] = _typed_array_spec(value)
            elif is_homogeneous_array(value):
                node[key] = to_typed_array_spec(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _to_typed_arrays(value)


def _typed_array_spec(v: np.ndarray) -> Any:
    """``_plotly_utils.utils.to_typed_array_spec`` of a numeric NumPy array in native byte order: int64 and
    uint64 narrowed to the smallest type that holds the values, then {"dtype", "bdata"[, "shape"]}
    (or the array itself: empty, or of a type plotly.js has no typed array for)."""
    if v.size == 0:
        return v
    if v.dtype == np.int64 or v.dtype == np.uint64:
        lo, hi = int(v.min()), int(v.max())
        signed = v.dtype == np.int64
        for small in ((np.int8, np.int16, np.int32) if signed else (np.uint8, np.uint16, np.uint32)):
            if np.iinfo(small).min <= lo and hi <= np.iinfo(small).max:
                v = v.astype(small)
                break
        else:
            return v
    code = _TYPED.get(v.dtype.name)
    if code is None:
        return v
    spec = {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(v).tobytes()).decode("ascii")}
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec


def view_over_time(draw: Callable[[int], go.Figure], steps: int, filename: str) -> dict[str, Any]:
    """A view of the figure function ``draw`` (t -> figure): its figure at t = 0 and the patches that
    give its figure at every other t.

    The figure at t = 0 is drawn as Plotly validates it (what the browser receives whole); the drawings
    compared to find the patches are made without validation (``fast_drawings``), unless the one at
    t = 0 differs from the validated one, when every t is drawn validated (slow, same result)."""
    first = draw(0)
    sent = json.loads(first.to_json())
    drawn = fast_drawings(draw, steps, _decoded(sent))
    if drawn is None:
        drawn = [_decoded(as_json(first))] + [_decoded(as_json(draw(t))) for t in range(1, steps)]
    return {"figure": sent, "patches": differences([], drawn), "config": plotly_config(filename)}


def fast_drawings(draw: Callable[[int], go.Figure], steps: int, validated: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The figure function ``draw`` at every t, drawn without Plotly's validation (``common.unvalidated``:
    as ``PlainFigure``s) and decoded as ``figure_at`` gives them, without the layout's default template
    (the same at every t); None if the drawing at t = 0 is not exactly ``validated`` (the validated
    figure at t = 0, decoded) less its template, or if a figure function needs more of ``go.Figure``."""
    try:
        with unvalidated():
            drawn = [_decoded(as_json(draw(t), consume=True)) for t in range(steps)]
    except (AttributeError, NotImplementedError, TypeError):    # a figure function needs go.Figure's objects
        return None
    if "template" not in drawn[0].get("layout", {}):
        validated = {**validated, "layout": {k: v for k, v in validated.get("layout", {}).items() if k != "template"}}
    if not _same(drawn[0], validated):
        return None
    return [validated] + drawn[1:]            # the same; its keys in Plotly's order, which the patches follow


def _sized(draw: Callable[[int], go.Figure], enlarge: bool) -> Callable[[int], go.Figure]:
    return (lambda t: enlarged(draw(t))) if enlarge else draw


# ---- the views ----------------------------------------------------------------------------------

def parameter_cells(trace: Trace, head: HeadRecord, filename: str = "shift") -> list[dict[str, Any] | None]:
    """What each stage of the head uses at t, one cell per stage (None for a stage without one):
    a scalar as {"label", "values": formatted like a metric, '3.214'}, the NTM's shift distribution as
    {"label", "view": its shift figure's view}, the DNC's read modes or free gates as {"label",
    "values": 'backward 0.20 · content 0.50 · forward 0.30'} (plain text)."""
    steps = trace.steps
    at = (lambda t: dnc_stage_parameters(trace, head, t)) if is_dnc(trace) else (lambda t: stage_parameters(head, t))
    params = [at(t) for t in range(steps)]
    cells: list[dict[str, Any] | None] = []
    for stage in head.stages():
        first = params[0].get(stage.key)
        if first is None:
            cells.append(None)
        elif isinstance(first["value"], dict) and not is_dnc(trace):
            cells.append({"label": first["label"], "view": view_over_time(
                lambda t: shift_figure(head, t, height=140), steps, filename)})
        elif isinstance(first["value"], dict):
            cells.append({"label": first["label"], "values": [
                " · ".join(f"{k} {v:.2f}" for k, v in p[stage.key]["value"].items()) for p in params]})
        else:
            cells.append({"label": first["label"], "values": [f"{p[stage.key]['value']:.4g}" for p in params]})
    return cells


def stages_figure(trace: Trace, head: HeadRecord) -> Callable[[int], go.Figure]:
    """The figure function of a head's stages at t (the DNC's stage table, or the NTM's addressing)."""
    widths = stage_widths(head)
    if is_dnc(trace):
        return lambda t: dnc_stage_figure(trace, head, t, widths=widths)
    return lambda t: addressing_figure(head, t, widths=widths)


def step_views(trace: Trace, *, enlarge: bool = False, name: str = "ntm",
               panels: Sequence[str] = ()) -> dict[str, Any]:
    """Every Step-through view of the trace (see the module docstring); ``name`` starts the PNG names,
    ``panels`` are the DNC panels to draw (``ntm.step_view.dnc_panels(trace)``)."""
    steps = trace.steps

    def over_time(fn: Callable[[Trace, int], go.Figure], filename: str) -> dict[str, Any]:
        return view_over_time(_sized(lambda t: fn(trace, t), enlarge), steps, f"{filename}-{name}")

    return {
        "steps": steps,
        "main": {"sequence": over_time(sequence_figure, "sequences"), "memory": over_time(memory_figure, "memory"),
                 "memory_change": over_time(memory_change_figure, "memory-change"),
                 "weights": over_time(weights_over_time_figure, "weights")},
        "panels": {p: over_time(PANEL_FIGURES[p], p.replace("_", "-")) for p in panels},
        "heads": [{"name": head.name, "widths": stage_widths(head),
                   "parameters": parameter_cells(trace, head, f"shift-{head.name}-{name}"),
                   "addressing": view_over_time(_sized(stages_figure(trace, head), enlarge), steps,
                                                f"addressing-{head.name}-{name}")}
                  for head in trace.heads],
        "vectors": over_time(vectors_figure, "vectors"),
    }


__all__ = ["PANEL_FIGURES", "encode", "decode", "patch", "value_at", "view", "figure_at", "differences",
           "as_json", "view_over_time", "fast_drawings", "parameter_cells", "stages_figure", "step_views"]
