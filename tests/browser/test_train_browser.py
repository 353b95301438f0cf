"""In a real browser: start a short training job on the Train page, watch its progress bar climb
to 100 % without reloading the page, and find the saved preset in Step through."""

import re

import pytest
from playwright.sync_api import expect

from ntm import jobs

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

TINY_FORM = {"Batch size": "4", "Batches": "300", "Learning rate": "0.0100", "Controller size": "16",
             "Memory slots (N)": "16", "Memory width (M)": "8", "max_len": "4",
             "Report every (batches)": "10", "Checkpoint every (batches)": "50"}
PRESET = "browser-copy"


@pytest.fixture
def server_jobs(app_server, monkeypatch):
    """The app server's data folder, for reading its jobs; any job left running is cancelled."""
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(app_server.data_dir))
    yield app_server
    for job in jobs.list_jobs():
        if job.active:
            jobs.cancel_job(job.id, grace_seconds=5)


def watch_reruns(page) -> list:
    """The rerun requests the browser sends (decoded BackMsgs): a fragment's own rerun names it."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    reruns = []

    def on_frame(payload):
        if isinstance(payload, bytes):
            msg = BackMsg.FromString(payload)
            if msg.WhichOneof("type") == "rerun_script":
                reruns.append(msg.rerun_script)

    page.on("websocket", lambda ws: ws.on("framesent", on_frame))
    return reruns


def test_a_short_job_runs_to_100_percent_and_its_preset_opens_in_step_through(server_jobs, page, wait_until):
    reruns = watch_reruns(page)
    page.goto(f"{server_jobs.url}/train")
    start = page.get_by_role("button", name="Start training")
    start.wait_for()
    page.get_by_text("Task parameters").click()
    page.get_by_text("Reporting and checkpoints").click()
    for label, value in TINY_FORM.items():
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Tab")
    name = page.get_by_role("textbox", name="Save as preset")
    name.fill(PRESET)
    name.press("Tab")
    start.click()
    page.get_by_text(re.compile(r"^Started job \d{8}-\d{6}-[0-9a-f]{6}\.$")).wait_for()
    (job,) = [j for j in jobs.list_jobs() if j.preset_name == PRESET]

    # The panel of the new job updates by itself until 100 %: partial reruns of the jobs fragment,
    # no full-page rerun, no reload.
    page.evaluate("window.__not_reloaded = true")
    before = len(reruns)
    bar = page.locator("[data-testid='stProgress']").first
    seen = []

    def at_100_percent() -> bool:
        text = bar.inner_text()
        if "of 1,200 sequences" not in text:    # the panel may still show the job chosen before (another test's)
            return False
        if not seen or text != seen[-1]:
            seen.append(text)
        return text.startswith("100%")

    wait_until(at_100_percent, 180, lambda: f"100 %; progress seen: {seen}; job {jobs.get_job(job.id).state}",
               interval=0.2)
    assert "1,200 of 1,200 sequences" in seen[-1]
    percents = [int(t.split("%")[0]) for t in seen]
    assert percents == sorted(percents) and any(0 < p < 100 for p in percents), seen
    assert page.evaluate("window.__not_reloaded") is True
    polls = reruns[before:]
    assert len(polls) >= 2 and all(r.fragment_id and r.is_auto_rerun for r in polls), polls

    page.get_by_text(f"Saved as preset {PRESET}.", exact=True).wait_for(timeout=120_000)
    assert jobs.get_job(job.id).state == "done"
    page.get_by_role("link", name=f"Step through {PRESET}").click()
    page.get_by_role("heading", name=re.compile("Step through")).wait_for()
    expect(page.get_by_role("combobox", name="Preset", exact=True)).to_have_value(
        re.compile(rf"^{PRESET} — copy · NTM"), timeout=60_000)
    assert not [u for u in page.requests_seen if not u.startswith(server_jobs.url)], "outside requests"
