"""Background evaluations (ntm.jobs.evaluations): a real process per request, results on disk."""

import json
import time

import pytest
import torch

from ntm.evaluation import evaluate
from ntm.jobs import evaluations as ev
from ntm.jobs.control import JobError
from ntm.model import build_model
from ntm.presets import load_preset, save_preset
from ntm.tasks import make_task

pytestmark = pytest.mark.timeout(300)


def wait_for(predicate, seconds=120.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def preset(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    task = make_task("copy", seq_width=4)
    torch.manual_seed(0)
    model = build_model("ntm", {"input_size": task.input_size, "output_size": task.output_size,
                                "controller_size": 8, "memory_slots": 16, "memory_width": 4})
    path = save_preset(tmp_path / "tiny", model, task, {"generalisation": []}, "test")
    return str(path)


def finished(eid):
    def check():
        e = ev.get_evaluation(eid)
        return e if e is not None and not e.active else None
    return check


def test_a_background_evaluation_gives_what_evaluate_gives_and_is_found_again(preset):
    models = {"NTM · tiny": (preset, ["stamp", 1])}
    started = ev.start_evaluation(models, [3, 6], sequences=5, seed=2)
    assert started.total == 2
    done = wait_for(finished(started.id))
    assert done.state == "done", (done.message, ev.log_tail(done.dir / "log.txt"))
    p = load_preset(preset)
    expected = [evaluate(p.model, p.task, n, 5, 2) for n in (3, 6)]
    got = done.results["NTM · tiny"]
    assert [r["length"] for r in got] == [3, 6]
    assert [r["bit_errors"] for r in got] == pytest.approx([r["bit_errors"] for r in expected])
    # The same request is the same evaluation, not a new process; another seed is another one.
    again = ev.start_evaluation(models, [3, 6], sequences=5, seed=2)
    assert again.id == started.id and again.state == "done"
    assert ev.find_evaluation(models, [3, 6], 5, 2).id == started.id
    assert ev.find_evaluation(models, [3, 6], 5, 3) is None
    assert [e.id for e in ev.list_evaluations()] == [started.id]


def test_too_much_work_even_for_the_background_is_refused_with_what_to_do(preset):
    with pytest.raises(JobError, match="fewer sequences or lengths"):
        ev.start_evaluation({"x": (preset, 1)}, [1000, 999], sequences=100_000, seed=0)
    assert ev.list_evaluations() == []


def test_cancel_stops_it_and_one_at_a_time(preset):
    models = {"NTM · tiny": (preset, 1)}
    long = ev.start_evaluation(models, list(range(20, 41)), sequences=2000, seed=0)
    assert long.active
    with pytest.raises(JobError, match="already running"):
        ev.start_evaluation(models, [3], sequences=2, seed=0)
    stopped = ev.cancel_evaluation(long.id)
    assert stopped.state == "cancelled" and not stopped.active
    assert stopped.done < stopped.total
    # A cancelled request can be asked for again: it starts afresh.
    restarted = ev.start_evaluation(models, [3], sequences=2, seed=0)
    assert wait_for(finished(restarted.id)).state == "done"


def test_a_preset_that_cannot_be_opened_fails_with_a_message_not_a_traceback(preset, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    e = ev.start_evaluation({"DNC · broken": (str(tmp_path / "broken"), 1)}, [3], sequences=2, seed=0)
    done = wait_for(finished(e.id))
    assert done.state == "failed" and "preset DNC · broken cannot be opened" in done.message
    assert "Traceback" not in done.message


def test_ids_that_are_not_ours_are_not_looked_up(preset):
    for bad in ("../../etc", "x" * 16, "", "0123456789abcdeg"):
        assert ev.get_evaluation(bad) is None
    assert json.loads(json.dumps(ev.request_of({"a": (preset, (1.5, 2))}, [3], 2, 0)))["models"]["a"]["stamp"] == [1.5, 2]
