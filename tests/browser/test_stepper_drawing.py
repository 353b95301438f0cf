"""In a real browser (Debian's Chromium through Playwright): the Step-through stepper draws a step into what
Plotly drew (a heatmap's picture by Plotly's own heatmap drawing, bars, lines, cursors and texts in the
SVG) instead of redrawing every figure. What it draws must be what Plotly draws: after steps, every view's
SVG equals Plotly.newPlot of the same figure at the same size. And Pause stops on the step shown."""

import re

import pytest
from playwright.sync_api import expect

from ntm.presets import builtin_presets_dir

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

WAIT = 120_000         # ms; a cold first run loads torch and the model, on a busy 2-core machine

# What Plotly drew in a graph div: bar paths and fills, line paths, heatmap pictures and their placement,
# shape paths, the title and annotation texts (as drawn: tspans and all).
DRAWING = """gd => ({
  bars: [...gd.querySelectorAll('.barlayer g.point > path')].map(p => [p.getAttribute('d'), p.style.fill]),
  lines: [...gd.querySelectorAll('.scatterlayer path.js-line')].map(p => p.getAttribute('d')),
  images: [...gd.querySelectorAll('.heatmaplayer image')].map(i =>
      ['href', 'x', 'y', 'width', 'height', 'style'].map(a => i.getAttribute(a))),
  shapes: [...gd.querySelectorAll('.shapelayer path')].map(p => p.getAttribute('d')),
  title: gd.querySelector('.gtitle')?.innerHTML ?? null,
  annotations: [...gd.querySelectorAll('.annotation-text')].map(a => a.innerHTML),
})"""

# Every stepper view next to a fresh Plotly.newPlot of its figure (its data and layout at the t it shows,
# at its drawn width and height): the parts that differ, by view.
COMPARE = """async () => {
  const drawing = """ + DRAWING + """;
  const out = {};
  for (const gd of document.querySelectorAll('.ntm-plot[data-ntm-view]')) {
    const fresh = document.createElement('div');
    fresh.style.position = 'absolute';
    fresh.style.left = '-10000px';
    document.body.appendChild(fresh);
    const layout = {...gd.layout, width: gd._fullLayout.width, height: gd._fullLayout.height};
    await Plotly.newPlot(fresh, gd.data, layout, {...gd._context, responsive: false});
    const a = drawing(gd), b = drawing(fresh);
    const differ = Object.keys(a).filter(k => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (differ.length) out[gd.dataset.ntmView] = Object.fromEntries(differ.map(k => [k,
        [JSON.stringify(a[k]).slice(0, 400), JSON.stringify(b[k]).slice(0, 400)]]));
    Plotly.purge(fresh);
    fresh.remove();
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(app_server):
    for preset in ("copy", "dnc-copy"):
        assert (builtin_presets_dir() / preset / "config.json").is_file(), f"presets/{preset} is missing"
    return app_server


def wait_for_t(page, t: int, views: int) -> None:
    """The heading says t, and every view the stepper draws (at least ``views``) shows t."""
    page.get_by_role("heading", name=re.compile(rf"^t = {t}\b")).wait_for(timeout=WAIT)
    page.wait_for_function("""([t, n]) => { const views = [...document.querySelectorAll('[data-ntm-view]')];
        return views.length >= n && views.every(v => v.dataset.t === String(t)); }""", arg=[t, views],
        timeout=WAIT)


def settled(page, t: int) -> None:
    """The browser has reported t to the server (and the data of that rerun came back)."""
    page.wait_for_function("t => window.__ntmStepper && window.__ntmStepper.known === t", arg=t, timeout=WAIT)


@pytest.mark.parametrize("preset, length, views", [("copy", 6, 9), ("dnc-copy", 4, 10)])
def test_a_stepped_view_is_drawn_as_plotly_draws_its_figure(server, page, preset, length, views):
    # Opened at t = 2, not 0: a cursor on the first or last column widens Plotly's autorange of the time
    # axis by its line's half width, which a step keeps as first drawn (not part of this comparison).
    page.goto(f"{server.url}/step-through?preset={preset}&seed=1&length={length}&t=2")
    wait_for_t(page, 2, views)
    settled(page, 2)
    before = page.evaluate("() => [...document.querySelectorAll('.ntm-plot')].map(gd => gd.querySelector('.gtitle')"
                           "?.textContent)")
    page.get_by_role("button", name="Next").click()
    wait_for_t(page, 3, views)
    page.get_by_role("button", name="Next").click()
    wait_for_t(page, 4, views)
    page.get_by_role("button", name="Prev").click()
    wait_for_t(page, 3, views)
    after = page.evaluate("() => [...document.querySelectorAll('.ntm-plot')].map(gd => gd.querySelector('.gtitle')"
                          "?.textContent)")
    assert after != before                           # the step changed what is drawn
    assert page.evaluate(COMPARE) == {}


def test_pause_stops_on_the_step_shown(server, page):
    page.goto(f"{server.url}/step-through?preset=copy&seed=2&length=6&t=0")
    wait_for_t(page, 0, 9)
    settled(page, 0)
    page.get_by_role("combobox", name="Play speed").select_option("2")
    # Every t the heading shows while playing, and what the heading and the views show when Pause is clicked.
    page.evaluate("""() => {
        const heading = document.querySelector('.ntm-heading');
        window.__shown = [];
        new MutationObserver(() => window.__shown.push(Number(heading.dataset.t)))
          .observe(heading, {attributes: true, attributeFilter: ['data-t']});
        document.addEventListener('click', e => {
          if (e.target.closest('button')?.textContent.trim() === 'Pause') window.__atPause = {
            heading: Number(heading.dataset.t),
            views: [...document.querySelectorAll('[data-ntm-view]')].map(v => Number(v.dataset.t)) };
        }, {capture: true});
    }""")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("() => window.__shown.includes(3)", timeout=WAIT)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=WAIT)
    at_pause = page.evaluate("() => window.__atPause")
    t = at_pause["heading"]
    assert 3 <= t < 12
    settled(page, t)                                 # stepping stopped: t reported, the rerun came back
    wait_for_t(page, t, 9)
    expect(page.get_by_role("slider", name="Timestep t")).to_have_value(str(t))
    expect(page).to_have_url(re.compile(rf"[?&]t={t}(&|$)"))
    shown = page.evaluate("() => window.__shown")
    steps = [s for i, s in enumerate(shown) if i == 0 or s != shown[i - 1]]
    assert steps == list(range(steps[0], t + 1))     # every step shown in order, none after the pause
