"""Figure functions: the data they draw is the trace's, at the right t, on fixed colour scales.

Figures are checked by reading them (no browser): values equal the trace's arrays, the cursor
sits on t, colour ranges do not move with t, every trace has a hover template.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import plotly.graph_objects as go
import pytest

from ntm import figures as F
from ntm.trace import NTM_STAGES, HeadRecord, Parameter, Stage, Trace
from tests.tiny_traces import tiny_copy_trace


@pytest.fixture(scope="module")
def trace() -> Trace:
    return tiny_copy_trace("ntm", controller_size=16, memory_slots=10, memory_width=6, heads="rrw")


def cursor(fig: go.Figure) -> list[float]:
    return [(s.x0 + s.x1) / 2 for s in fig.layout.shapes if s.name == F.CURSOR_NAME]


def all_figures(trace: Trace, t: int) -> list[go.Figure]:
    figs = [F.sequence_figure(trace, t), F.memory_figure(trace, t), F.memory_change_figure(trace, t),
            F.weights_over_time_figure(trace, t), F.vectors_figure(trace, t)]
    for head in trace.heads:
        figs += [F.addressing_figure(head, t), F.shift_figure(head, t)]
    return figs


def test_sequence_figure_shows_input_target_output_errors_and_cursor(trace):
    for t in (0, 5, trace.steps - 1):
        fig = F.sequence_figure(trace, t)
        heat = [d for d in fig.data if d.type == "heatmap"]
        np.testing.assert_array_equal(heat[0].z, trace.inputs.T)
        np.testing.assert_array_equal(heat[1].z, trace.targets.T)
        np.testing.assert_array_equal(heat[2].z, trace.outputs.T)
        assert cursor(fig) == [t]
        assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == F.WEIGHT_RANGE
        assert fig.layout.coloraxis.showscale is not False
    errors = next(d for d in fig.data if d.name == "bit error")
    assert len(errors.x) == trace.bit_errors()
    wrong = (trace.outputs > 0.5) != (trace.targets > 0.5)
    for x, y in zip(errors.x, errors.y):
        assert trace.mask[x] and wrong[x, y]
    assert f"{trace.bit_errors()} bit error" in fig.layout.title.text


def test_memory_figures_use_one_symmetric_range_for_the_whole_trace(trace):
    r, d = F.memory_clip(trace), F.change_range(trace)
    lo, hi = F.slot_window(trace)
    assert r == pytest.approx(float(np.percentile(np.abs(trace.memory[:, lo:hi + 1]), 99, method="higher")))
    assert F.memory_range(trace) == pytest.approx(float(np.abs(trace.memory).max()))
    for t in range(trace.steps):
        mem = F.memory_figure(trace, t).data[0]
        np.testing.assert_array_equal(mem.z, trace.memory[t + 1])
        assert (mem.zmin, mem.zmax, mem.zmid) == (-r, r, 0)
        change = F.memory_change_figure(trace, t).data[0]
        np.testing.assert_allclose(change.z, trace.memory_change(t))
        assert (change.zmin, change.zmax) == (-d, d)
        assert "%{z" in mem.hovertemplate and "%{z" in change.hovertemplate


def test_weights_over_time_is_figure_6_with_a_cursor_on_each_panel(trace):
    fig = F.weights_over_time_figure(trace, 6)
    assert [d.name for d in fig.data] == ["write 1", "read 1", "read 2"]      # write heads first
    for d in fig.data:
        np.testing.assert_array_equal(d.z, trace.head(d.name).weights.T)
        assert d.coloraxis == "coloraxis"
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    assert cursor(fig) == [6, 6, 6]
    assert F.set_cursor(fig, 2) is fig and cursor(fig) == [2, 2, 2]


def test_addressing_figure_draws_each_stage_at_t_on_a_fixed_scale(trace):
    head = trace.head("write 1")
    for t in (0, 3):
        fig = F.addressing_figure(head, t)
        bars = [d for d in fig.data if d.type == "bar"]
        assert [b.name for b in bars] == [s.label for s in head.stages()]
        for bar, stage in zip(bars, head.stages()):
            np.testing.assert_array_equal(bar.y, stage.weights[t])
            assert bar.marker.coloraxis == "coloraxis"
        for axis in ("yaxis", "yaxis2", "yaxis3", "yaxis4"):
            assert tuple(fig.layout[axis].range) == F.WEIGHT_RANGE
        assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
        previous = [d for d in fig.data if d.name == "previous w"]
        # At t = 0 the gate mixes in the head's initial weighting, which the trace records.
        expected = head.initial if t == 0 else head.weights[t - 1]
        np.testing.assert_array_equal(previous[0].y, expected)
    titles = [a.text for a in fig.layout.annotations]
    assert [t.split("  ")[0] for t in titles] == [stage.symbol for stage in NTM_STAGES]   # symbols from the table
    assert titles[0] == f"wᶜ  content · β = {head.beta[3]:.4g}"
    assert titles[3] == f"w  sharpened · γ = {head.gamma[3]:.4g}"
    assert titles[2] == "w̃  shifted"                     # the shift distribution is drawn on its own


def test_stage_parameters_and_shift_figure_read_the_emissions(trace):
    head = trace.head("read 2")
    params = F.stage_parameters(head, 4)
    assert params["content"]["value"] == pytest.approx(float(head.beta[4]))
    assert params["gated"]["value"] == pytest.approx(float(head.g[4]))
    assert params["weights"]["value"] == pytest.approx(float(head.gamma[4]))
    assert list(params["shifted"]["value"]) == [-1, 0, 1]
    assert list(params["shifted"]["value"].values()) == pytest.approx(head.s[4].tolist())
    assert [params[stage.key]["label"] for stage in NTM_STAGES] == [stage.parameter.title for stage in NTM_STAGES]
    assert params["content"]["label"] == "β, key strength" and params["content"]["field"] == "beta"
    assert F.format_parameter(params["gated"]) == f"g = {head.g[4]:.4g}"
    assert F.format_parameter(params["shifted"]).startswith("s = {-1: ")
    fig = F.shift_figure(head, 4)
    np.testing.assert_array_equal(fig.data[0].y, head.s[4])
    assert list(fig.data[0].x) == ["-1", "0", "+1"] and tuple(fig.layout.yaxis.range) == (0, 1)


def test_vectors_figure_shows_erase_add_and_reads_on_fixed_ranges(trace):
    fig = F.vectors_figure(trace, 2)
    names = [d.name for d in fig.data]
    assert names == ["read 1 read", "read 2 read", "write 1 erase", "write 1 add"]
    np.testing.assert_array_equal(fig.data[2].y, trace.head("write 1").erase[2])
    np.testing.assert_array_equal(fig.data[3].y, trace.head("write 1").add[2])
    np.testing.assert_array_equal(fig.data[0].y, trace.head("read 1").read[2])
    r = F.memory_range(trace)
    ranges = [tuple(fig.layout[f"yaxis{'' if i == 0 else i + 1}"].range) for i in range(4)]
    assert ranges == [(-r, r), (-r, r), (0, 1), (-1, 1)]


def test_every_figure_has_hover_values_and_serialises(trace):
    for fig in all_figures(trace, 5):
        for d in fig.data:
            assert d.hovertemplate and "<extra></extra>" in d.hovertemplate, (fig.layout.title.text, d.name)
        assert fig.to_json()


def test_out_of_range_t_is_an_error_not_a_wrong_picture(trace):
    with pytest.raises(ValueError, match="outside the trace"):
        F.memory_figure(trace, trace.steps)
    with pytest.raises(ValueError):
        F.sequence_figure(trace, -1)


def test_figures_draw_a_trace_loaded_from_json(trace):
    back = Trace.from_json(trace.to_json())
    np.testing.assert_array_equal(F.memory_figure(back, 3).data[0].z, F.memory_figure(trace, 3).data[0].z)


# A head of another memory model with its own stage table (as a DNC head would have): defining it
# registers it in ntm.trace.HEAD_TYPES, and the figures draw it without changes.
THREE_STAGES = (
    Stage("content", "content", "Content weighting", "c", Parameter("beta", "β", "key strength"), "c", "c()", "c"),
    Stage("allocation", "allocation", "Allocation", "a", None, "a", "a()", "a", mixes_previous=True),
    Stage("weights", "final", "Mixing", "w", None, "w", "mix()", "mix"),
)


@dataclass
class ThreeStageHead(HeadRecord):
    head_type: ClassVar[str] = "test-three-stage"
    STAGES: ClassVar[tuple] = THREE_STAGES
    beta: np.ndarray
    content: np.ndarray
    allocation: np.ndarray
    weights: np.ndarray
    initial: np.ndarray | None = None


def test_another_head_type_draws_through_its_own_stage_table_without_changes():
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(8), size=(5, 3)).astype(np.float32)          # [T, 3 stages, N]
    head = ThreeStageHead("write 1", "write", np.arange(5.0), w[:, 0], w[:, 1], w[:, 2])
    fig = F.addressing_figure(head, 2)
    assert [d.name for d in fig.data] == ["content", "allocation", "previous w", "final"]
    np.testing.assert_array_equal(fig.data[1].y, w[2, 1])
    np.testing.assert_array_equal(fig.data[2].y, w[1, 2])              # w_{t-1}, beside the stage that mixes it
    assert set(F.stage_parameters(head, 2)) == {"content"}
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["c  content · β = 2", "a  allocation", "w  final"]


def test_projection_enlarges_and_plotly_config_saves_png(trace):
    fig = F.memory_figure(trace, 0)
    height = fig.layout.height
    F.enlarge(fig)
    assert fig.layout.height > height and fig.layout.font.size > 12
    config = F.plotly_config("memory-t0")
    assert config["toImageButtonOptions"]["format"] == "png" and not config["displaylogo"]


def test_lab_figures_keep_their_fixed_ranges():
    w = np.array([0.1, 0.6, 0.3])
    fig = F.weighting_figure(w, "w", previous=np.array([1.0, 0.0, 0.0]))
    np.testing.assert_array_equal(fig.data[0].y, w)
    # the fixed [0, 1] scale (ticks 0, 0.5, 1); the axis runs on to 1.25, a band above the bars for the legend
    assert tuple(fig.layout.yaxis.range) == (0, 1.25) and tuple(fig.layout.yaxis.tickvals) == (0, 0.5, 1)
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1 and fig.layout.coloraxis.showscale is False
    assert fig.layout.legend.yanchor == "top" and fig.layout.legend.y == 1.0 and fig.layout.legend.yref != "container"
    gated, content = NTM_STAGES[1], NTM_STAGES[0]
    fig = F.stage_figure(gated, w, previous=np.array([1.0, 0.0, 0.0]))
    assert fig.layout.title.text == "gated weighting wᵍ" and fig.layout.showlegend       # w_{t-1} in a legend
    numbered = F.stage_figure(gated, w, previous=np.array([1.0, 0.0, 0.0]), number=3, param={"symbol": "g", "value": 0.5})
    assert numbered.layout.title.text == "3. gated weighting wᵍ · g = 0.5"
    assert fig.data[1].name == "previous w" and fig.data[1].showlegend and not fig.data[0].showlegend
    np.testing.assert_array_equal(fig.data[1].y, [1.0, 0.0, 0.0])
    fig = F.stage_figure(content, w, previous=np.array([1.0, 0.0, 0.0]))    # does not mix w_{t-1} in
    assert fig.layout.title.text == "content weighting wᶜ" and len(fig.data) == 1
    sim = F.similarity_figure(np.array([0.5, -0.2, 1.0]))
    assert sim.data[0].marker.cmin == -1 and sim.data[0].marker.cmax == 1
    mat = F.matrix_figure(np.array([[1.0, -2.0]]), "M", half_range=3.0)
    assert (mat.data[0].zmin, mat.data[0].zmax) == (-3.0, 3.0)
