"""A proposition graph as one self-contained, offline HTML page (pyvis / vis-network).

``graph_html(graph)`` -> str. The vis-network library is inlined (``cdn_resources="in_line"``)
and the bootstrap CSS/JS links pyvis' template always adds are removed, so the page loads
nothing from anywhere: it works with no network and leaks nothing. Edges are coloured by
relation (legend: RELATION_COLOURS), nodes are labelled by their text; hovering shows the full
text, id, language and run of a node, or the relation, confidence and run of an edge.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .base import Graph, Proposition, Relation, graph_from_json

RELATION_COLOURS = {"ENTAILS": "#2e7d32", "CONTRADICTS": "#c62828", "NEUTRAL": "#9e9e9e"}
NODE_COLOUR = "#90caf9"
HIGHLIGHT_COLOUR = "#ffb300"
LABEL_CHARS = 40

# pyvis' template: <link ... href="https://..."> and <script src="https://..."></script>
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script\s*>", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Anything that would still make a browser fetch from another host.
EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\s+["']?(?:url\()?\s*["']?(?:https?:)?//)""",
    re.IGNORECASE)


def _label(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= LABEL_CHARS else one_line[:LABEL_CHARS - 1] + "…"


def _node_tooltip(p: Proposition) -> str:
    return f"{p.text}\n\nid: {p.id}\nlanguage: {p.language or '—'}\nrun: {p.run or '—'}"


def _edge_tooltip(r: Relation) -> str:
    return f"{r.type} (confidence {r.confidence:.2f})\nrun: {r.run or '—'}"


def graph_html(graph: Graph | dict[str, Any], height_px: int = 600, highlight: Iterable[str] = (),
               max_nodes: int | None = 500, physics: bool = True) -> str:
    """Render ``graph`` (a Graph, or an export dict as written by ``export_json``) as HTML.

    ``highlight``: ids drawn in HIGHLIGHT_COLOUR (e.g. search hits). ``max_nodes``: draw at
    most this many nodes (highlighted ones first, then by id) and only edges between them;
    browsers struggle beyond a few hundred. Returns a complete ``<html>`` document.
    """
    from pyvis.network import Network

    if isinstance(graph, dict):
        graph = graph_from_json(graph)
    marked = set(highlight)
    nodes = sorted(graph.nodes, key=lambda p: (p.id not in marked, p.id))
    if max_nodes is not None:
        nodes = nodes[:max_nodes]
    shown = {p.id for p in nodes}

    net = Network(height=f"{int(height_px)}px", width="100%", directed=True, cdn_resources="in_line",
                  heading="")
    for p in nodes:
        net.add_node(p.id, label=_label(p.text), title=_node_tooltip(p), shape="dot", size=14,
                     color=HIGHLIGHT_COLOUR if p.id in marked else NODE_COLOUR)
    for r in graph.edges:
        if r.source in shown and r.target in shown:
            net.add_edge(r.source, r.target, title=_edge_tooltip(r), color=RELATION_COLOURS[r.type],
                         width=1 + 3 * r.confidence, arrows="to", dashes=r.type == "NEUTRAL")
    net.barnes_hut(gravity=-6000, spring_length=170, spring_strength=0.02, damping=0.3)
    net.toggle_physics(physics)
    html = net.generate_html(notebook=False)
    # vis-network's tooltips are one unwrapped line; ours have several.
    html = html.replace("</head>", "<style>div.vis-tooltip{white-space:pre-wrap;max-width:28em}</style></head>", 1)
    return make_offline(html)


def make_offline(html: str) -> str:
    """Remove external ``<link>``/``<script src>`` tags and HTML comments (pyvis' template has
    a commented-out script tag); raise ValueError if any external reference is left."""
    html = _HTML_COMMENT.sub("", html)
    html = _EXTERNAL_LINK.sub("", html)
    html = _EXTERNAL_SCRIPT.sub("", html)
    left = EXTERNAL_REFERENCE.search(html)
    if left:
        raise ValueError(f"the graph HTML still references an outside resource near {html[left.start():left.start() + 80]!r}")
    return html
