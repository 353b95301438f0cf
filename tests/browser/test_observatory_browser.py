"""In a real browser: two short training jobs (an NTM and the LSTM baseline) finish, and the
Observatory overlays their learning curves, drawn as lines, beside the presets' curves, with the
output history's slider under them."""

import secrets

import pytest
from playwright.sync_api import expect

from ntm import jobs
from ntm.training import resolve_params

from test_explorer_browser import WAIT, charts, only_local
from test_pages_browser import no_error_box, settled

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

TINY = {"ntm": ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4", "max_len=3"],
        "lstm": ["hidden_size=8", "seq_width=4", "max_len=3"]}


@pytest.fixture
def two_runs(app_server, monkeypatch, wait_until):
    """An NTM and an LSTM job in the app server's data folder, trained to the end."""
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(app_server.data_dir))
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")
    tag = secrets.token_hex(2)
    started = []
    for model_type in ("ntm", "lstm"):
        spec = resolve_params("copy", model_type, TINY[model_type], settings_overrides={
            "batch_size": 4, "num_batches": 8, "report_interval": 2, "checkpoint_interval": 4})
        name = f"obs-{model_type}-{tag}"
        started.append(jobs.start_job(spec, name, name=name, export_sequences=5))
    try:
        wait_until(lambda: all(jobs.get_job(j.id).state == "done" for j in started), 240,
                   lambda: f"jobs to finish: {[(j.name, j.state, j.message) for j in jobs.list_jobs()]}")
        yield [j.name for j in started]
    finally:
        for job in started:
            if jobs.get_job(job.id).active:
                jobs.cancel_job(job.id, grace_seconds=5)


def test_the_overlay_draws_each_chosen_runs_learning_curve(app_server, page, two_runs):
    page.goto(f"{app_server.url}/observatory")
    page.get_by_role("heading", name="Observatory", exact=True).wait_for(timeout=WAIT)
    page.get_by_text("Look inside a job").wait_for(timeout=WAIT)
    settled(page)
    curves = charts(page).first                                      # the page's first figure
    # a new browser context loads Plotly's script bundle afresh: on a loaded machine that takes a while
    expect(curves).to_contain_text("cost per sequence (bits)", timeout=2 * WAIT)
    expect(curves).to_contain_text(two_runs[0], timeout=WAIT)
    legend = curves.locator(".legend").text_content()
    assert all(name in legend for name in two_runs), legend
    assert "NTM (lstm)" in legend and "LSTM" in legend              # the groups' titles
    lines = curves.locator(".scatterlayer .trace path.js-line")
    assert lines.count() >= 2
    drawn = [lines.nth(i).get_attribute("d") or "" for i in range(lines.count())]
    assert sum(d.count("L") >= 2 for d in drawn) >= 2, drawn        # at least two lines of 3+ points
    # the output history of the newest job, with its slider over the reports
    history = charts(page).filter(has_text="sequences seen:")
    expect(history.first).to_be_visible(timeout=WAIT)
    assert history.first.locator(".slider-container").count() == 1
    no_error_box(page)
    only_local(page, app_server)
