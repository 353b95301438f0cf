"""ntm.training: ``-p`` parameter resolution, a short run that learns, what a run writes, and
resuming: a run stopped (or crashed) and resumed from its checkpoint ends bitwise where the same
run without the interruption ends."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from ntm.io import ROOT, read_jsonl
from ntm.model import config_fields
from ntm.presets import has_checkpoint, load_checkpoint
from ntm.training import RunSpec, Trainer, TrainSettings, resolve_params, valid_param_keys

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

# A machine small enough to train in milliseconds per batch.
TINY = ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4", "max_len=3"]


def tiny_spec(extra=(), **settings) -> RunSpec:
    settings = {"batch_size": 4, "num_batches": 8, "report_interval": 2, "checkpoint_interval": 0,
                "threads": 1, **settings}
    return resolve_params("copy", "ntm", [*TINY, *extra], settings_overrides=settings)


# ---- parameters -----------------------------------------------------------------------------------

def test_valid_keys_come_in_three_groups_with_their_defaults():
    for model_type in ("ntm", "lstm"):
        groups = valid_param_keys("copy", model_type)
        assert list(groups) == ["training", "model", "task"]
        assert groups["training"] == {name: getattr(TrainSettings(), name) for name in groups["training"]}
        assert groups["model"] == config_fields(model_type)
        assert groups["task"] == {"seq_width": 8, "min_len": 1, "max_len": 20}
    assert "memory_slots" in valid_param_keys("copy", "ntm")["model"]
    assert "memory_slots" not in valid_param_keys("copy", "lstm")["model"]
    assert "max_repeats" in valid_param_keys("repeat-copy", "ntm")["task"]


def test_each_key_lands_in_its_group_with_its_type():
    spec = resolve_params("copy", "ntm", ["batch_size=16", "lr=0.01", "compile=yes", "optimizer=rmsprop",
                                          "controller=feedforward", "memory_slots=32", " max_len = 5 "])
    assert (spec.task, spec.model_type) == ("copy", "ntm")
    assert spec.settings.batch_size == 16 and spec.settings.lr == 0.01
    assert spec.settings.compile is True and spec.settings.optimizer == "rmsprop"
    assert spec.model == {"controller": "feedforward", "memory_slots": 32}
    assert spec.task_params == {"max_len": 5}
    untouched = TrainSettings()
    assert spec.settings.num_batches == untouched.num_batches


def test_explicit_overrides_win_and_none_changes_nothing():
    spec = resolve_params("copy", "lstm", ["batch_size=16", "layers=2"],
                          settings_overrides={"batch_size": 32, "num_batches": None})
    assert spec.settings.batch_size == 32
    assert spec.settings.num_batches == TrainSettings().num_batches
    assert spec.model == {"layers": 2}


def test_a_spec_survives_its_json_round_trip():
    spec = tiny_spec(["optimizer=rmsprop", "lr_schedule=cosine"])
    again = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


@pytest.mark.parametrize("task, model_type, pairs, overrides, expected", [
    ("copy", "ntm", ["batch_size"], None, "-p expects key=value"),
    ("copy", "ntm", ["batch_size=abc"], None, "-p batch_size=abc: expected an integer"),
    ("copy", "ntm", ["lr=fast"], None, "-p lr=fast: expected a number"),
    ("copy", "ntm", ["compile=maybe"], None, "-p compile=maybe: expected true or false"),
    ("copy", "ntm", ["batch_size=0"], None, "batch_size must be a positive integer; got 0"),
    ("copy", "ntm", ["lr=nan"], None, "lr must be a positive number"),
    ("copy", "ntm", ["momentum=1"], None, "momentum must be in [0, 1)"),
    ("copy", "ntm", ["optimizer=sgd"], None, "optimizer must be one of rmsprop, adam"),
    ("copy", "ntm", ["lr_schedule=step"], None, "lr_schedule must be one of constant, cosine"),
    ("copy", "ntm", ["controller=gru"], None, "controller must be one of lstm, feedforward"),
    ("copy", "ntm", ["memory_slots=0"], None, "memory_slots must be a positive integer"),
    ("copy", "ntm", ["max_len=0"], None, "max_len"),
    ("copy", "ntm", ["hidden_size=3"], None, "unknown parameter 'hidden_size' for --task copy --model-type ntm"),
    ("copy", "lstm", ["memory_slots=3"], None, "unknown parameter 'memory_slots'"),
    ("copy", "ntm", [], {"batchsize": 3}, "unknown training setting(s) batchsize"),
    ("copy", "gru", [], None, "--model-type must be one of ntm, lstm"),
    ("sort", "ntm", [], None, "unknown task 'sort'"),
])
def test_bad_parameters_get_one_line_saying_what_is_wrong(task, model_type, pairs, overrides, expected):
    with pytest.raises(ValueError) as info:
        resolve_params(task, model_type, pairs, settings_overrides=overrides)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_an_unknown_key_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        resolve_params("copy", "ntm", ["slots=3"])
    listed = str(info.value).split("valid keys: ")[1].split(", ")
    assert listed == sorted(set().union(*valid_param_keys("copy", "ntm").values()))


# ---- a run ------------------------------------------------------------------------------------------

def test_a_short_run_learns(tmp_path):
    """On a small copy task the cross-entropy falls well below where it starts within 60 batches."""
    spec = resolve_params("copy", "ntm", ["controller_size=32", "memory_slots=8", "memory_width=8",
                                          "seq_width=4", "max_len=3", "lr=0.01"],
                          settings_overrides={"batch_size": 16, "num_batches": 60, "report_interval": 20,
                                              "checkpoint_interval": 0, "threads": 1})
    status = Trainer(spec, tmp_path, progress=False).run()
    assert status["state"] == "done"
    losses = [r["loss"] for r in read_jsonl(tmp_path / "metrics.jsonl")]
    assert len(losses) == 3
    assert losses[-1] < 0.9 * losses[0], losses


def test_a_run_writes_metrics_status_sample_and_checkpoint(tmp_path):
    reports = []
    status = Trainer(tiny_spec(num_batches=6), tmp_path, progress=False, on_report=reports.append).run()
    metrics = read_jsonl(tmp_path / "metrics.jsonl")
    assert metrics == reports
    assert [r["batches"] for r in metrics] == [2, 4, 6]
    assert [r["sequences"] for r in metrics] == [8, 16, 24]
    for r in metrics:
        assert set(r) >= {"loss", "cost_bits", "bit_errors", "seq_per_s", "elapsed", "lr"}
        assert r["loss"] > 0 and r["cost_bits"] > 0 and r["bit_errors"] >= 0
    on_disk = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == on_disk["state"] == "done"
    assert on_disk["batches"] == on_disk["num_batches"] == 6
    sample = json.loads((tmp_path / "sample.json").read_text())
    assert sample["batches"] == 6
    assert len(sample["outputs"]) == len(sample["targets"]) == len(sample["inputs"])
    assert load_checkpoint(tmp_path).progress["batches"] == 6


def test_a_new_run_refuses_a_folder_that_holds_a_checkpoint(tmp_path):
    Trainer(tiny_spec(num_batches=2), tmp_path, progress=False).run()
    with pytest.raises(ValueError, match="already holds a checkpoint: pass --resume"):
        Trainer(tiny_spec(num_batches=2), tmp_path, progress=False)


def test_the_cosine_schedule_anneals_from_lr_to_its_floor():
    trainer_spec = tiny_spec(["lr_schedule=cosine", "lr=0.01", "lr_min_ratio=0.1"])
    trainer = Trainer(trainer_spec, "/nonexistent-never-written", progress=False)
    rates = []
    for batches in (0, 4, 8, 12):
        trainer.batches = batches
        rates.append(trainer.learning_rate())
    assert rates[0] == pytest.approx(0.01)
    assert rates[1] == pytest.approx(0.001 + 0.5 * 0.009)
    assert rates[2] == rates[3] == pytest.approx(0.001)


# ---- resume ≡ uninterrupted, bitwise --------------------------------------------------------------

def assert_same_state(a: Trainer, b: Trainer):
    """Weights, optimizer state and the task generator are bitwise equal."""
    assert a.batches == b.batches and a.sequences == b.sequences
    wa, wb = a.model.state_dict(), b.model.state_dict()
    assert list(wa) == list(wb)
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"weights differ: {different}"
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for i in oa["state"]:
        for key, value in oa["state"][i].items():
            other = ob["state"][i][key]
            same = torch.equal(value, other) if torch.is_tensor(value) else value == other
            assert same, f"optimizer state {i}.{key} differs"
    assert torch.equal(a.generator.get_state(), b.generator.get_state())


def training_curve(run_dir):
    """The metrics that do not depend on the clock."""
    return [{k: r[k] for k in ("batches", "sequences", "loss", "cost_bits", "bit_errors", "lr")}
            for r in read_jsonl(run_dir / "metrics.jsonl")]


SETUPS = {
    "adam-constant": ["optimizer=adam"],
    "rmsprop-momentum-cosine": ["optimizer=rmsprop", "lr_schedule=cosine", "lr_min_ratio=0.1"],
    "feedforward-learned-memory": ["controller=feedforward", "memory_init=learned", "heads=rrw"],
}


@pytest.mark.parametrize("setup", SETUPS)
def test_stopped_and_resumed_equals_uninterrupted(tmp_path, setup):
    """A stop request (SIGTERM, the app's Cancel) at half-way, then ``--resume``."""
    extra = SETUPS[setup]
    whole = Trainer(tiny_spec(extra), tmp_path / "whole", progress=False)
    whole.run()

    first = Trainer(tiny_spec(extra), tmp_path / "split", progress=False)
    first.on_report = lambda record: first.request_stop() if record["batches"] == 4 else None
    assert first.run()["state"] == "cancelled" and first.batches == 4
    second = Trainer(tiny_spec(extra), tmp_path / "split", resume=True, progress=False)
    assert second.resumed and second.batches == 4
    assert second.run()["state"] == "done"

    assert_same_state(whole, second)
    assert training_curve(tmp_path / "split") == training_curve(tmp_path / "whole")
    # and what was saved is what was trained
    saved = load_checkpoint(tmp_path / "split").model.state_dict()
    assert all(torch.equal(saved[k], v) for k, v in whole.model.state_dict().items())


class Crash(Exception):
    pass


def test_crashed_between_checkpoints_and_resumed_equals_uninterrupted(tmp_path):
    """A crash after batch 6 with the last checkpoint at batch 4: the resumed run redoes batches
    5-6 exactly, and the reports written after the checkpoint are replaced, not doubled."""
    whole = Trainer(tiny_spec(checkpoint_interval=4), tmp_path / "whole", progress=False)
    whole.run()

    def crash_at_6(record):
        if record["batches"] == 6:
            raise Crash("power cut")

    first = Trainer(tiny_spec(checkpoint_interval=4), tmp_path / "split", progress=False, on_report=crash_at_6)
    with pytest.raises(Crash):
        first.run()
    assert json.loads((tmp_path / "split" / "status.json").read_text())["state"] == "failed"
    assert [r["batches"] for r in read_jsonl(tmp_path / "split" / "metrics.jsonl")] == [2, 4, 6]
    second = Trainer(tiny_spec(checkpoint_interval=4), tmp_path / "split", resume=True, progress=False)
    assert second.batches == 4
    second.run()

    assert_same_state(whole, second)
    assert training_curve(tmp_path / "split") == training_curve(tmp_path / "whole")


def test_extended_run_equals_one_run_of_the_whole_length(tmp_path):
    """With a constant learning rate, training 4 batches and then resuming with num_batches=8 is
    the same as training 8 at once."""
    whole = Trainer(tiny_spec(num_batches=8), tmp_path / "whole", progress=False)
    whole.run()
    Trainer(tiny_spec(num_batches=4), tmp_path / "split", progress=False).run()
    second = Trainer(tiny_spec(num_batches=8), tmp_path / "split", resume=True, progress=False)
    second.run()
    assert_same_state(whole, second)


def test_resumed_in_a_new_process_equals_uninterrupted(tmp_path):
    """The first half runs in another Python process (as a resumed job does), the rest here."""
    spec = tiny_spec(["optimizer=rmsprop"], num_batches=4)
    child = textwrap.dedent("""
        import json, sys
        from ntm.training import RunSpec, Trainer
        Trainer(RunSpec.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False).run()
    """)
    subprocess.run([sys.executable, "-c", child, json.dumps(spec.to_dict()), str(tmp_path / "split")],
                   cwd=ROOT, check=True, timeout=300, capture_output=True)
    assert has_checkpoint(tmp_path / "split")
    second = Trainer(tiny_spec(["optimizer=rmsprop"], num_batches=8), tmp_path / "split", resume=True,
                     progress=False)
    second.run()
    whole = Trainer(tiny_spec(["optimizer=rmsprop"], num_batches=8), tmp_path / "whole", progress=False)
    whole.run()
    assert_same_state(whole, second)


# ---- fine-tuning a preset (--init-from) ----------------------------------------------------------

def test_init_from_a_preset_starts_from_its_weights_task_and_model_and_keeps_its_command(tmp_path):
    from ntm.presets import load_preset, save_preset
    first = Trainer(tiny_spec(["max_len=2"]), tmp_path / "first", progress=False)
    first.run()
    save_preset(tmp_path / "p", first.model, first.task, {}, command="python -m ntm train --made-it")
    preset = load_preset(tmp_path / "p")
    start = {k: v.clone() for k, v in preset.model.state_dict().items()}

    # The spec asks for another task and machine size: the preset's win, with a fresh optimiser.
    asked = resolve_params("repeat-copy", "lstm", [], settings_overrides={"batch_size": 4, "num_batches": 3,
                                                                           "report_interval": 3, "threads": 1})
    tuned = Trainer(asked, tmp_path / "tuned", progress=False, command="python -m ntm train --init-from p",
                    init_from=preset)
    assert (tuned.spec.task, tuned.spec.model_type) == ("copy", "ntm")
    assert tuned.spec.task_params["max_len"] == 2 and tuned.spec.model["memory_slots"] == 8
    assert all(torch.equal(v, start[k]) for k, v in tuned.model.state_dict().items())
    assert tuned.optimizer.state_dict()["state"] == {}
    tuned.run()
    assert any(not torch.equal(v, start[k]) for k, v in tuned.model.state_dict().items())
    assert tuned.commands == ["python -m ntm train --made-it", "python -m ntm train --init-from p"]
    # The run it wrote resumes like any other, as the preset's task and model.
    again = Trainer(tiny_spec(), tmp_path / "tuned", resume=True, progress=False)
    assert (again.spec.task, again.batches, again.task.max_len) == ("copy", 3, 2)


def test_init_from_refuses_resume_and_unknown_presets(tmp_path):
    for extra, expected in ((["--init-from", "copy", "--resume"], "cannot be combined with --resume"),
                            (["--init-from", "no-such-preset"], "no preset 'no-such-preset'")):
        proc = subprocess.run([sys.executable, "-m", "ntm", "train", "--checkpoint-path", str(tmp_path / "r"),
                               *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and expected in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "r").exists()
