"""In a real browser at a projector's 1280 x 720, in teacher mode: the Step-through page's lecture layout.
The controls sit in a bar that stays in view; with the bar at the top, one screen shows the input/target/
output strip, the memory, the weightings over time and the chosen head's stages with their equations above
their own pictures, and no button label, figure title or equation overflows its box. Keys step there."""

import re

import pytest
import torch
from playwright.sync_api import expect

from ntm.model import NTM, NTMConfig
from ntm.presets import save_preset
from ntm.tasks import make_task

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

PRESET = "lecture-test-copy"
WAIT = 120_000        # ms; a cold first run records the trace and draws every view at every t, on a busy machine
SCREEN = {"width": 1280, "height": 720}
ONE_SCREEN = ("sequence", "memory", "weights")


@pytest.fixture(scope="module")
def server(app_server):
    """The app server, with the paper's copy configuration (128 slots, one read and one write head)."""
    task = make_task("copy", seq_width=8, max_len=20)
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=100, memory_slots=128,
                          memory_width=20, heads="rw"))
    save_preset(app_server.data_dir / "presets" / PRESET, model, task, {}, "lecture test preset")
    return app_server


def wait_for_t(page, t: int) -> None:
    page.wait_for_function("""t => { const views = [...document.querySelectorAll('.ntm-plot[data-ntm-view]')];
        return views.length >= 5 && views.every(v => v.dataset.t === String(t))
            && document.querySelector('.ntm-heading').dataset.t === String(t); }""", arg=t, timeout=WAIT)


# The bar's block scrolled to where it sticks, then every box of interest measured on screen.
MEASURE = """() => {
  const block = document.querySelector('.ntm-controls').closest('[data-testid="stElementContainer"]');
  let scroller = block.parentElement;
  while (scroller && !(scroller.scrollHeight > scroller.clientHeight + 1 &&
         /(auto|scroll)/.test(getComputedStyle(scroller).overflowY))) scroller = scroller.parentElement;
  scroller = scroller || document.scrollingElement;
  const stick = parseFloat(getComputedStyle(block).top) || 0;
  scroller.scrollTop += block.getBoundingClientRect().top - stick;
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const plots = Object.fromEntries([...document.querySelectorAll('.ntm-plot[data-ntm-view]')].map(
      p => [p.dataset.ntmView, box(p)]));
  const header = document.querySelector('[data-testid="stHeader"]');
  return {
    stick, header: header ? box(header).bottom : 0, bar: box(document.querySelector('.ntm-bar')),
    controls: box(document.querySelector('.ntm-controls')), plots,
    equations: [...document.querySelectorAll('[class*="st-key-st_equations"] .katex-display')].map(e => ({
      ...box(e), over: e.scrollWidth - e.clientWidth, inner: box(e.querySelector('.katex'))})),
    buttons: [...document.querySelectorAll('.ntm-bar button, [data-testid="stMainBlockContainer"] button')]
      .filter(b => b.offsetParent).map(b => ({label: b.innerText.trim(), over: b.scrollWidth - b.clientWidth})),
    titles: [...document.querySelectorAll('.ntm-plot')].filter(p => p.querySelector('.gtitle')).map(p => ({
      view: p.dataset.ntmView, title: box(p.querySelector('.gtitle')), plot: box(p)})),
    story: document.querySelector('.ntm-story').textContent,
  };
}"""


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["left"] >= outer["left"] - slack and inner["right"] <= outer["right"] + slack
            and inner["top"] >= outer["top"] - slack and inner["bottom"] <= outer["bottom"] + slack)


def test_the_lecture_layout_fits_one_projector_screen_and_keys_step(server, browser):
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.goto(f"{server.url}/step-through?preset={PRESET}&length=10&t=4&teacher=1")
    wait_for_t(page, 4)
    expect(page.get_by_role("radio", name="write 1")).to_be_checked(timeout=WAIT)
    page.wait_for_timeout(300)              # a ResizeObserver redraw settles
    m = page.evaluate(MEASURE)
    screen = {"top": max(m["header"], 0), "bottom": SCREEN["height"], "left": 0, "right": SCREEN["width"]}

    assert inside(m["bar"], screen), m["bar"]                                   # the controls, whole
    for name in (*ONE_SCREEN, "addressing:write 1"):                            # the one screen
        assert inside(m["plots"][name], screen), (name, m["plots"][name])
        assert m["plots"][name]["top"] >= m["controls"]["bottom"] - 1, name       # not under the bar
    stages = m["plots"]["addressing:write 1"]
    assert len(m["equations"]) == 4                                            # the four stages' equations
    for eq in m["equations"]:
        assert inside(eq, screen) and eq["bottom"] <= stages["top"] + 1, eq      # above their pictures
        assert stages["left"] - 1 <= eq["left"] and eq["right"] <= stages["right"] + 1, eq
        # not clipped: the typeset equation lies inside its box (KaTeX's struts may make it scrollable by
        # a pixel or two, which hides nothing)
        assert inside(eq["inner"], eq) and eq["over"] <= 3, eq
    lefts = [eq["left"] for eq in m["equations"]]
    assert lefts == sorted(lefts)
    for button in m["buttons"]:
        assert button["over"] <= 1, button                                      # no label cut off ("F…")
    assert {"First", "Prev", "Next", "Last", "Play"} <= {b["label"] for b in m["buttons"]}
    for t in m["titles"]:
        assert inside(t["title"], t["plot"]), t                                 # no title cut at the edge
    assert re.match(r"^\w", m["story"]), m["story"]                             # what to look at at t

    # The bar stays in view while the page scrolls on to the rest.
    page.evaluate("""() => { let s = document.querySelector('.ntm-controls').parentElement;
        while (s && !(s.scrollHeight > s.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(s).overflowY)))
            s = s.parentElement;
        (s || document.scrollingElement).scrollTop += 900; }""")
    bar = page.evaluate("() => document.querySelector('.ntm-bar').getBoundingClientRect().toJSON()")
    assert bar["top"] >= m["header"] - 1 and bar["bottom"] <= SCREEN["height"], bar
    assert abs(bar["top"] - m["bar"]["top"]) <= 2, (bar, m["bar"])

    # A clicker's PageDown and the arrows step every view; the story moves with t.
    story = m["story"]
    page.mouse.click(SCREEN["width"] - 5, SCREEN["height"] - 5)
    page.keyboard.press("PageDown")
    wait_for_t(page, 5)
    page.keyboard.press("ArrowRight")
    wait_for_t(page, 6)
    assert page.locator(".ntm-story").text_content() != story or "Now:" not in story
    expect(page.locator('.ntm-plot[data-ntm-view="memory"] .gtitle')).to_have_text(re.compile(r"step 6\b"))
    context.close()
