"""Failing sequences: evaluations list them as seeds a lecturer can reopen, the README and the
command line show them, and "% perfect" never rounds a failure away (issue 14, presets a lecturer can trust)."""

import json
import re

import pytest
import torch

from ntm import evaluation, presets
from ntm.__main__ import main
from ntm.model import build_model
from ntm.step_view import episode
from ntm.tasks import bit_errors, make_task


def untrained(task):
    """A tiny NTM that has learnt nothing: it gets about half of every answer wrong."""
    torch.manual_seed(0)
    return build_model("ntm", {"input_size": task.input_size, "output_size": task.output_size,
                               "controller_size": 8, "memory_slots": 16, "memory_width": 4}).eval()


def errors_of(model, task, seed, length):
    """Bit errors of the Step-through page's sequence for (seed, length), run on its own."""
    batch = episode(task, seed, length, None)
    with torch.no_grad():
        logits, _, _ = model(batch.inputs)
    return int(bit_errors(logits, batch)[0])


def test_an_untrained_model_fails_and_every_failure_reopens_as_the_same_sequence():
    task = make_task("copy", seq_width=4, max_len=6)
    model = untrained(task)
    row = evaluation.evaluate(model, task, 5, sequences=12, seed=40, batch_size=5, keep_failures=4)
    assert row["failed"] == 12 and row["perfect"] == 0
    assert [f["seed"] for f in row["failures"]] == [40, 41, 42, 43]
    for f in row["failures"]:
        assert f["length"] == 5 and f["bit_errors"] > 0
        assert errors_of(model, task, f["seed"], 5) == f["bit_errors"]


def test_sequences_do_not_depend_on_the_batch_size_and_each_has_its_own_seed():
    task = make_task("repeat-copy", seq_width=4)       # drawn repeats: episodes of different lengths, padded
    model = untrained(task)
    a = evaluation.evaluate(model, task, 3, sequences=9, seed=7, batch_size=2)
    b = evaluation.evaluate(model, task, 3, sequences=9, seed=7, batch_size=250)
    assert [f["bit_errors"] for f in a["failures"]] == [f["bit_errors"] for f in b["failures"]]
    assert a["bit_errors"] == pytest.approx(b["bit_errors"]) and a["failed"] == b["failed"]
    one = [errors_of(model, task, 7 + i, 3) for i in range(9)]
    assert [f["bit_errors"] for f in a["failures"]] == [e for e in one if e][:evaluation.KEEP_FAILURES]
    # The sequence a seed draws is the one the Step-through page draws for it (repeats included).
    drawn = evaluation.draw(task, [8], 3)
    page = episode(task, 8, 3, None)
    assert torch.equal(drawn.inputs[:, :page.num_steps], page.inputs) and not drawn.mask[:, page.num_steps:].any()


def test_a_perfect_model_lists_no_failures():
    task = make_task("copy", seq_width=4)

    class Oracle(torch.nn.Module):
        def forward(self, inputs):
            return (self.targets * 2 - 1) * 10, None, None

    oracle, real_draw = Oracle(), evaluation.draw

    def draw(task, seeds, length, **knobs):
        batch = real_draw(task, seeds, length, **knobs)
        oracle.targets = batch.targets
        return batch

    evaluation.draw, saved = draw, evaluation.draw
    try:
        row = evaluation.evaluate(oracle, task, 4, sequences=6, seed=1)
    finally:
        evaluation.draw = saved
    assert row["failed"] == 0 and row["failures"] == [] and row["perfect"] == 1


def test_training_distribution_failures_give_the_length_each_seed_was_drawn_at():
    task = make_task("copy", seq_width=4, min_len=2, max_len=6)
    model = untrained(task)
    dist = evaluation.evaluate_training_distribution(model, task, sequences=10, seed=100, batch_size=3)
    assert dist["seed"] == 100 and dist["failed"] >= 8 and len(dist["failures"]) == min(dist["failed"], 10)
    lengths = {f["length"] for f in dist["failures"]}
    assert lengths <= set(range(2, 7)) and len(lengths) > 1
    for f in dist["failures"][:4]:
        assert errors_of(model, task, f["seed"], f["length"]) == f["bit_errors"]


@pytest.mark.parametrize("fraction, text", [(1, "100%"), (1.0, "100%"), (0.999, "99.9%"), (0.9999, "99.9%"),
                                            (0.99995, "99.9%"), (0.996, "99.6%"), (0.995, "99.5%"),
                                            (float(torch.tensor(0.999)), "99.9%"), (0.77, "77%"),
                                            (0.0001, "0.1%"), (0.0, "0%"), (0.5, "50%")])
def test_percent_perfect_never_rounds_a_failure_away(fraction, text):
    assert evaluation.percent(fraction) == text
    assert presets.percent(fraction) == text              # the READMEs' rule


def test_the_comparison_table_shows_one_failure_in_a_thousand():
    rows = {"NTM": [{"length": 20, "bit_errors": 0.07, "perfect": 0.999}]}
    assert evaluation.comparison_table(rows)[0]["NTM: perfect"] == "99.9%"


# ---- the README and metrics.json ------------------------------------------------------------------

PROSE = "## Notes\n\n- Hand-written: keep me.\n"


@pytest.fixture
def tiny_preset(tmp_path):
    task = make_task("copy", seq_width=4, max_len=4)
    model = untrained(task)
    metrics = {"train_lengths": [1, 4], **evaluation.measure(model, task, [3, 5], sequences=4, seed=9, distribution_seed=50)}
    path = presets.save_preset(tmp_path / "tiny", model, task, metrics, "python -m ntm train ...")
    readme = path / "README.md"
    readme.write_text(readme.read_text() + PROSE)
    return path


def test_the_readme_lists_failing_seeds_and_a_refresh_keeps_the_prose(tiny_preset):
    text = (tiny_preset / "README.md").read_text()
    assert "| failing sequences |" in text and "4 of 4 (seeds 9, 10, 11, …)" in text
    assert re.search(r"perfect, seed 50\)\. Failing: \d of 4 \(seeds? 5\d at length [1-4]", text)
    preset = presets.load_preset(tiny_preset)
    measured = evaluation.measure(preset.model, preset.task, [3], sequences=6, seed=20, distribution_seed=60)
    presets.write_measurements(preset, measured)
    text = (tiny_preset / "README.md").read_text()
    assert text.endswith(PROSE) and "Made with:" in text and "python -m ntm train ..." in text
    assert "6 of 6 (seeds 20, 21, 22, …)" in text and "| 5 |" not in text and "seed 20;" in text
    saved = json.loads((tiny_preset / "metrics.json").read_text())
    assert saved["evaluation_seed"] == 20 and saved["generalisation"][0]["failures"][0]["seed"] == 20
    assert saved["train_lengths"] == [1, 4]                        # what it did not measure is kept


def test_a_readme_without_a_table_is_refused_and_nothing_is_written(tiny_preset):
    (tiny_preset / "README.md").write_text("# Mine\n\nno table here\n")
    before = (tiny_preset / "metrics.json").read_text()
    preset = presets.load_preset(tiny_preset)
    with pytest.raises(ValueError, match="no generalisation table"):
        presets.write_measurements(preset, evaluation.measure(preset.model, preset.task, [3], 2, 1))
    assert (tiny_preset / "metrics.json").read_text() == before


# ---- the command line -----------------------------------------------------------------------------

def test_evaluate_lists_failures_and_json_includes_them(tiny_preset, capsys):
    assert main(["evaluate", "--preset", str(tiny_preset), "--length", "3", "--sequences", "5", "--seed", "30",
                 "--failures"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "0% perfect, 5 failed" in out[0]
    assert out[1].strip().startswith("seed 30, sequence length 3: ") and "--seed 30 --length 3" in out[1]
    assert len(out) == 6
    assert main(["evaluate", "--preset", str(tiny_preset), "--lengths", "3,4", "--sequences", "3", "--seed", "5",
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["length"] for r in rows] == [3, 4]
    assert [f["seed"] for f in rows[1]["failures"]] == [5, 6, 7] and rows[1]["failed"] == 3


def test_evaluate_training_distribution_and_update_preset(tiny_preset, capsys):
    assert main(["evaluate", "--preset", str(tiny_preset), "--training-distribution", "--sequences", "4",
                 "--seed", "3", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["seed"] == 3 and row["failed"] >= 2 and "length" not in row and row["sequences"] == 4
    assert main(["evaluate", "--preset", str(tiny_preset), "--sequences", "3", "--update-preset"]) == 0
    saved = json.loads((tiny_preset / "metrics.json").read_text())
    assert saved["evaluation_seed"] == 9                          # the seed the README stated
    assert [r["length"] for r in saved["generalisation"]] == [3, 5] and saved["generalisation"][0]["sequences"] == 3
    assert (tiny_preset / "README.md").read_text().endswith(PROSE)
    assert "its training distribution" in capsys.readouterr().out


def test_evaluate_without_a_length_says_what_to_pass(tiny_preset, capsys):
    assert main(["evaluate", "--preset", str(tiny_preset)]) == 2
    assert "--lengths, --training-distribution, --update-preset" in capsys.readouterr().err


# ---- what the Step-through page offers (ntm.step_view) ----------------------------------------------

def test_failing_examples_are_those_the_stepper_can_open():
    from ntm import step_view as sv
    metrics = {"training_distribution": {"sequences": 1000, "failed": 1,
                                         "failures": [{"seed": 5, "length": 17, "bit_errors": 40}]},
               "generalisation": [
                   {"length": 20, "sequences": 1000, "failed": 3,
                    "failures": [{"seed": 9, "length": 20, "bit_errors": 70}, {"seed": "x", "length": 20},
                                 {"seed": 5, "length": 17, "bit_errors": 40}]},
                   {"length": 80, "sequences": 1000, "failed": 5, "failures": [{"seed": 1, "length": 80, "bit_errors": 3}]},
                   {"length": "<b>", "sequences": 1000, "failed": 1, "failures": [{"seed": 2, "length": 3, "bit_errors": 1}]}]}
    examples = sv.failing_examples(metrics)
    assert [(e.seed, e.length, e.where) for e in examples] == [(5, 17, "on its training distribution"),
                                                                (9, 20, "at length 20")]
    assert sv.failure_at(examples, 9, 20) is examples[1] and sv.failure_at(examples, 9, 21) is None
    assert sv.failure_caption(examples[1]) == ("Seed 9, length 20 is one of this preset's rare failures: 3 of 1,000 "
                                               "sequences at length 20 failed in its evaluation. This one has 70 "
                                               "wrong bits.")
    common = sv.FailingExample(1, 2, 1, 300, 1000, "at length 2")
    assert "one of this preset's failures: 300 of 1,000" in sv.failure_caption(common)
    only_long = {"generalisation": [metrics["generalisation"][1]]}
    assert sv.failing_examples(only_long) == [] and "longer than this page steps through" in sv.no_failure_note(only_long)
    none = {"generalisation": [{"length": 20, "sequences": 1000, "failed": 0, "failures": []}]}
    assert sv.no_failure_note(none).startswith("No failure was found in 1,000 sequences")
    assert "does not list failing sequences" in sv.no_failure_note({})
    # A task scored by cost against its optimum (dynamic N-grams) has no failing sequences to list.
    from ntm.presets import load_preset, resolve_preset
    ngrams = load_preset(resolve_preset("ngrams")).metrics
    assert sv.failing_examples(ngrams) == []
    assert "scored by its cost against the optimal estimator" in sv.no_failure_note(ngrams)


def test_the_generalisation_figures_show_one_failure_in_a_thousand():
    from ntm.figures import training
    fig = training.generalisation_figure({"NTM": [{"length": 20, "bit_errors": 0.07, "bit_errors_max": 70,
                                                   "perfect": 0.999}]})
    assert list(fig.data[0].text) == ["99.9%"] and "%{text} perfect" in fig.data[0].hovertemplate
    assert training._grid_text("perfect", 100 * 0.9995) == "99.9%" and training._grid_text("perfect", 100.0) == "100%"
