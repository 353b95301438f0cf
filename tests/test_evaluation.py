"""ntm.evaluation: bit errors by length, the lengths a task and a memory allow, typed lengths, examples."""

import pytest
import torch

from ntm import evaluation
from ntm.model import build_model
from ntm.tasks import make_task


def model_for(task, model_type="ntm", **config):
    torch.manual_seed(0)
    defaults = {"ntm": dict(controller_size=8, memory_slots=16, memory_width=4), "lstm": dict(hidden_size=8, layers=1)}
    return build_model(model_type, {"input_size": task.input_size, "output_size": task.output_size,
                                    **defaults[model_type], **config})


class Oracle(torch.nn.Module):
    """Answers every episode perfectly: it is handed the targets (to check the counting)."""

    def __init__(self, wrong_bits=0):
        super().__init__()
        self.targets, self.wrong_bits = None, wrong_bits

    def forward(self, inputs):
        logits = (self.targets * 2 - 1) * 10
        logits[:, -1, :self.wrong_bits] *= -1          # flip some bits of the last (scored) step
        return logits, None, None


def test_bit_errors_are_counted_per_sequence(monkeypatch):
    task = make_task("copy", seq_width=4)
    oracle = Oracle(wrong_bits=2)
    real_draw = evaluation.draw

    def draw(task, seeds, length, **knobs):
        batch = real_draw(task, seeds, length, **knobs)
        oracle.targets = batch.targets
        return batch

    monkeypatch.setattr(evaluation, "draw", draw)
    row = evaluation.evaluate(oracle, task, length=5, sequences=30, seed=1, batch_size=7)
    assert row["bit_errors"] == 2 and row["bit_errors_max"] == 2 and row["perfect"] == 0
    assert row["sequences"] == 30 and row["length"] == 5
    assert row["failed"] == 30 and len(row["failures"]) == evaluation.KEEP_FAILURES


def test_evaluation_is_seeded_and_restores_training_mode():
    task = make_task("copy", seq_width=4)
    model = model_for(task)
    model.train()
    a = evaluation.evaluate(model, task, 6, sequences=10, seed=3)
    b = evaluation.evaluate(model, task, 6, sequences=10, seed=3)
    assert a == b and model.training
    assert evaluation.evaluate(model, task, 6, sequences=10, seed=4) != a
    with pytest.raises(ValueError):
        evaluation.evaluate(model, task, 6, sequences=0)


def test_default_lengths_stop_where_the_memory_is_full():
    task = make_task("copy")
    assert evaluation.default_lengths(task, model_for(task, memory_slots=32)) == [10, 20, 30]
    assert evaluation.max_length(task, model_for(task, memory_slots=32)) == 32
    lstm = model_for(task, "lstm")
    assert evaluation.max_length(task, lstm) is None
    assert evaluation.default_lengths(task, lstm) == list(task.default_test_lengths)
    recall = make_task("associative-recall")
    assert evaluation.max_length(recall, model_for(recall, memory_slots=16)) == 4


def test_generalisation_table_and_training_distribution():
    task = make_task("copy", seq_width=4, max_len=4)
    model = model_for(task)
    seen = []
    rows = evaluation.generalisation_table(model, task, [2, 3], sequences=4, progress=lambda d, n: seen.append((d, n)))
    assert [r["length"] for r in rows] == [2, 3] and seen == [(1, 2), (2, 2)]
    dist = evaluation.evaluate_training_distribution(model, task, sequences=8)
    assert dist["sequences"] == 8 and 0 <= dist["perfect"] <= 1


@pytest.mark.parametrize("text, expected", [("30, 5 10", [5, 10, 30]), ("7,7", [7])])
def test_typed_lengths(text, expected):
    assert evaluation.parse_lengths(text, make_task("copy")) == expected


@pytest.mark.parametrize("text, message", [("10, ten", "whole numbers"), ("0, 10", "between 1 and 1000"),
                                           ("", "at least one"), ("1" * 400, "whole numbers"), ("-5", "whole numbers"),
                                           ("1, 1001", "between 1 and 1000")])
def test_bad_typed_lengths(text, message):
    with pytest.raises(ValueError, match=message):
        evaluation.parse_lengths(text, make_task("copy"))
    with pytest.raises(ValueError, match="between 2"):
        evaluation.parse_lengths("1", make_task("associative-recall"))


def test_work_per_request_is_capped():
    evaluation.check_work([10, 20, 30], 100)
    with pytest.raises(ValueError, match="python -m ntm evaluate"):
        evaluation.check_work([1000] * 10, 1000)


def test_example_outputs_are_the_scored_steps_as_probabilities():
    task = make_task("copy", seq_width=4)
    out = evaluation.example_outputs({"a": model_for(task), "b": model_for(task, "lstm")}, task, 5, seed=2)
    assert len(out["target"]) == 5 and set(out["outputs"]) == {"a", "b"}
    for rows in out["outputs"].values():
        assert len(rows) == 5 and all(0 <= v <= 1 for row in rows for v in row)


def test_families_group_presets_by_kind_of_model_with_the_default_first():
    from types import SimpleNamespace as E
    entries = [E(id="b-dnc", model_type="dnc", task="copy", usable=True),
               E(id="dnc-copy", model_type="dnc", task="copy", usable=True),
               E(id="s", model_type="sdnc", task="copy", usable=True),
               E(id="broken", model_type="ntm", task="copy", usable=False),
               E(id="recall", model_type="ntm", task="associative-recall", usable=True),
               E(id="lstm-copy", model_type="lstm", task="copy", usable=True)]
    assert evaluation.presets_by_family(entries, "copy") == {"NTM": [], "DNC": ["dnc-copy", "b-dnc", "s"],
                                                             "LSTM": ["lstm-copy"]}
    assert evaluation.family_of("sdnc") == "DNC" and evaluation.family_of("transformer") is None


def test_a_dnc_memory_bounds_the_test_lengths_like_an_ntm_memory():
    from ntm.model import build_model
    task = make_task("copy")
    dnc = build_model("dnc", {"input_size": task.input_size, "output_size": task.output_size, "nr_cells": 24})
    lstm = build_model("lstm", {"input_size": task.input_size, "output_size": task.output_size})
    assert evaluation.memory_slots(dnc) == 24 and evaluation.memory_slots(lstm) is None
    assert evaluation.max_length(task, dnc) == 24 and max(evaluation.default_lengths(task, dnc)) <= 24


def test_repeat_copy_is_evaluated_over_lengths_and_numbers_of_repeats():
    task = make_task("repeat-copy")
    model = model_for(task)
    assert evaluation.takes_repeats(task) and not evaluation.takes_repeats(make_task("copy"))
    row = evaluation.evaluate(model, task, 3, sequences=4, seed=1, repeats=12)
    assert row["repeats"] == 12 and row["length"] == 3
    # With repeats fixed, every sequence answers L * r + 1 steps: the cost covers them all.
    batch = task.sample(4, torch.Generator().manual_seed(1), length=3, repeats=12)
    assert batch.mask.sum(-1).tolist() == [37] * 4
    grid = evaluation.generalisation_grid(model, task, [2, 4], [1, 15], sequences=3, seed=0)
    assert [(r["length"], r["repeats"]) for r in grid] == [(2, 1), (2, 15), (4, 1), (4, 15)]
    assert grid[0] == evaluation.evaluate(model, task, 2, 3, 0, repeats=1)
    with pytest.raises(ValueError, match="copy task has no number of repeats"):
        evaluation.evaluate(model_for(make_task("copy")), make_task("copy"), 3, 2, repeats=2)
