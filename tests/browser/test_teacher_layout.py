"""In a real browser at a projector's 1280 x 720, in teacher mode: on every page the sidebar starts
collapsed, metric values are larger than outside teacher mode, and nothing in the main area is cut
off: no button label, metric, equation (KaTeX) or figure title (Plotly's title and annotations)
overflows its box, and no figure's titles overlap each other.

"Overflows" means what a viewer would see cut or spilled: text wider than the element that holds
it (``scrollWidth > clientWidth``: an ellipsis "F…"), or a box reaching beyond its column, its
figure or the window. An equation wider than its column may scroll inside it (nothing is lost).
Views drawn inside a same-origin frame (a custom component) are checked the same way.
"""

import pytest

from test_pages_browser import PAGES, no_error_box, settled
from test_explorer_browser import WAIT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PROJECTOR = {"width": 1280, "height": 720}

# Every problem in a document, as {kind, text, why}; run in the page and in each same-origin frame.
OVERFLOWS_JS = r"""
() => {
  const root = document.querySelector('.stMainBlockContainer') || document.body;
  const view = {left: 0, right: document.documentElement.clientWidth};
  const out = [];
  const shown = el => { const r = el.getBoundingClientRect();
                        return r.width > 0 && r.height > 0 && el.checkVisibility({visibilityProperty: true}); };
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 70);
  const cut = el => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible';
  const box = el => el.getBoundingClientRect();
  const within = (r, c) => r.left >= c.left - 1 && r.right <= c.right + 1;
  const column = el => el.closest("[data-testid='stColumn']") || root;
  const report = (kind, el, why) => out.push({kind, text: text(el), why});
  const spills = (kind, el) => {
    const r = box(el);
    if (!within(r, view)) report(kind, el, `beyond the window (${Math.round(r.left)}..${Math.round(r.right)})`);
    else if (!within(r, box(column(el)))) report(kind, el, 'beyond its column');
  };

  root.querySelectorAll('button, [role=tab]').forEach(b => {
    if (!shown(b) || !text(b) || b.closest('.js-plotly-plot')) return;
    const inner = [b, ...b.querySelectorAll('div, p, span')].filter(shown);
    if (inner.some(cut)) report('button label', b, 'text cut (ellipsis)');
    else spills('button label', b);
  });
  root.querySelectorAll("[data-testid='stMetricValue'], [data-testid='stMetricLabel'], [data-testid='stMetricDelta']")
    .forEach(m => {
      if (!shown(m)) return;
      if ([m, ...m.querySelectorAll('*')].filter(shown).some(cut)) report('metric', m, 'text cut (ellipsis)');
      else spills('metric', m);
    });
  root.querySelectorAll('.katex').forEach(k => {
    if (!shown(k) || k.parentElement.closest('.katex')) return;
    const r = box(k);
    // Walk out to the column: an ancestor that scrolls shows the rest on demand; one that hides it cuts it.
    let el = k.parentElement, verdict = null;
    const col = column(k);
    while (el && el !== col.parentElement && verdict === null) {
      const o = getComputedStyle(el).overflowX;
      if (o === 'auto' || o === 'scroll') verdict = within(box(el), box(col)) ? 'ok' : 'beyond its column';
      else if (o !== 'visible' && !within(r, box(el))) verdict = 'cut off';
      el = el.parentElement;
    }
    if (verdict === null) verdict = within(r, box(col)) && within(r, view) ? 'ok' : 'beyond its column';
    if (verdict !== 'ok') report('equation', k, verdict);
  });
  root.querySelectorAll('.js-plotly-plot').forEach(plot => {
    if (!shown(plot)) return;
    const svg = plot.querySelector('svg.main-svg');
    if (!svg) { report('figure', plot, 'not drawn'); return; }
    const frame = box(svg);
    const titles = [...plot.querySelectorAll('.gtitle, g.annotation')].filter(shown);
    const boxes = titles.map(t => box(t.querySelector('text') || t));
    titles.forEach((t, i) => {
      const r = boxes[i];
      if (r.left < frame.left - 1 || r.right > frame.right + 1 || r.top < frame.top - 1 || r.bottom > frame.bottom + 1)
        report('figure title', t, 'beyond its figure');
      else if (!within(r, view)) report('figure title', t, 'beyond the window');
    });
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 2 && h > 2) report('figure title', titles[i], `overlaps "${text(titles[j])}"`);
      }
  });
  return out;
}
"""


def drawn(page) -> None:
    """Wait until the page is drawn: no placeholder or stale element left from a run, and every
    visible Plotly chart has drawn its figure."""
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stSkeleton'], [data-stale='true']\")"
        " && [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")].filter(c => c.checkVisibility())"
        ".every(c => c.querySelector('svg.main-svg .gtitle, svg.main-svg .xtick, svg.main-svg .annotation'))",
        timeout=WAIT)


def overflows(page) -> list[dict]:
    found = page.evaluate(OVERFLOWS_JS)
    for frame in page.frames[1:]:
        try:
            found += [{**f, "kind": f"{f['kind']} (in a frame)"} for f in frame.evaluate(OVERFLOWS_JS)]
        except Exception:           # a cross-origin or sandboxed frame (the graph page's pyvis) is not ours to read
            continue
    return found


def open_page(browser, url: str):
    context = browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.goto(url)
    return context, page


@pytest.mark.parametrize("path,title,last", PAGES, ids=[p or "home" for p, _, _ in PAGES])
def test_nothing_overflows_in_teacher_mode_at_1280x720(app_server, browser, path, title, last):
    context, page = open_page(browser, f"{app_server.url}/{path}?teacher=1")
    try:
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=WAIT)
        page.get_by_text(last).first.wait_for(timeout=WAIT)
        settled(page)
        drawn(page)
        no_error_box(page)
        assert page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "true", "sidebar not collapsed"
        problems = overflows(page)
        assert not problems, "\n".join(f"{p['kind']}: {p['text']!r} {p['why']}" for p in problems)
    finally:
        context.close()


def test_the_sidebar_reopens_and_metric_values_grow_in_teacher_mode(app_server, browser):
    sizes = {}
    for teacher in (False, True):
        context, page = open_page(browser, f"{app_server.url}/long-term-memory" + ("?teacher=1" if teacher else ""))
        try:
            value = page.get_by_test_id("stMetricValue").first
            value.wait_for(timeout=WAIT)
            settled(page)
            size_of = "el => parseFloat(getComputedStyle(el.querySelector('p, div') || el).fontSize)"
            if teacher:     # the teacher-mode style may land a moment after the metric is drawn
                page.wait_for_function(f"([el, before]) => ({size_of})(el) > before",
                                       arg=[value.element_handle(), sizes[False]], timeout=WAIT)
            sizes[teacher] = page.evaluate(size_of, value.element_handle())
            if teacher:
                page.get_by_test_id("stExpandSidebarButton").click()
                page.get_by_role("switch", name="Teacher mode").wait_for(timeout=WAIT)
                assert page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "false"
        finally:
            context.close()
    assert sizes[True] > sizes[False], sizes
