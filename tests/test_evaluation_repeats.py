"""The repeats axis of ntm.evaluation: numbers of repeats typed or proposed, the work a grid asks
for, and the table under a comparison."""

import pytest

from ntm import evaluation
from ntm.tasks import make_task


def test_the_training_repeats_and_the_proposed_ones_come_from_the_task():
    task = make_task("repeat-copy", min_repeats=2, max_repeats=6)
    assert evaluation.train_repeats(task) == (2, 6)
    assert evaluation.default_repeats(task) == [2, 4, 6, 9, 12]
    assert evaluation.default_repeats(make_task("repeat-copy")) == [1, 5, 10, 15, 20]    # the paper's 1..10, to 20
    with pytest.raises(ValueError, match="copy task has no number of repeats"):
        evaluation.train_repeats(make_task("copy"))


@pytest.mark.parametrize("text, expected", [("20, 1 5,5", [1, 5, 20]), ("", []), ("  ", [])])
def test_typed_repeats_are_sorted_and_unique_and_empty_means_no_axis(text, expected):
    assert evaluation.parse_repeats(text) == expected


@pytest.mark.parametrize("text, message", [("3, three", "whole numbers"), ("-1", "whole numbers"),
                                           ("0, 4", "between 1 and 100"), ("101", "between 1 and 100")])
def test_bad_repeats_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        evaluation.parse_repeats(text)


def test_a_grid_costs_sequences_times_lengths_times_repeats_and_a_large_one_is_refused(monkeypatch):
    assert evaluation.grid_work([5, 10], 20) == 300                      # by length: sequences x sum of lengths
    assert evaluation.grid_work([5, 10], 20, [1, 3]) == 20 * 15 * 4      # sum over cells of L x r, per sequence
    assert evaluation.grid_too_large([5, 10], [1, 3], 20, limit=1200) is None
    message = evaluation.grid_too_large([5, 10], [1, 3], 20, limit=1199)
    assert "1,200 sequence-steps per model, over the 1,199" in message and "--repeats" in message
    monkeypatch.setattr(evaluation, "MAX_WORK", 1000)                   # the default limit is read when called
    assert evaluation.grid_too_large([5, 10], [1, 3], 20) is not None


def test_the_comparison_table_is_by_length_or_by_cell():
    row = {"sequences": 4, "bit_errors": 1.23456, "bit_errors_max": 3.0, "cost_bits": 7.891011, "perfect": 0.25}
    by_length = evaluation.comparison_table({"NTM": [{**row, "length": 20}, {**row, "length": 5}],
                                             "LSTM": [{**row, "length": 5, "perfect": 1.0}]})
    assert by_length == [{"length": 5, "NTM: bit errors": 1.235, "NTM: perfect": "25%", "LSTM: bit errors": 1.235,
                          "LSTM: perfect": "100%"},
                         {"length": 20, "NTM: bit errors": 1.235, "NTM: perfect": "25%"}]
    grid = evaluation.comparison_table({"NTM": [{**row, "length": 2, "repeats": 3}]})
    assert grid == [{"model": "NTM", "length": 2, "repeats": 3, "cost (bits)": 7.891, "bit errors": 1.235,
                     "perfect": "25%"}]
