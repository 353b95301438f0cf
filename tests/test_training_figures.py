"""Training and generalisation figures: what each draws from plain data, checked without a browser."""

import json

import numpy as np
import pytest
import plotly.graph_objects as go

from ntm.figures.training import (LOG_FLOOR, bit_errors_of, curves_figure, examples_figure, format_duration,
                                  FLOOR_LABEL, generalisation_figure, moving_average, sample_figure)

METRICS = [
    {"batches": 10, "sequences": 40, "loss": 0.69, "cost_bits": 30.0, "bit_errors": 15.0},
    {"batches": 20, "sequences": 80, "loss": 0.50, "cost_bits": 20.0, "bit_errors": 9.0},
    {"batches": 30, "sequences": 120, "loss": 0.20, "cost_bits": 6.0, "bit_errors": 1.5},
]


def traces(fig, kind):
    return [t for t in fig.data if t.type == kind]


def test_curves_plot_loss_and_cost_against_sequences_seen():
    fig = curves_figure(METRICS)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["loss"].x) == [40, 80, 120]
    assert list(by_name["loss"].y) == [0.69, 0.50, 0.20]
    assert list(by_name["cost (bits)"].y) == [30.0, 20.0, 6.0]
    assert list(by_name["bit errors"].y) == [15.0, 9.0, 1.5]
    # loss on the left panel, cost and bit errors on the right
    assert by_name["loss"].xaxis == "x" and by_name["cost (bits)"].xaxis == "x2" == by_name["bit errors"].xaxis
    json.dumps(fig.to_plotly_json(), default=str)  # serialisable, as st.plotly_chart needs


def test_curves_have_axis_titles_on_both_panels():
    fig = curves_figure(METRICS)
    assert fig.layout.yaxis.title.text == "nats per bit" and fig.layout.yaxis2.title.text == "bits per sequence"
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "sequences seen"


def test_moving_average_is_trailing_and_starts_with_what_there_is():
    assert moving_average([4, 2, 6, 0], 2) == [4, 3, 4, 3]
    assert moving_average([4, 2, 6, 0], 3) == [4, 3, 4, pytest.approx(8 / 3)]
    assert moving_average([4, 2, 6], 1) == [4, 2, 6] and moving_average([], 5) == []


def test_smoothed_curves_draw_the_moving_average_over_the_faint_raw_values():
    fig = curves_figure(METRICS, smooth=2)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["cost (bits)"].y) == [30.0, 25.0, 13.0]           # trailing mean of two reports
    assert list(by_name["loss"].y) == pytest.approx([0.69, 0.595, 0.35])
    assert list(by_name["bit errors"].y) == [15.0, 12.0, 5.25]
    raw = by_name["cost (bits) (raw)"]
    assert list(raw.y) == [30.0, 20.0, 6.0] and raw.opacity < 1 and raw.showlegend is False
    assert "moving average over 2 reports" in fig.layout.title.text
    # smooth <= 1 (the default) draws the raw values only
    assert [t.name for t in curves_figure(METRICS, smooth=1).data] == ["loss", "cost (bits)", "bit errors"]


def test_long_runs_are_thinned_to_a_drawable_curve_ending_at_the_latest_report():
    lines = [{"batches": i, "sequences": 4 * i, "loss": 1 / i, "cost_bits": 10 / i} for i in range(1, 5002)]
    (loss, cost) = curves_figure(lines).data
    assert 1000 <= len(loss.x) <= 2001 and loss.x[0] == 4 and loss.x[-1] == 4 * 5001
    assert list(loss.x) == sorted(loss.x)


def test_curves_without_metrics_say_they_wait():
    fig = curves_figure([])
    assert not fig.data
    assert "first report" in fig.layout.annotations[0].text


def test_sample_shows_scored_steps_bits_down_and_counts_errors():
    # 2 input steps, 3 scored steps, 2 bits; the output gets one bit wrong (step 1, bit 0).
    sample = {"batches": 7,
              "inputs": [[1, 0, 0]] * 5,
              "targets": [[0, 0], [0, 0], [1, 0], [0, 1], [1, 1]],
              "outputs": [[0.9, 0.9], [0.9, 0.9], [0.8, 0.1], [0.7, 0.9], [0.9, 0.6]],
              "mask": [False, False, True, True, True]}
    fig = sample_figure(sample)
    target, output = traces(fig, "heatmap")
    assert np.array_equal(np.array(target.z), [[1, 0, 1], [0, 1, 1]])           # [bits, scored steps]
    assert np.allclose(np.array(output.z), [[0.8, 0.7, 0.9], [0.1, 0.9, 0.6]])
    titles = [a.text for a in fig.layout.annotations]
    assert "output (1 bit error)" in titles
    assert "batch 7" in fig.layout.title.text
    assert sample_figure(None).data == ()


def test_bit_errors_threshold_at_one_half():
    assert bit_errors_of(np.array([[1, 0, 1]]), np.array([[0.51, 0.49, 0.5]])) == 1


def test_generalisation_draws_each_model_sorted_with_training_range():
    ntm = [{"length": 20, "bit_errors": 0.0, "bit_errors_max": 0, "perfect": 1.0},
           {"length": 10, "bit_errors": 0.0, "bit_errors_max": 0, "perfect": 1.0},
           {"length": 80, "bit_errors": 2.5, "bit_errors_max": 9, "perfect": 0.4}]
    lstm = [{"length": 10, "bit_errors": 8.0, "bit_errors_max": 14, "perfect": 0.0},
            {"length": 80, "bit_errors": 250.0, "bit_errors_max": 300, "perfect": 0.0}]
    fig = generalisation_figure({"NTM copy": ntm, "LSTM lstm-copy": lstm}, train_lengths=(1, 20),
                                dashed=["LSTM lstm-copy"])
    a, b = fig.data
    assert (a.name, list(a.x), list(a.y)) == ("NTM copy", [10, 20, 80], [0.0, 0.0, 2.5])
    assert (b.name, list(b.x), list(b.y)) == ("LSTM lstm-copy", [10, 80], [8.0, 250.0])
    assert a.line.dash == "solid" and b.line.dash == "dash"
    assert a.line.color != b.line.color
    (shade,) = fig.layout.shapes
    assert (shade.x0, shade.x1) == (0.5, 20.5)
    assert fig.layout.yaxis.type == "linear"


def test_generalisation_can_draw_the_same_model_twice_in_one_colour():
    rows = [{"length": 10, "bit_errors": 1.0}]
    fig = generalisation_figure({"NTM": rows, "LSTM": rows, "NTM (as trained)": rows},
                                dashed=["NTM (as trained)"], same_color={"NTM (as trained)": "NTM"})
    ntm, lstm, trained = fig.data
    assert trained.line.color == ntm.line.color != lstm.line.color
    assert trained.line.dash == "dash"


def test_generalisation_log_axis_keeps_zeros_visible_with_true_hover_values():
    rows = [{"length": 10, "bit_errors": 0.0, "perfect": 1.0}, {"length": 20, "bit_errors": 3.0, "perfect": 0.5}]
    fig = generalisation_figure({"NTM": rows}, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].y) == [LOG_FLOOR, 3.0]
    assert [c[0] for c in fig.data[0].customdata] == [0.0, 3.0]


def test_generalisation_log_axis_marks_the_floor_zeros_are_drawn_on():
    rows = [{"length": 10, "bit_errors": 0.0, "perfect": 1.0}, {"length": 20, "bit_errors": 0.5, "perfect": 0.5},
            {"length": 80, "bit_errors": 250.0, "perfect": 0.0}]
    fig = generalisation_figure({"NTM": rows}, log_y=True)
    ntm, floor = fig.data
    assert list(ntm.marker.symbol) == ["diamond-open", "circle", "circle"]       # the zero looks different
    assert floor.name == FLOOR_LABEL and list(floor.y) == [LOG_FLOOR, LOG_FLOOR] and list(floor.x) == [10, 80]
    assert floor.line.dash == "dot"
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext))
    assert ticks[LOG_FLOOR] == "0" and ticks[1.0] == "1" and ticks[1000.0] == "1000"
    # no zero, no floor line; a linear axis draws zero as zero
    assert len(generalisation_figure({"NTM": rows[1:]}, log_y=True).data) == 1
    linear = generalisation_figure({"NTM": rows})
    assert len(linear.data) == 1 and list(linear.data[0].y) == [0.0, 0.5, 250.0]


def test_generalisation_without_rows_is_an_empty_message():
    fig = generalisation_figure({"NTM": [], "LSTM": []})
    assert not fig.data and "No evaluation" in fig.layout.annotations[0].text


def test_examples_stack_target_then_each_model_with_errors():
    target = [[1, 0], [0, 1], [1, 1]]                        # [T=3, W=2]
    ntm = [[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]]               # right everywhere
    lstm = [[0.1, 0.1], [0.2, 0.2], [0.7, 0.6]]              # 2 bits wrong
    fig = examples_figure(target, {"NTM": ntm, "LSTM": lstm}, title="length 3")
    z = [np.array(t.z) for t in traces(fig, "heatmap")]
    assert len(z) == 3 and z[0].shape == (2, 3)
    assert np.array_equal(z[0], np.array(target).T)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["target", "NTM (0 bit errors)", "LSTM (2 bit errors)"]
    assert isinstance(fig, go.Figure) and fig.layout.title.text == "length 3"


def test_durations_read_naturally():
    assert format_duration(None) == "–"
    assert format_duration(9.4) == "9 s"
    assert format_duration(75) == "1 min 15 s"
    assert format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"
