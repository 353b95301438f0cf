"""In a real browser (Debian's Chromium through Playwright): step through a run, see the heatmaps
drawn, reopen the shared link, use the addressing lab, and never leave 127.0.0.1."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from ntm.model import NTM, NTMConfig
from ntm.presets import save_preset
from ntm.tasks import make_task
from ntm.trace import Trace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PRESET = "explorer-test-copy"
WAIT = 60_000          # ms; a cold first run loads torch and the model


@pytest.fixture(scope="module")
def server(app_server):
    """The app server, with a small NTM preset of our own among the user's presets."""
    task = make_task("copy", seq_width=6, max_len=8)
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=32, memory_slots=24,
                          memory_width=8, heads="rw"))
    save_preset(app_server.data_dir / "presets" / PRESET, model, task, {}, "browser test preset")
    return app_server


def only_local(page, server) -> None:
    outside = [u for u in page.requests_seen if not u.startswith((server.url, "data:", "blob:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert page.requests_seen


def shown_t(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^t = \d+")).inner_text()
    return int(heading.split()[2])


def wait_for_t(page, t: int) -> None:
    page.get_by_role("heading", name=re.compile(rf"^t = {t} ")).wait_for(timeout=WAIT)
    expect(page.get_by_role("slider", name="Timestep t")).to_have_value(str(t), timeout=WAIT)


def not_blank(png: bytes) -> bool:
    """A drawn heatmap has many colours and few white pixels; a blank box has neither."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours = len(np.unique(img, axis=0))
    coloured = float((img.min(axis=1) < 200).mean())
    return colours > 20 and coloured > 0.05


def charts(page):
    return page.locator("[data-testid='stPlotlyChart']")


def test_step_through_next_three_times_then_reopen_the_shared_link(server, page, browser):
    page.goto(server.url)
    page.get_by_role("heading", name="NTM Explorer").wait_for(timeout=WAIT)
    page.get_by_role("link", name="Step through").first.click()
    page.get_by_role("heading", name="Step through an NTM").wait_for(timeout=WAIT)
    wait_for_t(page, 0)

    preset = page.get_by_role("combobox", name="Preset", exact=True)
    preset.click()
    page.get_by_role("option", name=re.compile(rf"^{PRESET} — ")).click()
    expect(preset).to_have_value(re.compile(rf"^{PRESET} — copy · NTM, 24×8 memory"), timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"preset={PRESET}"), timeout=WAIT)
    wait_for_t(page, 0)

    for t in (1, 2, 3):
        page.get_by_role("button", name="Next").click()
        wait_for_t(page, t)
    assert shown_t(page) == 3
    expect(page).to_have_url(re.compile(r"[?&]t=3(&|$)"), timeout=WAIT)

    # Heatmaps drawn, not blank: the sequences, the memory, its change, the weightings over time.
    page.locator(".heatmaplayer image").first.wait_for(timeout=WAIT)
    assert page.locator(".heatmaplayer").count() >= 4
    sequences = charts(page).filter(has_text="Input, target and output")
    assert not_blank(sequences.screenshot())
    assert not_blank(charts(page).filter(has_text="Read and write weightings over time").screenshot())
    assert charts(page).filter(has_text="Memory M after step 3").count() == 1

    # The trace downloads as JSON that the library reads back.
    with page.expect_download(timeout=WAIT) as download:
        page.get_by_role("button", name="Download the trace (JSON)").click()
    trace = Trace.from_json(open(download.value.path(), encoding="utf-8").read())
    assert trace.steps == 21 and trace.meta["preset"] == PRESET and trace.memory.shape == (22, 24, 8)
    only_local(page, server)

    # The link reproduces the view in a fresh browser session.
    shared = page.url
    other = browser.new_context(viewport=page.viewport_size).new_page()
    requests = []
    other.on("request", lambda r: requests.append(r.url))
    other.goto(shared)
    wait_for_t(other, 3)
    expect(other.get_by_role("combobox", name="Preset", exact=True)).to_have_value(
        re.compile(rf"^{PRESET} — "), timeout=WAIT)
    assert other.get_by_role("spinbutton", name="Seed").input_value() == "0"
    other.get_by_text("Memory M after step 3").wait_for(timeout=WAIT)
    assert not [u for u in requests if not u.startswith((server.url, "data:", "blob:"))]
    other.context.close()


def test_a_shared_link_with_teacher_mode_and_own_bits(server, page):
    page.goto(f"{server.url}/step-through?preset={PRESET}&seed=4&bits=101010.010101.111000&t=5&teacher=1")
    wait_for_t(page, 5)
    assert page.get_by_role("switch", name="Teacher mode").is_checked()
    page.get_by_text("Input: your own bits").wait_for(timeout=WAIT)
    assert page.get_by_role("button", name="Download the trace (JSON)").count() == 0
    expect(page).to_have_url(re.compile(r"bits=101010\.010101\.111000"), timeout=WAIT)
    only_local(page, server)


def test_a_bad_link_warns_and_the_page_still_works(server, page):
    page.goto(f"{server.url}/step-through?preset=no-such-preset&t=oops")
    page.get_by_text("is not an available NTM preset").wait_for(timeout=WAIT)
    page.get_by_text("is not a whole number").wait_for(timeout=WAIT)
    wait_for_t(page, 0)
    page.get_by_role("button", name="Next").click()
    wait_for_t(page, 1)
    only_local(page, server)


def test_addressing_lab_recomputes_live(server, page):
    page.goto(f"{server.url}/addressing-lab")
    page.get_by_role("heading", name="Addressing lab").wait_for(timeout=WAIT)
    page.get_by_text("sharpened weighting w").wait_for(timeout=WAIT)
    assert charts(page).count() == 7
    assert page.locator(".katex").count() >= 5                           # every stage's equation
    page.get_by_text("ntm/addressing.py:").first.wait_for(timeout=WAIT)  # and its library lines
    before = charts(page).filter(has_text="sharpened weighting w").screenshot()
    gamma = page.get_by_role("slider", name="γ, sharpening")
    gamma.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    page.get_by_role("heading", name=re.compile(r"Sharpening \(γ = 4")).wait_for(timeout=WAIT)
    page.wait_for_timeout(500)
    assert charts(page).filter(has_text="sharpened weighting w").screenshot() != before
    only_local(page, server)
