"""The DNC's Step-through figures (ntm.figures.dnc): they draw the trace's own values at t, nothing after t,
on fixed ranges, and say in their titles which slot is written and why.

Traces come from tiny untrained DNCs and sparse DNCs (``build_model``); where a test needs to know the
answer in advance (the write order), the recorded write weighting is replaced by a hand-made one.
"""

import dataclasses

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from ntm import figures as F
from ntm.figures import dnc as D
from ntm.model import build_model
from ntm.tasks import make_task
from ntm.trace import Trace, record

N = 8


def _trace(model_type: str, seed: int = 0, read_heads: int = 2, length: int = 4) -> Trace:
    task = make_task("copy", seq_width=4, max_len=6)
    torch.manual_seed(seed)
    model = build_model(model_type, dict(input_size=task.input_size, output_size=task.output_size, hidden_size=16,
                                         nr_cells=N, cell_size=5, read_heads=read_heads))
    batch = task.sample(1, torch.Generator().manual_seed(seed), length=length)
    return record(model, batch.inputs, batch.targets, batch.mask, meta={"preset": model_type, "seed": seed})


@pytest.fixture(scope="module")
def dnc() -> Trace:
    return _trace("dnc")


@pytest.fixture(scope="module")
def sdnc() -> Trace:
    return _trace("sdnc", seed=1, read_heads=1)


def ordered(trace: Trace, slots: list[int | None]) -> Trace:
    """The trace with its write weighting replaced: one-hot on ``slots[k]`` at step k (None: no write)."""
    w = np.zeros_like(trace.heads[0].weights)
    for k, s in enumerate(slots):
        if s is not None:
            w[k, s] = 0.9
    heads = [dataclasses.replace(trace.heads[0], weights=w), *trace.heads[1:]]
    return dataclasses.replace(trace, heads=heads)


def cursor(fig: go.Figure) -> list[float]:
    return [(s.x0 + s.x1) / 2 for s in fig.layout.shapes if s.name == F.CURSOR_NAME]


def by_name(fig: go.Figure, name: str):
    found = [d for d in fig.data if d.name == name]
    assert found, f"no trace {name!r} in {[d.name for d in fig.data]}"
    return found[0] if len(found) == 1 else found


def shown_up_to(values, t: int, expected: np.ndarray) -> None:
    """Steps 0..t hold the trace's values, later steps are blank."""
    v = np.asarray(values, dtype=float)
    np.testing.assert_allclose(v[:t + 1], expected[:t + 1], rtol=1e-6)
    assert np.isnan(v[t + 1:]).all()


def dnc_figures(trace: Trace, t: int) -> list[go.Figure]:
    figs = [D.usage_allocation_figure(trace, t), D.read_modes_over_time_figure(trace, t)]
    figs += [D.link_order_figure(trace, t)] if "link" in trace.extras else []
    figs += [D.free_gates_figure(trace, t)] if "retention" in trace.extras else []
    return figs + [D.dnc_stage_figure(trace, head, t) for head in trace.heads]


# ---- usage and allocation ----------------------------------------------------------------------

def test_usage_and_allocation_show_the_trace_up_to_t_with_a_and_w_on_top(dnc):
    head = dnc.heads[0]
    usage = dnc.extras["usage"]
    for t in (0, 4, dnc.steps - 1):
        fig = D.usage_allocation_figure(dnc, t)
        heat = by_name(fig, "usage u")
        over_time, bars = heat if isinstance(heat, list) else (heat, None)
        shown_up_to(np.asarray(over_time.z).T, t, usage)
        np.testing.assert_allclose(bars.y, usage[t], rtol=1e-6)
        np.testing.assert_allclose(by_name(fig, "allocation a").y, head.allocation[t], rtol=1e-6)
        np.testing.assert_allclose(by_name(fig, "write weighting wʷ").y, head.weights[t], rtol=1e-6)
        assert cursor(fig) == [t]
        assert list(fig.layout.yaxis2.range) == [0, 1] and (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
        least = int(np.argmax(head.allocation[t]))
        assert f"allocation → slot {least}, the least used (u = {usage[t][least]:.2f})" in fig.layout.title.text


def test_the_allocation_title_says_whether_and_where_the_step_writes(dnc):
    t = 2
    assert "Step 2 writes slot 6" in D.usage_allocation_title(ordered(dnc, [0, 3, 6, None, 1]), t)
    assert "Step 3 hardly writes" in D.usage_allocation_title(ordered(dnc, [0, 3, 6, None, 1]), 3)


def test_written_slots_are_marked_in_time_order_and_closed_write_gates_are_left_out(dnc):
    trace = ordered(dnc, [2, 5, None, 5, 1] + [None] * (dnc.steps - 5))
    assert D.write_order(trace, 4) == [(0, 2), (1, 5), (3, 5), (4, 1)]
    assert D.write_order(trace, 1) == [(0, 2), (1, 5)]
    marks = by_name(D.usage_allocation_figure(trace, 3), "slot written")
    assert list(marks.x) == [0, 1, 3] and list(marks.y) == [2, 5, 5]


def test_the_sparse_dnc_shows_steps_since_last_access_and_its_lru_allocation(sdnc):
    assert "usage" not in sdnc.extras and "last_access" in sdnc.extras
    np.testing.assert_array_equal(D.last_access_before(sdnc, 0), -np.ones(N))
    np.testing.assert_array_equal(D.last_access_before(sdnc, 3), sdnc.extras["last_access"][2])
    for t in (0, 3, sdnc.steps - 1):
        fig = D.usage_allocation_figure(sdnc, t)
        before = D.last_access_before(sdnc, t)
        ages = by_name(fig, "age")
        np.testing.assert_array_equal(ages.y, np.where(before >= 0, t - before, t + 1))
        lru = int(np.argmin(before))                       # ties: the lowest slot, as the model breaks them
        assert int(np.argmax(sdnc.heads[0].allocation[t])) == lru
        assert f"allocation → slot {lru}, the least recently used" in fig.layout.title.text
        heat = by_name(fig, "steps since last access")
        assert np.isnan(np.asarray(heat.z, dtype=float).T[t + 1:]).all()


# ---- the link matrix and the write order -------------------------------------------------------

def test_link_figure_is_l_at_t_with_the_write_order_through_its_cells(dnc):
    trace = ordered(dnc, [2, 5, None, 5, 1, 7] + [None] * (dnc.steps - 6))
    for t in (0, 4, dnc.steps - 1):
        fig = D.link_order_figure(trace, t)
        np.testing.assert_allclose(by_name(fig, "L").z, dnc.extras["link"][t], rtol=1e-6)
        assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    path = by_name(D.link_order_figure(trace, 4), "write order")
    # 2 -> 5 (step 1), 5 -> 5 is no move, 5 -> 1 (step 4): cells (row next, column previous)
    assert list(path.x) == [2, 5] and list(path.y) == [5, 1] and list(path.text) == ["1", "4"]
    assert D.link_order_title(trace, 4) == "Temporal links L at t = 4<br><sup>write order 2 → 5 → 1</sup>"
    assert D.link_order_title(trace, 5).endswith("2 → 5 → 1 → 7</sup>")
    assert D.link_order_title(ordered(dnc, [None] * dnc.steps), 3).endswith("nothing written yet</sup>")


def test_link_title_names_the_last_slots_of_a_long_write_order(dnc):
    trace = ordered(dnc, [k % N for k in range(dnc.steps)])
    title = D.link_order_title(trace, dnc.steps - 1)
    assert "… → " in title and title.count("→") == D.SHOWN_ORDER


# ---- read modes, free gates ---------------------------------------------------------------------

def test_read_modes_are_stacked_per_read_head_up_to_t(dnc):
    reads = [h for h in dnc.heads if h.kind == "read"]
    for t in (0, 5, dnc.steps - 1):
        fig = D.read_modes_over_time_figure(dnc, t)
        assert fig.layout.barmode == "stack" and cursor(fig) == [t] * len(reads)
        for m, mode in enumerate(D.MODES):
            bars = by_name(fig, mode)
            assert len(bars) == len(reads)
            for head, bar in zip(reads, bars):
                shown_up_to(bar.y, t, head.read_modes[:, m])
        for head, ann in zip(reads, fig.layout.annotations):
            assert ann.text.startswith(head.name) and f"c {head.read_modes[t][1]:.2f}" in ann.text


def test_free_gates_and_retention_at_t(dnc):
    reads = [h for h in dnc.heads if h.kind == "read"]
    for t in (0, 5):
        fig = D.free_gates_figure(dnc, t)
        for head in reads:
            shown_up_to(by_name(fig, f"{head.name} free gate").y, t, head.free_gate)
        np.testing.assert_allclose(by_name(fig, "retention ψ").y, dnc.extras["retention"][t], rtol=1e-6)
        prev = [d for d in fig.data if d.name.endswith("read at t-1")]
        assert len(prev) == len(reads)
        for head, line in zip(reads, prev):
            np.testing.assert_allclose(line.y, head.previous_weights(t), rtol=1e-6)
        psi = dnc.extras["retention"][t]
        if psi.min() <= 0.99:
            assert f"slot {int(psi.argmin())} is freed most" in fig.layout.title.text
        else:
            assert "no slot is freed" in fig.layout.title.text
    freeing = dataclasses.replace(dnc, extras={**dnc.extras, "retention": np.where(
        np.arange(N) == 3, 0.25, 1.0)[None, :].repeat(dnc.steps, 0).astype(np.float32)})
    assert D.free_gates_title(freeing, 2) == "Free gates at t = 2: slot 3 is freed most (ψ = 0.25)"


# ---- the heads' stage tables -------------------------------------------------------------------

def test_stage_figures_draw_each_row_of_the_heads_table_with_dnc_parameters(dnc):
    t = 3
    write, read = dnc.heads[0], dnc.heads[1]
    for head in (write, read):
        fig = D.dnc_stage_figure(dnc, head, t)
        stages = head.stages()
        bars = [d for d in fig.data if d.type == "bar"]
        assert [b.name for b in bars] == [s.label for s in stages]
        for bar, stage in zip(bars, stages):
            np.testing.assert_allclose(bar.y, stage.weights[t], rtol=1e-6)
    titles = [a.text for a in D.dnc_stage_figure(dnc, write, t).layout.annotations]
    assert f"βʷ = {float(write.write_strength[t]):.4g}" in titles[0]
    assert f"gᵃ = {float(write.allocation_gate[t]):.4g}" in titles[[s.key for s in write.stages()].index("write_weights")]
    read_titles = [a.text for a in D.dnc_stage_figure(dnc, read, t).layout.annotations]
    assert f"βʳ = {float(read.strength[t]):.4g}" in read_titles[2]
    params = D.dnc_stage_parameters(dnc, read, t)
    assert params["read_weights"]["value"] == pytest.approx(dict(zip(D.MODES, map(float, read.read_modes[t]))))
    gates = D.dnc_stage_parameters(dnc, write, t)["retention"]["value"]
    assert gates == pytest.approx({h.name: float(h.free_gate[t]) for h in dnc.heads[1:]})
    assert D.format_value(params["read_weights"]).startswith("π: backward ")


def test_each_stage_shows_what_its_equation_mixes_in_from_the_step_before(dnc):
    t = 3
    write, read = dnc.heads[0], dnc.heads[1]
    fig = D.dnc_stage_figure(dnc, write, t)
    keys = [s.key for s in write.stages()]
    previous = {d.xaxis: d.y for d in fig.data if d.name == "previous"}
    axis = {key: "x" if i == 0 else f"x{i + 1}" for i, key in enumerate(keys)}
    np.testing.assert_allclose(previous[axis["usage"]], dnc.extras["usage"][t - 1], rtol=1e-6)      # u_{t-1}
    np.testing.assert_allclose(previous[axis["precedence"]], dnc.extras["precedence"][t - 1], rtol=1e-6)  # p_{t-1}
    assert axis["retention"] not in previous and axis["write_content"] not in previous
    fig = D.dnc_stage_figure(dnc, read, t)
    previous = {d.xaxis: d.y for d in fig.data if d.name == "previous"}
    np.testing.assert_allclose(previous["x"], read.weights[t - 1], rtol=1e-6)                 # forward: w^r_{t-1}
    assert set(previous) == {"x", "x2"}                                                       # forward, backward
    assert not [d for d in D.dnc_stage_figure(dnc, write, 0).data if d.name == "previous" and d.xaxis == axis["usage"]]


# ---- every figure --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["dnc", "sdnc"])
def test_every_dnc_figure_has_hover_values_fixed_ranges_and_serialises(kind, dnc, sdnc):
    trace = dnc if kind == "dnc" else sdnc
    first = dnc_figures(trace, 0)
    for fig in dnc_figures(trace, trace.steps - 1):
        fig.to_json()
        for d in fig.data:
            assert d.hovertemplate, f"{fig.layout.title.text}: {d.name} has no hover values"
    def y_ranges(fig):
        return {k: tuple(v["range"]) for k, v in fig.layout.to_plotly_json().items()
                if k.startswith("yaxis") and "range" in v}
    assert [y_ranges(f) for f in first] == [y_ranges(f) for f in dnc_figures(trace, trace.steps - 1)]
    def slot_axis(fig, k):
        return (fig.layout[k].title.text or "").startswith("slot")
    assert all(r[0] <= 0 < 1 <= r[1] <= 1.05 for f in first for k, r in y_ranges(f).items()
               if k != "yaxis3" and not slot_axis(f, k))


def test_out_of_range_t_is_an_error(dnc):
    for figure in (D.usage_allocation_figure, D.link_order_figure, D.read_modes_over_time_figure, D.free_gates_figure):
        with pytest.raises(ValueError, match="outside the trace"):
            figure(dnc, dnc.steps)


def test_figures_draw_a_trace_loaded_from_json(dnc, sdnc):
    for trace in (dnc, sdnc):
        loaded = Trace.from_json(trace.to_json())
        for a, b in zip(dnc_figures(trace, 2), dnc_figures(loaded, 2)):
            assert a.layout.title.text == b.layout.title.text
            for da, db in zip(a.data, b.data):
                for field in ("x", "y", "z"):
                    va, vb = getattr(da, field, None), getattr(db, field, None)
                    if va is not None:
                        np.testing.assert_allclose(np.asarray(va, dtype=float), np.asarray(vb, dtype=float),
                                                   rtol=1e-5, equal_nan=True)


def test_vectors_figure_shows_the_dnc_write_vector_on_a_range_fixed_for_the_trace(dnc):
    panels = F.vector_panels(dnc)
    fields = [(head.name, field) for head, field, _, _ in panels]
    assert fields[:2] == [("write 1", "erase"), ("write 1", "write_vector")]
    assert [f for f in fields if f[1] == "read"] == [("read 1", "read"), ("read 2", "read")]
    r = float(np.abs(dnc.heads[0].write_vector).max())
    assert panels[1][3] == pytest.approx((-r, r))
    fig = F.vectors_figure(dnc, 3)
    np.testing.assert_allclose(fig.data[1].y, dnc.heads[0].write_vector[3], rtol=1e-6)
