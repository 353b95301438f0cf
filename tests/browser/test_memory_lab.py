"""In a real browser: the Memory lab draws every stage with its equation, and picking a scenario
redraws the allocation (the free slot moves) and puts the scenario in the URL."""

import re
import time

import pytest
from playwright.sync_api import expect

from test_explorer_browser import WAIT, charts, only_local

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
CHARTS = 14
FIRST_DRAW = 150_000   # ms: a cold first draw of 14 Plotly charts took from 5 s to over 60 s on the loaded 2-core machine


def wait_until(page, condition, what: str, timeout_ms: int = WAIT) -> None:
    """Check ``condition()`` every 250 ms until it holds; fail after ``timeout_ms``. (A locator's own
    wait polls the page without pause, which was seen to keep this long page's Plotly charts from
    being drawn at all; between these checks the page is idle.)"""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}")
        page.wait_for_timeout(250)


def test_picking_a_scenario_redraws_the_allocation(app_server, page):
    page.goto(f"{app_server.url}/memory-lab")
    page.get_by_role("heading", name="Memory lab", exact=True).wait_for(timeout=WAIT)
    wait_until(page, lambda: charts(page).count() == CHARTS, f"the page's {CHARTS} charts", FIRST_DRAW)
    allocation = page.locator(".st-key-mlab_fig_allocation_0 [data-testid='stPlotlyChart']")
    allocation.get_by_text("φ = 0, 1, 2, 3, 4, 5").wait_for(timeout=WAIT)   # empty memory: slot order
    assert page.locator(".katex").count() >= 11                            # every stage's equation
    page.get_by_text("ntm/dnc/addressing.py:").first.wait_for(timeout=WAIT)
    before = allocation.screenshot()

    scenario = page.get_by_role("combobox", name="Scenario", exact=True)
    scenario.click()
    page.get_by_role("option", name="Free gate releases what was read").click()
    expect(page).to_have_url(re.compile(r"scenario=free"), timeout=WAIT)
    wait_until(page, lambda: allocation.get_by_text("φ = 2, 0, 1, 3, 4, 5").count() == 1,
               "the allocation to be sorted with the freed slot 2 first")
    page.wait_for_timeout(500)
    assert allocation.screenshot() != before
    only_local(page, app_server)
