"""The graph page's HTML: self-contained (no outside URL, a policy that allows no request),
coloured by relation, labelled by text, with tooltips that are always text, safe with hostile
text (with or without "href" or outside URLs in it), and shown in a sandboxed frame."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest

from ntm.longterm import Graph, Proposition, Relation
from ntm.longterm.render import RELATION_COLOURS, graph_html, make_offline, sandboxed_frame

GRAPH = Graph(
    nodes=[Proposition("a", "A man is playing a guitar.", "en", run="demo"),
           Proposition("b", "A man plays an instrument.", "en", run="demo"),
           Proposition("c", "Nobody is playing anything.", "de", run="demo"),
           Proposition("d", "It is raining.", None, run="demo")],
    edges=[Relation("a", "b", "ENTAILS", 0.9, "demo"), Relation("a", "c", "CONTRADICTS", 0.8, "demo"),
           Relation("b", "d", "NEUTRAL", 0.3, "demo")],
)

# Any attribute or CSS that makes a browser fetch from another host.
OUTSIDE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)|(?:url\(\s*["']?\s*(?:https?:)?//)""",
                     re.IGNORECASE)


def _dataset(html: str, name: str) -> list[dict]:
    match = re.search(name + r" = new vis\.DataSet\((\[.*?\])\);", html, re.DOTALL)
    assert match, f"no {name} DataSet in the HTML"
    return json.loads(match.group(1))


def test_html_references_no_outside_host():
    html = graph_html(GRAPH)
    assert html.lstrip().lower().startswith("<html")
    assert not OUTSIDE.search(html), OUTSIDE.search(html)
    assert "cdn.jsdelivr.net" not in html and "cdnjs.cloudflare.com" not in html
    assert "<link" not in html.lower()
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE) is None
    assert "vis.Network(" in html and len(html) > 300_000          # vis-network is inlined


def test_edges_coloured_by_relation_and_nodes_labelled_by_text():
    html = graph_html(GRAPH)
    nodes = {n["id"]: n for n in _dataset(html, "nodes")}
    edges = {(e["from"], e["to"]): e for e in _dataset(html, "edges")}
    assert nodes["a"]["label"].replace("\n", " ") == "A man is playing a guitar."        # wrapped, not cut
    assert all(len(line) <= 18 for line in nodes["a"]["label"].split("\n"))
    assert "id: c" in nodes["c"]["title"] and "language: de" in nodes["c"]["title"]
    assert "Nobody is playing anything." in nodes["c"]["title"]
    assert edges[("a", "b")]["color"] == RELATION_COLOURS["ENTAILS"]
    assert edges[("a", "c")]["color"] == RELATION_COLOURS["CONTRADICTS"]
    assert edges[("b", "d")]["color"] == RELATION_COLOURS["NEUTRAL"]
    assert len(set(RELATION_COLOURS.values())) == 3
    assert "confidence 0.80" in edges[("a", "c")]["title"]
    assert all(e["arrows"] == "to" for e in edges.values())


def test_long_text_is_shortened_in_the_label_but_whole_in_the_tooltip():
    text = "word " * 40
    html = graph_html(Graph([Proposition("x", text)], []))
    node = _dataset(html, "nodes")[0]
    assert len(node["label"]) <= 40 and node["label"].endswith("…")
    assert text in node["title"]


def test_hostile_text_cannot_break_out_of_the_page():
    evil = 'A </script><script>alert("x")</script> <img src="https://evil.example/x.png"> \\ \' 中文'
    html = graph_html(Graph([Proposition("e", evil), Proposition("f", "ok")], [Relation("e", "f")]))
    benign = graph_html(Graph([Proposition("e", "harmless"), Proposition("f", "ok")], [Relation("e", "f")]))
    for tag in ("<script", "</script", "<img"):                  # the text added no tag of its own
        assert html.lower().count(tag) == benign.lower().count(tag)
    assert "alert(\"x\")</script>" not in html
    assert not OUTSIDE.search(html)
    assert _dataset(html, "nodes")[0]["title"].startswith(evil)


def test_export_dicts_render_and_highlight_and_limit():
    exported = {"nodes": [{"id": n.id, "text": n.text} for n in GRAPH.nodes],
                "edges": [{"source": e.source, "target": e.target, "type": e.type} for e in GRAPH.edges]}
    html = graph_html(exported, highlight=["d"], max_nodes=2)
    nodes = _dataset(html, "nodes")
    assert [n["id"] for n in nodes] == ["d", "a"]                   # highlighted first, then by id
    assert nodes[0]["color"] != nodes[1]["color"]
    assert _dataset(html, "edges") == []                            # no edge has both ends shown


def test_make_offline_refuses_what_it_cannot_remove():
    with pytest.raises(ValueError, match="outside resource"):
        make_offline('<html><body><img src="https://example.com/a.png"></body></html>')
    assert "cdn" not in make_offline('<html><link href="https://cdn.example/x.css" rel="stylesheet"></html>')


HREF_PAYLOAD = "<a href=x>a</a><img src=x onerror=alert(document.domain)>"


def test_a_tooltip_containing_href_is_still_text():
    """pyvis switches every tooltip to ``popup.innerHTML = title`` once any title contains
    "href"; that mode must never be on, whatever the text."""
    html = graph_html(Graph([Proposition("h", HREF_PAYLOAD, run="run with href=x"), Proposition("o", "ok")],
                            [Relation("h", "o")]))
    assert "popup.innerHTML" not in html and "div.popup" not in html
    assert _dataset(html, "nodes")[0]["title"].startswith(HREF_PAYLOAD)        # the text, as data
    assert html.count("<img") == graph_html(GRAPH).count("<img")


@pytest.mark.parametrize("text", [
    "Grandma wrote url(http://example.com/cat.png) on the card.",
    "The link said href=http://example.com and nothing else.",
    "<img src='https://evil.example/x.png'> src=//evil.example/y @import url(//evil.example/z.css)",
])
def test_text_that_mentions_an_outside_url_is_drawn_as_text(text):
    html = graph_html(Graph([Proposition("u", text), Proposition("v", "ok")], [Relation("u", "v")]))
    assert _dataset(html, "nodes")[0]["title"].startswith(text)
    # The text is only inside the script's JSON strings, never an attribute or CSS of the page.
    page = re.sub(r"new vis\.DataSet\(\[.*?\]\);", "new vis.DataSet([]);", html, flags=re.DOTALL)
    assert not OUTSIDE.search(page) and text not in page


def test_no_text_can_end_the_script_or_open_a_tag():
    evil = "</script><script>alert(1)</script><!-- <style> & \u2028 \ud800"
    html = graph_html(Graph([Proposition("e", "x")], []))
    hostile = graph_html(Graph([Proposition("e", "ok " + evil.replace("\ud800", ""))], []))
    data = re.search(r"nodes = new vis\.DataSet\((.*?)\);", hostile, re.DOTALL).group(1)
    assert not set(data) & set("<>&") and data.isascii()
    assert hostile.lower().count("<script") == html.lower().count("<script")
    assert json.loads(data)[0]["title"].startswith("ok " + evil.replace("\ud800", ""))


def test_the_page_allows_no_request_and_the_frame_is_sandboxed():
    html = graph_html(GRAPH)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html).group(1)
    assert "default-src 'none'" in csp and "connect-src" not in csp and "http" not in csp
    frame = sandboxed_frame(html, 480)
    tag = re.match(r".*?(<iframe\b[^>]*>)", frame, re.DOTALL).group(1)
    assert re.search(r'\bsandbox="allow-scripts"', tag) and "allow-same-origin" not in frame
    assert 'height:480px' in tag and "<script" not in frame.split("srcdoc=")[0].lower()
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert "<" not in srcdoc and html_lib.unescape(srcdoc) == html


def test_positions_are_seeded_the_same_on_every_render_and_a_node_keeps_its_place():
    first, again = (_dataset(graph_html(GRAPH), "nodes") for _ in range(2))
    assert [(n["x"], n["y"]) for n in first] == [(n["x"], n["y"]) for n in again]
    assert len({(n["x"], n["y"]) for n in first}) == len(first)                     # no two on one spot


def test_edges_show_type_and_confidence_and_search_hits_their_rank_and_score():
    html = graph_html(GRAPH, highlight=["b"], ranks={"b": (1, 0.834)}, font_size=20)
    nodes = {n["id"]: n for n in _dataset(html, "nodes")}
    edges = {(e["from"], e["to"]): e for e in _dataset(html, "edges")}
    assert edges[("a", "c")]["label"] == "contradicts 0.80" and edges[("b", "d")]["label"] == "neutral 0.30"
    assert nodes["b"]["label"].startswith("#1 · 0.83\n") and not nodes["a"]["label"].startswith("#")
    assert nodes["a"]["font"]["size"] == 20                                          # teacher mode: larger
