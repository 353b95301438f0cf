"""The Memory lab's figures (ntm.figures.memory_lab), read through their data: what is drawn is
the arrays given, on the fixed [0, 1] scale, with the sort order, the gated parts, the write
order and the read modes where a reader needs them."""

import numpy as np
import pytest

from ntm import figures as F
from ntm.dnc import lab
from ntm.figures import memory_lab as ML


@pytest.fixture(scope="module")
def both_ways():
    s = lab.SCENARIOS["both-ways"].settings
    return s, lab.run(s)


def test_every_lab_figure_is_exported_from_the_figures_package():
    for name in ML.__all__:
        if name.startswith("lab_"):
            assert getattr(F, name) is getattr(ML, name)


def test_bars_show_the_weighting_and_the_previous_one_on_the_fixed_scale():
    fig = F.lab_bars([0.2, 0.9, 0.0], "usage u", previous=[0.1, 0.5, 0.0], previous_label="usage before")
    bars, line = fig.data
    assert list(bars.y) == [0.2, 0.9, 0.0] and list(line.y) == [0.1, 0.5, 0.0] and line.name == "usage before"
    assert tuple(fig.layout.yaxis.range) == (0.0, 1.0) and fig.layout.coloraxis.cmax == 1.0
    assert len(F.lab_bars([0.2, 0.9, 0.0], "u").data) == 1


def test_the_allocation_figure_labels_each_slot_with_its_place_in_the_sort():
    u = np.array([1.0, 0.5, 1.0, 0.5, 1.0, 0.5])
    out = lab.run(lab.SCENARIOS["ties"].settings)
    fig = F.lab_allocation_figure(out.usage, out.allocation, out.phi)
    bars, usage = fig.data
    np.testing.assert_allclose(bars.y, [0, 0.5, 0, 0.25, 0, 0.125], atol=1e-6)
    assert list(bars.text) == ["4th", "1st", "5th", "2nd", "6th", "3rd"]
    np.testing.assert_allclose(usage.y, u)
    assert "φ = 1, 3, 5, 0, 2, 4" in fig.layout.title.text
    # hover parts: (1 - u) and the product of the freer slots' usage multiply to a
    parts = np.asarray(bars.customdata)
    np.testing.assert_allclose(parts[:, 0] * parts[:, 1], bars.y, atol=1e-6)


def test_ordinals():
    assert [ML.ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]


def test_the_write_figure_stacks_the_two_gated_parts_into_the_write_weighting():
    out = lab.run(lab.Settings(allocation_gate=0.3, write_gate=0.8, write_key=4, write_strength=5.0))
    fig = F.lab_write_figure(out.allocation, out.write_content, 0.3, 0.8)
    alloc_part, content_part = fig.data
    assert fig.layout.barmode == "stack" and "gᵃ = 0.3, gʷ = 0.8" in fig.layout.title.text
    np.testing.assert_allclose(alloc_part.y, 0.8 * 0.3 * out.allocation, atol=1e-6)
    np.testing.assert_allclose(np.add(alloc_part.y, content_part.y), out.write, atol=1e-6)
    fig = F.lab_write_figure(out.allocation, out.write_content, 1.0, 1.0)
    assert max(fig.data[1].y) == 0.0                              # g^a = 1: nothing from content


def test_the_link_figure_draws_the_write_order_through_the_matrix(both_ways):
    s, out = both_ways
    fig = F.lab_link_figure(out.link, s.order)
    heat, order = fig.data
    np.testing.assert_allclose(np.asarray(heat.z), out.link)
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)
    # writes 3 -> 0 -> 4 -> 1: cells (row 0, col 3), (4, 0), (1, 4), each holding a link of 1
    assert list(zip(order.x, order.y)) == [(3, 0), (0, 4), (4, 1)] and list(order.text) == ["1", "2", "3"]
    assert all(out.link[i, j] == pytest.approx(1.0) for j, i in zip(order.x, order.y))
    assert "3 → 0 → 4 → 1" in fig.layout.title.text
    assert len(F.lab_link_figure(np.zeros((4, 4)), [2]).data) == 1   # one write: no pair to draw


def test_the_precedence_figure_has_a_row_per_write(both_ways):
    s, out = both_ways
    labels = [f"after write {k}" for k in range(len(out.precedences))]
    fig = F.lab_precedence_figure(out.precedences, labels)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), out.precedences)
    assert list(fig.data[0].y) == labels
    assert [int(np.argmax(p)) for p in out.precedences[:4]] == [3, 0, 4, 1]


def test_heads_figure_has_a_panel_per_read_head_with_the_previous_read(both_ways):
    _, out = both_ways
    fig = F.lab_heads_figure(out.forward, "forward f", previous=out.prev_read)
    bars = [d for d in fig.data if d.type == "bar"]
    lines = [d for d in fig.data if d.type == "scatter"]
    assert len(bars) == 2 and len(lines) == 2 and bars[0].xaxis != bars[1].xaxis
    np.testing.assert_allclose(bars[1].y, out.forward[1])
    assert [a.text for a in fig.layout.annotations] == ["read 1", "read 2"]
    one = F.lab_heads_figure(out.forward[:1], "f")
    assert len(one.data) == 1 and not one.layout.annotations


def test_the_read_figure_stacks_the_three_modes_into_the_read_weighting(both_ways):
    _, out = both_ways
    fig = F.lab_read_figure(out.backward, out.read_content, out.forward, out.read_modes)
    assert fig.layout.barmode == "stack" and len(fig.data) == 6
    for h in range(2):
        parts = [d for d in fig.data if d.xaxis == fig.data[3 * h].xaxis]
        assert [d.legendgroup for d in parts] == ["backward", "content", "forward"]
        np.testing.assert_allclose(np.sum([d.y for d in parts], axis=0), out.read_weights[h], atol=1e-6)
    assert "π = (1, 0, 0)" in fig.layout.annotations[0].text
    assert sum(d.showlegend for d in fig.data) == 3


def test_the_read_modes_figure_is_one_stacked_bar_per_head(both_ways):
    _, out = both_ways
    fig = F.lab_read_modes_figure(out.read_modes)
    assert [d.name for d in fig.data] == ["backward", "content", "forward"]
    assert list(fig.data[0].x) == [1.0, 0.0] and list(fig.data[2].x) == [0.0, 1.0]
    assert list(fig.data[0].y) == ["read 1", "read 2"] and fig.data[0].text[0] == "backward 1.00"
