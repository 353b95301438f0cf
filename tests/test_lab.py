"""The Addressing lab's library side: inputs built from control values, and the stages computed
by ntm.addressing.address (not by a copy of it)."""

import numpy as np
import pytest
import torch

from ntm import lab, reference
from ntm.addressing import STAGES, Addressing


def test_seeded_memory_is_reproducible_and_rounded():
    a, b = lab.seeded_memory(6, 3, seed=4), lab.seeded_memory(6, 3, seed=4)
    assert a.shape == (6, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, a.round(2))
    assert not np.array_equal(a, lab.seeded_memory(6, 3, seed=5))


def test_previous_weighting_is_one_hot_or_uniform():
    np.testing.assert_array_equal(lab.previous_weighting(4, 2), [0, 0, 1, 0])
    np.testing.assert_allclose(lab.previous_weighting(4), np.full(4, 0.25))
    with pytest.raises(ValueError, match="slot 0..3"):
        lab.previous_weighting(4, 4)


def test_shift_kernel_normalises_and_falls_back_to_no_shift():
    s, fell_back = lab.shift_kernel([1.0, 0.0, 3.0])
    np.testing.assert_allclose(s, [0.25, 0.0, 0.75])
    assert not fell_back
    s, fell_back = lab.shift_kernel([0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s, [0.0, 1.0, 0.0])
    assert fell_back
    for bad in ([1.0, 1.0], [-1.0, 1.0, 1.0]):
        with pytest.raises(ValueError, match="shift kernel"):
            lab.shift_kernel(bad)


def test_address_by_hand_matches_the_reference_stage_by_stage():
    memory = lab.seeded_memory(7, 4, seed=1)
    key, w_prev = memory[3] + 0.1, lab.previous_weighting(7, 5)
    s, _ = lab.shift_kernel([0.2, 0.3, 0.5])
    out = lab.address_by_hand(memory, key, w_prev, beta=6.0, g=0.4, s=s, gamma=3.0)
    assert isinstance(out.stages, Addressing)
    wc = reference.content_weights(memory, key, 6.0)
    wg = reference.interpolate(wc, w_prev, 0.4)
    ws = reference.shift(wg, s)
    want = {"content": wc, "gated": wg, "shifted": ws, "weights": reference.sharpen(ws, 3.0)}
    for stage in STAGES:
        got = getattr(out.stages, stage.key)
        assert got.shape == (7,) and got.dtype == np.float32            # computed as the model does
        np.testing.assert_allclose(got, want[stage.key], rtol=1e-5, atol=1e-6, err_msg=stage.key)
    sims = [reference.cosine_similarity(key, row) for row in memory]
    np.testing.assert_allclose(out.similarity, sims, rtol=1e-5, atol=1e-6)


def test_address_by_hand_calls_address(monkeypatch):
    calls = []
    real = lab.addressing.address

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(lab.addressing, "address", spy)
    lab.address_by_hand(np.eye(3), np.array([1.0, 0.0, 0.0]), lab.previous_weighting(3, 0), 1.0, 1.0,
                        np.array([0.0, 1.0, 0.0]), 1.0)
    assert len(calls) == 1 and all(isinstance(a, torch.Tensor) and a.shape[0] == 1 for a in calls[0])


def test_parameter_value_as_the_figures_format_it():
    assert lab.parameter_value("beta", 2.5) == 2.5
    assert lab.parameter_value("s", np.array([0.1, 0.2, 0.7])) == pytest.approx({-1: 0.1, 0: 0.2, 1: 0.7})


def test_source_of_a_stage_function_is_its_body_with_its_lines():
    where, code = lab.source_of("interpolate")
    assert where.startswith("ntm/addressing.py:")
    assert code.strip() == "return g * w_content + (1.0 - g) * w_prev"
    first, _, last = where.split(":")[1].partition("-")
    lines = open(lab.addressing.__file__, encoding="utf-8").read().splitlines()
    assert lines[int(first) - 1].strip() == code.strip() and last == ""
    where, code = lab.source_of("address")
    first, last = map(int, where.split(":")[1].split("-"))
    assert [line.strip() for line in lines[first - 1:last]] == [line.strip() for line in code.splitlines()]
    assert all(stage.code in code for stage in STAGES) and '"""' not in code
