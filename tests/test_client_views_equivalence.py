"""The Step-through views are drawn fast (``ntm.figures.common.unvalidated``: figures as their JSON dicts,
without Plotly's validation) and must stay exactly what the validated figures are: for every figure the
client draws, the fast figure's JSON has the validated figure's keys and values (less the default
template, which the client takes from the validated figure at t = 0), and ``step_views`` sends the same
JSON whether it draws fast or validated. A figure function that needs ``go.Figure``'s objects, or whose
fast drawing differs, is drawn validated instead."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from ntm import figures as F
from ntm.figures import client as C
from ntm.figures import common
from ntm.figures import dnc as D
from ntm.trace import Trace
from tests.tiny_traces import tiny_copy_trace


def _ntm_trace() -> Trace:
    return tiny_copy_trace("ntm", seed=3, sample_seed=2, controller_size=16, memory_slots=12, memory_width=6,
                           heads="rw")


def _dnc_trace(kind: str) -> Trace:
    return tiny_copy_trace(kind, seed=4, sample_seed=2, length=3, hidden_size=16, nr_cells=10, cell_size=6,
                           read_heads=2)


@pytest.fixture(scope="module", params=["ntm", "dnc", "sdnc"])
def trace(request) -> Trace:
    return _ntm_trace() if request.param == "ntm" else _dnc_trace(request.param)


def figure_functions(trace: Trace) -> dict[str, object]:
    """Every figure function the client draws for this trace, as t -> figure."""
    fns = {"sequence": lambda t: F.sequence_figure(trace, t), "memory": lambda t: F.memory_figure(trace, t),
           "memory_change": lambda t: F.memory_change_figure(trace, t),
           "weights": lambda t: F.weights_over_time_figure(trace, t), "vectors": lambda t: F.vectors_figure(trace, t)}
    for head in trace.heads:
        fns[f"stages {head.name}"] = C.stages_figure(trace, head)
        if not D.is_dnc(trace):
            fns[f"shift {head.name}"] = lambda t, h=head: F.shift_figure(h, t, height=140)
    from ntm.step_view import dnc_panels
    for panel in dnc_panels(trace):
        fns[panel] = lambda t, fn=C.PANEL_FIGURES[panel]: fn(trace, t)
    return fns


def validated_json(fig: go.Figure) -> dict:
    """The figure as the browser receives it when Plotly validates it, less the default template."""
    out = C._decoded(json.loads(fig.to_json()))
    out["layout"].pop("template")
    return out


def assert_equivalent(got, expected, where="figure"):
    """Same keys everywhere; numbers equal within float tolerance; arrays of the same dtype and shape."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), (where, sorted(got), sorted(expected))
        for k in expected:
            assert_equivalent(got[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), (where, got, expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_equivalent(g, e, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == expected.dtype and got.shape == expected.shape, \
            (where, got, expected)
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=where)
    elif isinstance(expected, float):
        assert isinstance(got, float) and got == pytest.approx(expected, rel=1e-12), (where, got, expected)
    else:
        assert type(got) is type(expected) and got == expected, (where, got, expected)


@pytest.mark.parametrize("enlarge", [False, True])
def test_every_fast_figure_is_the_validated_figure(trace, enlarge):
    size = common.enlarge if enlarge else (lambda fig: fig)
    fns = figure_functions(trace)
    assert len(fns) >= 7
    for name, fn in fns.items():
        for t in sorted({0, 1, trace.steps // 2, trace.steps - 1}):
            with common.unvalidated():
                fast = size(fn(t))
            assert isinstance(fast, common.PlainFigure), name
            expected = validated_json(size(fn(t)))
            assert_equivalent(C._decoded(C.as_json(fast)), expected, f"{name} at t={t}")


def test_the_client_takes_the_fast_path_for_every_view(trace):
    for name, fn in figure_functions(trace).items():
        drawn = C.fast_drawings(fn, trace.steps, C._decoded(json.loads(fn(0).to_json())))
        assert drawn is not None, f"{name} was drawn validated"
        for t in (1, trace.steps - 1):
            assert_equivalent(drawn[t], validated_json(fn(t)), f"{name} at t={t}")


@pytest.mark.parametrize("enlarge", [False, True])
def test_step_views_sends_the_same_json_drawn_fast_or_validated(trace, enlarge, monkeypatch):
    from ntm.step_view import dnc_panels
    fast = C.step_views(trace, enlarge=enlarge, name="eq", panels=dnc_panels(trace))
    monkeypatch.setattr(C, "fast_drawings", lambda *args: None)       # every t drawn validated
    validated = C.step_views(trace, enlarge=enlarge, name="eq", panels=dnc_panels(trace))
    # (the same JSON up to the order of keys in a trace sent whole per t, which Plotly does not read)
    assert_equivalent(C._decoded(json.loads(json.dumps(fast))), C._decoded(json.loads(json.dumps(validated))), "views")


def test_a_figure_function_that_needs_plotly_objects_is_drawn_validated(trace):
    def draw(t):
        fig = F.memory_figure(trace, t)
        fig.update_traces(zsmooth="best")          # go.Figure's API, which a PlainFigure lacks
        return fig
    assert C.fast_drawings(draw, trace.steps, C._decoded(json.loads(draw(0).to_json()))) is None
    v = C.view_over_time(draw, trace.steps, "memory")
    for t in (0, trace.steps - 1):
        expected = C._decoded(json.loads(draw(t).to_json()))
        assert_equivalent(C.figure_at(v, t), expected, f"t={t}")


def test_a_fast_drawing_that_differs_from_the_validated_one_is_not_used(trace, monkeypatch):
    fn = lambda t: F.memory_figure(trace, t)
    validated = C._decoded(json.loads(fn(0).to_json()))
    assert C.fast_drawings(fn, trace.steps, validated) is not None
    monkeypatch.setattr(common, "_colorscale", lambda name: ((0.0, "#000000"), (1.0, "#ffffff")))
    assert C.fast_drawings(fn, trace.steps, validated) is None


def test_fast_figures_leave_the_figure_functions_dicts_alone(trace):
    legend = json.dumps(F.addressing.TOP_RIGHT)
    with common.unvalidated():
        for t in range(trace.steps):
            common.enlarge(C.stages_figure(trace, trace.heads[0])(t))
    assert json.dumps(F.addressing.TOP_RIGHT) == legend
    assert isinstance(F.memory_figure(trace, 0), go.Figure)         # outside the block: validated as before
