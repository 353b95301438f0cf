"""Zoom to the action and the story on the figures: slot axes show the visited slots (or all of them),
the memory colour scale is clipped at a percentile and says so, the episode's phases are drawn on every
time axis (and stay put as t moves), the gated panel's legend names the previous weighting, and panel
titles are short enough not to run into each other at a projector's 1280 px."""

import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from ntm import figures as F
from ntm.figures import dnc as D
from ntm.tasks import make_task
from ntm.trace import DNCReadHead, DNCWriteHead, NTMHead, Trace

N, M = 32, 4


def focused(slots, peak: float = 0.9) -> np.ndarray:
    w = np.full((len(slots), N), (1 - peak) / (N - 1), dtype=np.float32)
    for t, s in enumerate(slots):
        w[t, s] = peak
    return w


def ntm_head(name: str, kind: str, weights: np.ndarray) -> NTMHead:
    T = weights.shape[0]
    return NTMHead(name=name, kind=kind, key=np.zeros((T, M), np.float32), beta=np.ones(T, np.float32),
                   g=np.full(T, 0.5, np.float32), s=np.tile(np.float32([0, 0, 1]), (T, 1)),
                   gamma=np.ones(T, np.float32), content=weights, gated=weights, shifted=weights, weights=weights,
                   initial=np.eye(N, dtype=np.float32)[0])


def copy_episode(length: int = 5):
    return make_task("copy", seq_width=3).sample(1, torch.Generator().manual_seed(0), length=length)


PHASES = [{"name": "input", "start": 0, "stop": 5, "label": "input"},
          {"name": "delimiter", "start": 5, "stop": 6, "label": "delimiter"},
          {"name": "answer", "start": 6, "stop": 11, "label": "answer"}]


@pytest.fixture
def trace() -> Trace:
    """A copy run (L = 5, T = 11) whose write head walks slots 5..15 and read head 5..9 after the delimiter."""
    b = copy_episode()
    write = focused(list(range(5, 16)))
    read = focused([5] * 6 + [5, 6, 7, 8, 9])
    memory = np.random.default_rng(0).normal(0, 0.5, (12, N, M)).astype(np.float32)
    return Trace("ntm", b.inputs[0].numpy(), b.targets[0].numpy(), b.targets[0].numpy(), b.mask[0].numpy(), memory,
                 [ntm_head("read 1", "read", read), ntm_head("write 1", "write", write)],
                 meta={"task": "copy", "phases": PHASES})


def dnc_trace() -> Trace:
    b = copy_episode()
    T = b.num_steps
    w = focused([2, 9, 4, 11, 6, 13, 0, 0, 0, 0, 0])
    ones, z = np.ones(T, np.float32), np.zeros((T, M), np.float32)
    write = DNCWriteHead(name="write 1", kind="write", write_content=w, allocation=w, weights=w, write_key=z,
                         write_strength=ones, erase=z, write_vector=z, allocation_gate=ones, write_gate=ones,
                         retention=np.ones((T, N), np.float32), usage=w, precedence=w)
    r = focused([0] * 6 + [2, 9, 4, 11, 6])
    read = DNCReadHead(name="read 1", kind="read", forward=r, backward=r, read_content=r, weights=r, read=z, key=z,
                       strength=ones, read_modes=np.tile(np.float32([0.1, 0.1, 0.8]), (T, 1)),
                       free_gate=np.zeros(T, np.float32))
    extras = {"usage": w, "retention": np.ones((T, N), np.float32), "precedence": w,
              "link": np.zeros((T, N, N), np.float32)}
    return Trace("dnc", b.inputs[0].numpy(), b.targets[0].numpy(), b.targets[0].numpy(), b.mask[0].numpy(),
                 np.zeros((T + 1, N, M), np.float32), [write, read], extras=extras,
                 meta={"task": "copy", "phases": PHASES})


def axis_range(fig: go.Figure, axis: str) -> list[float]:
    return list(fig.layout[axis].range)


# ---- the slot window ---------------------------------------------------------------------------

def test_slot_axes_show_the_visited_slots_with_a_margin_or_all_of_them(trace):
    assert F.slot_window(trace) == (3, 17)                     # visited 5..15, margin 2
    assert F.slot_window(trace, "all") == (0, N - 1)
    assert F.slot_window(trace, (4, 8)) == (4, 8)
    for bad in ("some", (5, 40), (9, 3)):
        with pytest.raises(ValueError):
            F.slot_window(trace, bad)
    for fig in (F.memory_figure(trace, 3), F.memory_change_figure(trace, 3)):
        assert axis_range(fig, "yaxis") == [17.5, 2.5]         # slot 3 on top
        assert fig.data[0].z.shape == (N, M)                   # every slot is still in the data
    wot = F.weights_over_time_figure(trace, 3)
    assert axis_range(wot, "yaxis") == axis_range(wot, "yaxis2") == [17.5, 2.5]
    assert axis_range(F.memory_figure(trace, 3, slots="all"), "yaxis") == [N - 0.5, -0.5]
    assert axis_range(F.weights_over_time_figure(trace, 3, slots="all"), "yaxis") == [N - 0.5, -0.5]


def test_a_slot_a_weighting_barely_touches_is_not_visited(trace):
    trace.heads[0].weights[2, 30] = F.common.VISIT_THRESHOLD - 0.01
    assert F.slot_window(trace) == (3, 17)
    trace.heads[0].weights[2, 30] = F.common.VISIT_THRESHOLD
    assert F.slot_window(trace) == (3, 31)


def test_stage_panels_zoom_to_the_heads_slots_so_a_one_slot_shift_is_a_wide_bar(trace):
    read = trace.head("read 1")
    fig = F.addressing_figure(read, 7)
    assert axis_range(fig, "xaxis") == [2.5, 11.5] and fig.layout.xaxis.dtick == 1     # read visits 5..9
    assert axis_range(F.addressing_figure(read, 7, slots=F.slot_window(trace)), "xaxis") == [2.5, 17.5]
    assert axis_range(F.addressing_figure(read, 7, slots="all"), "xaxis") == [-0.5, N - 0.5]


# ---- the memory colour range ----------------------------------------------------------------------

def test_memory_colours_are_clipped_at_the_99th_percentile_so_outliers_do_not_blank_the_rest(trace):
    calm = F.memory_clip(trace)
    trace.memory[8:, 7, 0] = 50.0                             # 4 huge values of 720 in the visited slots
    fig = F.memory_figure(trace, 6)
    r = F.memory_clip(trace)
    lo, hi = F.slot_window(trace)
    assert r == pytest.approx(float(np.percentile(np.abs(trace.memory[:, lo:hi + 1]), 99, method="higher")))
    assert r < 5 * calm and F.memory_range(trace) == 50.0
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-r, r)
    assert "±p99" in fig.data[0].colorbar.title.text and "clipped" in fig.data[0].colorbar.title.text
    np.testing.assert_array_equal(fig.data[0].z, trace.memory[7])   # hover still shows the exact values


def test_the_clip_of_a_memory_of_zeros_and_a_few_values_is_not_zero(trace):
    trace.memory[:] = 0.0
    trace.memory[5, 6, 0] = 2.0
    assert F.memory_clip(trace) == 2.0
    trace.memory[:] = 0.0
    assert F.memory_clip(trace) > 0


# ---- phases on the time axes -----------------------------------------------------------------------

def phase_boxes(fig: go.Figure, xref: str = "x") -> list[tuple[str, float, float]]:
    return [(s.name, s.x0, s.x1) for s in fig.layout.shapes
            if s.type == "rect" and (s.name or "").startswith("phase ") and s.xref == xref]


def phase_lines(fig: go.Figure) -> list[tuple[str, float]]:
    return F.common.phase_starts(fig)


EXPECTED = [("phase input", -0.5, 4.5), ("phase delimiter", 4.5, 5.5), ("phase answer", 5.5, 10.5)]


def test_phases_are_named_strips_above_every_time_panel_and_lines_where_they_begin(trace):
    seq = F.sequence_figure(trace, 2)
    assert phase_boxes(seq) == EXPECTED
    assert phase_lines(seq) == [("x", 4.5), ("x", 5.5)]
    line = next(s for s in seq.layout.shapes if s.name == F.common.PHASE_STARTS)
    assert line.yref == "paper" and line.path.startswith(f"M4.5,{seq.layout.yaxis3.domain[0]:.6g} V")
    labels = [a for a in seq.layout.annotations if (a.name or "").startswith("phase")]
    assert [a.hovertext for a in labels] == ["input (t = 0–4)", "delimiter (t = 5)", "answer (t = 6–10)"]
    assert labels[0].text == "input" and labels[2].text == "answer"
    wot = F.weights_over_time_figure(trace, 2)
    assert phase_boxes(wot, "x") == EXPECTED and phase_boxes(wot, "x2") == EXPECTED
    assert phase_lines(wot) == [("x", 4.5), ("x", 5.5), ("x2", 4.5), ("x2", 5.5)]
    assert [a.text for a in wot.layout.annotations[:2]] == ["write 1", "read 1"]


def test_phases_stay_put_as_t_moves_and_the_title_names_the_phase_at_t(trace):
    for figure in (F.sequence_figure, F.weights_over_time_figure):
        assert phase_boxes(figure(trace, 0)) == phase_boxes(figure(trace, 10))
    assert F.sequence_figure(trace, 5).layout.title.text.endswith("at t = 5 (delimiter)</sup>")
    assert F.sequence_figure(trace, 6).layout.title.text.endswith("(answer)</sup>")


def test_without_phases_in_its_meta_a_trace_shows_its_scored_and_unscored_steps(trace):
    trace.meta.pop("phases")
    assert [(p["name"], p["start"], p["stop"]) for p in F.trace_phases(trace)] == [("unscored", 0, 6),
                                                                                   ("scored", 6, 11)]
    assert phase_boxes(F.sequence_figure(trace, 0)) == [("phase unscored", -0.5, 5.5), ("phase scored", 5.5, 10.5)]


def test_the_dnc_time_views_show_the_phases_and_zoom_their_slot_axes():
    trace = dnc_trace()
    lo, hi = F.slot_window(trace)
    assert (lo, hi) == (0, 15)                                 # written 2..13 and allocated, margin 2
    usage = D.usage_allocation_figure(trace, 4)
    assert phase_boxes(usage) == EXPECTED and axis_range(usage, "yaxis") == [15.5, -0.5]
    assert axis_range(usage, "xaxis2") == [-0.5, 15.5]
    assert phase_boxes(D.read_modes_over_time_figure(trace, 4)) == EXPECTED
    assert phase_boxes(D.free_gates_figure(trace, 4)) == EXPECTED
    link = D.link_order_figure(trace, 4)
    assert axis_range(link, "xaxis") == [-0.5, 15.5] and axis_range(link, "yaxis") == [15.5, -0.5]
    assert axis_range(D.link_order_figure(trace, 4, slots="all"), "xaxis") == [-0.5, N - 0.5]
    stage = D.dnc_stage_figure(trace, trace.heads[1], 8)
    assert axis_range(stage, "xaxis") == [-0.5, 15.5]


# ---- legends and titles ----------------------------------------------------------------------------

def test_the_gated_panel_names_the_previous_weighting_in_the_legend(trace):
    fig = F.addressing_figure(trace.head("write 1"), 4)
    shown = [d.name for d in fig.data if d.showlegend]
    assert shown == ["previous w"] and fig.layout.showlegend
    previous = next(d for d in fig.data if d.name == "previous w")
    assert previous.xaxis == "x2"                              # the gate's panel (content, gated, ...)
    np.testing.assert_array_equal(previous.y, trace.head("write 1").weights[3])
    dnc = dnc_trace()
    legend = [d.name for d in D.dnc_stage_figure(dnc, dnc.heads[0], 4).data if d.showlegend]
    assert legend == ["previous"]                              # one entry, however many stages mix t-1 in


def text_px(text: str, size: float) -> float:
    """Rough rendered width of a one-line title: 0.6 em a character, markup removed."""
    return max(len(re.sub(r"<[^>]+>", "", line)) for line in text.split("<br>")) * 0.6 * size


@pytest.mark.parametrize("teacher", [False, True])
def test_panel_titles_fit_their_panels_at_1280_px(trace, teacher):
    dnc = dnc_trace()
    cases = [(F.weights_over_time_figure(trace, 3), 420), (F.addressing_figure(trace.head("write 1"), 3), 1150),
             (D.dnc_stage_figure(dnc, dnc.heads[0], 3), 1150), (D.dnc_stage_figure(dnc, dnc.heads[1], 3), 1150),
             (F.vectors_figure(trace, 3), 1150)]
    for fig, width in cases:
        if teacher:
            F.enlarge(fig)
        layout = fig.layout
        titles = [a for a in layout.annotations if a.xref == "paper" and a.yref == "paper"]
        for a in titles:
            panel = next(layout[ax].domain for ax in layout if ax.startswith("xaxis")
                         and abs(sum(layout[ax].domain) / 2 - a.x) < 1e-9)
            assert text_px(a.text, a.font.size) <= (panel[1] - panel[0] + 0.04) * width, a.text


def test_a_phase_too_narrow_for_its_name_shows_it_cut_short():
    assert F.common.fitted("delimiter", 100) == "delimiter"
    assert F.common.fitted("end marker", 40) == "end"
    assert F.common.fitted("delimiter", 52) == "delim." and F.common.fitted("delimiter", 40) == "del."
    assert F.common.fitted("delimiter", 20) == "d" and F.common.fitted("delimiter", 8) == ""
    steps = 200                                                # one step of 200 in a 1000 px strip: 5 px
    _, names = F.common.phase_marks([{"name": "delimiter", "start": 0, "stop": 1, "label": "delimiter"}],
                                    "x", "y", steps, width_px=1000)
    assert names[0]["text"] == "" and names[0]["hovertext"] == "delimiter (t = 0)"


def test_the_phase_strip_is_a_fixed_number_of_pixels_whatever_the_figures_height(trace):
    fig = F.weights_over_time_figure(trace, 2)
    strips = [s for s in fig.layout.shapes if s.type == "rect" and (s.name or "").startswith("phase ")]
    assert {(s.ysizemode, s.yanchor, s.y1 - s.y0) for s in strips} == {("pixel", 1, F.common.PHASE_STRIP_PX)}
    names = [a.font.size for a in fig.layout.annotations if (a.name or "").startswith("phase")]
    titles = [a.font.size for a in fig.layout.annotations if not (a.name or "").startswith("phase")]
    F.enlarge(fig)                             # bigger titles for a projector; the strip's names still fit it
    assert [a.font.size for a in fig.layout.annotations if (a.name or "").startswith("phase")] == names
    assert [a.font.size for a in fig.layout.annotations if not (a.name or "").startswith("phase")] > titles
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
