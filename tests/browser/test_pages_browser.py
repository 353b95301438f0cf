"""In a real browser: every page opens with no error box and no request leaving 127.0.0.1; the
generalisation page tests the built-in NTM, DNC and LSTM copy presets on longer sequences; the
long-term memory page loads its example graph, searches it by meaning, and draws it with pyvis
from in-line resources (no CDN)."""

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from ntm.longterm.examples import example_graph
from ntm.longterm.render import HIGHLIGHT_COLOUR, NODE_COLOUR, RELATION_COLOURS

from test_explorer_browser import WAIT, charts, not_blank, only_local

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# (url path, the page's title, a text drawn near the end of the page's first run)
PAGES = [
    ("", "NTM Explorer", "Keep what the machine learned beyond one sequence"),
    ("step-through", "Step through an NTM or a DNC",
     re.compile(r"Read and write weightings over time|The vectors each head emits and reads at t")),
    ("addressing-lab", "Addressing lab", "sharpened weighting w"),
    ("memory-lab", "Memory lab", "hover a bar or cell for its exact value"),
    ("train", "Train", "Start training"),
    ("observatory", "Observatory", "Look inside a job"),
    ("generalisation", "Generalisation", "One long example"),
    ("long-term-memory", "Long-term memory", re.compile(r"The graph is empty|Hover a node for its whole text")),
    ("nli-demo", "Dual-memory NTM: inference on NLI", "Infer"),
]


def settled(page) -> None:
    """Wait until the app has no script run in progress (its status widget is gone)."""
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT)


def colour_pixels(png: bytes, colours: list[str]) -> dict[str, int]:
    """How many pixels of the screenshot are (close to) each ``#rrggbb`` colour."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    counts = {}
    for c in colours:
        rgb = np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)])
        counts[c] = int((np.abs(img - rgb).sum(axis=1) < 30).sum())
    return counts


def no_error_box(page) -> None:
    """No exception, no st.error and no dialog (Streamlit shows "Page not found" and script
    errors in one)."""
    errors = page.locator("[data-testid='stException'], [data-testid='stAlertContentError'], [role='dialog']")
    assert errors.count() == 0, errors.all_inner_texts()


@pytest.mark.parametrize("path,title,last", PAGES, ids=[p or "home" for p, _, _ in PAGES])
def test_every_page_opens_without_an_error_and_stays_local(app_server, page, path, title, last):
    page.goto(f"{app_server.url}/{path}")
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=WAIT)
    page.get_by_text(last).first.wait_for(timeout=WAIT)
    settled(page)
    no_error_box(page)
    only_local(page, app_server)


def test_generalisation_evaluates_ntm_dnc_and_lstm_presets(app_server, page):
    page.goto(f"{app_server.url}/generalisation")
    page.get_by_role("heading", name="Generalisation", exact=True).wait_for(timeout=WAIT)
    lengths = page.get_by_role("textbox", name=re.compile(r"^Test lengths"))
    lengths.fill("10, 40")
    lengths.press("Enter")
    sequences = page.get_by_role("spinbutton", name="Sequences per length")
    sequences.fill("8")
    sequences.press("Tab")
    settled(page)
    page.get_by_role("button", name="Evaluate").click()
    table = page.get_by_test_id("stDataFrame")
    table.wait_for(timeout=WAIT)
    settled(page)
    # One curve per preset, each through both test lengths.
    curves = charts(page).filter(has_text="bit errors per sequence")
    expect(curves).to_have_count(1, timeout=WAIT)
    legend = curves.locator(".legend").text_content()
    assert "NTM · copy" in legend and "DNC · dnc-copy" in legend and "LSTM · lstm-copy" in legend
    lines = curves.locator(".scatterlayer .trace")
    assert lines.count() == 3
    for i in range(3):
        assert lines.nth(i).locator(".point").count() == 2

    # The long example: target and each model's output, drawn; the paper's result on it.
    example = charts(page).filter(has_text="trained on 1–20")
    expect(example).to_have_count(1, timeout=WAIT)
    assert not_blank(example.screenshot())
    titles = example.inner_text()
    ntm_errors = int(re.search(r"NTM \(copy\) \((\d+) bit errors?\)", titles).group(1))
    lstm_errors = int(re.search(r"LSTM \(lstm-copy\) \((\d+) bit errors?\)", titles).group(1))
    assert re.search(r"DNC \(dnc-copy\) \((\d+) bit errors?\)", titles), titles
    assert ntm_errors < lstm_errors, titles
    no_error_box(page)
    only_local(page, app_server)


def test_long_term_memory_example_graph_is_searched_and_drawn_offline(app_server, page):
    page.goto(f"{app_server.url}/long-term-memory")
    page.get_by_role("heading", name="Long-term memory", exact=True).wait_for(timeout=WAIT)
    propositions = page.get_by_test_id("stMetric").filter(has_text="Propositions").get_by_test_id("stMetricValue")
    expect(propositions).to_have_text("0", timeout=WAIT)
    page.get_by_role("button", name="Load example graph").click()
    # The example's propositions, embedded by the local all-MiniLM-L6-v2 (its first load takes a while).
    expect(propositions).to_have_text(str(len(example_graph()[0])), timeout=3 * WAIT)
    settled(page)

    # The graph: vis-network draws on a canvas inside the page's iframe, from in-line script only.
    canvas = page.frame_locator("iframe").first.frame_locator("iframe").first.locator("canvas").first  # sandboxed
    canvas.wait_for(timeout=WAIT)
    page.wait_for_timeout(1500)                     # let the physics layout settle
    graph = page.locator("iframe").first
    drawn = colour_pixels(graph.screenshot(), [NODE_COLOUR, *RELATION_COLOURS.values(), HIGHLIGHT_COLOUR])
    assert all(drawn[c] > 200 for c in [NODE_COLOUR, *RELATION_COLOURS.values()]), drawn
    assert drawn[HIGHLIGHT_COLOUR] == 0, drawn

    # Search by meaning: the nearest propositions are listed.
    page.get_by_role("tab", name="Search").click()
    query = page.get_by_role("textbox", name="Find propositions nearest in meaning to")
    query.fill("someone makes music")
    query.press("Enter")
    settled(page)
    expect(page.get_by_test_id("stDataFrame").filter(visible=True)).to_have_count(1, timeout=WAIT)
    # ... and highlighted in the graph (the locators find the redrawn iframe afresh).
    canvas.wait_for(timeout=WAIT)
    page.wait_for_timeout(1500)
    drawn = colour_pixels(graph.screenshot(), [HIGHLIGHT_COLOUR])
    assert drawn[HIGHLIGHT_COLOUR] > 200, drawn
    no_error_box(page)
    only_local(page, app_server)
