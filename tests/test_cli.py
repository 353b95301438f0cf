"""The command line, end to end in subprocesses: train (loss goes down), resume, evaluate, errors."""

import json
import subprocess
import sys

import pytest

from ntm.io import ROOT


def ntm(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "ntm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


SMALL = ["-p", "controller_size=32", "-p", "memory_slots=16", "-p", "memory_width=8", "-p", "max_len=5",
         "-p", "lr=0.01"]


@pytest.mark.slow
def test_train_reduces_loss_then_resume_then_evaluate(tmp_path):
    run = tmp_path / "run"
    ntm("train", "--task", "copy", "--seed", "3", "--num-batches", "300", "--batch-size", "16",
        "--report-interval", "50", "--checkpoint-interval", "100", "--checkpoint-path", str(run),
        "--no-progress", *SMALL)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["batches"] for r in lines] == [50, 100, 150, 200, 250, 300]
    assert lines[-1]["loss"] < 0.8 * lines[0]["loss"], lines
    assert json.loads((run / "status.json").read_text())["state"] == "done"
    sample = json.loads((run / "sample.json").read_text())
    assert len(sample["targets"]) == len(sample["outputs"]) == 11

    # Resume: continues from batch 300 to 350 with the same settings, metrics keep one line per report.
    proc = ntm("train", "--task", "copy", "--num-batches", "350", "--report-interval", "50",
               "--checkpoint-path", str(run), "--resume", "--no-progress", "--preset-out", str(tmp_path / "p"))
    assert "resuming" in proc.stderr and "at batch 300" in proc.stderr
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["batches"] for r in lines][-2:] == [300, 350]
    ck = json.loads((run / "checkpoint.json").read_text())
    assert ck["progress"]["batches"] == 350 and ck["progress"]["sequences"] == 350 * 16

    metrics = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert [row["length"] for row in metrics["generalisation"]] == [10]   # lengths that fit 16 slots
    assert metrics["command"].startswith("python -m ntm train")
    out = ntm("evaluate", "--preset", str(tmp_path / "p"), "--task", "copy", "--length", "5",
              "--sequences", "20", "--seed", "1", "--json")
    result = json.loads(out.stdout)
    assert result["length"] == 5 and result["sequences"] == 20 and 0 <= result["bit_errors"] <= 5 * 8


@pytest.mark.slow
def test_lstm_baseline_trains_through_the_cli(tmp_path):
    run = tmp_path / "lstm"
    ntm("train", "--task", "copy", "--model-type", "lstm", "--num-batches", "40", "--batch-size", "8",
        "--report-interval", "20", "--checkpoint-path", str(run), "--no-progress",
        "-p", "hidden_size=32", "-p", "layers=1", "-p", "max_len=4")
    assert json.loads((run / "checkpoint.json").read_text())["model_type"] == "lstm"


@pytest.mark.parametrize("args,message", [
    (["-p", "bogus=1"], "unknown parameter 'bogus'"),
    (["-p", "lr=fast"], "lr=fast: expected a number"),
    (["-p", "nokeyvalue"], "expects key=value"),
    (["-p", "memory_slots=-3"], "memory_slots must be a positive integer"),
    (["-p", "optimizer=sgd"], "optimizer must be one of rmsprop, adam"),
    (["-p", "max_len=0"], "max_len"),
])
def test_bad_parameters_are_one_line_errors(args, message, tmp_path):
    proc = ntm("train", "--task", "copy", "--checkpoint-path", str(tmp_path / "x"), *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_key_error_names_the_valid_keys(tmp_path):
    proc = ntm("train", "--task", "copy", "-p", "num_heads=2", check=False)
    assert "valid keys:" in proc.stderr and "memory_slots" in proc.stderr and "batch_size" in proc.stderr


def test_evaluate_reports_damaged_preset_without_traceback(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    proc = ntm("evaluate", "--preset", str(tmp_path / "broken"), "--length", "5", check=False)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_list_params():
    out = ntm("train", "--task", "repeat-copy", "--list-params").stdout
    assert "[training]" in out and "max_repeats" in out and "memory_slots" in out


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_presets_lists_a_broken_preset_instead_of_crashing(tmp_path):
    bad = tmp_path / "builtin" / "bad"
    bad.mkdir(parents=True)
    (bad / "config.json").write_bytes(b"\xff\xfe")
    env_proc = subprocess.run([sys.executable, "-m", "ntm", "presets"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**__import__("os").environ, "NTM_EXPLORER_PRESETS": str(bad.parent),
                                                "NTM_EXPLORER_DATA": str(tmp_path / "data")})
    assert env_proc.returncode == 0 and "Traceback" not in env_proc.stderr
    assert "bad\t(cannot be used:" in env_proc.stdout and "UTF-8" in env_proc.stdout


def test_a_checkpoint_path_that_is_a_file_is_a_clear_error(tmp_path):
    file = tmp_path / "afile"
    file.write_text("mine")
    _one_line_error(ntm("train", "--task", "copy", "--checkpoint-path", str(file), "--num-batches", "1",
                        "--no-progress", *SMALL, check=False), "is a file, not a folder")
    assert file.read_text() == "mine"


@pytest.mark.parametrize("damage", ["spec", "progress", "weights"])
def test_a_damaged_checkpoint_is_one_clear_error(tmp_path, damage):
    run = tmp_path / "run"
    ntm("train", "--task", "copy", "--num-batches", "2", "--checkpoint-path", str(run), "--no-progress", *SMALL)
    manifest = json.loads((run / "checkpoint.json").read_text())
    if damage == "spec":
        manifest["train"]["spec"] = 5
    elif damage == "progress":
        manifest["progress"] = {"batches": "many"}
    else:
        (run / manifest["weights"]["file"]).write_bytes(b"garbage")
    (run / "checkpoint.json").write_text(json.dumps(manifest))
    proc = ntm("train", "--task", "copy", "--num-batches", "4", "--checkpoint-path", str(run), "--resume",
               "--no-progress", check=False)
    _one_line_error(proc, "another --checkpoint-path" if damage != "weights" else "checksum")
    assert str(tmp_path) not in proc.stderr


def test_a_preset_name_too_long_for_the_file_system(tmp_path):
    _one_line_error(ntm("trace", "--preset", "x" * 300, "--out", str(tmp_path / "t.json"), check=False), "no preset")
    (tmp_path / "not-a-preset").mkdir()
    _one_line_error(ntm("evaluate", "--preset", str(tmp_path / "not-a-preset"), "--length", "3", check=False),
                    "has no config.json")


def test_evaluate_repeat_copy_over_the_number_of_repeats():
    out = json.loads(ntm("evaluate", "--preset", "repeat-copy", "--length", "3", "--repeats", "12",
                         "--sequences", "4", "--json").stdout)
    assert out["repeats"] == 12 and out["length"] == 3 and out["sequences"] == 4
    _one_line_error(ntm("evaluate", "--preset", "copy", "--length", "3", "--repeats", "2", check=False),
                    "copy task has no number of repeats")
