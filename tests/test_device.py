"""``--device``: names resolved and refused (ntm.device), the trainer and evaluation moving models and
batches to the device (shown on torch's "meta" device, which refuses to mix with CPU tensors), the
command line on this CPU machine (cpu and auto train; cuda is refused in one line, exit 2), saved
files holding CPU tensors, and a job's spec and command line carrying the device."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import ntm.training as training
from ntm import jobs
from ntm.__main__ import _build_parser
from ntm.device import DeviceError, check_device_name, device_choices, model_device, resolve_device
from ntm.evaluation import evaluate, evaluate_training_distribution, example_outputs
from ntm.io import ROOT
from ntm.presets import load_checkpoint, load_preset
from ntm.tasks import make_task
from ntm.training import RESUME_OVERRIDES, RunSpec, Trainer, resolve_params

TINY = ["controller_size=16", "memory_slots=16", "memory_width=8", "max_len=4"]
NO_CUDA = {"CUDA_VISIBLE_DEVICES": ""}         # torch.cuda.is_available() is False in the child, GPU or not


def ntm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ntm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **NO_CUDA, **(env or {})})


def tiny_spec(**settings):
    return resolve_params("copy", "ntm", TINY, settings_overrides={
        "num_batches": 2, "batch_size": 4, "report_interval": 1, **settings})


class Seen(Exception):
    """Raised by a spied forward once it has recorded its inputs."""


def spy_forward(model, seen):
    def forward(inputs, *args, **kwargs):
        seen.append(inputs)
        raise Seen()
    model.forward = forward


# ---- names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cpu", "cuda", "cuda:0", "cuda:12", "auto"])
def test_device_names_are_accepted(name):
    assert check_device_name(name) == name


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cpu:0", "", None, 0])
def test_other_names_are_refused_naming_the_valid_forms(name):
    with pytest.raises(DeviceError, match="device must be cpu, cuda, cuda:N or auto"):
        check_device_name(name)
    with pytest.raises(ValueError, match="cpu, cuda, cuda:N or auto"):
        training.TrainSettings(device=name)                # -p device=..., a job.json, a checkpoint


def test_auto_is_cuda_only_where_there_is_one(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_the_choices_offer_cuda_only_where_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert device_choices() == ["cpu"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_choices() == ["cpu", "cuda", "cuda:0", "cuda:1"]
    assert all(check_device_name(name) == name for name in device_choices())


def test_a_missing_cuda_device_says_what_to_use(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:0"):
        with pytest.raises(DeviceError, match=r"^CUDA is not available on this machine \(torch.cuda.is_available\(\) "
                                              r"is False\); use --device cpu"):
            resolve_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match=r"cuda:3 does not exist: this machine has 1 CUDA device \(cuda:0\); "
                                          r"use --device cuda:0 or --device cpu"):
        resolve_device("cuda:3")


# ---- the trainer and evaluation on a device -----------------------------------------------------------

def test_the_trainer_puts_model_optimizer_and_each_batch_on_its_device(tmp_path, monkeypatch):
    # A CPU run of two batches, checkpointed; its files hold CPU tensors.
    trainer = Trainer(tiny_spec(), tmp_path / "run", progress=False)
    assert trainer.device == torch.device("cpu")
    assert trainer.run()["state"] == "done"
    ck = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    for entry in ("weights", "optimizer_file"):
        tensors = load_file(tmp_path / "run" / ck[entry]["file"])
        assert tensors and all(t.device.type == "cpu" for t in tensors.values())

    # Resumed on another device ("meta": it refuses CPU tensors in its operations), the model and the
    # optimizer's loaded state move there, and every forward gets its inputs there.
    monkeypatch.setattr(training, "resolve_device", lambda name: torch.device("meta"))
    resumed = Trainer(tiny_spec(num_batches=4), tmp_path / "run", resume=True, progress=False)
    assert resumed.resumed and resumed.batches == 2
    assert {p.device.type for p in resumed.model.parameters()} == {"meta"}
    assert {p.device.type for g in resumed.optimizer.param_groups for p in g["params"]} == {"meta"}
    state = [t for s in resumed.optimizer.state.values() for k, t in s.items() if k != "step"]
    assert state and {t.device.type for t in state} == {"meta"}
    seen = []
    spy_forward(resumed.model, seen)
    with pytest.raises(Seen):
        resumed.train_batch()
    with pytest.raises(Seen):
        resumed.write_sample()
    assert [t.device.type for t in seen] == ["meta", "meta"]

    # A new run on that device: the same, from the first batch.
    fresh = Trainer(tiny_spec(), tmp_path / "fresh", progress=False)
    assert model_device(fresh.model) == torch.device("meta")
    spy_forward(fresh.model, seen := [])
    with pytest.raises(Seen):
        fresh.train_batch()
    assert seen[0].device.type == "meta"


def test_on_the_cpu_the_batch_drawn_is_the_batch_trained_on(tmp_path, monkeypatch):
    trainer = Trainer(tiny_spec(), tmp_path / "run", progress=False)
    drawn, seen = [], []
    original = type(trainer.task).sample
    monkeypatch.setattr(type(trainer.task), "sample",
                        lambda self, *a, **k: drawn.append(original(self, *a, **k)) or drawn[-1])
    spy_forward(trainer.model, seen)
    with pytest.raises(Seen):
        trainer.train_batch()
    assert seen[0] is drawn[0].inputs                  # no copy on the CPU


def test_evaluation_moves_each_batch_to_the_models_device():
    task = make_task("copy", max_len=4)

    class OnMeta(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1, device="meta"))

    model, seen = OnMeta(), []
    spy_forward(model, seen)
    for run in (lambda: evaluate(model, task, 3, sequences=2), lambda: evaluate_training_distribution(model, task, 2),
                lambda: example_outputs({"m": model}, task, 3)):
        with pytest.raises(Seen):
            run()
    assert [t.device.type for t in seen] == ["meta"] * 3
    assert model.training                              # each left the mode as it was


def test_nli_scoring_runs_the_model_on_its_device_and_scores_on_the_cpu():
    from ntm.dual.cli import _cpu_in_out

    cpu_model = torch.nn.Linear(2, 3)
    assert _cpu_in_out(cpu_model) is cpu_model                 # nothing in between on the CPU
    seen = []

    class OnMeta(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1, device="meta"))

        def forward(self, inputs):
            seen.append(inputs)
            return Logits(), None, None

    class Logits:                                               # meta tensors cannot be copied out
        def cpu(self):
            seen.append("cpu")
            return torch.ones(2, 3)

    wrapped = _cpu_in_out(OnMeta())
    logits, _, _ = wrapped(torch.zeros(2, 5))
    assert seen[0].device.type == "meta" and seen[1:] == ["cpu"] and torch.equal(logits, torch.ones(2, 3))
    wrapped.eval()
    assert not wrapped.model.training                           # evaluate_nli's eval() reaches the model


def test_runs_without_a_device_setting_load_as_cpu():
    d = tiny_spec().to_dict()
    del d["settings"]["device"]                        # a job.json or checkpoint written before --device
    assert RunSpec.from_dict(d).settings.device == "cpu"


# ---- the command line --------------------------------------------------------------------------------

@pytest.mark.slow
def test_cpu_and_auto_train_here_and_the_preset_holds_cpu_tensors(tmp_path):
    run, preset = tmp_path / "run", tmp_path / "preset"
    common = ["train", "--task", "copy", "--batch-size", "4", "--report-interval", "1", "--checkpoint-path",
              str(run), "--no-progress"] + [a for p in TINY for a in ("-p", p)]
    proc = ntm(*common, "--num-batches", "2", "--device", "auto")
    assert proc.returncode == 0, proc.stderr
    assert "training on cpu (--device auto)" in proc.stderr            # CUDA hidden: auto is the CPU
    settings = lambda: json.loads((run / "checkpoint.json").read_text())["train"]["spec"]["settings"]  # noqa: E731
    assert settings()["device"] == "auto"
    # --resume without --device keeps the run's own; with one, it changes.
    proc = ntm(*common, "--num-batches", "3", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert settings()["device"] == "auto"
    proc = ntm(*common, "--num-batches", "4", "--resume", "--device", "cpu", "--preset-out", str(preset),
               "--preset-sequences", "2")
    assert proc.returncode == 0, proc.stderr
    assert settings()["device"] == "cpu" and "training on" not in proc.stderr
    assert json.loads((run / "status.json").read_text())["batches"] == 4
    weights = load_file(preset / "weights.safetensors")
    assert weights and all(t.device.type == "cpu" for t in weights.values())
    assert model_device(load_preset(preset).model).type == "cpu"
    assert model_device(load_checkpoint(run).model).type == "cpu"
    proc = ntm("evaluate", "--preset", str(preset), "--length", "3", "--sequences", "4", "--device", "auto", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sequences"] == 4


@pytest.mark.slow
def test_cuda_on_a_machine_without_it_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    for args in (["train", "--device", "cuda", "--checkpoint-path", str(run), "--num-batches", "1"],
                 ["train", "-p", "device=cuda:1", "--checkpoint-path", str(run), "--num-batches", "1"],
                 ["evaluate", "--preset", "copy", "--length", "5", "--device", "cuda"],
                 ["sweep", "--name", "gpu", "--device", "cuda"]):
        proc = ntm(*args, env={"NTM_EXPLORER_DATA": str(tmp_path / "data"), "RAY_ADDRESS": ""})
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.splitlines() == [
            "error: CUDA is not available on this machine (torch.cuda.is_available() is False); use --device cpu "
            "(or --device auto: cuda where there is one, else cpu)"], args
    assert not run.exists() and not (tmp_path / "data").exists()      # refused before anything was written
    proc = ntm("train", "--device", "gpu", "--checkpoint-path", str(run))
    assert proc.returncode == 2 and proc.stderr.strip() == "error: device must be cpu, cuda, cuda:N or auto; got 'gpu'"


def test_help_names_the_device_option():
    for command in ("train", "evaluate", "sweep"):
        text = _build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "--device {cpu,cuda,cuda:N,auto}" in text and "torch.cuda.is_available()" in text, command


# ---- background jobs ------------------------------------------------------------------------------------

def test_a_jobs_spec_and_command_line_carry_the_device():
    spec = tiny_spec(device="auto")
    again = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))        # job.json and back
    assert again == spec and again.settings.device == "auto"
    args = shlex.split(jobs.spec_command(spec, "/runs/r", "/presets/p"))
    assert args[args.index("--device") + 1] == "auto" and not any(a.startswith("device=") for a in args)
    parsed = _build_parser().parse_args(args[3:])                      # the command runs the same spec
    rebuilt = resolve_params(parsed.task, parsed.model_type, parsed.param, settings_overrides={"device": parsed.device})
    assert rebuilt.settings.device == "auto"
    assert "--device" not in jobs.spec_command(tiny_spec(), "/runs/r", "/presets/p")     # cpu is the default
    # The runner resumes with job.json's values of RESUME_OVERRIDES: the device is among them.
    assert "device" in RESUME_OVERRIDES


def test_a_job_asking_for_a_missing_gpu_is_not_started(jobs_data_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(jobs.JobError, match=r"CUDA is not available on this machine .*use --device cpu"):
        jobs.start_job(tiny_spec(device="cuda"), "gpu-copy")
    assert jobs.list_jobs() == []


@pytest.mark.slow
def test_a_job_resumed_where_its_gpu_is_missing_fails_with_the_message_and_no_traceback(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    record = {"id": "job", "name": "gpu", "created": 0, "spec": tiny_spec(device="cuda").to_dict(),
              "preset": {"name": "p", "path": str(tmp_path / "p")}, "launches": [{"launch": 1, "resume": True}]}
    (job_dir / "job.json").write_text(json.dumps(record))
    proc = subprocess.run([sys.executable, "-m", "ntm.jobs.runner", str(job_dir)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **NO_CUDA})
    assert proc.returncode == 1, proc.stderr
    exit_record = json.loads((job_dir / "exit.json").read_text())
    assert exit_record["outcome"] == "failed"
    assert exit_record["message"].startswith("CUDA is not available on this machine")
    assert "Traceback" not in proc.stdout + proc.stderr
