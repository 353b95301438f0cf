"""Background training jobs end to end, with real processes: start, progress, cancel, resume,
crash, the concurrency limit, the app going away, a hard kill, and the preset a job saves; and the
pieces of ``ntm.jobs`` on their own (the fault hook, the command line, a light import)."""

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap

import pytest

from ntm import jobs
from ntm.io import ROOT
from ntm.jobs.runner import FAULT_ENV, fault_hook
from ntm.presets import list_presets, load_checkpoint, load_preset, save_preset, user_presets_dir
from ntm.training import resolve_params

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("jobs_data_dir")]

TINY = ["controller_size=16", "memory_slots=16", "memory_width=8", "max_len=4"]


def tiny_spec(num_batches=60, report_interval=5, checkpoint_interval=10, **settings):
    return resolve_params("copy", "ntm", TINY, settings_overrides={
        "num_batches": num_batches, "batch_size": 4, "report_interval": report_interval,
        "checkpoint_interval": checkpoint_interval, **settings})


@pytest.fixture
def wait_job(wait_until):
    """``wait_job(job_id, predicate)``: the job once ``predicate(job)`` holds; on a timeout the
    message shows its state and the end of its log."""
    def wait(job_id, predicate, timeout=90, what="the job"):
        def ready():
            job = jobs.get_job(job_id)
            return job if predicate(job) else None

        def diagnosis():
            job = jobs.get_job(job_id)
            return (f"{what}: state {job.state}, batches {job.batches}, message {job.message!r}\n"
                    f"log:\n{job.log_tail()}")
        return wait_until(ready, timeout, diagnosis)
    return wait


def process_gone(pid):
    return jobs.process_start_time(pid) is None


@pytest.mark.slow
def test_job_runs_is_cancelled_resumes_and_saves_a_preset(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "delay-per-batch:0.02")     # ~50 batches/s: long enough to watch
    # No periodic checkpoints: the only checkpoint is the one the cancel writes.
    job = jobs.start_job(tiny_spec(num_batches=100_000, checkpoint_interval=0), "my-copy", export_sequences=10)
    assert job.state in ("starting", "running") and job.pid
    assert json.loads((job.dir / "job.json").read_text())["spec"] == job.spec

    # Progress: status, metrics and the sample prediction appear while it runs.
    job = wait_job(job.id, lambda j: j.state == "running" and j.batches >= 20, what="20 batches")
    assert 0 < job.fraction < 1 and job.eta_seconds is not None and job.eta_seconds > 0
    assert job.sequences == 4 * job.batches and job.total_sequences == 400_000
    lines = job.metrics()
    assert len(lines) >= 4 and [m["batches"] for m in lines] == sorted(m["batches"] for m in lines)
    assert len(job.sample()["targets"]) == 9           # copy of length 4: 2 * 4 + 1 steps

    # The name is taken while the job may still save to it.
    with pytest.raises(jobs.JobError, match="will save a preset named 'my-copy'"):
        jobs.check_preset_name("my-copy")

    pid = job.pid
    job = jobs.cancel_job(job.id)
    assert job.state == "cancelled" and job.resumable and job.pid is None
    assert process_gone(pid)
    ckpt = json.loads((job.dir / "checkpoint.json").read_text())["progress"]["batches"]
    assert ckpt == job.batches >= 20                    # the stop was checkpointed, not lost
    assert job.exit["exit_code"] == 0

    # Resume from the checkpoint, asking for 30 batches more, and let it finish.
    job = jobs.resume_job(job.id, num_batches=ckpt + 30)
    job = wait_job(job.id, lambda j: not j.active, what="the resumed job to finish")
    assert job.state == "done", job.message + job.log_tail()
    assert job.batches == ckpt + 30 and job.launches == 2
    assert f"resuming at batch {ckpt}" in job.log_tail()
    batches = [m["batches"] for m in job.metrics()]
    assert batches == sorted(set(batches)) and batches[-1] == ckpt + 30

    # The preset: listed, loadable, with its generalisation table and the commands that made it.
    assert job.preset_saved and job.preset_path == user_presets_dir().resolve() / "my-copy"
    assert "my-copy" in [p.name for p in list_presets()]
    preset = load_preset("my-copy")
    assert preset.task.name == "copy" and preset.model_type == "ntm"
    assert preset.metrics["batches"] == ckpt + 30
    assert [r["length"] for r in preset.metrics["generalisation"]] == [10]
    assert "python -m ntm train --task copy" in preset.metrics["command"]
    assert "--resume" in preset.metrics["command"]
    with pytest.raises(jobs.JobError, match="already exists"):
        jobs.check_preset_name("my-copy")
    with pytest.raises(jobs.JobError, match="only cancelled, interrupted or diverged"):
        jobs.resume_job(job.id)


@pytest.mark.slow
def test_a_crash_shows_as_failed_with_the_end_of_the_log(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "crash-after-batches:3")
    job = jobs.start_job(tiny_spec(num_batches=50, report_interval=1), "crashy")
    job = wait_job(job.id, lambda j: not j.active, what="the crash")
    assert job.state == "failed"
    assert "injected fault" in job.message
    tail = job.log_tail()
    assert "Traceback (most recent call last)" in tail and "RuntimeError: injected fault" in tail
    assert len(tail.splitlines()) <= jobs.LOG_TAIL_LINES
    assert job.exit["exit_code"] == 1 and job.batches == 3
    assert not job.resumable and not (user_presets_dir() / "crashy").exists()
    assert json.loads((job.dir / "status.json").read_text())["state"] == "failed"
    # A failed job does not hold its preset name.
    assert jobs.check_preset_name("crashy") == "crashy"


@pytest.mark.slow
def test_concurrency_limit_refuses_a_further_start(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "delay-per-batch:0.05")
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    first = jobs.start_job(tiny_spec(num_batches=100_000), "first")
    with pytest.raises(jobs.JobError, match="already running .* at most 1 at once"):
        jobs.start_job(tiny_spec(), "second")
    assert [j.id for j in jobs.list_jobs()] == [first.id]             # nothing started, no folder left

    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "2")
    second = jobs.start_job(tiny_spec(num_batches=100_000), "second")
    assert {j.id for j in jobs.active_jobs()} == {first.id, second.id}

    second = jobs.cancel_job(second.id)
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    with pytest.raises(jobs.JobError, match="at most 1"):
        jobs.resume_job(second.id)
    assert jobs.get_job(second.id).state == "cancelled"
    assert jobs.cancel_job(first.id).state == "cancelled"


def test_max_jobs_defaults_to_one_per_two_cores(monkeypatch):
    monkeypatch.delenv(jobs.MAX_JOBS_ENV, raising=False)
    assert jobs.max_jobs() == max((os.cpu_count() or 2) // 2, 1)
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "three")
    with pytest.raises(jobs.JobError, match="whole number"):
        jobs.max_jobs()


@pytest.mark.slow
def test_the_job_stops_when_the_app_that_started_it_is_gone(jobs_data_dir, wait_job):
    # A stand-in for the app: a real process that starts a job, then is killed outright.
    app = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import signal, sys
        from ntm import jobs
        from ntm.training import resolve_params
        spec = resolve_params("copy", "ntm", sys.argv[1:], settings_overrides={
            "num_batches": 100000, "batch_size": 4, "report_interval": 5, "checkpoint_interval": 10})
        print(jobs.start_job(spec, "orphan").id, flush=True)
        signal.pause()                  # the app lives on until the test kills it
        """), *TINY], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "NTM_EXPLORER_DATA": str(jobs_data_dir), FAULT_ENV: "delay-per-batch:0.02"})
    try:
        job_id = app.stdout.readline().strip()
        job = wait_job(job_id, lambda j: j.state == "running" and j.batches >= 10, what="10 batches")
        runner = job.pid
    finally:
        app.kill()
        app.wait()
    job = wait_job(job_id, lambda j: not j.active, timeout=30, what="the job to notice the app is gone")
    assert job.state == "interrupted" and "the app stopped at batch" in job.message
    assert process_gone(runner)
    assert "is gone: stopping" in job.log_tail()
    saved = json.loads((job.dir / "checkpoint.json").read_text())["progress"]["batches"]
    assert saved == job.batches >= 10


@pytest.mark.slow
def test_a_hard_kill_loses_only_the_progress_since_the_last_checkpoint(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "delay-per-batch:0.02")
    job = jobs.start_job(tiny_spec(num_batches=100_000, checkpoint_interval=10), "killed", export_sequences=10)
    job = wait_job(job.id, lambda j: (j.dir / "checkpoint.json").exists() and j.batches >= 25,
                   what="a checkpoint and 25 batches")
    os.kill(job.pid, signal.SIGKILL)                         # no chance to checkpoint or say goodbye
    job = wait_job(job.id, lambda j: not j.active, timeout=20, what="the kill to be seen")
    assert job.state == "interrupted" and job.exit is None and job.resumable
    assert "resume continues from its last checkpoint" in job.message
    ckpt = load_checkpoint(job.dir)                          # the checkpoint is whole
    saved = ckpt.progress["batches"]
    assert saved % 10 == 0 and saved >= 20 and job.batches - saved < 10 + 5

    job = jobs.resume_job(job.id, num_batches=saved + 10)
    job = wait_job(job.id, lambda j: not j.active, what="the resumed job")
    assert job.state == "done" and f"resuming at batch {saved}" in job.log_tail()
    assert load_preset("killed").metrics["batches"] == saved + 10


@pytest.mark.parametrize("name", ["", "  ", "../escape", "a/b", ".hidden", "has space", "x" * 65])
def test_unsafe_preset_names_are_refused(name):
    with pytest.raises(jobs.JobError, match="not a safe folder name"):
        jobs.start_job(tiny_spec(), name)
    assert jobs.list_jobs() == []


def test_existing_preset_names_and_out_of_range_values_are_refused():
    task_spec = tiny_spec()
    from ntm.model import build_model
    from ntm.tasks import make_task

    task = make_task("copy", max_len=4)
    model = build_model("ntm", {"input_size": task.input_size, "output_size": task.output_size,
                                "controller_size": 16, "memory_slots": 16, "memory_width": 8})
    save_preset(user_presets_dir() / "taken", model, task, {}, "test")
    with pytest.raises(jobs.JobError, match="a preset named 'taken' already exists"):
        jobs.start_job(task_spec, "taken")
    with pytest.raises(jobs.JobError, match="batch_size must be between 1 and 256; got 1000"):
        jobs.start_job(tiny_spec(batch_size=1000), "fresh")
    big = resolve_params("copy", "ntm", ["memory_slots=4096"], settings_overrides={"num_batches": 1})
    with pytest.raises(jobs.JobError, match="memory_slots must be between"):
        jobs.start_job(big, "fresh")
    assert jobs.list_jobs() == []
    # A form's suggestion skips the taken name.
    assert jobs.free_preset_name("taken") == "taken-2" and jobs.free_preset_name("fresh") == "fresh"


def test_a_reused_pid_is_not_mistaken_for_the_job(jobs_data_dir):
    # A job folder whose recorded process id now belongs to another process (this one).
    job_dir = jobs.jobs_dir() / "20260101-000000-abcdef"
    job_dir.mkdir(parents=True)
    me = os.getpid()
    spec = tiny_spec().to_dict()
    (job_dir / "job.json").write_text(json.dumps({
        "id": job_dir.name, "name": "old", "created": 1.0, "spec": spec,
        "preset": {"name": "old", "path": str(jobs_data_dir / "presets" / "old")},
        "launches": [{"launch": 1, "pid": me, "start_time": jobs.process_start_time(me) + 1,
                      "started": 1.0, "resume": False}]}))
    (job_dir / "status.json").write_text(json.dumps({"state": "running", "pid": me, "batches": 5,
                                                     "num_batches": 60}))
    job = jobs.get_job(job_dir.name)
    assert job.state == "interrupted" and job.pid is None
    assert jobs.cancel_job(job.id).state == "interrupted"     # and nothing was signalled: we are still here


def test_importing_jobs_does_not_import_torch():
    # Only the runner (in the job's own process) imports torch: the app's job list stays light.
    out = subprocess.run([sys.executable, "-c", "import sys, ntm.jobs; print('torch' in sys.modules)"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_fault_hook_crashes_after_n_batches_and_refuses_unknown_faults():
    assert fault_hook("") is None
    crash = fault_hook("crash-after-batches:3")
    crash(1), crash(2)                                        # no fault before batch 3 is done
    with pytest.raises(RuntimeError, match="injected fault"):
        crash(3)
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        fault_hook("explode")


def test_the_command_line_of_a_job_names_only_what_differs_from_the_defaults():
    spec = tiny_spec(num_batches=60)
    args = shlex.split(jobs.spec_command(spec, "/runs/a b", "/presets/p"))
    assert args[:4] == ["python", "-m", "ntm", "train"]
    params = [args[i + 1] for i, a in enumerate(args) if a == "-p"]
    assert "num_batches=60" in params and "batch_size=4" in params and "max_len=4" in params
    assert not any(p.startswith(("optimizer=", "clip_value=")) for p in params)     # left at their defaults
    assert args[args.index("--checkpoint-path") + 1] == "/runs/a b"
