"""In a real browser (Debian's Chromium through Playwright): open Step through on the committed DNC preset
``presets/dnc-copy`` by its link, step with the Next button and see the DNC's own panels follow t."""

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from ntm.presets import builtin_presets_dir

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PRESET = "dnc-copy"
WAIT = 120_000         # ms; a cold first run loads torch and the model, on a busy 2-core machine


@pytest.fixture(scope="module")
def server(app_server):
    assert (builtin_presets_dir() / PRESET / "config.json").is_file(), \
        f"presets/{PRESET} is missing: make it with the command in its README (python -m ntm train --model-type dnc ...)"
    return app_server


def wait_for_t(page, t: int) -> None:
    """The heading and the slider say t, and every view the stepper draws shows t."""
    page.get_by_role("heading", name=re.compile(rf"^t = {t} ")).wait_for(timeout=WAIT)
    expect(page.get_by_role("slider", name="Timestep t")).to_have_value(str(t), timeout=WAIT)
    page.wait_for_function("""t => { const views = [...document.querySelectorAll('.ntm-plot[data-ntm-view]')];
        return views.length >= 10 && views.every(v => v.dataset.t === String(t)); }""", arg=t, timeout=WAIT)


def plots(page):
    """Figures drawn by the Step-through stepper (Plotly.js in the page)."""
    return page.locator(".ntm-plot")


def title(page, name: str) -> str:
    """The title the view shows on screen."""
    return page.locator(f'.ntm-plot[data-ntm-view="{name}"] .gtitle').first.text_content()


def not_blank(png: bytes) -> bool:
    """A drawn heatmap has many colours and few white pixels; a blank box has neither."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(img, axis=0)) > 20 and float((img.min(axis=1) < 200).mean()) > 0.05


def test_step_through_a_dnc_with_next_and_its_panels_follow_t(server, page):
    page.goto(f"{server.url}/step-through?preset={PRESET}&length=4")   # as a shared link opens it
    page.get_by_role("heading", name="Step through an NTM or a DNC").wait_for(timeout=WAIT)
    expect(page.get_by_role("combobox", name="Preset", exact=True)).to_have_value(
        re.compile(rf"^{PRESET} — "), timeout=WAIT)
    wait_for_t(page, 0)
    assert title(page, "dnc:link").startswith("Temporal links L at t = 0")
    for heading in ("Which slot is written, and why", "How each read head reads",
                    "Free gates release what was read", "Write 1 head of the DNC"):
        page.get_by_role("heading", name=heading).first.wait_for(timeout=WAIT)

    for t in (1, 2, 3):
        page.get_by_role("button", name="Next").click()
        wait_for_t(page, t)
        assert title(page, "dnc:link").startswith(f"Temporal links L at t = {t}")
    expect(page).to_have_url(re.compile(r"[?&]t=3(&|$)"), timeout=WAIT)
    assert re.match(r"Step 3 (writes slot \d+|hardly writes)", title(page, "dnc:allocation"))
    assert title(page, "dnc:read_modes").startswith("Read modes π up to t = 3")
    assert title(page, "addressing:read 1").endswith("t = 3")
    page.keyboard.press("End")
    last = int(page.get_by_role("slider", name="Timestep t").get_attribute("max"))
    wait_for_t(page, last)
    assert title(page, "dnc:link").startswith(f"Temporal links L at t = {last}")
    page.get_by_text("Temporal link matrix").first.wait_for(timeout=WAIT)           # its equation beside it
    assert page.locator(".katex").count() >= 10

    link = page.locator('.ntm-plot[data-ntm-view="dnc:link"]')
    link.locator(".heatmaplayer image").first.wait_for(timeout=WAIT)
    link.scroll_into_view_if_needed()
    assert not_blank(link.screenshot())
    outside = [u for u in page.requests_seen if not u.startswith((server.url, "data:", "blob:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"
