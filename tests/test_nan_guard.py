"""The NaN/Inf guard: a non-finite loss or gradient stops training before anything of the batch
is applied, keeps the last good checkpoint, says what to try, and the run resumes with a lower
learning rate, from the library, a background job and the command line."""

import json
import subprocess
import sys

import pytest
import torch

from ntm import jobs
from ntm.io import ROOT
from ntm.jobs.runner import FAULT_ENV
from ntm.presets import load_checkpoint, load_preset
from ntm.training import NonFiniteError, Trainer, _grads_finite, resolve_params

pytestmark = pytest.mark.timeout(300)
TINY = ["controller_size=8", "memory_slots=8", "memory_width=4", "max_len=3", "batch_size=2"]


def spec(num_batches=6, **settings):
    return resolve_params("copy", "ntm", TINY, settings_overrides={
        "num_batches": num_batches, "report_interval": 1, "checkpoint_interval": 2, **settings})


def poison_after(trainer, n):
    def on_batch(batches):
        if batches == n:
            with torch.no_grad():
                next(trainer.model.parameters()).view(-1)[0] = float("nan")
    return on_batch


def test_a_nan_loss_stops_the_run_keeps_the_good_checkpoint_and_a_lower_rate_resumes_it(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(spec(lr=1e-3), run, progress=False)
    trainer.on_batch = poison_after(trainer, 3)
    status = trainer.run()
    assert status["state"] == "diverged" and trainer.batches == 3
    message = status["message"]
    assert "training stopped at batch 4: the loss became nan" in message
    assert "last good checkpoint (batch 2) is kept" in message and "--resume -p lr=0.0005" in message
    assert json.loads((run / "status.json").read_text())["state"] == "diverged"
    kept = load_checkpoint(run)
    assert kept.progress["batches"] == 2
    assert all(torch.isfinite(p).all() for p in kept.model.parameters())

    resumed = Trainer(spec(lr=1e-3), run, resume=True, progress=False, resume_overrides={"lr": 5e-4})
    assert resumed.batches == 2 and resumed.spec.settings.lr == 5e-4
    assert resumed.run()["state"] == "done" and resumed.batches == 6
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())
    with pytest.raises(ValueError, match="cannot change when a run resumes"):
        Trainer(spec(), run, resume=True, progress=False, resume_overrides={"memory_slots": 4})


def test_a_non_finite_gradient_is_caught_before_the_step():
    w = torch.nn.Parameter(torch.ones(3))
    (w * torch.tensor([1.0, float("inf"), 1.0])).sum().backward()
    assert not _grads_finite([w])
    w.grad = torch.zeros(3)
    assert _grads_finite([w]) and _grads_finite([torch.nn.Parameter(torch.ones(2))])
    assert issubclass(NonFiniteError, RuntimeError)


@pytest.mark.usefixtures("jobs_data_dir")
def test_a_job_that_diverges_says_so_and_resumes_with_half_the_learning_rate(monkeypatch, wait_until):
    monkeypatch.setenv(FAULT_ENV, "nan-after-batches:3")
    job = jobs.start_job(spec(lr=2e-3), "nan-guard")
    job = wait_until(lambda: (j := jobs.get_job(job.id)) and not j.active and j, 180, "the job to stop")
    assert job.state == "diverged" and job.resumable, (job.state, job.message, job.log_tail())
    assert "the loss became nan" in job.message and "-p lr=0.001" in job.message
    monkeypatch.delenv(FAULT_ENV)
    with pytest.raises(jobs.JobError, match="lr must be between"):
        jobs.resume_job(job.id, lr=5.0)
    jobs.resume_job(job.id, lr=1e-3)
    job = wait_until(lambda: (j := jobs.get_job(job.id)) and not j.active and j, 180, "the resumed job to end")
    assert job.state == "done", (job.message, job.log_tail())
    assert load_preset(job.preset_path).metrics["spec"]["settings"]["lr"] == 1e-3


def test_resume_on_the_command_line_takes_a_new_learning_rate(tmp_path):
    run = tmp_path / "run"
    base = [sys.executable, "-m", "ntm", "train", "--task", "copy", "--checkpoint-path", str(run), "--no-progress",
            *sum((["-p", p] for p in TINY), [])]
    subprocess.run(base + ["--num-batches", "2", "-p", "lr=0.002"], cwd=ROOT, check=True, capture_output=True,
                   timeout=200)
    subprocess.run(base + ["--num-batches", "3", "--resume", "-p", "lr=0.0007"], cwd=ROOT, check=True,
                   capture_output=True, timeout=200)
    assert load_checkpoint(run).train["spec"]["settings"]["lr"] == 0.0007
