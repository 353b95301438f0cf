"""In a real browser at a projector's 1280 x 720, in teacher mode: the Addressing lab is one screen. For every
named scenario (and the largest memory the lab allows), without scrolling, the controls and every stage's
picture with its equation above it lie between the app's header and the 720 px fold; each equation is whole
(not clipped, not scrolled) and sits above its own picture; the pictures keep a readable plot area; and no
button label, control's value, equation, figure title or legend overflows its box."""

import pytest

from ntm import addressing, lab

from test_explorer_browser import WAIT
from test_pages_browser import no_error_box, settled
from test_teacher_layout import PROJECTOR, drawn, overflows

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# (query, what it shows): every named scenario, and the largest memory (slots and width) the lab takes.
CASES = [(f"scenario={name}", name) for name in lab.SCENARIOS] + [
    (f"scenario=fractional-shift-sharpen&n={lab.MAX_SLOTS}&m={lab.MAX_WIDTH}", "largest memory")]
# How each picture's figure title names it (lower case), in the order of the equations on the page.
PICTURES = ["similarity"] + [f"{stage.label} weighting" for stage in addressing.STAGES]
MIN_PLOT_PX = (150, 110)        # each stage picture's plot area at least this wide and tall (bars stay readable)

MEASURE = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const shown = e => e.checkVisibility();
  const header = document.querySelector('[data-testid="stHeader"]');
  const figures = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(shown).map(c => {
    const title = c.querySelector('.gtitle');
    const legend = c.querySelector('.legend');
    return {title: (title ? title.textContent : '').toLowerCase(), box: box(c), svg: box(c.querySelector('svg.main-svg')),
            areas: [...c.querySelectorAll('.nsewdrag')].map(box), legend: legend ? box(legend) : null};
  });
  const equations = [...document.querySelectorAll('.stMainBlockContainer .katex-display')].filter(shown).map(e => ({
    ...box(e), over: e.scrollWidth - e.clientWidth, inner: box(e.querySelector('.katex'))}));
  const main = document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  const fields = [...document.querySelectorAll('.st-key-lab_controls input')].filter(shown).map(i => ({
    label: i.getAttribute('aria-label'), value: i.value, over: i.scrollWidth - i.clientWidth}));
  return {header: header ? box(header).bottom : 0, figures, equations, fields, scrolled: main.scrollTop,
          controls: box(document.querySelector('.st-key-lab_controls'))};
}"""


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["left"] >= outer["left"] - slack and inner["right"] <= outer["right"] + slack
            and inner["top"] >= outer["top"] - slack and inner["bottom"] <= outer["bottom"] + slack)


def overlaps_across(a: dict, b: dict) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 2


@pytest.mark.parametrize("query,what", CASES, ids=[what for _, what in CASES])
def test_the_lab_fits_one_projector_screen_in_teacher_mode(app_server, browser, query, what):
    context = browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    page.set_default_timeout(WAIT)
    try:
        page.goto(f"{app_server.url}/addressing-lab?{query}&teacher=1")
        page.get_by_role("heading", name="Addressing lab", exact=True).wait_for(timeout=WAIT)
        page.get_by_text("sharpened weighting w", exact=False).first.wait_for(timeout=WAIT)
        settled(page)
        drawn(page)
        no_error_box(page)
        assert page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "true", "sidebar not collapsed"
        page.wait_for_timeout(300)              # a resize redraw settles
        m = page.evaluate(MEASURE)
        screen = {"top": max(m["header"], 0), "bottom": PROJECTOR["height"], "left": 0, "right": PROJECTOR["width"]}
        assert m["scrolled"] == 0

        assert inside(m["controls"], screen), ("controls", m["controls"])
        for field in m["fields"]:                                    # the scenario's name shown whole, not cut
            assert field["over"] <= 1, field
        memory = [f for f in m["figures"] if f["title"].startswith("memory m")]
        assert len(memory) == 1 and inside(memory[0]["box"], screen), ("memory and key", memory)
        pictures = []
        for name in PICTURES:
            (fig,) = [f for f in m["figures"] if name in f["title"]]
            assert inside(fig["box"], screen), (name, fig["box"])                  # above the fold, whole
            for area in fig["areas"]:
                assert area["right"] - area["left"] >= MIN_PLOT_PX[0], (name, "plot area", area)
                assert area["bottom"] - area["top"] >= MIN_PLOT_PX[1], (name, "plot area", area)
            if fig["legend"] is not None:
                assert inside(fig["legend"], fig["svg"]), (name, "legend", fig["legend"])
            pictures.append(fig)
        assert len(m["equations"]) == len(PICTURES), m["equations"]
        for name, eq, fig in zip(PICTURES, m["equations"], pictures):
            assert inside(eq, screen), (name, "equation", eq)
            assert inside(eq["inner"], eq) and eq["over"] <= 3, (name, "equation clipped or scrolled", eq)
            # above its own picture: the first picture below the equation, in the same column
            below = [f for f in m["figures"] if f["box"]["top"] >= eq["bottom"] - 1 and overlaps_across(f["box"], eq)]
            assert below and min(below, key=lambda f: f["box"]["top"]) is fig, (name, "equation not above its picture")
            assert fig["box"]["left"] - 1 <= eq["inner"]["left"] and eq["inner"]["right"] <= fig["box"]["right"] + 1
        problems = overflows(page)
        assert not problems, "\n".join(f"{p['kind']}: {p['text']!r} {p['why']}" for p in problems)
        print(what, "bottom of the last picture:", round(max(f["box"]["bottom"] for f in pictures)))
    finally:
        context.close()
