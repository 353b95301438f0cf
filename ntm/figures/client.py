"""The Step-through views as data for the browser: every figure once, and what in it changes with t.

The page sends a recorded run to the browser once; a small script there (``pages/components/
stepper/stepper.js``) moves every view to a timestep without asking the server. A *view* is a
figure drawn by the figure functions of this package (at the first timestep) plus its *patches*:
the places in the figure that depend on t, each a path into the figure's JSON and one value per
timestep::

    {"path": ["data", 0, "z"], "values": <[T, N, M] array>}          # the memory M_t
    {"path": ["layout", "title", "text"], "values": ["Memory M after step 0", ...]}

Setting every patch's path to its value at t gives exactly the figure the figure function draws
at t; ``figure_at`` does that here (the tests compare it with the figure functions for every view
and every t) and the script does the same in the browser. Numeric values travel as Plotly's own
typed-array spec, ``{"dtype": "f4", "bdata": <base64>, "shape": "T, N, M"}`` (time first, the
trace's float32 kept bit for bit), so a length-20 run of the copy preset is about 1 MB.

    views = step_views(trace, enlarge=teacher, name="copy-seed0")
    views["main"]           sequence strip, memory, memory change, weightings over time
    views["heads"][i]       head i: its addressing stages and the parameter each stage uses
    views["vectors"]        erase, add and read vectors
    figure_at(views["main"]["memory"], 5)   # == memory_figure(trace, 5), as JSON
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any, Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from ntm.figures.addressing import (addressing_figure, addressing_title, shift_figure, shift_title, stage_parameters,
                                    stage_title, stage_widths)
from ntm.figures.common import CURSOR_NAME, enlarge as enlarged, plotly_config
from ntm.figures.step import (memory_change_figure, memory_change_title, memory_figure, memory_title,
                              sequence_figure, sequence_title, vector_panels, vectors_figure, vectors_title,
                              weights_over_time_figure)
from ntm.trace import HeadRecord, Trace

Path = Sequence[str | int]
_DTYPES = {"float32": "f4", "float64": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
           "int32": "i4", "uint32": "u4"}


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
    """One place of a figure that changes with t, and its value at every t (time first)."""
    if isinstance(values, np.ndarray):
        return {"path": list(path), "values": encode(values)}
    return {"path": list(path), "values": list(values)}


def value_at(p: dict[str, Any], t: int) -> Any:
    """A patch's value at t (an array for typed values)."""
    values = decode(p["values"])
    return values[t]


def view(fig: go.Figure, patches: list[dict[str, Any]], filename: str) -> dict[str, Any]:
    """A figure as JSON (numeric arrays as typed-array specs, as Plotly sends them), its patches,
    and its toolbar settings (``filename`` is the PNG's name; the browser adds ``-t<t>``)."""
    return {"figure": json.loads(fig.to_json()), "patches": patches, "config": plotly_config(filename)}


def figure_at(v: dict[str, Any], t: int) -> dict[str, Any]:
    """The view's figure at timestep t, as JSON with NumPy arrays: what the browser draws."""
    fig = copy.deepcopy(v["figure"])
    for p in v["patches"]:
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


def _over_time(steps: int, fn: Callable[[int], Any]) -> list[Any]:
    return [fn(t) for t in range(steps)]


def _cursor_patches(fig: dict[str, Any], steps: int) -> list[dict[str, Any]]:
    """The time cursor of every time-on-x panel: x0 = t - 0.5, x1 = t + 0.5."""
    out = []
    for i, shape in enumerate(fig["layout"].get("shapes", [])):
        if shape.get("name") == CURSOR_NAME:
            out.append(patch(["layout", "shapes", i, "x0"], _over_time(steps, lambda t: t - 0.5)))
            out.append(patch(["layout", "shapes", i, "x1"], _over_time(steps, lambda t: t + 0.5)))
    return out


def _title_patch(steps: int, title: Callable[[int], str]) -> dict[str, Any]:
    return patch(["layout", "title", "text"], _over_time(steps, title))


def _sized(fig: go.Figure, enlarge: bool) -> go.Figure:
    return enlarged(fig) if enlarge else fig


# ---- the views ----------------------------------------------------------------------------------

def sequence_view(trace: Trace, enlarge: bool = False, filename: str = "sequences") -> dict[str, Any]:
    """Input, target and output: the cursor and the title (errors at t) move."""
    fig = _sized(sequence_figure(trace, 0), enlarge)
    v = view(fig, [], filename)
    v["patches"] = _cursor_patches(v["figure"], trace.steps) + [
        _title_patch(trace.steps, lambda t: sequence_title(trace, t))]
    return v


def memory_view(trace: Trace, enlarge: bool = False, filename: str = "memory") -> dict[str, Any]:
    """M_t: the matrix after each step."""
    fig = _sized(memory_figure(trace, 0), enlarge)
    return view(fig, [patch(["data", 0, "z"], trace.memory[1:]), _title_patch(trace.steps, memory_title)], filename)


def memory_change_view(trace: Trace, enlarge: bool = False, filename: str = "memory-change") -> dict[str, Any]:
    """M_t - M_{t-1}: what each step erased and added."""
    fig = _sized(memory_change_figure(trace, 0), enlarge)
    change = np.stack([trace.memory_change(t) for t in range(trace.steps)])
    return view(fig, [patch(["data", 0, "z"], change), _title_patch(trace.steps, memory_change_title)], filename)


def weights_view(trace: Trace, enlarge: bool = False, filename: str = "weights") -> dict[str, Any]:
    """Every head's weighting over time: only the cursors move."""
    v = view(_sized(weights_over_time_figure(trace, 0), enlarge), [], filename)
    v["patches"] = _cursor_patches(v["figure"], trace.steps)
    return v


def addressing_view(head: HeadRecord, enlarge: bool = False, filename: str = "addressing") -> dict[str, Any]:
    """One head's stages at t: each stage's weighting (bars and their colours), w_{t-1} beside
    the stage that mixes it in, the panel titles (with the parameter at t) and the figure title.

    When the trace has no weighting before step 0 the figure is drawn at t = 1 and w_{t-1} is
    hidden at t = 0 (``visible`` false), as the figure function leaves it out there."""
    steps = head.weights.shape[0]
    no_initial = head.previous_weights(0) is None and steps > 1
    base_t = 1 if no_initial else 0
    widths = stage_widths(head)
    fig = _sized(addressing_figure(head, base_t, widths=widths), enlarge)
    params = _over_time(steps, lambda t: stage_parameters(head, t))
    patches, index = [], 0
    for k, stage in enumerate(head.stages()):
        weights = np.asarray(stage.weights)
        patches += [patch(["data", index, "y"], weights), patch(["data", index, "marker", "color"], weights)]
        index += 1
        if stage.mixes_previous and head.previous_weights(base_t) is not None:
            previous = np.stack([np.zeros_like(head.weights[0]) if head.previous_weights(t) is None
                                 else np.asarray(head.previous_weights(t), dtype=head.weights.dtype)
                                 for t in range(steps)])
            patches.append(patch(["data", index, "y"], previous))
            if no_initial:
                patches.append(patch(["data", index, "visible"], [t > 0 for t in range(steps)]))
            index += 1
        patches.append(patch(["layout", "annotations", k, "text"],
                             [stage_title(stage, params[t].get(stage.key)) for t in range(steps)]))
    patches.append(_title_patch(steps, lambda t: addressing_title(head, t)))
    return view(fig, patches, filename)


def shift_view(head: HeadRecord, filename: str = "shift") -> dict[str, Any]:
    """The shift distribution s_t over its offsets (bars and their colours)."""
    steps = head.weights.shape[0]
    s = np.asarray(head.s)
    return view(shift_figure(head, 0, height=140), [
        patch(["data", 0, "y"], s), patch(["data", 0, "marker", "color"], s),
        _title_patch(steps, shift_title)], filename)


def vectors_view(trace: Trace, enlarge: bool = False, filename: str = "vectors") -> dict[str, Any]:
    """Erase and add vectors (write heads) and read vectors (read heads) at t."""
    fig = _sized(vectors_figure(trace, 0), enlarge)
    patches = [patch(["data", i, "y"], np.asarray(getattr(head, field)))
               for i, (head, field, _, _) in enumerate(vector_panels(trace))]
    return view(fig, patches + [_title_patch(trace.steps, vectors_title)], filename)


def parameter_cells(head: HeadRecord, filename: str = "shift") -> list[dict[str, Any] | None]:
    """What each stage of the head uses at t, one cell per stage (None for a stage without one):
    a scalar as {"label", "values": formatted like a metric, '3.214'}, the shift distribution as
    {"label", "view": shift_view}."""
    steps = head.weights.shape[0]
    params = _over_time(steps, lambda t: stage_parameters(head, t))
    cells: list[dict[str, Any] | None] = []
    for stage in head.stages():
        first = params[0].get(stage.key)
        if first is None:
            cells.append(None)
        elif isinstance(first["value"], dict):
            cells.append({"label": first["label"], "view": shift_view(head, filename)})
        else:
            cells.append({"label": first["label"], "values": [f"{p[stage.key]['value']:.4g}" for p in params]})
    return cells


def step_views(trace: Trace, *, enlarge: bool = False, name: str = "ntm") -> dict[str, Any]:
    """Every Step-through view of the trace (see the module docstring); ``name`` starts the PNG names."""
    return {
        "steps": trace.steps,
        "main": {"sequence": sequence_view(trace, enlarge, f"sequences-{name}"),
                 "memory": memory_view(trace, enlarge, f"memory-{name}"),
                 "memory_change": memory_change_view(trace, enlarge, f"memory-change-{name}"),
                 "weights": weights_view(trace, enlarge, f"weights-{name}")},
        "heads": [{"name": head.name, "widths": stage_widths(head),
                   "parameters": parameter_cells(head, f"shift-{head.name}-{name}"),
                   "addressing": addressing_view(head, enlarge, f"addressing-{head.name}-{name}")}
                  for head in trace.heads],
        "vectors": vectors_view(trace, enlarge, f"vectors-{name}"),
    }


__all__ = ["encode", "decode", "patch", "value_at", "view", "figure_at", "sequence_view", "memory_view",
           "memory_change_view", "weights_view", "addressing_view", "shift_view", "vectors_view",
           "parameter_cells", "step_views"]
