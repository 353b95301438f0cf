"""A proposition graph as one self-contained, offline HTML page (vis-network, through pyvis).

``graph_html(graph)`` -> str: a complete ``<html>`` document drawing the graph with vis-network.
Edges are coloured by relation (legend: RELATION_COLOURS) and labelled with it and their
confidence; nodes are labelled by their text, wrapped and shortened (``node_label``), and search
hits by their rank and score; hovering shows the full text, id, language and run of a node, or the
relation, confidence and run of an edge, always as text. Positions come from a seeded layout of
the graph itself (``layout_positions``), so the same store draws the same picture on every rerun
and reload; vis-network then only fits it to the frame.

How it is made, so that no text in the graph can become markup or script:

* pyvis renders its page template once per (height, physics) with *no* nodes or edges; that
  template has vis-network inlined (``cdn_resources="in_line"``), pyvis' bootstrap links are
  removed, and ``make_offline`` checks that nothing in it still points to another host. The
  check looks at the template only, never at user data. The page's Content-Security-Policy
  then lets the browser load nothing from anywhere.
* The nodes and edges are then written into the template's two empty ``vis.DataSet([])`` slots
  as JSON with every ``<``, ``>``, ``&`` and non-ASCII character escaped, so a text cannot close
  the ``<script>``. With no node in pyvis' hands, its "a tooltip containing href is HTML" mode
  (``popup.innerHTML = title``) is never switched on; vis-network shows string tooltips as text.

``sandboxed_frame(html)`` wraps such a page for the app: an ``<iframe sandbox="allow-scripts">``
(no ``allow-same-origin``: an opaque origin that cannot reach the app page, no dialogs, no
popups, no navigation of the app).
"""

from __future__ import annotations

import html as html_lib
import json
import math
import re
import textwrap
import zlib
from functools import lru_cache
from typing import Any, Iterable

from .codec import graph_from_json
from .records import Graph, Proposition, Relation, short_text

RELATION_COLOURS = {"ENTAILS": "#2e7d32", "CONTRADICTS": "#c62828", "NEUTRAL": "#9e9e9e"}
NODE_COLOUR = "#90caf9"
HIGHLIGHT_COLOUR = "#ffb300"
LABEL_CHARS = 40                # at most this many characters of a text in its node's label...
LABEL_LINE_CHARS = 18           # ...wrapped into lines of this width
LAYOUT_SEED = 0
FRAME_SANDBOX = "allow-scripts"
# The graph page may run its own in-line script and style, and load nothing at all.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "img-src data:; font-src data:")

# pyvis' template: <link ... href="https://..."> and <script src="https://..."></script>
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script\s*>", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Anything that would still make a browser fetch from another host.
EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\s+["']?(?:url\()?\s*["']?(?:https?:)?//)""",
    re.IGNORECASE)
# The template's two data slots, as pyvis writes them for an empty graph.
_SLOTS = ("nodes = new vis.DataSet([]);", "edges = new vis.DataSet([]);")
_TOOLTIP_STYLE = "<style>div.vis-tooltip{white-space:pre-wrap;max-width:28em}</style>"
# The nodes come placed (layout_positions): fit the drawing to the frame once it is drawn.
_FIT_SCRIPT = "<script>if (typeof network !== 'undefined' && network) network.once('afterDrawing', () => network.fit());</script>"


def _node_tooltip(p: Proposition) -> str:
    return f"{p.text}\n\nid: {p.id}\nlanguage: {p.language or '—'}\nrun: {p.run or '—'}"


def _edge_tooltip(r: Relation) -> str:
    return f"{r.type} (confidence {r.confidence:.2f})\nrun: {r.run or '—'}"


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>``: ASCII only, and no ``<``,
    ``>`` or ``&`` (written as ``\\u003c`` etc., which JavaScript reads back unchanged)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def make_offline(html: str) -> str:
    """Remove external ``<link>``/``<script src>`` tags and HTML comments (pyvis' template has
    a commented-out script tag); raise ValueError if any external reference is left.
    For templates only: user text is never passed through here."""
    html = _HTML_COMMENT.sub("", html)
    html = _EXTERNAL_LINK.sub("", html)
    html = _EXTERNAL_SCRIPT.sub("", html)
    left = EXTERNAL_REFERENCE.search(html)
    if left:
        raise ValueError(f"the graph HTML still references an outside resource near {html[left.start():left.start() + 80]!r}")
    return html


@lru_cache(maxsize=8)
def _template(height_px: int, physics: bool) -> tuple[str, str, str]:
    """pyvis' page for an empty graph, offline, cut at its two data slots: (before the nodes,
    between nodes and edges, after the edges)."""
    from pyvis.network import Network

    net = Network(height=f"{height_px}px", width="100%", directed=True, cdn_resources="in_line", heading="")
    net.barnes_hut(gravity=-6000, spring_length=170, spring_strength=0.02, damping=0.3)
    net.toggle_physics(physics)
    page = make_offline(net.generate_html(notebook=False))
    # vis-network's tooltips are one unwrapped line; ours have several.
    page = page.replace("</head>", _TOOLTIP_STYLE + "</head>", 1)
    page = page.replace("</body>", _FIT_SCRIPT + "</body>", 1)
    csp = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    page, found = re.subn(r"<head\b[^>]*>", lambda m: m.group(0) + csp, page, count=1, flags=re.IGNORECASE)
    if not found:
        raise RuntimeError("pyvis' page template changed: it has no <head>")
    if any(page.count(slot) != 1 for slot in _SLOTS):
        raise RuntimeError("pyvis' page template changed: its empty nodes/edges DataSets were not found once each")
    before, rest = page.split(_SLOTS[0])
    between, after = rest.split(_SLOTS[1])
    return before, between, after


def node_label(text: str, chars: int = LABEL_CHARS, width: int = LABEL_LINE_CHARS) -> str:
    """``text`` shortened to ``chars`` characters (ending in "…") and wrapped into lines of ``width``."""
    return "\n".join(textwrap.wrap(short_text(text, chars), width)) or short_text(text, chars)


def layout_positions(ids: list[str], edges: list[tuple[str, str]], seed: int = LAYOUT_SEED,
                     spacing: float = 170.0) -> dict[str, tuple[float, float]]:
    """Pixel positions ``{id: (x, y)}`` from a seeded spring layout (networkx), a pure function of
    the graph: each node starts at a point derived from its id (CRC32), so a node keeps roughly its
    place when others are added, and the same graph is always drawn the same way."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(ids)
    g.add_edges_from((a, b) for a, b in edges if a in g and b in g)
    start = {i: (math.cos(zlib.crc32(i.encode()) % 6283 / 1000), math.sin(zlib.crc32(i.encode()) % 6283 / 1000))
             for i in ids}
    pos = nx.spring_layout(g, pos=start, seed=seed, k=1.6 / math.sqrt(max(len(ids), 1))) if len(ids) > 1 else start
    scale = spacing * math.sqrt(max(len(ids), 1))
    return {i: (round(float(x) * scale, 1), round(float(y) * scale, 1)) for i, (x, y) in pos.items()}


def graph_html(graph: Graph | dict[str, Any], height_px: int = 600, highlight: Iterable[str] = (),
               max_nodes: int | None = 500, physics: bool = False, font_size: int = 14,
               ranks: dict[str, tuple[int, float]] | None = None) -> str:
    """Render ``graph`` (a Graph, or an export dict as written by ``export_json``) as HTML.

    ``highlight``: ids drawn in HIGHLIGHT_COLOUR (e.g. search hits); ``ranks``: id -> (rank,
    score) of search hits, written above their labels ("#1 · 0.83"). ``max_nodes``: draw at
    most this many nodes (highlighted ones first, then by id) and only edges between them;
    browsers struggle beyond a few hundred. ``font_size``: of the labels (larger for a projector).
    Nodes are placed by ``layout_positions``; ``physics`` lets vis-network move them from there.
    Returns a complete ``<html>`` document.
    """
    if isinstance(graph, dict):
        graph = graph_from_json(graph)
    marked, ranks = set(highlight), ranks or {}
    nodes = sorted(graph.nodes, key=lambda p: (p.id not in marked, p.id))
    if max_nodes is not None:
        nodes = nodes[:max_nodes]
    shown = {p.id for p in nodes}
    edges = [r for r in graph.edges if r.source in shown and r.target in shown]
    pos = layout_positions([p.id for p in nodes], [(r.source, r.target) for r in edges])
    node_rows = [{"id": p.id, "label": (f"#{ranks[p.id][0]} · {ranks[p.id][1]:.2f}\n" if p.id in ranks else "")
                  + node_label(p.text), "title": _node_tooltip(p), "shape": "dot", "size": 14,
                  "x": pos[p.id][0], "y": pos[p.id][1], "font": {"size": int(font_size)},
                  "color": HIGHLIGHT_COLOUR if p.id in marked else NODE_COLOUR} for p in nodes]
    edge_rows = [{"from": r.source, "to": r.target, "title": _edge_tooltip(r), "color": RELATION_COLOURS[r.type],
                  "label": f"{r.type.lower()} {r.confidence:.2f}", "width": 1 + 3 * r.confidence, "arrows": "to",
                  "dashes": r.type == "NEUTRAL", "font": {"size": max(int(font_size) - 3, 8), "align": "middle",
                                                          "color": RELATION_COLOURS[r.type]}}
                 for r in edges]
    before, between, after = _template(int(height_px), bool(physics))
    return (before + f"nodes = new vis.DataSet({script_json(node_rows)});" + between
            + f"edges = new vis.DataSet({script_json(edge_rows)});" + after)


def sandboxed_frame(page: str, height_px: int) -> str:
    """A small document holding ``page`` in an ``<iframe sandbox="allow-scripts">`` of
    ``height_px``: scripts run, but in an opaque origin (no access to the embedding page, its
    cookies or storage), without dialogs, popups, forms or top-level navigation, and under a
    Content-Security-Policy that allows no request at all (``graph_html`` puts it in the page)."""
    return ('<!doctype html><html><head><meta charset="utf-8"></head>'
            '<body style="margin:0;overflow:hidden">'
            f'<iframe sandbox="{FRAME_SANDBOX}" title="Proposition graph" '
            f'style="display:block;border:0;width:100%;height:{int(height_px)}px" '
            f'srcdoc="{html_lib.escape(page, quote=True)}"></iframe></body></html>')
