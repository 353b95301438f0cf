"""repeats_grid_figure: repeat copy's generalisation over (length, repeats), read from its data."""

import json
import math

import numpy as np
import pytest

from ntm.figures.training import GRID_MEASURES, comparison_figure, repeats_grid_figure

LENGTHS, REPEATS = [1, 3, 12], [2, 10, 20]


def rows(scale=1.0, skip=()):
    """A full grid, lengths outer as ``generalisation_grid`` returns it: cost L r / 10 bits, perfect
    when L r <= 30."""
    return [{"length": n, "repeats": r, "sequences": 4, "cost_bits": scale * n * r / 10,
             "bit_errors": scale * n * r / 20, "bit_errors_max": n * r, "perfect": float(n * r <= 30)}
            for n in LENGTHS for r in REPEATS if (n, r) not in skip]


def test_one_heatmap_per_model_lengths_across_repeats_up_coloured_by_log_cost():
    fig = repeats_grid_figure({"NTM": rows(), "LSTM": rows(scale=100)})
    ntm, lstm = fig.data
    assert (ntm.type, ntm.name, lstm.name) == ("heatmap", "NTM", "LSTM")
    assert fig.layout.xaxis.ticktext == ("1", "3", "12") and fig.layout.xaxis2.ticktext == ("1", "3", "12")
    assert fig.layout.yaxis.ticktext == ("2", "10", "20")
    z = np.asarray(ntm.z)                                                    # [repeats, lengths]
    assert z.shape == (3, 3)
    assert z[1, 2] == pytest.approx(math.log10(1 + 12 * 10 / 10))             # L = 12, r = 10
    assert ntm.text[1][2] == "12" and ntm.text[0][0] == "0.2"                 # the value, not its log
    # one colour scale for every model, its ticks labelled with bits
    assert ntm.zmax == lstm.zmax == pytest.approx(math.log10(1 + 100 * 12 * 20 / 10))
    bar = ntm.colorbar
    assert bar.ticktext[:3] == ("0", "1", "10") and bar.tickvals[1] == pytest.approx(math.log10(2))
    assert ntm.showscale and not lstm.showscale
    assert list(ntm.customdata[2][1]) == [3, 20, 6.0, 3.0, 0.0]               # length, repeats, cost, errors, perfect
    json.dumps(fig.to_plotly_json(), default=str)


def test_perfect_and_bit_errors_are_measures_too():
    fig = repeats_grid_figure({"NTM": rows()}, measure="perfect")
    z = np.asarray(fig.data[0].z)
    assert z[:, 0].tolist() == [100, 100, 100] and z[2, 2] == 0              # L = 1 always perfect; 12 x 20 not
    assert fig.data[0].zmax == 100 and fig.data[0].text[2][2] == "0%"
    assert "% perfect sequences" in fig.layout.title.text
    errors = repeats_grid_figure({"NTM": rows()}, measure="bit_errors")
    assert np.asarray(errors.data[0].z)[2, 2] == pytest.approx(math.log10(1 + 12))
    with pytest.raises(ValueError, match="measure must be one of"):
        repeats_grid_figure({"NTM": rows()}, measure="accuracy")
    assert set(GRID_MEASURES) == {"cost_bits", "bit_errors", "perfect"}


def test_the_training_range_is_outlined_on_cell_edges_and_named_in_the_title():
    fig = repeats_grid_figure({"NTM": rows(), "LSTM": rows()}, train_lengths=(1, 10), train_repeats=(1, 10))
    boxes = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(boxes) == 2 and {b.xref for b in boxes} == {"x", "x2"}
    assert all((b.x0, b.x1, b.y0, b.y1) == (-0.5, 1.5, -0.5, 1.5) for b in boxes)  # lengths 1, 3; repeats 2, 10
    assert "trained on sequence length 1–10, 1–10 repeats (dashed outline)" in fig.layout.title.text
    # no tested cell inside: no outline, and the title says so
    outside = repeats_grid_figure({"NTM": rows()}, train_lengths=(20, 30), train_repeats=(1, 10))
    assert not outside.layout.shapes and "no tested cell inside" in outside.layout.title.text


def test_a_grid_still_being_evaluated_keeps_its_axes_and_leaves_missing_cells_blank():
    fig = repeats_grid_figure({"NTM": rows(skip={(12, 10), (12, 20)})}, lengths=LENGTHS, repeats=REPEATS)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (3, 3) and np.isnan(z[1:, 2]).all() and not np.isnan(z[0, 2])
    assert fig.data[0].text[1][2] == ""
    # without the axes given, they are the rows' values
    assert repeats_grid_figure({"NTM": rows()[:3]}).layout.xaxis.ticktext == ("1",)


def test_no_rows_is_a_message_not_an_error():
    fig = repeats_grid_figure({"NTM": []})
    assert not fig.data and fig.layout.annotations[0].text == "No evaluation yet."


def test_the_pages_comparison_is_the_grid_with_a_measure_else_curves_with_the_saved_tables_dashed():
    assert comparison_figure({}, {}) is None and comparison_figure({}) is None
    grid = comparison_figure({"NTM": rows()}, {}, measure="perfect", lengths=LENGTHS, repeats=REPEATS)
    assert [t.type for t in grid.data] == ["heatmap"]
    assert np.asarray(grid.data[0].z).ravel().tolist() == np.asarray(
        repeats_grid_figure({"NTM": rows()}, measure="perfect").data[0].z).ravel().tolist()
    by_length = [{"length": n, "bit_errors": 0.5 * n, "bit_errors_max": n, "perfect": 0.0} for n in (2, 4)]
    curves = comparison_figure({"NTM": by_length}, {"NTM (as trained)": by_length}, train_lengths=(1, 3))
    lines = {t.name: t for t in curves.data if t.type == "scatter" and t.name in ("NTM", "NTM (as trained)")}
    assert set(lines) == {"NTM", "NTM (as trained)"}
    assert lines["NTM (as trained)"].line.dash == "dash" and lines["NTM"].line.dash != "dash"
    assert lines["NTM (as trained)"].line.color == lines["NTM"].line.color
