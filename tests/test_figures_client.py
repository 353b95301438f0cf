"""The browser's Step-through data (``ntm.figures.client``): every view, patched to any t, is exactly
the figure the figure functions draw at t; arrays travel compactly and bit for bit."""

import dataclasses
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from ntm import figures as F
from ntm.figures import client as C
from ntm.trace import Trace
from tests.tiny_traces import tiny_copy_trace


@pytest.fixture(scope="module")
def trace() -> Trace:
    return tiny_copy_trace("ntm", controller_size=16, memory_slots=10, memory_width=6, heads="rrw")


@pytest.fixture(scope="module", params=["dnc", "sdnc"])
def dnc_trace(request) -> Trace:
    return tiny_copy_trace(request.param, length=3, hidden_size=16, nr_cells=10, cell_size=6, read_heads=2)


def drawn(fig: go.Figure) -> dict:
    """A figure as the browser receives it: its JSON, typed arrays decoded."""
    return C._decoded(json.loads(fig.to_json()))


def assert_same(got, expected, where="figure"):
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), (where, sorted(got), sorted(expected))
        for k in expected:
            assert_same(got[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list) and not isinstance(got, np.ndarray):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        g, e = np.asarray(got), np.asarray(expected)
        assert g.shape == e.shape and np.array_equal(g, e, equal_nan=e.dtype.kind == "f"), (where, g, e)
    else:
        assert got == expected, (where, got, expected)


def views_and_figures(trace, enlarge=False):
    """(view, the figure function at t) for every Step-through view of an NTM."""
    views = C.step_views(trace, enlarge=enlarge, name="test")
    size = F.enlarge if enlarge else (lambda fig: fig)
    pairs = [(views["main"]["sequence"], lambda t: size(F.sequence_figure(trace, t))),
             (views["main"]["memory"], lambda t: size(F.memory_figure(trace, t))),
             (views["main"]["memory_change"], lambda t: size(F.memory_change_figure(trace, t))),
             (views["main"]["weights"], lambda t: size(F.weights_over_time_figure(trace, t))),
             (views["vectors"], lambda t: size(F.vectors_figure(trace, t)))]
    for head, hv in zip(trace.heads, views["heads"]):
        pairs.append((hv["addressing"], lambda t, h=head: size(F.addressing_figure(h, t, widths=F.stage_widths(h)))))
        shift = next(c for c in hv["parameters"] if c and "view" in c)
        pairs.append((shift["view"], lambda t, h=head: F.shift_figure(h, t, height=140)))
    return views, pairs


@pytest.mark.parametrize("enlarge", [False, True])
def test_every_view_at_every_t_is_what_the_figure_functions_draw(trace, enlarge):
    views, pairs = views_and_figures(trace, enlarge)
    assert views["steps"] == trace.steps and len(pairs) == 5 + 2 * len(trace.heads)
    for v, figure_fn in pairs:
        assert v["patches"], v["figure"]["layout"]["title"]
        for t in range(trace.steps):
            assert_same(C.figure_at(v, t), drawn(figure_fn(t)), f"{v['figure']['layout']['title']['text']} t={t}")


def test_the_views_move_what_changes_with_t(trace):
    views = C.step_views(trace)
    memory = views["main"]["memory"]
    np.testing.assert_array_equal(C.figure_at(memory, 3)["data"][0]["z"], trace.memory[4])
    cursors = [s for s in C.figure_at(views["main"]["weights"], 6)["layout"]["shapes"] if s["name"] == F.CURSOR_NAME]
    assert [(s["x0"], s["x1"]) for s in cursors] == [(5.5, 6.5)] * len(trace.heads)
    head = trace.head("write 1")
    addressing = C.figure_at(views["heads"][2]["addressing"], 4)
    np.testing.assert_array_equal(addressing["data"][-1]["y"], head.weights[4])
    assert addressing["layout"]["title"]["text"] == "write 1: addressing at t = 4"


def test_parameter_cells_hold_each_stage_parameter_as_the_page_formats_it(trace):
    head = trace.head("read 2")
    cells = C.parameter_cells(trace, head)
    assert [c["label"] for c in cells] == [s.parameter.title for s in head.stages()]
    beta, gate, shift, gamma = cells
    assert beta["values"] == [f"{b:.4g}" for b in head.beta] and len(beta["values"]) == trace.steps
    assert gate["values"][3] == f"{head.g[3]:.4g}" and gamma["values"][5] == f"{head.gamma[5]:.4g}"
    np.testing.assert_array_equal(C.figure_at(shift["view"], 2)["data"][0]["y"], head.s[2])


def test_a_head_without_an_initial_weighting_is_drawn_as_the_figure_function_draws_it(trace):
    head = dataclasses.replace(trace.head("write 1"), initial=None)
    v = C.view_over_time(lambda t: F.addressing_figure(head, t, widths=F.stage_widths(head)), trace.steps, "a")
    for t in range(trace.steps):
        assert_same(C.figure_at(v, t), drawn(F.addressing_figure(head, t, widths=F.stage_widths(head))), f"t={t}")


def test_differences_patch_leaves_and_send_a_changed_shape_whole():
    nodes = [{"a": [1, 2], "b": np.arange(3.0) + t, "c": [0] * (1 + (t > 0)), "d": "same"} for t in range(3)]
    patches = C.differences([], nodes)
    assert [p["path"] for p in patches] == [["b"], ["c"]]
    fig = {"figure": C._encoded(nodes[0]), "patches": patches}
    for t in range(3):
        assert_same(C.figure_at(fig, t), nodes[t])
    assert C.differences([], [nodes[0], nodes[0]]) == []


@pytest.mark.parametrize("enlarge", [False, True])
def test_every_dnc_view_at_every_t_is_what_the_figure_functions_draw(dnc_trace, enlarge):
    panels = [p for p in C.PANEL_FIGURES if p != "free_gates" or dnc_trace.model_type == "dnc"]
    panels = [p for p in panels if p != "link" or "link" in dnc_trace.extras]
    views = C.step_views(dnc_trace, enlarge=enlarge, name="test", panels=panels)
    size = F.enlarge if enlarge else (lambda fig: fig)
    pairs = [(views["panels"][p], lambda t, p=p: size(C.PANEL_FIGURES[p](dnc_trace, t))) for p in panels]
    pairs += [(views["main"]["memory"], lambda t: size(F.memory_figure(dnc_trace, t))),
              (views["vectors"], lambda t: size(F.vectors_figure(dnc_trace, t)))]
    for head, hv in zip(dnc_trace.heads, views["heads"]):
        pairs.append((hv["addressing"], lambda t, h=head: size(
            F.dnc_stage_figure(dnc_trace, h, t, widths=F.stage_widths(h)))))
    for v, figure_fn in pairs:
        assert v["patches"], v["figure"]["layout"]["title"]
        for t in range(dnc_trace.steps):
            assert_same(C.figure_at(v, t), drawn(figure_fn(t)), f"{v['figure']['layout']['title']['text']} t={t}")
    reader = dnc_trace.heads[1]
    modes = next(c for c, s in zip(views["heads"][1]["parameters"], reader.stages()) if s.key == "read_weights")
    assert modes["values"][2] == " · ".join(f"{m} {p:.2f}" for m, p in zip(F.dnc.MODES, reader.read_modes[2]))


def test_arrays_travel_as_typed_float32_and_decode_bit_for_bit(trace):
    spec = C.encode(trace.memory[1:])
    assert spec["dtype"] == "f4" and spec["shape"] == ", ".join(map(str, trace.memory[1:].shape))
    np.testing.assert_array_equal(C.decode(spec), trace.memory[1:])
    assert C.decode([1, 2]) == [1, 2]
    views = C.step_views(trace)
    text = json.dumps(views)
    floats = trace.memory.size * 2 + sum(h.weights.size * 5 + h.s.size for h in trace.heads)
    assert len(text) < 4 * 1.4 * floats + 150_000, len(text)   # base64 float32, not decimal text
    assert json.loads(text) == views                            # plain JSON, nothing Python-only
