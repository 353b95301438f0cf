"""ntm.observatory and what training keeps for it: cost by sequence length in every report, the
outputs on fixed examples at every report (one at the longest training length, one longer, capped
by the memory), and the observatory's rows, history and live trace read back from a real run's
folder, as jobs and presets."""

import json

import pytest
import torch

from ntm import observatory as obs
from ntm.io import read_jsonl
from ntm.trace import Trace
from ntm.training import Trainer, cost_by_length, history_lengths, resolve_params

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

TINY = ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4", "max_len=3"]


def tiny_run(folder, model_type="ntm", pairs=TINY, num_batches=6, **settings):
    spec = resolve_params("copy", model_type, list(pairs), settings_overrides={
        "batch_size": 4, "num_batches": num_batches, "report_interval": 2, "checkpoint_interval": 2, "threads": 1,
        **settings})
    trainer = Trainer(spec, folder, progress=False)
    trainer.run()
    return trainer


# ---- what training writes ---------------------------------------------------------------------------

def test_cost_by_length_averages_each_length_over_its_batches():
    window = [(0.5, 10.0, 1.0, 3), (0.5, 4.0, 0.0, 1), (0.5, 20.0, 2.0, 3), (0.5, 1.23456, 0.0, 12)]
    assert cost_by_length(window) == {"1": 4.0, "3": 15.0, "12": 1.235}
    assert list(cost_by_length(window)) == ["1", "3", "12"]          # ascending by length, not as text


def test_every_report_has_cost_by_length_matching_its_mean_cost(tmp_path):
    tiny_run(tmp_path, report_interval=3)
    for record in read_jsonl(tmp_path / "metrics.jsonl"):
        by_length = record["cost_by_length"]
        assert by_length and all(1 <= int(n) <= 3 for n in by_length)
        # the report's mean cost lies within its lengths' means (each batch has one length)
        assert min(by_length.values()) - 1e-3 <= record["cost_bits"] <= max(by_length.values()) + 1e-3


def test_the_lengths_reported_are_the_lengths_trained_on(tmp_path):
    """report_interval=1: each report is one batch, so its one length is that batch's (the same
    draw task.sample makes from a generator with the run's seed)."""
    trainer = tiny_run(tmp_path, num_batches=5, report_interval=1)
    generator = torch.Generator().manual_seed(trainer.spec.seed)
    expected = [trainer.task.sample(4, generator).num_steps // 2 for _ in range(5)]   # copy: T = 2L + 1
    assert [list(map(int, r["cost_by_length"])) for r in read_jsonl(tmp_path / "metrics.jsonl")] == \
        [[n] for n in expected]


def test_history_lengths_double_the_training_length_within_the_memory():
    trainer = Trainer(resolve_params("copy", "ntm", TINY), "/nonexistent-never-written", progress=False)
    assert history_lengths(trainer.task, trainer.model) == [3, 6]         # 8 slots hold 6
    small = Trainer(resolve_params("copy", "ntm", ["memory_slots=4", "max_len=3", "controller_size=8"]),
                    "/nonexistent-never-written", progress=False)
    assert history_lengths(small.task, small.model) == [3, 4]             # 4 slots hold only 4
    lstm = Trainer(resolve_params("copy", "lstm", ["hidden_size=8", "max_len=3"]), "/nonexistent-never-written",
                   progress=False)
    assert history_lengths(lstm.task, lstm.model) == [3, 6]              # no memory: no cap


def test_every_report_appends_the_outputs_on_the_fixed_examples(tmp_path):
    tiny_run(tmp_path)
    fixed = json.loads((tmp_path / "fixed_examples.json").read_text())["examples"]
    assert [e["length"] for e in fixed] == [3, 6]
    assert [len(e["targets"]) for e in fixed] == [3, 6]                  # the scored steps, copy: L
    lines = read_jsonl(tmp_path / "samples.jsonl")
    assert [line["batches"] for line in lines] == [2, 4, 6]
    assert [line["sequences"] for line in lines] == [8, 16, 24]
    for line in lines:
        assert [len(out) for out in line["outputs"]] == [3, 6]
        values = [v for out in line["outputs"] for row in out for v in row]
        assert all(0 <= v <= 1 and round(v, 3) == v for v in values)
    assert lines[0]["outputs"] != lines[-1]["outputs"]                    # the model changed
    # the first example is sample.json's, and at the last report it gives the same answer
    sample = json.loads((tmp_path / "sample.json").read_text())
    scored = [o for o, m in zip(sample["outputs"], sample["mask"]) if m]
    assert lines[-1]["outputs"][0] == [[round(v, 3) for v in row] for row in scored]


def test_a_resumed_run_replaces_the_history_written_after_its_checkpoint(tmp_path):
    """A crash after the report at batch 6, the checkpoint at batch 4: the history is not doubled,
    and ends as an uninterrupted run's does."""
    tiny_run(tmp_path / "whole", num_batches=8, checkpoint_interval=4)
    spec = resolve_params("copy", "ntm", TINY, settings_overrides={
        "batch_size": 4, "num_batches": 8, "report_interval": 2, "checkpoint_interval": 4, "threads": 1})

    def crash(record):
        if record["batches"] == 6:
            raise RuntimeError("power cut")
    with pytest.raises(RuntimeError):
        Trainer(spec, tmp_path / "split", progress=False, on_report=crash).run()
    Trainer(spec, tmp_path / "split", resume=True, progress=False).run()
    split, whole = read_jsonl(tmp_path / "split" / "samples.jsonl"), read_jsonl(tmp_path / "whole" / "samples.jsonl")
    assert [line["batches"] for line in split] == [2, 4, 6, 8]
    assert split == whole


# ---- the observatory's rows ------------------------------------------------------------------------

@pytest.fixture
def two_jobs(jobs_data_dir, tmp_path):
    """Two finished runs in job folders, as the job launcher leaves them (job.json, exit.json)."""
    from ntm.jobs import jobs_dir
    for i, (model_type, pairs) in enumerate([("ntm", TINY), ("lstm", ["hidden_size=8", "max_len=3"])]):
        folder = jobs_dir() / f"20260101-00000{i}-abcde{i}"
        trainer = tiny_run(folder, model_type, pairs, num_batches=4)
        (folder / "job.json").write_text(json.dumps({
            "id": folder.name, "name": f"{model_type} run", "created": 1000.0 + i, "spec": trainer.spec.to_dict(),
            "preset": {"name": f"p{i}", "path": str(tmp_path / f"p{i}")}, "launches": [{"launch": 1, "pid": None}]}))
        (folder / "exit.json").write_text(json.dumps({"launch": 1, "outcome": "cancelled", "message": ""}))
    return jobs_dir()


def test_runs_from_job_folders_give_curve_and_length_rows(two_jobs):
    runs = [r for r in obs.list_runs("copy") if r.source == "job"]
    assert [(r.label, r.model_type, r.model_label, r.state) for r in runs] == \
        [("lstm run", "lstm", "LSTM", "cancelled"), ("ntm run", "ntm", "NTM (lstm)", "cancelled")]
    rows = obs.curve_rows(runs)
    assert [(r["run"], r["sequences"]) for r in rows] == \
        [("lstm run", 8), ("lstm run", 16), ("ntm run", 8), ("ntm run", 16)]
    assert all(r["cost_bits"] > 0 and r["seed"] == 1000 and r["task"] == "copy" for r in rows)
    lengths = obs.length_rows(runs[1])
    metrics = read_jsonl(runs[1].folder / "metrics.jsonl")
    assert len(lengths) == sum(len(m["cost_by_length"]) for m in metrics)
    assert {(r["sequences"], r["length"]) for r in lengths} == \
        {(m["sequences"], int(n)) for m in metrics for n in m["cost_by_length"]}


def test_presets_with_a_curve_are_runs_and_another_task_filters_them_out(two_jobs):
    runs = obs.list_runs("copy")
    presets = [r for r in runs if r.source == "preset"]
    assert {"preset copy", "preset lstm-copy"} <= {r.label for r in presets}
    copy = next(r for r in presets if r.label == "preset copy")
    assert copy.model_type == "ntm" and len(obs.curve_rows([copy])) == len(copy.curve) > 1
    assert obs.history(copy) is None                         # presets keep no output history
    assert not [r for r in obs.list_runs("associative-recall") if r.source == "job"]
    assert len({r.label for r in runs}) == len(runs) and len({r.key for r in runs}) == len(runs)


def test_the_history_of_a_job_has_one_frame_per_report(two_jobs):
    run = next(r for r in obs.list_runs("copy") if r.label == "ntm run")
    hist = obs.history(run)
    assert [e["length"] for e in hist["examples"]] == [3, 6]
    assert [f["batches"] for f in hist["frames"]] == [2, 4]
    assert len(hist["frames"][0]["outputs"][1]) == len(hist["examples"][1]["targets"]) == 6


def test_a_live_look_records_the_latest_checkpoint_on_a_fixed_example(two_jobs):
    ntm_run, lstm_run = (next(r for r in obs.list_runs("copy") if r.label == name) for name in ("ntm run", "lstm run"))
    trace = obs.live_trace(ntm_run.folder)
    assert isinstance(trace, Trace) and trace.meta["batches"] == 4 and trace.meta["length"] == 3
    assert trace.steps == 7 and trace.memory.shape == (8, 8, 8)         # T + 1 memories of 8 x 8
    assert obs.live_trace(ntm_run.folder, length=6).steps == 13
    with pytest.raises(obs.ObservatoryError, match="no memory"):
        obs.live_trace(lstm_run.folder)
    with pytest.raises(obs.ObservatoryError, match="No checkpoint yet"):
        obs.live_trace(two_jobs)
