"""In Chromium: hostile propositions in the long-term graph stay text. Every node is hovered
(texts with and without "href", which once switched pyvis' tooltips to ``innerHTML``): the
tooltip shows the text as typed, no element is created from it, no dialog opens, and the
graph's frame cannot reach the app page (an opaque origin) nor fetch anything.

Uses the app server and browser fixtures of ``tests/browser/conftest.py`` (beside it) (a server of its own,
with its own data folder, even when run together with the browser tests)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ntm.longterm import Proposition, Relation
from ntm.longterm.sqlite_store import SQLiteStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT = 60_000            # ms

RUN = 'hostile <img src=x onerror=alert("run")>'
HOSTILE = {
    "href-img": '<a href=x>a</a><img src=x onerror=alert(document.domain)>',
    "img": '<img src=x onerror=alert("img")>',
    "script": '</script><script>alert("script")</script>',
    "svg": '<svg onload=alert("svg")></svg> <iframe src="javascript:alert(1)"></iframe>',
    "entities": "&lt;b&gt;not bold&lt;/b&gt; &amp; \"quotes\" 'single'",
    "offline-check": "A sentence with url(http://example.com/x.png) and href=http://example.com in it.",
}
NO_ACCESS = "() => { try { parent.document.title; return 'reach'; } catch (e) { return 'blocked'; } }"
NO_TOP = "() => { try { top.document.title; return 'reach'; } catch (e) { return 'blocked'; } }"
# Resolves once an image error event has been delivered in the frame: any <img onerror> created
# from a tooltip before it has had its turn by then (a barrier, not a sleep).
IMAGE_ERRORS_DELIVERED = ("() => new Promise(done => { const i = new Image(); i.onerror = () => done(true); "
                          "i.src = 'data:,not-an-image'; })")
NODE_ON_SCREEN = """id => {
    network.stopSimulation();
    const p = network.canvasToDOM(network.getPositions([id])[id]);
    return {x: p.x, y: p.y};
}"""


@pytest.fixture
def hostile_graph(app_server):  # noqa: F811 - the imported fixture
    store = SQLiteStore(app_server.data_dir / "longterm" / "graph.sqlite3")
    store.add_propositions([Proposition(pid, text, "en") for pid, text in HOSTILE.items()], run=RUN)
    ids = list(HOSTILE)
    store.add_relations([Relation(a, b, "CONTRADICTS", 0.5) for a, b in zip(ids, ids[1:])], run=RUN)
    yield store
    store.clear_run(RUN)


def graph_frame(page):  # noqa: F811
    """The frame vis-network draws in: the sandboxed frame inside Streamlit's st.iframe (or,
    were it ever drawn straight into Streamlit's frame, that one: the checks then fail)."""
    outer = page.locator("iframe").first
    outer.wait_for(timeout=WAIT)
    frame = outer.element_handle().content_frame()
    frame.locator("canvas, iframe").first.wait_for(timeout=WAIT)
    if frame.locator("iframe").count():
        frame = frame.locator("iframe").first.element_handle().content_frame()
    frame.wait_for_function("() => typeof network !== 'undefined' && network !== null", timeout=WAIT)
    return frame


def test_hostile_text_in_the_graph_stays_text_and_cannot_reach_the_app(app_server, page, hostile_graph):  # noqa: F811
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{app_server.url}/long-term-memory")
    page.get_by_role("heading", name="Long-term memory", exact=True).wait_for(timeout=WAIT)
    propositions = page.get_by_test_id("stMetric").filter(has_text="Propositions").get_by_test_id("stMetricValue")
    expect(propositions).to_have_text(str(len(HOSTILE)), timeout=WAIT)
    frame = graph_frame(page)

    canvas = frame.locator("canvas").first
    box = canvas.bounding_box()
    tooltip = frame.locator("div.vis-tooltip, div.popup")
    for pid, text in HOSTILE.items():
        spot = frame.evaluate(NODE_ON_SCREEN, pid)
        page.mouse.move(box["x"] + spot["x"], box["y"] + spot["y"])
        expect(tooltip.filter(visible=True)).to_have_count(1, timeout=WAIT)
        shown = tooltip.filter(visible=True).first
        expect(shown).to_contain_text(f"id: {pid}", timeout=WAIT)
        assert frame.evaluate(IMAGE_ERRORS_DELIVERED)
        assert dialogs == [], f"hovering {pid} opened a dialog"
        # The text as typed, and no element made of it (innerText writes a line break as <br>).
        expect(shown).to_contain_text(text)
        assert shown.locator("*:not(br)").count() == 0, shown.inner_html()
        page.mouse.move(box["x"] + 2, box["y"] + 2)                       # off the node
        expect(tooltip.filter(visible=True)).to_have_count(0, timeout=WAIT)
    assert frame.locator("img, a, svg, iframe").count() == 0              # no text became an element

    # Even a template bug could not reach the app: an opaque origin, no dialogs, no popups.
    assert frame.frame_element().get_attribute("sandbox") == "allow-scripts"
    assert frame.evaluate(NO_ACCESS) == "blocked" and frame.evaluate(NO_TOP) == "blocked"
    assert frame.evaluate("() => window.origin") == "null"

    errors = page.locator("[data-testid='stException'], [data-testid='stAlertContentError'], [role='dialog']")
    assert errors.count() == 0, errors.all_inner_texts()
    outside = [u for u in page.requests_seen if not u.startswith((app_server.url, "data:", "blob:", "about:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"


def test_the_graph_frame_may_fetch_nothing_not_even_from_the_app(app_server, page, hostile_graph):  # noqa: F811
    page.goto(f"{app_server.url}/long-term-memory")
    frame = graph_frame(page)
    csp = frame.evaluate("() => document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "default-src 'none'" in csp
    # The app's health URL answers any no-cors fetch; the page's policy refuses to send it.
    fetched = frame.evaluate("url => fetch(url, {mode: 'no-cors'}).then(() => 'fetched', () => 'refused')",
                             f"{app_server.url}/_stcore/health")
    assert fetched == "refused"
