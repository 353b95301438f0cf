"""The command line with the DNC and the sparse DNC: --list-params shows pytorch-dnc's names, and a
tiny run trains, saves a preset, evaluates and traces end to end for both model types; the committed
DNC preset's trace loads with its DNC head types. (Nothing here trains more than a few batches.)"""

import json
import os
import subprocess
import sys

import pytest

from ntm.io import ROOT
from ntm.presets import catalogue, load_preset
from ntm.trace import DNCReadHead, DNCWriteHead, Trace

TINY = ["-p", "nr_cells=12", "-p", "cell_size=4", "-p", "hidden_size=16", "-p", "read_heads=2", "-p", "max_len=4"]


def ntm(*args, check=True, env=None):
    proc = subprocess.run([sys.executable, "-m", "ntm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


@pytest.mark.parametrize("model_type, extra", [("dnc", set()), ("sdnc", {"sparse_reads", "temporal_reads"})])
def test_list_params_shows_pytorch_dnc_names(model_type, extra):
    out = ntm("train", "--model-type", model_type, "--list-params").stdout
    model = out.split("[model]")[1].split("[task]")[0]
    keys = {line.split("=")[0].strip() for line in model.strip().splitlines()}
    assert {"nr_cells", "cell_size", "read_heads", "hidden_size", "rnn_type", "num_layers"} | extra <= keys
    assert "memory_slots" not in keys and "  nr_cells = 128" in model


def test_an_ntm_parameter_on_a_dnc_is_a_one_line_error_naming_the_dnc_keys(tmp_path):
    proc = ntm("train", "--model-type", "dnc", "-p", "memory_slots=16", "--checkpoint-path", str(tmp_path / "x"),
               check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown parameter 'memory_slots'" in proc.stderr and "nr_cells" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = ntm("train", "--model-type", "dnc", "-p", "read_heads=0", check=False)
    assert proc.returncode == 2 and "read_heads" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["dnc", "sdnc"])
def test_train_evaluate_and_trace_a_tiny_dnc(model_type, tmp_path):
    run, presets = tmp_path / "run", tmp_path / "presets"
    preset = presets / f"tiny-{model_type}"
    proc = ntm("train", "--task", "copy", "--model-type", model_type, "--seed", "5", "--num-batches", "3",
               "--batch-size", "4", "--report-interval", "1", "--checkpoint-path", str(run), "--no-progress",
               "--preset-out", str(preset), "--preset-sequences", "3", *TINY)
    assert json.loads(proc.stdout)["state"] == "done"
    assert [json.loads(line)["batches"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    ck = json.loads((run / "checkpoint.json").read_text())
    assert ck["model_type"] == model_type and ck["model"]["nr_cells"] == 12 and ck["model"]["read_heads"] == 2

    # The preset: its config, metrics (a table over the lengths that fit 12 cells, 3 sequences a row,
    # seed stated) and README, and the catalogue's one-line summary.
    config = json.loads((preset / "config.json").read_text())
    assert config["model_type"] == model_type
    metrics = json.loads((preset / "metrics.json").read_text())
    assert [(r["length"], r["sequences"]) for r in metrics["generalisation"]] == [(10, 3)]
    assert metrics["evaluation_seed"] == 12345
    readme = (preset / "README.md").read_text()
    assert ("A sparse DNC trained" if model_type == "sdnc" else "A DNC trained") in readme
    assert "3 test sequences per row, seed 12345" in readme and "--model-type " + model_type in readme
    loaded = load_preset(preset)
    assert loaded.model_type == model_type and loaded.model.config.nr_cells == 12
    env = {"NTM_EXPLORER_PRESETS": str(presets), "NTM_EXPLORER_DATA": str(tmp_path / "data")}
    listing = ntm("presets", env=env).stdout
    assert f"tiny-{model_type}\t{model_type}\tcopy" in listing
    os.environ.update(env)
    try:
        (entry,) = catalogue()
    finally:
        for key in env:
            del os.environ[key]
    label = "sparse DNC" if model_type == "sdnc" else "DNC"
    assert entry.summary.startswith(f"copy · {label}, 12×4 memory, 2 read heads, LSTM 16"), entry.summary

    # Evaluate takes the model type from the preset.
    out = ntm("evaluate", "--preset", str(preset), "--length", "6", "--sequences", "7", "--seed", "2", "--json")
    result = json.loads(out.stdout)
    assert (result["length"], result["sequences"], result["seed"]) == (6, 7, 2)
    assert 0 <= result["bit_errors"] <= 6 * 8

    # Trace: DNC head types, in the JSON file the app reads.
    out_file = tmp_path / "trace.json"
    proc = ntm("trace", "--preset", str(preset), "--length", "3", "--seed", "1", "--out", str(out_file))
    assert "7 timesteps" in proc.stderr
    trace = Trace.from_json(out_file.read_text())
    assert trace.model_type == model_type and trace.steps == 7
    write, *reads = trace.heads
    assert isinstance(write, DNCWriteHead) and [type(h) for h in reads] == [DNCReadHead, DNCReadHead]
    assert write.weights.shape == (7, 12)
    assert ("usage" in trace.extras) == (model_type == "dnc")


def test_a_trace_of_the_committed_dnc_preset_loads_with_its_dnc_heads(tmp_path):
    out_file = tmp_path / "trace.json"
    ntm("trace", "--preset", "dnc-copy", "--length", "5", "--seed", "0", "--out", str(out_file))
    trace = Trace.from_json(out_file.read_text())
    assert trace.model_type == "dnc" and trace.steps == 11 and trace.meta["preset"] == "dnc-copy"
    assert isinstance(trace.heads[0], DNCWriteHead) and trace.heads[0].name == "write 1"
    assert all(isinstance(h, DNCReadHead) for h in trace.heads[1:]) and len(trace.heads) >= 2
    n = load_preset("dnc-copy").model.config.nr_cells
    assert trace.extras["link"].shape == (11, n, n)


def test_the_committed_dnc_repeat_copy_preset_solves_its_training_lengths():
    """presets/dnc-repeat-copy's README claims 100 % perfect at lengths 3-10 over 1,000 sequences
    (seed 12345); the first 20 of those at length 5 must then be copied without a bit wrong."""
    from ntm.evaluation import evaluate

    preset = load_preset("dnc-repeat-copy")
    assert preset.model.config.nr_cells == 32 and preset.task.name == "repeat-copy"
    result = evaluate(preset.model, preset.task, 5, sequences=20, seed=12345)
    assert result["bit_errors"] == 0 and result["perfect"] == 1.0
