"""In Chromium: the NLI demo answers the user's own example, and the propositions its long-term
read retrieved are highlighted on the graph it draws (in the sandboxed frame), with no error.

Uses the app server and browser fixtures of ``tests/browser/conftest.py``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ntm.dual.encode import encode
from ntm.longterm import Proposition, Relation, proposition_id
from ntm.longterm.render import HIGHLIGHT_COLOUR
from ntm.longterm.sqlite_store import SQLiteStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]
WAIT = 120_000            # ms: the first inference loads the preset and the sentence model
RUN = "nli demo browser test"
SENTENCES = ["Every dog is an animal.", "Rex is a dog.", "Rex is an animal.", "Cats sleep a lot.",
             "Snow is cold in winter."]


@pytest.fixture
def small_graph(app_server):
    store = SQLiteStore(app_server.data_dir / "longterm" / "graph.sqlite3")
    ids = [proposition_id(t) for t in SENTENCES]
    store.add_propositions([Proposition(i, t, "en", v) for i, t, v in zip(ids, SENTENCES, encode(SENTENCES))], run=RUN)
    store.add_relations([Relation(ids[0], ids[2], "ENTAILS", 0.9), Relation(ids[3], ids[4], "NEUTRAL", 0.3)], run=RUN)
    yield ids
    store.clear_run(RUN)
    store.close()


def test_an_own_example_is_answered_and_its_retrievals_are_highlighted(app_server, page, small_graph):
    page.goto(f"{app_server.url}/nli-demo")
    page.get_by_role("heading", name="Dual-memory NTM: inference on NLI").wait_for(timeout=WAIT)
    count = page.get_by_test_id("stMetric").filter(has_text="Propositions in the long-term graph")
    expect(count.get_by_test_id("stMetricValue")).to_have_text(str(len(SENTENCES)), timeout=WAIT)
    page.get_by_text("My own sentences").click()
    page.get_by_label("Hypothesis").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Infer").click()
    prediction = page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")
    expect(prediction).to_have_text(re.compile("^(entailment|contradiction|neutral)$"), timeout=WAIT)
    page.get_by_text("What the long-term read retrieved").wait_for(timeout=WAIT)

    outer = page.locator("iframe").first
    outer.wait_for(timeout=WAIT)
    frame = outer.element_handle().content_frame()
    frame.locator("iframe").first.wait_for(timeout=WAIT)
    frame = frame.locator("iframe").first.element_handle().content_frame()
    frame.wait_for_function("() => typeof network !== 'undefined' && network !== null", timeout=WAIT)
    marked = frame.evaluate("c => nodes.get().filter(n => n.color === c).map(n => n.id)", HIGHLIGHT_COLOUR)
    drawn = frame.evaluate("() => nodes.get().map(n => n.id)")
    assert marked and set(marked) <= set(small_graph) and set(drawn) <= set(small_graph)
    assert frame.frame_element().get_attribute("sandbox") == "allow-scripts"
    errors = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    assert errors.count() == 0, errors.all_inner_texts()
