"""The Addressing lab's compact pictures (ntm.figures.addressing): the memory and key in one figure on one
colour scale, numbered stage titles with their parameter, and each picture showing exactly the weighting
``ntm.lab.address_by_hand`` computes, on the fixed weight scale with its legend inside the plot."""

import numpy as np
import pytest

from ntm import addressing, lab
from ntm import figures as F
from ntm.figures.addressing import LAB_HEADROOM, WRITTEN_CELLS


def test_memory_and_key_share_one_figure_and_one_colour_scale():
    memory, key = lab.seeded_memory(8, 4, 0), np.array([0.5, -3.0, 0.0, 1.0])
    fig = F.memory_key_figure(memory, key)
    m, k = fig.data
    np.testing.assert_array_equal(m.z, memory)
    np.testing.assert_array_equal(k.z, key[None, :])
    assert (m.zmin, m.zmax) == (k.zmin, k.zmax) == (-3.0, 3.0)        # the larger of |M| and |k|
    assert m.showscale is not False and k.showscale is False            # one colour bar
    assert fig.layout.title.text == "Memory M and key k"
    assert m.texttemplate == k.texttemplate == "%{z:.2f}"              # small: values written in the cells
    assert fig.layout.xaxis.matches == k.xaxis                          # one memory-column axis
    key_top = fig.layout[f"yaxis{k.yaxis[1:]}"].domain[1]
    assert key_top < fig.layout.yaxis.domain[0]                         # the key is a row below the memory
    fig = F.memory_key_figure(memory, key, half_range=5.0, height=250)
    assert fig.data[0].zmax == 5.0 and fig.layout.height == 250


def test_a_large_memory_is_drawn_without_values_in_its_cells():
    n, m = lab.MAX_SLOTS, lab.MAX_WIDTH
    assert n > WRITTEN_CELLS[0]
    fig = F.memory_key_figure(lab.seeded_memory(n, m, 1), np.ones(m))
    assert fig.data[0].texttemplate == "" and fig.data[0].z.shape == (n, m)


def test_numbered_titles_carry_scalar_parameters_only():
    content, gated, shifted, sharpened = addressing.STAGES
    assert F.lab_stage_title(addressing.SIMILARITY, 1) == "1. cosine similarity K"
    assert F.lab_stage_title(content, 2, {"symbol": "β", "value": 20.0}) == "2. content weighting wᶜ · β = 20"
    assert F.lab_stage_title(shifted, 4, {"symbol": "s", "value": {-1: 0.0, 0: 0.4, 1: 0.6}}) == "4. shifted weighting w̃"
    assert F.lab_stage_title(sharpened) == "sharpened weighting w"


@pytest.mark.parametrize("name", list(lab.SCENARIOS))
def test_each_scenario_picture_is_the_labs_own_weighting(name):
    state = lab.SCENARIOS[name].state
    memory = lab.seeded_memory(state.slots, state.width, state.seed)
    w_prev = lab.previous_weighting(state.slots, state.previous)
    s, _ = lab.shift_kernel(state.shift)
    params = dict(beta=state.beta, g=state.g, s=s, gamma=state.gamma)
    out = lab.address_by_hand(memory, state.key_vector(), w_prev, **params)
    sim = F.similarity_figure(out.similarity, title=F.lab_stage_title(addressing.SIMILARITY, 1))
    np.testing.assert_array_equal(sim.data[0].y, out.similarity)
    assert tuple(sim.layout.yaxis.range) == (-1.05, 1.05)
    for number, stage in enumerate(addressing.STAGES, start=2):
        p = stage.parameter
        fig = F.stage_figure(stage, getattr(out.stages, stage.key), previous=w_prev, height=180, number=number,
                             param={"symbol": p.symbol, "value": lab.parameter_value(p.name, params[p.name])})
        np.testing.assert_array_equal(fig.data[0].y, getattr(out.stages, stage.key))
        assert fig.layout.title.text.startswith(f"{number}. {stage.label} weighting {stage.symbol}")
        assert tuple(fig.layout.yaxis.range) == (0, LAB_HEADROOM) and fig.layout.height == 180
        assert fig.layout.xaxis.range == (-0.5, state.slots - 0.5)
        if stage.mixes_previous:            # w_{t-1}, named in a legend in the band above the bars
            assert fig.data[1].name == "previous w" and list(fig.data[1].y) == list(w_prev)
            assert fig.layout.legend.y == 1.0 and fig.layout.legend.yanchor == "top"
        else:
            assert len(fig.data) == 1
