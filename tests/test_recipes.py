"""Training recipes (ntm.recipes): each is a valid run the app may start, handed out as a copy; the
five-minute recipes train the full-size tasks; and the wall-time budget (``-p max_seconds``) that
stops them."""

import json
import time

import pytest

from ntm import jobs
from ntm.io import ROOT
from ntm.presets import load_checkpoint
from ntm.recipes import (FIVE_MINUTE_RECIPES, LECTURE_DEMO, RECIPES, TASK_RECIPES, reached, recipe_spec,
                         task_recipe)
from ntm.tasks import make_task
from ntm import training
from ntm.training import RunSpec, Trainer, resolve_params

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]


def test_the_lecture_demo_is_a_small_copy_ntm_within_the_apps_limits():
    spec = recipe_spec("lecture-demo")
    assert (spec.task, spec.model_type) == ("copy", "ntm")
    assert spec.task_params["max_len"] < 20 and spec.model["memory_slots"] < 128     # smaller than the paper's
    jobs.check_limits(spec)                                                           # the app may start it
    assert RunSpec.from_dict(spec.to_dict()) == spec


def test_a_recipe_is_handed_out_as_a_copy():
    spec = recipe_spec(LECTURE_DEMO.name)
    spec.settings.lr, spec.model["memory_slots"] = 1.0, 4
    assert LECTURE_DEMO.spec.settings.lr != 1.0 and LECTURE_DEMO.spec.model["memory_slots"] != 4
    assert recipe_spec(LECTURE_DEMO.name) == LECTURE_DEMO.spec


def test_an_unknown_recipe_names_the_ones_there_are():
    with pytest.raises(KeyError, match="lecture-demo"):
        recipe_spec("nope")
    assert set(RECIPES) == {"lecture-demo", "copy-5min", "repeat-copy-5min", "associative-recall-5min",
                            "dynamic-ngrams-5min", "priority-sort-5min"}


def test_the_lecture_demo_trains_with_our_own_trainer(tmp_path):
    spec = recipe_spec(LECTURE_DEMO.name)
    spec.settings.num_batches, spec.settings.report_interval = 3, 1
    reports = []
    Trainer(spec, tmp_path / "run", progress=False, on_report=reports.append).run()
    assert [r["batches"] for r in reports] == [1, 2, 3] and all(r["bit_errors"] >= 0 for r in reports)


# ---- the five-minute recipes ----------------------------------------------------------------------

PAPER_TASKS = ("copy", "repeat-copy", "associative-recall", "dynamic-ngrams", "priority-sort")


def test_every_paper_task_has_a_five_minute_recipe_on_its_full_size_task():
    assert set(TASK_RECIPES) == set(PAPER_TASKS) and task_recipe("cdcl-nli") is None
    for recipe in FIVE_MINUTE_RECIPES:
        spec = recipe_spec(recipe.name)
        assert task_recipe(spec.task) is recipe and recipe.name == f"{spec.task}-5min"
        # The preset's task, not a shrunk one: the recipe's task is the task's defaults (the paper's).
        assert make_task(spec.task, **spec.task_params).config() == make_task(spec.task).config()
        assert 0 < spec.settings.max_seconds < 300 and spec.settings.compile
        jobs.check_limits(spec)
        assert RunSpec.from_dict(spec.to_dict()) == spec


def test_each_target_is_its_presets_score_on_the_training_distribution():
    for recipe in FIVE_MINUTE_RECIPES:
        if recipe.preset is None:                     # priority sort: no preset yet, nothing to reach
            assert recipe.spec.task == "priority-sort" and recipe.target == {}
            continue
        metrics = json.loads((ROOT / "presets" / recipe.preset / "metrics.json").read_text())
        assert metrics["task"] == recipe.spec.task
        dist = metrics["training_distribution"]
        assert dist["sequences"] == 1000 and reached(recipe.target, dist) is True
        key = "excess_bits" if "excess_bits" in recipe.target else "perfect"
        assert key in dist and abs(recipe.target[key] - dist[key]) < 0.05


def test_reached_compares_in_the_right_direction():
    assert reached({"perfect": 1.0}, {"perfect": 1.0}) and not reached({"perfect": 1.0}, {"perfect": 0.999})
    assert reached({"excess_bits": 3.5}, {"excess_bits": 3.4}) and not reached({"excess_bits": 3.5}, {"excess_bits": 9})
    assert reached({}, {"perfect": 1.0}) is None


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_each_five_minute_recipe_takes_a_step(tmp_path, task):
    spec = recipe_spec(TASK_RECIPES[task])
    spec.settings.num_batches, spec.settings.report_interval, spec.settings.compile = 1, 1, False
    reports = []
    Trainer(spec, tmp_path / "run", progress=False, on_report=reports.append).run()
    assert len(reports) == 1 and reports[0]["sequences"] == spec.settings.batch_size


# ---- the wall-time budget -------------------------------------------------------------------------

def tiny_spec(**settings) -> RunSpec:
    return resolve_params("copy", "ntm", ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4",
                                          "max_len=3"],
                          settings_overrides={"batch_size": 2, "num_batches": 50, "report_interval": 2,
                                              "checkpoint_interval": 0, "threads": 1, **settings})


class FakeClock:
    """``time`` for ntm.training whose perf_counter moves only when told (``tick``)."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()

    def tick(self, seconds: float) -> None:
        self.now += seconds


def test_max_seconds_stops_after_the_batch_that_spends_it_and_checkpoints(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)
    trainer = Trainer(tiny_spec(max_seconds=25.0), tmp_path / "run", progress=False,
                      on_batch=lambda batches: clock.tick(10.0))            # each batch "takes" 10 s
    status = trainer.run()
    assert trainer.batches == 3                                              # 10, 20 < 25 <= 30
    assert status["state"] == "done" and "time limit of 25 s" in status["message"]
    assert load_checkpoint(tmp_path / "run").progress["batches"] == 3


def test_without_max_seconds_the_run_goes_to_num_batches(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)
    trainer = Trainer(tiny_spec(num_batches=6), tmp_path / "run", progress=False,
                      on_batch=lambda batches: clock.tick(1e6))
    status = trainer.run()
    assert trainer.batches == 6 and status["state"] == "done" and status["message"] == ""


def test_max_seconds_is_a_p_setting_checked_and_renewed_on_resume(tmp_path, monkeypatch):
    assert resolve_params("copy", "ntm", ["max_seconds=300"]).settings.max_seconds == 300.0
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(ValueError, match="max_seconds"):
            resolve_params("copy", "ntm", [f"max_seconds={bad}"])
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)
    Trainer(tiny_spec(max_seconds=5.0), tmp_path / "run", progress=False, on_batch=lambda b: clock.tick(10.0)).run()
    resumed = Trainer(tiny_spec(max_seconds=15.0), tmp_path / "run", resume=True, progress=False,
                      on_batch=lambda b: clock.tick(10.0))
    resumed.run()                                             # a fresh budget for the resumed process
    assert resumed.spec.settings.max_seconds == 15.0 and resumed.batches == 1 + 2


def test_a_time_limited_run_reports_the_time_left_as_its_eta(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)
    seen = []
    trainer = Trainer(tiny_spec(max_seconds=100.0), tmp_path / "run", progress=False,
                      on_batch=lambda batches: clock.tick(10.0),
                      on_report=lambda record: seen.append(json.loads((tmp_path / "run" / "status.json").read_text())))
    trainer.run()
    # Reported at batch 4, before that batch's tick: 30 s spent. The 46 batches left would take 460 s at
    # its rate (0.2 sequences/s), the budget ends in 70.
    at4 = next(s for s in seen if s["batches"] == 4)
    assert at4["eta_seconds"] == 70.0 and at4["max_seconds"] == 100.0 and at4["num_batches"] == 50
    unlimited = Trainer(tiny_spec(num_batches=6), tmp_path / "free", progress=False,
                        on_batch=lambda batches: clock.tick(10.0),
                        on_report=lambda record: seen.append(json.loads((tmp_path / "free" / "status.json").read_text())))
    unlimited.run()
    assert seen[-2]["batches"] == 4 and seen[-2]["eta_seconds"] == 20.0           # 2 batches of 2 at 0.2/s
