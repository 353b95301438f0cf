"""Dynamic N-grams is scored as the paper's figure 13 scores it: cost in bits per sequence against the Bayesian
optimal estimator on the same sequences, the excess and chance; by ``ntm.evaluation``, the comparison table,
the preset README (``ntm.presets``) and ``python -m ntm evaluate`` (issue 14, the paper's tasks)."""

import json
import math

import pytest
import torch

from ntm import evaluation
from ntm.__main__ import main
from ntm.model import build_model
from ntm.presets import load_preset, preset_readme, refresh_readme, save_preset
from ntm.tasks import cost_bits, make_task
from ntm.tasks.ngrams import optimal_cost_bits

SHORT = 30                        # bits per sequence in these tests: 25 scored predictions each (n = 6)


class Constant(torch.nn.Module):
    """Predicts P(next bit = 1) = sigmoid(``logit``) at every step, whatever it reads."""

    def __init__(self, logit=0.0):
        super().__init__()
        self.logit = logit

    def forward(self, inputs):
        return torch.full((*inputs.shape[:2], 1), float(self.logit)), None, None


def lstm(task, seed=0):
    torch.manual_seed(seed)
    return build_model("lstm", {"input_size": task.input_size, "output_size": task.output_size,
                                "hidden_size": 8, "layers": 1})


def test_the_task_says_it_is_scored_by_cost_and_names_its_optimum():
    ngrams, copy = make_task("dynamic-ngrams"), make_task("copy")
    assert ngrams.scored_by == "cost" and evaluation.scored_by_cost(ngrams)
    assert copy.scored_by == "bit errors" and not evaluation.scored_by_cost(copy)
    assert "Bayesian" in ngrams.optimum_name
    batch = ngrams.sample(3, torch.Generator().manual_seed(0), length=SHORT)
    assert torch.equal(ngrams.optimal_cost_bits(batch), optimal_cost_bits(batch, ngrams.n))
    with pytest.raises(NotImplementedError, match="scored by bit errors"):
        copy.optimal_cost_bits(copy.sample(1, torch.Generator().manual_seed(0), length=3))


def test_the_optimum_column_is_the_estimators_cost_on_the_same_sequences():
    task = make_task("dynamic-ngrams")
    model = lstm(task)
    row = evaluation.evaluate(model, task, SHORT, sequences=12, seed=7, batch_size=5)
    batch = evaluation.draw(task, [evaluation.sequence_seed(7, i) for i in range(12)], SHORT)
    assert row["optimal_bits"] == pytest.approx(optimal_cost_bits(batch, 6).mean().item(), abs=1e-9)
    with torch.no_grad():
        assert row["cost_bits"] == pytest.approx(cost_bits(model(batch.inputs)[0], batch).item(), rel=1e-5)
    assert row["excess_bits"] == pytest.approx(row["cost_bits"] - row["optimal_bits"])
    assert row["chance_bits"] == SHORT - 5                 # one bit per scored prediction
    assert row["length"] == SHORT and row["sequences"] == 12
    assert not {"perfect", "failed", "failures"} & set(row)   # no "failing sequence" when no bit is certain


def test_chance_is_what_predicting_a_half_costs_and_trivial_models_stay_above_the_optimum():
    task = make_task("dynamic-ngrams")
    half = evaluation.evaluate(Constant(0.0), task, SHORT, sequences=40, seed=1)
    assert half["cost_bits"] == pytest.approx(half["chance_bits"]) and half["chance_bits"] == 25
    assert half["optimal_bits"] < half["chance_bits"] - 2      # counting pays off within 30 bits
    for model in (Constant(2.0), lstm(task, 1), lstm(task, 2)):
        row = evaluation.evaluate(model, task, SHORT, sequences=40, seed=1)
        assert row["optimal_bits"] == half["optimal_bits"]    # the same sequences, whatever the model
        assert row["excess_bits"] > 0
    at_200 = evaluation.evaluate(Constant(0.0), task, 200, sequences=4, seed=0)
    assert at_200["chance_bits"] == 195 and at_200["cost_bits"] == pytest.approx(195)


def test_the_training_distribution_is_scored_the_same_way():
    task = make_task("dynamic-ngrams", seq_len=SHORT)
    dist = evaluation.evaluate_training_distribution(Constant(0.0), task, sequences=6, seed=3)
    seeds = [evaluation.sequence_seed(3, i) for i in range(6)]
    batch = evaluation.draw(task, seeds, SHORT)
    assert dist["seed"] == 3 and dist["sequences"] == 6
    assert dist["optimal_bits"] == pytest.approx(optimal_cost_bits(batch, 6).mean().item())
    assert dist["cost_bits"] == pytest.approx(dist["chance_bits"]) and dist["chance_bits"] == 25


def test_a_task_scored_by_bit_errors_keeps_its_rows():
    task = make_task("copy", seq_width=4)
    row = evaluation.evaluate(lstm(task), task, 4, sequences=5, seed=0)
    assert {"perfect", "failed", "failures", "cost_bits"} <= set(row)
    assert not {"optimal_bits", "excess_bits", "chance_bits"} & set(row)


def test_the_comparison_table_sets_models_against_the_optimum_and_chance():
    a = {"length": 30, "sequences": 4, "bit_errors": 9.0, "bit_errors_max": 12, "cost_bits": 21.234,
         "optimal_bits": 19.5, "excess_bits": 1.734, "chance_bits": 25.0}
    b = {**a, "cost_bits": 25.0, "excess_bits": 5.5}
    table = evaluation.comparison_table({"NTM": [a, {**a, "length": 60}], "LSTM": [b]})
    assert table[0] == {"length": 30, "NTM: cost (bits)": 21.23, "NTM: above optimum": 1.73,
                        "LSTM: cost (bits)": 25.0, "LSTM: above optimum": 5.5,
                        "optimum (bits)": 19.5, "chance (bits)": 25.0}
    assert [r["length"] for r in table] == [30, 60] and "LSTM: cost (bits)" not in table[1]


def _metrics(task, model):
    return evaluation.measure(model, task, [SHORT, 2 * SHORT], sequences=5, seed=11, distribution_seed=12)


def test_the_readme_reports_cost_optimum_excess_and_chance_and_no_bit_errors():
    task = make_task("dynamic-ngrams", seq_len=SHORT)
    metrics = _metrics(task, Constant(0.0))
    text = preset_readme("ngrams-test", "ntm", task, metrics, "python -m ntm train --task dynamic-ngrams")
    assert "(bits per sequence 30)" in text
    assert "| bits per sequence | cost per sequence (bits) | optimum (bits) | above optimum | chance (bits) |" in text
    opt = metrics["generalisation"][1]["optimal_bits"]
    assert f"| 60 | 55.00 | {opt:.2f} | {55 - opt:+.2f} | 55 |" in text
    dist = metrics["training_distribution"]
    assert (f"On its training distribution: 25.00 bits per sequence against the Bayesian optimal estimator's "
            f"{dist['optimal_bits']:.2f} on the same 5 sequences ({25 - dist['optimal_bits']:+.2f} bits; chance 25, "
            f"seed 12).") in text
    assert "(5 test sequences per row, seed 11;" in text
    assert "bit errors" not in text and "perfect" not in text and "failing" not in text.lower()


def test_refreshing_the_readme_replaces_the_cost_table_and_keeps_the_prose():
    task = make_task("dynamic-ngrams", seq_len=SHORT)
    old = preset_readme("p", "ntm", task, _metrics(task, Constant(0.0)), "cmd")
    text = old.replace("Made with:", "Hand-written prose.\n\nMade with:") + "\n## Notes\n\nKept.\n"
    new_metrics = _metrics(task, Constant(1.0))
    refreshed = refresh_readme(text, task, new_metrics)
    assert "Hand-written prose." in refreshed and refreshed.endswith("## Notes\n\nKept.\n")
    assert refreshed.count("| bits per sequence |") == 1 and refreshed.count("On its training distribution") == 1
    assert f"| 30 | {new_metrics['generalisation'][0]['cost_bits']:.2f} |" in refreshed
    assert "| 30 | 25.00 |" not in refreshed


@pytest.fixture
def ngrams_preset(tmp_path):
    task = make_task("dynamic-ngrams", seq_len=SHORT)
    model = lstm(task)
    metrics = {**_metrics(task, model), "sequences": 160, "batches": 10}
    path = save_preset(tmp_path / "tiny-ngrams", model, task, metrics, "python -m ntm train --task dynamic-ngrams")
    readme = path / "README.md"
    readme.write_text(readme.read_text().replace("Made with:", "Prose to keep.\n\nMade with:"))
    return path


def test_evaluate_prints_cost_against_the_optimum(ngrams_preset, capsys):
    assert main(["evaluate", "--preset", str(ngrams_preset), "--length", "40", "--sequences", "6", "--seed", "2"]) == 0
    line = capsys.readouterr().out.strip()
    preset = load_preset(ngrams_preset)
    row = evaluation.evaluate(preset.model, preset.task, 40, 6, 2)
    assert line == (f"tiny-ngrams on dynamic-ngrams, bits per sequence 40: {row['cost_bits']:.2f} bits per sequence "
                    f"over 6 sequences; the Bayesian optimal estimator {row['optimal_bits']:.2f} on the same sequences "
                    f"({row['excess_bits']:+.2f} above it); chance 35")
    assert "bit errors" not in line and "perfect" not in line
    assert main(["evaluate", "--preset", str(ngrams_preset), "--training-distribution", "--sequences", "3",
                 "--failures", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"cost_bits", "optimal_bits", "excess_bits", "chance_bits"} <= set(out) and out["chance_bits"] == 25
    assert main(["evaluate", "--preset", str(ngrams_preset), "--length", "30", "--sequences", "2", "--failures"]) == 0
    assert "no failing sequences" in capsys.readouterr().out


def test_update_preset_rewrites_the_cost_table_and_keeps_the_prose(ngrams_preset, capsys):
    assert main(["evaluate", "--preset", str(ngrams_preset), "--sequences", "7", "--update-preset"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and all("optimal estimator" in line for line in out)    # 2 lengths + training distribution
    text = (ngrams_preset / "README.md").read_text()
    metrics = json.loads((ngrams_preset / "metrics.json").read_text())
    assert "Prose to keep." in text and "(7 test sequences per row, seed 11;" in text
    assert [r["length"] for r in metrics["generalisation"]] == [SHORT, 2 * SHORT]
    assert metrics["generalisation"][0]["sequences"] == 7 and math.isfinite(metrics["generalisation"][0]["excess_bits"])
    assert metrics["training_distribution"]["sequences"] == 7 and "optimal_bits" in metrics["training_distribution"]
