"""Sweeps (ntm.sweep): runs expanded from a spec, run locally through the jobs system, and through
a real local Ray instance; results land in job folders like single runs."""

import os
import shutil
import subprocess
import sys

import pytest

from ntm import jobs
from ntm.io import read_jsonl
from ntm.presets import load_preset
from ntm.sweep import SweepError, SweepSpec, cancel_sweep, expand, get_sweep, list_sweeps, start_sweep

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("jobs_data_dir")]

TINY = {"controller_size": 8, "memory_slots": 8, "memory_width": 4, "max_len": 3, "batch_size": 2,
        "report_interval": 1}


def tiny(name="tiny", seeds=(1, 2), num_batches=3, **kw):
    return SweepSpec(name, tasks=["copy"], seeds=list(seeds), params={**TINY, "num_batches": num_batches},
                     export_sequences=2, **kw)


def test_a_spec_expands_into_every_combination_each_checked():
    runs = expand(SweepSpec("grid", tasks=["copy", "repeat-copy"], model_types=["ntm", "lstm"], seeds=[1, 2],
                            params={"num_batches": 10}, grid={"lr": [1e-4, 3e-4]}))
    assert len(runs) == 16
    assert runs[0].label == "copy · ntm · seed 1 · lr=0.0001" and runs[0].preset_name == "grid-1"
    assert runs[0].spec["settings"]["lr"] == 1e-4 and runs[1].spec["settings"]["lr"] == 3e-4
    assert {r.spec["seed"] for r in runs} == {1, 2} and runs[-1].spec["task"] == "repeat-copy"
    assert all(r.spec["settings"]["num_batches"] == 10 and r.spec["settings"]["threads"] == 1 for r in runs)
    with pytest.raises(SweepError, match="run copy · ntm · seed 1000: unknown parameter 'slots'"):
        expand(SweepSpec("bad", params={"slots": 3}))
    with pytest.raises(SweepError, match="seeds: give at least one value"):
        expand(SweepSpec("bad", seeds=[]))
    with pytest.raises(SweepError, match="both a shared parameter and a grid axis"):
        expand(SweepSpec("bad", params={"lr": 1e-3}, grid={"lr": [1e-4]}))
    with pytest.raises(SweepError, match="sweep name"):
        expand(SweepSpec("../x"))
    with pytest.raises(SweepError, match="more than 256"):
        expand(SweepSpec("big", seeds=list(range(300))))


def _finished(wait_until, sweep_id, seconds=400):
    return wait_until(lambda: (s := get_sweep(sweep_id)) and not s.active and s, seconds, "the sweep to finish")


def test_a_local_sweep_runs_its_runs_as_jobs_within_the_concurrency_limit(monkeypatch, wait_until):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    sweep = start_sweep(tiny())
    done = _finished(wait_until, sweep.id)
    assert done.state == "done", (done.message, (done.dir / "log.txt").read_text()[-2000:])
    found = done.jobs()
    assert len(found) == 2 and all(j.state == "done" for j in found)
    for job, seed in zip(found, (1, 2)):
        assert job.spec["seed"] == seed
        assert [r["batches"] for r in read_jsonl(job.dir / "metrics.jsonl")] == [1, 2, 3]
        assert load_preset(job.preset_path).metrics["seed"] == seed
    # One at a time: the second job was created after the first finished.
    first, second = sorted(found, key=lambda j: j.created)
    assert second.created >= float(first.exit and (first.dir / "exit.json").stat().st_mtime) - 1
    assert [s.id for s in list_sweeps()] == [sweep.id]


def test_cancelling_a_local_sweep_cancels_its_job_and_starts_nothing_more(monkeypatch, wait_until):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    monkeypatch.setenv("NTM_EXPLORER_FAULT", "delay-per-batch:0.2")
    sweep = start_sweep(tiny(name="slow", num_batches=400))
    wait_until(lambda: any(j.state == "running" for j in get_sweep(sweep.id).jobs()), 120, "the first job to run")
    stopped = cancel_sweep(sweep.id)
    assert stopped.state == "cancelled" and not stopped.active
    found = stopped.jobs()
    assert len(found) == 1 and found[0].state == "cancelled"


@pytest.fixture
def ray_head():
    """A real Ray instance on this machine, started as a user starts a cluster's head node. Its
    folder is short: Ray's Unix sockets live there, and socket paths are limited to ~107 bytes."""
    import re
    import tempfile

    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    proc = subprocess.run([ray_cli, "start", "--head", "--num-cpus", "2", "--include-dashboard", "false",
                           "--port", "0", "--disable-usage-stats", "--temp-dir", temp],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    address = re.search(r"ray start --address='([^']+)'", proc.stdout + proc.stderr).group(1)
    yield address
    subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120, env=env)
    shutil.rmtree(temp, ignore_errors=True)


def test_a_sweep_on_ray_runs_each_run_as_a_task_and_copies_the_results_back(ray_head, wait_until):
    sweep = start_sweep(tiny(name="on-ray"), ray=ray_head)
    assert sweep.ray == ray_head
    done = _finished(wait_until, sweep.id)
    assert done.state == "done", (done.message, (done.dir / "log.txt").read_text()[-3000:])
    found = done.jobs()
    assert len(found) == 2 and all(j.state == "done" for j in found), [(j.state, j.message) for j in found]
    for job in found:
        assert "(Ray)" in job.name
        assert [r["batches"] for r in read_jsonl(job.dir / "metrics.jsonl")] == [1, 2, 3]
        assert (job.dir / "checkpoint.json").is_file()
        preset = load_preset(job.preset_path)
        assert preset.metrics["batches"] == 3 and preset.metrics["seed"] == job.spec["seed"]


def test_the_command_line_starts_a_sweep_shows_it_and_refuses_bad_input(wait_until):
    import json as _json

    def ntm(*args):
        return subprocess.run([sys.executable, "-m", "ntm", *args], capture_output=True, text=True, timeout=300,
                              cwd=str(__import__("ntm.io").io.ROOT))

    bad = ntm("sweep", "--name", "x", "--seeds", "1-b")
    assert bad.returncode == 2 and "error: --seeds takes whole numbers" in bad.stderr and "Traceback" not in bad.stderr
    bad = ntm("sweep", "--name", "x", "--grid", "lr")
    assert bad.returncode == 2 and "--grid expects key=v1,v2" in bad.stderr
    bad = ntm("sweep", "--name", "x", "-p", "slots=3")
    assert bad.returncode == 2 and "unknown parameter 'slots'" in bad.stderr
    started = ntm("sweep", "--name", "cli", "--seeds", "3,4", *sum((["-p", f"{k}={v}"] for k, v in TINY.items()), []),
                  "-p", "num_batches=2", "--preset-sequences", "2", "--wait")
    assert started.returncode == 0, started.stderr[-2000:] + started.stdout[-2000:]
    sweep_id = started.stderr.split("started sweep ")[1].split(":")[0]
    shown = ntm("sweep", "--status", sweep_id).stdout
    assert f"sweep {sweep_id} (cli): done" in shown and shown.count("\tdone\t") == 2
    assert "copy · ntm · seed 3" in shown and "copy · ntm · seed 4" in shown
    assert _json.loads((get_sweep(sweep_id).dir / "sweep.json").read_text())["spec"]["seeds"] == [3, 4]
