"""The Train page (AppTest, with real job processes): the form validates before anything starts,
a started job is listed with its progress, curves and sample, and finishes as a preset; a crash
shows its log; cancel, resume and the concurrency limit work from the page."""

import re

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ntm import jobs
from ntm.io import ROOT
from ntm.jobs.runner import FAULT_ENV
from ntm.presets import list_presets
from ntm.recipes import LECTURE_DEMO, RECIPES, recipe_spec

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("jobs_data_dir")]


def train_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def fill_tiny(at, name="tiny-copy", num_batches=40):
    at.checkbox(key="train_recipe").uncheck()          # the general settings: no compile, no time limit
    for key, value in {"train_batch_size": 4, "train_num_batches": num_batches, "train_lr": 0.01,
                       "train_ntm_controller_size": 16, "train_ntm_memory_slots": 16, "train_ntm_memory_width": 8,
                       "train_copy_max_len": 4, "train_report_interval": 5, "train_checkpoint_interval": 10}.items():
        at.number_input(key=key).set_value(value)
    preset_name(at).set_value(name)


def preset_name(at):
    (box,) = [t for t in at.text_input if t.label == "Save as preset"]
    return box


def submit(at):
    at.button[[b.label for b in at.button].index("Start training")].click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def wait_job(wait_until):
    """``wait_job(predicate)``: the first job for which ``predicate(job)`` holds."""
    def wait(predicate, timeout=120):
        return wait_until(lambda: next((j for j in jobs.list_jobs() if predicate(j)), None), timeout,
                          lambda: f"a job; jobs: {[(j.name, j.state, j.batches) for j in jobs.list_jobs()]}")
    return wait


def texts(elements):
    return " | ".join(str(e.value) for e in elements)


def shown(element) -> str:
    """An element's Markdown as the reader sees it (user values are escaped with ``plain``)."""
    return re.sub(r"\\(.)", r"\1", str(element.value))


def test_the_form_offers_the_fields_of_the_chosen_model():
    at = train_page()
    labels = [n.label for n in at.number_input]
    assert {"Controller size", "Memory slots (N)", "Memory width (M)"} <= set(labels)
    assert "Hidden units per layer" not in labels
    at.radio(key="train_model").set_value("lstm").run()
    labels = [n.label for n in at.number_input]
    assert {"Hidden units per layer", "LSTM layers"} <= set(labels) and "Memory slots (N)" not in labels
    assert preset_name(at).value == "my-copy-lstm"
    at.selectbox(key="train_task").set_value("associative-recall").run()
    assert "max_items" in [n.label for n in at.number_input]
    assert "No jobs yet" in texts(at.info)


def test_the_lecture_demo_starts_its_recipe_and_its_panel_comes_before_the_form():
    at = train_page()
    at.button(key="train_demo").click().run()
    assert not at.exception, at.exception
    (job,) = jobs.list_jobs()
    assert f"Started job {job.id}." in texts(at.success) and job.preset_name == "lecture-demo"
    assert job.spec == LECTURE_DEMO.spec.to_dict()
    assert at.selectbox(key="train_job").value == job.id
    headings = [h.value for h in at.subheader]
    assert headings.index("Current job") < headings.index("New job")          # the job is seen without scrolling
    assert "train_scroll" not in at.session_state                             # the scroll was asked for, once
    # A second demo gets a name of its own (the first is still running: no clash), or a clear refusal.
    at.button(key="train_demo").click().run()
    names = sorted(j.preset_name for j in jobs.list_jobs())
    assert names == ["lecture-demo", "lecture-demo-2"] or (
        names == ["lecture-demo"] and any(shown(e).startswith("Not started:") for e in at.error)), names


def test_the_curves_can_be_smoothed():
    at = train_page()
    fill_tiny(at, num_batches=100_000)
    submit(at)
    assert not at.toggle(key="train_smooth").value
    at.toggle(key="train_smooth").set_value(True).run()
    assert not at.exception, at.exception
    assert at.toggle(key="train_smooth").value


@pytest.mark.parametrize("model_type, label", [("dnc", "DNC"), ("sdnc", "Sparse DNC")])
def test_the_form_starts_a_dnc_job_with_pytorch_dnc_parameters(model_type, label):
    at = train_page()
    at.radio(key="train_model").set_value(model_type).run()
    labels = [n.label for n in at.number_input]
    assert {"Controller size", "Memory cells (N)", "Cell size (W)", "Read heads (R)"} <= set(labels)
    assert "Memory slots (N)" not in labels and preset_name(at).value == f"my-copy-{model_type}"
    for key, value in {"train_batch_size": 2, "train_num_batches": 100_000, f"train_{model_type}_hidden_size": 16,
                       f"train_{model_type}_nr_cells": 8, f"train_{model_type}_cell_size": 4,
                       f"train_{model_type}_read_heads": 2, "train_copy_max_len": 3}.items():
        at.number_input(key=key).set_value(value)
    submit(at)
    (job,) = jobs.list_jobs()
    assert f"Started job {job.id}" in texts(at.success)
    assert job.model_type == model_type
    assert job.spec["model"] == {"hidden_size": 16, "nr_cells": 8, "cell_size": 4, "read_heads": 2}
    assert at.dataframe[0].value["model"].tolist() == [label]      # (the fixture kills the job)


def test_the_device_is_cpu_here_and_goes_into_the_jobs_settings():
    at = train_page()
    assert at.selectbox(key="train_device").options == ["cpu"] and at.selectbox(key="train_device").value == "cpu"
    fill_tiny(at, num_batches=100_000)
    submit(at)
    (job,) = jobs.list_jobs()
    assert job.spec["settings"]["device"] == "cpu"                 # (the fixture kills the job)


def test_a_gpu_is_offered_when_torch_sees_one_and_the_choice_reaches_the_job(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    at = train_page()
    assert at.selectbox(key="train_device").options == ["cpu", "cuda", "cuda:0", "cuda:1"]
    assert at.selectbox(key="train_device").value == "cpu"
    fill_tiny(at)
    at.selectbox(key="train_device").set_value("cuda:1")
    started, real_start = [], jobs.start_job

    def spy(spec, *args, **kwargs):
        started.append(spec)
        raise jobs.JobError("spied")
    monkeypatch.setattr(jobs, "start_job", spy)
    submit(at)
    assert [spec.settings.device for spec in started] == ["cuda:1"]
    # Without the spy this machine (no CUDA) refuses the job with what to do, and nothing starts.
    monkeypatch.setattr(jobs, "start_job", real_start)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    submit(at)
    assert any(shown(e).startswith("Not started: CUDA is not available") for e in at.error), texts(at.error)
    assert jobs.list_jobs() == []


@pytest.mark.parametrize("change, message", [
    ({"train_copy_min_len": 9}, "min_len"),                                   # min_len > max_len (4)
    ({"name": "../outside"}, "not a safe folder name"),
])
def test_a_bad_value_is_a_clear_message_and_nothing_starts(change, message):
    at = train_page()
    fill_tiny(at, name=change.pop("name", "tiny-copy"))
    for key, value in change.items():
        at.number_input(key=key).set_value(value)
    submit(at)
    assert any(message in shown(e) and shown(e).startswith("Not started:") for e in at.error), texts(at.error)
    assert jobs.list_jobs() == []
    assert not jobs.jobs_dir().exists() or not [p for p in jobs.jobs_dir().iterdir() if p.is_dir()]


@pytest.mark.slow
def test_a_job_started_from_the_page_shows_progress_and_becomes_a_preset(wait_job):
    at = train_page()
    fill_tiny(at, num_batches=40)
    submit(at)
    (job,) = jobs.list_jobs()
    assert f"Started job {job.id}" in texts(at.success)
    assert job.spec["model"] == {"controller_size": 16, "memory_slots": 16, "memory_width": 8}
    assert job.spec["settings"]["batch_size"] == 4 and job.spec["task_params"]["max_len"] == 4
    assert at.selectbox(key="train_job").value == job.id
    assert at.dataframe[0].value["preset"].tolist() == ["tiny-copy"]

    wait_job(lambda j: j.state == "running" and j.batches >= 10)
    at.run()
    (bar,) = at.get("progress")
    assert 0 < bar.proto.value < 100 and "sequences" in bar.proto.text and "ETA" in bar.proto.text
    curves = at.get("plotly_chart")[0].proto.spec
    assert '"loss"' in curves and '"sequences seen"' in curves

    wait_job(lambda j: j.state == "done")
    at.run()
    assert not at.exception
    (bar,) = at.get("progress")
    assert bar.proto.value == 100 and "160 of 160 sequences" in bar.proto.text
    assert "Saved as preset **tiny-copy**." in texts(at.success)
    assert "tiny-copy" in [p.name for p in list_presets()]
    assert "heatmap" in at.get("plotly_chart")[1].proto.spec
    # The next suggestion does not clash with the saved preset.
    assert preset_name(at).value == "my-copy-ntm"
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    assert "Step through tiny-copy" in links and "Compare on the Generalisation page" in links

    # The new preset is offered at once in the step-through page, and opens there.
    at.switch_page("pages/step_through.py").run()
    (chooser,) = [s for s in at.selectbox if s.label == "Preset"]
    assert any(o.startswith("tiny-copy — copy · NTM") for o in chooser.options), chooser.options
    chooser.set_value("tiny-copy").run()
    assert not at.exception and not at.error, [e.value for e in at.error]


@pytest.mark.slow
def test_a_crashed_job_is_shown_as_failed_with_its_log(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "crash-after-batches:2")
    at = train_page()
    fill_tiny(at, name="crashy")
    submit(at)
    wait_job(lambda j: j.state == "failed")
    at.run()
    assert "Failed: RuntimeError: injected fault" in texts(at.error)
    assert any("Traceback (most recent call last)" in c.value for c in at.code)
    assert [b.label for b in at.button if b.label in ("Cancel", "Resume")] == []


@pytest.mark.slow
def test_a_diverged_job_says_what_to_try_and_resumes_with_half_the_learning_rate(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "nan-after-batches:12")
    at = train_page()
    fill_tiny(at, name="diverges")
    submit(at)
    job = wait_job(lambda j: j.state == "diverged")
    at.run()
    assert "the loss became nan" in texts(at.warning) and "-p lr=0.005" in texts(at.warning)
    monkeypatch.delenv(FAULT_ENV)
    (button,) = [b for b in at.button if b.label == "Resume with half the learning rate"]
    button.click().run()
    assert not at.exception, at.exception
    assert "Resumed from the last checkpoint." in texts(at.success)
    job = wait_job(lambda j: j.id == job.id and j.state == "done", timeout=180)
    assert job.spec["settings"]["lr"] == 0.005


@pytest.mark.slow
def test_cancel_resume_and_the_concurrency_limit_from_the_page(monkeypatch, wait_job):
    monkeypatch.setenv(FAULT_ENV, "delay-per-batch:0.05")
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    at = train_page()
    fill_tiny(at, name="long-one", num_batches=100_000)
    submit(at)
    (job,) = jobs.list_jobs()

    # A second start while one runs is refused with a clear message, and nothing starts.
    fill_tiny(at, name="second-one")
    submit(at)
    assert any("already running" in shown(e) and "at most 1 at once" in shown(e) for e in at.error), texts(at.error)
    assert [j.id for j in jobs.list_jobs()] == [job.id]

    wait_job(lambda j: j.state == "running" and j.batches >= 5)
    at.run()
    at.button(key=f"cancel-{job.id}").click().run()
    assert jobs.get_job(job.id).state == "cancelled"
    panel = next(m.value for m in at.markdown if "· preset `long-one`" in m.value)
    assert "**cancelled**" in panel
    assert [b.label for b in at.button if b.label in ("Cancel", "Resume")] == ["Resume"]
    at.number_input(key=f"resume-total-{job.id}").set_value(jobs.get_job(job.id).batches + 5)
    at.button(key=f"resume-{job.id}").click().run()
    assert not at.exception
    job = wait_job(lambda j: j.state == "done", timeout=120)
    at.run()
    assert "Saved as preset **long-one**." in texts(at.success) and job.launches == 2


def form_settings(at) -> tuple:
    return tuple(at.number_input(key=f"train_{k}").value for k in ("batch_size", "num_batches", "lr"))


def test_picking_a_task_fills_the_form_with_its_five_minute_recipe():
    at = train_page()
    copy = RECIPES["copy-5min"].spec.settings
    assert form_settings(at) == (copy.batch_size, copy.num_batches, copy.lr) != (8, 2000, 3e-3)   # not the general
    assert at.checkbox(key="train_recipe").value and "copy-5min" in at.checkbox(key="train_recipe").label
    at.number_input(key="train_batch_size").set_value(7).run()
    at.selectbox(key="train_task").set_value("associative-recall").run()
    recall = RECIPES["associative-recall-5min"].spec.settings
    assert form_settings(at) == (recall.batch_size, recall.num_batches, recall.lr)      # the 7 is replaced
    assert "associative-recall-5min" in at.checkbox(key="train_recipe").label
    at.radio(key="train_model").set_value("lstm").run()                                # no recipe for an LSTM
    assert form_settings(at) == (8, 2000, 3e-3) and not at.checkbox
    at.radio(key="train_model").set_value("ntm").run()
    assert form_settings(at) == (recall.batch_size, recall.num_batches, recall.lr) and at.checkbox(key="train_recipe").value


def test_starting_a_task_with_its_recipe_gives_the_job_the_recipes_settings():
    at = train_page()
    at.selectbox(key="train_task").set_value("repeat-copy").run()
    at.number_input(key="train_num_batches").set_value(5)               # a value the user changed wins
    preset_name(at).set_value("rc-recipe")
    submit(at)
    (job,) = jobs.list_jobs()                                            # (the fixture kills the job)
    expected = recipe_spec("repeat-copy-5min")
    settings = {**expected.to_dict()["settings"], "num_batches": 5,      # and so do the form's intervals
                "report_interval": at.number_input(key="train_report_interval").value,
                "checkpoint_interval": at.number_input(key="train_checkpoint_interval").value}
    assert job.spec["settings"] == settings and settings["max_seconds"] > 0 and settings["compile"]
    assert job.spec["model"] == {**expected.model, "controller_size": 100, "memory_slots": 128, "memory_width": 20}
    assert job.spec["task"] == "repeat-copy"
    assert job.spec["task_params"] == {"seq_width": 8, "min_len": 1, "max_len": 10, "min_repeats": 1,
                                       "max_repeats": 10}


def test_unticking_the_recipe_starts_with_the_general_settings():
    at = train_page()
    at.checkbox(key="train_recipe").uncheck()                           # (a form: sent with the submit)
    preset_name(at).set_value("copy-plain")
    submit(at)
    (job,) = jobs.list_jobs()                                            # (the fixture kills the job)
    assert not job.spec["settings"]["compile"] and job.spec["settings"]["max_seconds"] == 0
    assert "memory_init" not in job.spec["model"]
    assert job.spec["settings"]["batch_size"] == RECIPES["copy-5min"].spec.settings.batch_size      # the form's
