"""The four addressing stages: hand-worked cases, the NumPy reference, invariants, gradients,
and the stage table and named tuple the rest of the project reads."""

import inspect
import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch

from ntm import addressing, reference
from ntm.addressing import (SIMILARITY, STAGES, Addressing, address, content_weights, cosine_similarity, interpolate,
                            sharpen, shift, shift_offsets)

DTYPES = [torch.float32, torch.float64]


def one_hot(n, i, dtype=torch.float64, batch=1):
    w = torch.zeros(batch, n, dtype=dtype)
    w[:, i] = 1.0
    return w


# ---- hand-worked cases ----------------------------------------------------------------------

def test_content_weights_hand_worked():
    # Rows: parallel to the key, orthogonal, anti-parallel. beta = ln 2 makes the scores 2^cos.
    memory = torch.tensor([[[1.0, 0.0], [0.0, 3.0], [-2.0, 0.0]]], dtype=torch.float64)
    key = torch.tensor([[5.0, 0.0]], dtype=torch.float64)
    beta = torch.tensor([[math.log(2.0)]], dtype=torch.float64)
    w = content_weights(memory, key, beta)
    expected = torch.tensor([[2.0, 1.0, 0.5]], dtype=torch.float64) / 3.5
    torch.testing.assert_close(w, expected)


def test_content_weights_beta_zero_is_uniform_and_large_beta_picks_best_match():
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(2, 6, 4, generator=g, dtype=torch.float64)
    key = memory[:, 3].clone()
    uniform = content_weights(memory, key, torch.zeros(2, 1, dtype=torch.float64))
    torch.testing.assert_close(uniform, torch.full((2, 6), 1 / 6, dtype=torch.float64))
    sharp = content_weights(memory, key, torch.full((2, 1), 100.0, dtype=torch.float64))
    assert sharp.argmax(-1).tolist() == [3, 3]


def test_interpolate_hand_worked():
    wc = torch.tensor([[1.0, 0.0, 0.0]])
    wp = torch.tensor([[0.0, 0.0, 1.0]])
    out = interpolate(wc, wp, torch.tensor([[0.25]]))
    torch.testing.assert_close(out, torch.tensor([[0.25, 0.0, 0.75]]))


def test_shift_plus_one_moves_focus_to_next_slot_and_wraps():
    n = 5
    s_plus = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)   # offsets -1, 0, +1
    assert shift_offsets(3) == [-1, 0, 1]
    for i in range(n):
        out = shift(one_hot(n, i), s_plus)
        torch.testing.assert_close(out, one_hot(n, (i + 1) % n))
    s_minus = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(shift(one_hot(n, 0), s_minus), one_hot(n, n - 1))


def test_shift_hand_worked_blur_and_radius_two():
    w = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]])
    s = torch.tensor([[0.1, 0.8, 0.1]])
    torch.testing.assert_close(shift(w, s), torch.tensor([[0.1, 0.8, 0.1, 0.0, 0.0]]))
    s2 = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])       # +2
    torch.testing.assert_close(shift(w, s2), torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0]]))


def test_shift_rejects_kernel_wider_than_memory():
    with pytest.raises(ValueError, match="2R\\+1"):
        shift(torch.ones(1, 2) / 2, torch.ones(1, 3) / 3)


def test_sharpen_hand_worked_and_gamma_one_is_identity():
    w = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    out = sharpen(w, torch.tensor([[2.0]], dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([[0.04, 0.09, 0.25]], dtype=torch.float64) / 0.38)
    torch.testing.assert_close(sharpen(w, torch.tensor([[1.0]], dtype=torch.float64)), w)


# ---- against the NumPy reference ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("radius", [1, 2])
def test_full_pipeline_matches_reference(dtype, radius):
    g = torch.Generator().manual_seed(7)
    b, n, m = 4, 11, 5
    memory = torch.randn(b, n, m, generator=g, dtype=torch.float64)
    memory[:, 2] = 0.0                                   # an all-zero row
    key = torch.randn(b, m, generator=g, dtype=torch.float64)
    beta = torch.rand(b, 1, generator=g, dtype=torch.float64) * 20
    w_prev = torch.softmax(torch.randn(b, n, generator=g, dtype=torch.float64), -1)
    gate = torch.rand(b, 1, generator=g, dtype=torch.float64)
    s = torch.softmax(torch.randn(b, 2 * radius + 1, generator=g, dtype=torch.float64), -1)
    gamma = 1 + torch.rand(b, 1, generator=g, dtype=torch.float64) * 5
    args = [t.to(dtype) for t in (memory, w_prev, key, beta, gate, s, gamma)]
    stages = address(*args)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    for i in range(b):
        wc = reference.content_weights(memory[i].numpy(), key[i].numpy(), beta[i, 0].item())
        wg = reference.interpolate(wc, w_prev[i].numpy(), gate[i, 0].item())
        ws = reference.shift(wg, s[i].numpy())
        w = reference.sharpen(ws, gamma[i, 0].item())
        for name, ref in [("content", wc), ("gated", wg), ("shifted", ws), ("weights", w)]:
            np.testing.assert_allclose(getattr(stages, name)[i].double().numpy(), ref, **tol, err_msg=name)
        np.testing.assert_allclose(
            reference.address(memory[i].numpy(), w_prev[i].numpy(), key[i].numpy(), beta[i, 0].item(),
                              gate[i, 0].item(), s[i].numpy(), gamma[i, 0].item()),
            w, rtol=1e-12)


def test_multi_head_stack_equals_heads_one_by_one():
    g = torch.Generator().manual_seed(3)
    b, h, n, m = 3, 4, 9, 6
    memory = torch.randn(b, n, m, generator=g, dtype=torch.float64)
    key = torch.randn(b, h, m, generator=g, dtype=torch.float64)
    beta = torch.rand(b, h, 1, generator=g, dtype=torch.float64) * 10
    w_prev = torch.softmax(torch.randn(b, h, n, generator=g, dtype=torch.float64), -1)
    gate = torch.rand(b, h, 1, generator=g, dtype=torch.float64)
    s = torch.softmax(torch.randn(b, h, 3, generator=g, dtype=torch.float64), -1)
    gamma = 1 + torch.rand(b, h, 1, generator=g, dtype=torch.float64)
    stacked = address(memory, w_prev, key, beta, gate, s, gamma).weights
    for j in range(h):
        single = address(memory, w_prev[:, j], key[:, j], beta[:, j], gate[:, j], s[:, j], gamma[:, j]).weights
        torch.testing.assert_close(stacked[:, j], single)


# ---- numerical robustness -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes_stay_finite_and_normalised_with_finite_gradients(dtype):
    b, n, m = 3, 16, 8
    g = torch.Generator().manual_seed(1)
    memory = torch.zeros(b, n, m, dtype=dtype)              # all-zero memory rows
    memory[1] = torch.randn(n, m, generator=g).to(dtype)
    memory[1, 5] = 0.0
    memory.requires_grad_(True)
    key = torch.randn(b, m, generator=g).to(dtype)
    key[2] = 0.0                                            # an all-zero key too
    key.requires_grad_(True)
    beta = torch.full((b, 1), 100.0, dtype=dtype, requires_grad=True)
    w_prev = torch.full((b, n), 1e-30, dtype=dtype)
    w_prev[:, 0] = 1.0
    w_prev.requires_grad_(True)
    gate = torch.full((b, 1), 0.0, dtype=dtype, requires_grad=True)   # keep the tiny weights
    s = torch.tensor([[0.0, 1.0, 0.0]] * b, dtype=dtype, requires_grad=True)
    gamma = torch.full((b, 1), 50.0, dtype=dtype, requires_grad=True)
    stages = address(memory, w_prev, key, beta, gate, s, gamma)
    for name, w in stages._asdict().items():
        assert torch.isfinite(w).all(), name
        torch.testing.assert_close(w.sum(-1), torch.ones(b, dtype=dtype), msg=name)
    (stages.weights * torch.arange(n, dtype=dtype)).sum().backward()
    for t in (memory, key, beta, w_prev, gate, s, gamma):
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sharpen_of_tiny_weights_is_normalised(dtype):
    w = torch.tensor([[1e-30, 2e-30, 1e-30]], dtype=dtype)
    out = sharpen(w, torch.tensor([[50.0]], dtype=dtype))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(1, dtype=dtype))
    assert out[0, 1] > 0.999


def test_cosine_similarity_of_zero_vectors_is_zero():
    memory = torch.zeros(1, 3, 4)
    key = torch.ones(1, 4)
    assert cosine_similarity(memory, key).abs().max() == 0


def test_gradcheck_each_stage_float64():
    g = torch.Generator().manual_seed(5)
    b, n, m = 2, 7, 3
    mk = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    memory, key, beta = mk(b, n, m), mk(b, m), (torch.rand(b, 1, generator=g, dtype=torch.float64) * 3).requires_grad_()
    assert torch.autograd.gradcheck(content_weights, (memory, key, beta))
    wc = torch.softmax(torch.randn(b, n, generator=g, dtype=torch.float64), -1).requires_grad_()
    wp = torch.softmax(torch.randn(b, n, generator=g, dtype=torch.float64), -1).requires_grad_()
    gate = torch.rand(b, 1, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(interpolate, (wc, wp, gate))
    s = torch.softmax(torch.randn(b, 3, generator=g, dtype=torch.float64), -1).requires_grad_()
    assert torch.autograd.gradcheck(shift, (wc, s))
    gamma = (1 + torch.rand(b, 1, generator=g, dtype=torch.float64) * 4).requires_grad_()
    assert torch.autograd.gradcheck(sharpen, (wc, gamma))


# ---- the named tuple and the stage table --------------------------------------------------------

def test_address_returns_the_named_stages_in_pipeline_order():
    g = torch.Generator().manual_seed(11)
    memory = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    key = torch.randn(2, 3, generator=g, dtype=torch.float64)
    beta, gate, gamma = torch.full((2, 1), 4.0), torch.full((2, 1), 0.7), torch.full((2, 1), 2.0)
    w_prev = one_hot(6, 1, batch=2)
    s = torch.tensor([[0.1, 0.2, 0.7]] * 2, dtype=torch.float64)
    out = address(memory, w_prev, key, beta.double(), gate.double(), s, gamma.double())
    assert isinstance(out, Addressing) and Addressing._fields == ("content", "gated", "shifted", "weights")
    wc = content_weights(memory, key, beta.double())
    torch.testing.assert_close(out.content, wc)
    torch.testing.assert_close(out.gated, interpolate(wc, w_prev, gate.double()))
    torch.testing.assert_close(out.shifted, shift(out.gated, s))
    torch.testing.assert_close(out.weights, sharpen(out.shifted, gamma.double()))
    *_, weights = out                                          # unpacks in pipeline order
    assert weights is out.weights and out[-1] is out.weights


def test_stage_table_names_every_weighting_of_address_in_order():
    assert [stage.key for stage in STAGES] == list(Addressing._fields)
    assert [stage.label for stage in STAGES] == ["content", "gated", "shifted", "sharpened"]
    assert [stage.parameter.name for stage in STAGES] == ["beta", "g", "s", "gamma"]
    assert [stage.parameter.symbol for stage in STAGES] == ["β", "g", "s", "γ"]
    assert [stage.mixes_previous for stage in STAGES] == [False, True, False, False]
    assert STAGES[0].parameter.title == "β, key strength"
    with pytest.raises(FrozenInstanceError):
        STAGES[0].label = "changed"


def test_each_stage_code_is_the_line_of_address_that_computes_it():
    # The table's code is not a copy that can drift: every line is in address(), in order, and
    # calls the stage's function with the stage's parameter.
    body = inspect.getsource(address)
    positions = [body.index(stage.code) for stage in STAGES]
    assert positions == sorted(positions)
    arguments = set(inspect.signature(address).parameters)
    for stage in STAGES:
        assert stage.code.startswith(f"{stage.key} = {stage.function}(")
        assert callable(getattr(addressing, stage.function))
        assert stage.parameter.name in arguments and stage.parameter.name in stage.code
        assert stage.equation and stage.note.startswith("Eq. ")
    assert SIMILARITY.function == "cosine_similarity" and SIMILARITY.parameter is None
    assert "cosine_similarity(memory, key)" in inspect.getsource(content_weights)
