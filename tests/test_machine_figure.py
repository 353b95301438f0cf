"""The machine drawn by the app (ntm.figures.machine): the paper's Figure 1 as a Plotly figure,
its parts, what flows between them, and a figure that stays put."""

import json

import plotly.graph_objects as go

from ntm.figures.machine import ARROWS, BOXES, MACHINE, MEMORY, SLOTS, machine_figure


def inside(point, box) -> bool:
    x, y = point
    return box[0] - 1e-9 <= x <= box[2] + 1e-9 and box[1] - 1e-9 <= y <= box[3] + 1e-9


def test_the_figure_shows_every_part_of_figure_1_with_a_hover_text():
    fig = machine_figure()
    assert isinstance(fig, go.Figure)
    texts = " ".join(a.text for a in fig.layout.annotations)
    for part in ("External input", "External output", "Controller", "Read heads", "Write heads", "Memory",
                 "Neural Turing Machine"):
        assert f"<b>{part}</b>" in texts, part
    hovers = {trace.name: trace.hovertemplate for trace in fig.data}
    assert set(hovers) == {"input", "output", "controller", "read", "write", "memory"}
    assert all(len(h) > 20 for h in hovers.values())
    assert "eq. 2" in hovers["read"] and "eqs. 3-4" in hovers["write"]


def test_the_heads_and_the_memory_are_inside_the_machine_and_the_io_outside():
    boxes = {name: box for name, _, box, _, _ in BOXES} | {"memory": MEMORY}
    for name in ("controller", "read", "write", "memory"):
        assert inside(boxes[name][:2], MACHINE) and inside(boxes[name][2:], MACHINE), name
    for name in ("input", "output"):
        assert boxes[name][1] > MACHINE[3], name
    slots = [s for s in machine_figure().layout.shapes if s.type == "rect" and MEMORY[1] == s.y0]
    assert len(slots) == SLOTS


def test_every_arrow_joins_two_parts_and_says_what_it_carries():
    boxes = {name: box for name, _, box, _, _ in BOXES} | {"memory": MEMORY}

    def part(point):
        (found,) = [name for name, box in boxes.items() if inside(point, box)]
        return found

    flows = {(part(a), part(b)): label for a, b, label, _ in ARROWS}
    assert set(flows) == {("input", "controller"), ("controller", "output"), ("controller", "read"),
                          ("read", "controller"), ("controller", "write"), ("memory", "read"), ("write", "memory")}
    assert "γ" in flows[("controller", "read")] and "e, a" in flows[("controller", "write")]
    drawn = [a for a in machine_figure().layout.annotations if a.showarrow]
    assert len(drawn) == len(ARROWS)
    assert {(a.ax, a.ay, a.x, a.y) for a in drawn} == {(*a, *b) for a, b, _, _ in ARROWS}


def test_the_figure_is_fixed_offline_json():
    fig = machine_figure(height=300)
    assert fig.layout.height == 300
    assert fig.layout.xaxis.fixedrange and fig.layout.yaxis.fixedrange
    assert tuple(fig.layout.xaxis.range) == (0, 10) and tuple(fig.layout.yaxis.range) == (0, 10)
    text = json.dumps(fig.to_plotly_json(), default=str)
    assert "http" not in text                       # nothing to fetch: no images, no links
