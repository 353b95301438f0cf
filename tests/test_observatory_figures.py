"""The observatory's figures (ntm.figures.observatory): what each draws from plain rows, checked
without a browser: one line per run coloured by model, cost by length as a grid or as lines, and
the output history as animation frames with a slider."""

import json

import numpy as np
import pytest

from ntm.figures.observatory import MAX_FRAMES, history_figure, learning_curves_figure, length_cost_figure
from ntm.figures.training import LOG_FLOOR


def curve(run, group, costs):
    return [{"run": run, "group": group, "sequences": 100 * (i + 1), "cost_bits": c} for i, c in enumerate(costs)]


ROWS = curve("ntm seed 1", "NTM (lstm)", [40, 10, 0.0]) + curve("ntm seed 2", "NTM (lstm)", [45, 20, 2]) + \
    curve("lstm seed 1", "LSTM", [50, 40, 30])


def test_one_line_per_run_and_one_colour_per_model():
    fig = learning_curves_figure(ROWS)
    assert [t.name for t in fig.data] == ["ntm seed 1", "ntm seed 2", "lstm seed 1"]
    ntm1, ntm2, lstm = fig.data
    assert list(ntm1.x) == [100, 200, 300] and list(ntm1.y) == [40, 10, 0.0]
    assert ntm1.line.color == ntm2.line.color != lstm.line.color
    assert (ntm1.legendgroup, ntm2.legendgroup, lstm.legendgroup) == ("NTM (lstm)", "NTM (lstm)", "LSTM")
    assert ntm1.legendgrouptitle.text == "NTM (lstm)" and ntm2.legendgrouptitle.text is None
    assert fig.layout.yaxis.title.text == "cost per sequence (bits)"
    assert fig.layout.xaxis.title.text == "sequences seen"
    json.dumps(fig.to_plotly_json(), default=str)


def test_a_log_axis_draws_zeros_at_the_floor_and_hovers_the_true_value():
    fig = learning_curves_figure(ROWS, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].y) == [40, 10, LOG_FLOOR] and list(fig.data[0].customdata) == [40, 10, 0.0]


def test_no_rows_says_so():
    fig = learning_curves_figure([])
    assert not fig.data and "No run" in fig.layout.annotations[0].text


LENGTHS = [{"sequences": 100, "length": 1, "cost_bits": 2.0}, {"sequences": 100, "length": 3, "cost_bits": 9.0},
           {"sequences": 200, "length": 2, "cost_bits": 1.0}, {"sequences": 200, "length": 3, "cost_bits": 4.0}]


def test_cost_by_length_as_a_grid_of_lengths_by_sequences_seen():
    fig = length_cost_figure(LENGTHS)
    (heat,) = fig.data
    assert fig.layout.yaxis.dtick == 1                               # ticks on whole lengths
    assert list(heat.x) == [100, 200] and list(heat.y) == [1, 2, 3]
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == 2.0 and z[2, 0] == 9.0 and z[1, 1] == 1.0 and z[2, 1] == 4.0
    assert np.isnan(z[1, 0]) and np.isnan(z[0, 1])                   # lengths not drawn in that report
    logged = np.asarray(length_cost_figure(LENGTHS, log_z=True).data[0].z, dtype=float)
    assert logged[2, 0] == pytest.approx(np.log10(9.0))


def test_cost_by_length_as_one_line_per_length():
    fig = length_cost_figure(LENGTHS, kind="lines")
    assert [t.name for t in fig.data] == ["length 1", "length 2", "length 3"]
    assert list(fig.data[2].x) == [100, 200] and list(fig.data[2].y) == [9.0, 4.0]
    assert len({t.line.color for t in fig.data}) == 3
    with pytest.raises(ValueError, match="kind"):
        length_cost_figure(LENGTHS, kind="bars")
    assert "no cost by length" in length_cost_figure([]).layout.annotations[0].text


def history(frames=3):
    target = [[1, 0], [0, 1], [1, 1]]                                  # [T_scored=3, W=2]
    long_target = [[1, 0]] * 6
    return {"examples": [{"length": 3, "targets": target}, {"length": 6, "targets": long_target}],
            "frames": [{"batches": 10 * (i + 1), "sequences": 40 * (i + 1),
                        "outputs": [[[0.5 + 0.1 * i * (2 * b - 1) for b in row] for row in target],
                                    [[0.5, 0.5]] * 6]} for i in range(frames)]}


def test_the_history_has_a_frame_and_a_slider_step_per_report_and_opens_at_the_latest():
    fig = history_figure(history())
    target, output = fig.data
    assert np.asarray(target.z).shape == (2, 3)                        # bits down, time across
    assert [f.name for f in fig.frames] == ["10", "20", "30"]
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["40", "80", "120"] and slider.active == 2
    assert [list(s.args[0]) for s in slider.steps] == [["10"], ["20"], ["30"]]
    assert fig.layout.updatemenus[0].buttons[0].label == "▶ Play"
    np.testing.assert_allclose(np.asarray(output.z), np.asarray(fig.frames[-1].data[0].z))
    np.testing.assert_allclose(np.asarray(fig.frames[0].data[0].z), 0.5)
    assert list(fig.frames[0].traces) == [1]                           # a frame replaces the output only
    # each frame's title counts its bit errors: all wrong at 0.5 (not > 0.5 where 1), none at the end
    assert "batch 10): 4 bit errors" in fig.frames[0].layout.annotations[1].text
    assert "0 bit errors" in fig.frames[-1].layout.annotations[1].text
    json.dumps(fig.to_plotly_json(), default=str)


def test_the_longer_example_and_long_histories():
    fig = history_figure(history(), index=1)
    assert np.asarray(fig.data[0].z).shape == (2, 6)
    with pytest.raises(ValueError, match="example index"):
        history_figure(history(), index=2)
    long = history_figure(history(frames=3 * MAX_FRAMES + 1))
    assert len(long.frames) <= MAX_FRAMES + 1 and long.frames[-1].name == str(10 * (3 * MAX_FRAMES + 1))
    assert "No output history" in history_figure(None).layout.annotations[0].text
