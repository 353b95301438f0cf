"""The Observatory page (AppTest, with real job processes in a fresh data folder): the overlay draws
one line per chosen run, coloured by model; a job's outputs over training come as slider frames at
the training length and a longer one; a running job's latest checkpoint is looked inside; the
Train page links each job here."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from ntm import jobs
from ntm.io import ROOT
from ntm.training import resolve_params

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("jobs_data_dir")]

TINY = {"ntm": ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4", "max_len=3"],
        "lstm": ["hidden_size=8", "seq_width=4", "max_len=3"]}


def start(model_type, name, seed=1, num_batches=6, checkpoint_interval=2):
    spec = resolve_params("copy", model_type, TINY[model_type], settings_overrides={
        "batch_size": 4, "num_batches": num_batches, "report_interval": 2, "checkpoint_interval": checkpoint_interval})
    spec.seed = seed
    return jobs.start_job(spec, name, name=name, export_sequences=5)


@pytest.fixture
def finished(monkeypatch, wait_until):
    """Two NTM seeds and an LSTM, trained to the end as jobs."""
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")
    started = [start("ntm", "ntm-seed-1", 1), start("ntm", "ntm-seed-2", 2), start("lstm", "lstm-seed-1", 1)]
    wait_until(lambda: all(jobs.get_job(j.id).state == "done" for j in started), 240,
               lambda: f"jobs to finish: {[(j.name, j.state, j.message) for j in jobs.list_jobs()]}")
    return started


def page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(params)
    at.run()
    at.switch_page("pages/observatory.py").run()
    assert not at.exception, at.exception
    return at


def figure(at, key) -> dict:
    (found,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id]
    return found


def shape(array) -> tuple[int, ...]:
    """The shape of a figure array from st.plotly_chart's JSON: a list, or plotly's typed {dtype, bdata, shape}."""
    if isinstance(array, dict):
        return tuple(int(n) for n in str(array["shape"]).split(","))
    return (len(array), len(array[0]))


def test_the_overlay_draws_one_line_per_chosen_run_coloured_by_model(finished):
    at = page()
    runs = at.multiselect(key="obs_runs_copy")
    labels = [runs.format_func(k) for k in runs.value]
    assert labels[:3] == ["lstm-seed-1 · done", "ntm-seed-2 · done", "ntm-seed-1 · done"]
    assert not [label for label in labels if "my-" in label]           # the jobs' presets are shown once, as jobs
    lines = {t["name"]: t for t in figure(at, "obs_curves")["data"]}
    assert len(lines) == len(runs.value)
    assert {"lstm-seed-1", "ntm-seed-1", "ntm-seed-2", "preset copy", "preset lstm-copy"} <= set(lines)
    assert lines["ntm-seed-1"]["line"]["color"] == lines["ntm-seed-2"]["line"]["color"] == \
        lines["preset copy"]["line"]["color"] != lines["lstm-seed-1"]["line"]["color"]
    assert len(lines["ntm-seed-1"]["x"]) == 3                         # reports at batches 2, 4, 6

    runs.set_value([k for k in runs.value if "preset" in k][:1]).run()
    assert not at.exception, at.exception
    assert [t["name"] for t in figure(at, "obs_curves")["data"]] == ["preset copy"]
    assert "None of the chosen runs kept its outputs" in " ".join(i.value for i in at.info)


def test_outputs_over_training_come_as_slider_frames_at_two_lengths(finished):
    at = page()
    at.selectbox(key="obs_history_run").set_value(f"job:{finished[0].id}").run()
    assert not at.exception, at.exception
    for i, length in enumerate((3, 6)):
        fig = figure(at, f"obs_history_{i}")
        assert [f["name"] for f in fig["frames"]] == ["2", "4", "6"]
        assert [s["label"] for s in fig["layout"]["sliders"][0]["steps"]] == ["8", "16", "24"]
        assert f"**{'Longest training length' if i == 0 else 'Longer than training'}: {length}**" in \
            [m.value for m in at.markdown]
    lengths = figure(at, "obs_lengths")
    assert lengths["data"][0]["type"] == "heatmap"
    at.radio(key="obs_length_kind").set_value("lines").run()
    assert all(t["name"].startswith("length ") for t in figure(at, "obs_lengths")["data"])


def test_a_running_job_is_looked_inside_from_its_latest_checkpoint(monkeypatch, wait_until):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "2")
    job = start("ntm", "live", num_batches=200_000, checkpoint_interval=5)
    start_lstm = start("lstm", "lstm-live", num_batches=4)
    wait_until(lambda: (jobs.get_job(job.id).dir / "checkpoint.json").is_file(), 120, "a first checkpoint")
    wait_until(lambda: jobs.get_job(start_lstm.id).state == "done", 120, "the LSTM job to finish")
    at = page(job=job.id)
    assert at.selectbox(key="obs_inside").value == f"job:{job.id}"
    memory = figure(at, "obs_live_memory")["data"]
    assert memory[0]["type"] == "heatmap" and shape(memory[0]["z"]) == (8, 8)      # 8 slots of width 8
    assert figure(at, "obs_live_weights")["data"]
    assert any("Checkpoint at batch" in c.value and "Refreshed every few seconds" in c.value for c in at.caption)
    jobs.cancel_job(job.id)
    # the LSTM keeps no memory: it is not offered to look inside
    assert f"job:{start_lstm.id}" not in at.selectbox(key="obs_inside").options


def test_without_runs_the_page_says_where_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(tmp_path / "no-presets"))
    at = page()
    assert "No runs yet" in at.info[0].value


def test_the_train_page_links_a_job_to_the_observatory(finished):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    links = [link.proto for link in at.get("page_link") if link.proto.label == "Watch and compare in the Observatory"]
    assert len(links) == 1 and links[0].page == "observatory"
