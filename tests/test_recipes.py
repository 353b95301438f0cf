"""Training recipes (ntm.recipes): each is a valid run the app may start, handed out as a copy."""

import pytest

from ntm import jobs
from ntm.recipes import LECTURE_DEMO, RECIPES, recipe_spec
from ntm.training import RunSpec, Trainer


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
    assert set(RECIPES) == {"lecture-demo"}


def test_the_lecture_demo_trains_with_our_own_trainer(tmp_path):
    spec = recipe_spec(LECTURE_DEMO.name)
    spec.settings.num_batches, spec.settings.report_interval = 3, 1
    reports = []
    Trainer(spec, tmp_path / "run", progress=False, on_report=reports.append).run()
    assert [r["batches"] for r in reports] == [1, 2, 3] and all(r["bit_errors"] >= 0 for r in reports)
