"""The batched torch DNC (ntm.dnc) against the float64 NumPy reference (ntm.dnc_reference), and the
reference itself on cases worked by hand."""

import numpy as np
import pytest
import torch

from ntm import dnc_reference as ref
from ntm.dnc import access, addressing

F64 = torch.float64


def np_(x):
    return x.detach().numpy()


# ---- the reference on hand-worked cases ---------------------------------------------------------

def test_reference_allocation_and_linkage_by_hand():
    np.testing.assert_allclose(ref.allocation(np.array([0.5, 0.2, 0.9])), [0.1, 0.8, 0.01])
    np.testing.assert_allclose(ref.allocation(np.array([0.3, 0.3])), [0.7, 0.21])
    np.testing.assert_allclose(ref.retention(np.array([1.0, 0.5]), np.array([[1.0, 0, 0], [0, 1.0, 0]])), [0, 0.5, 1])
    L = ref.link(np.zeros((3, 3)), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    expected = np.zeros((3, 3))
    expected[0, 2] = 1.0                                   # slot 0 written right after slot 2
    np.testing.assert_allclose(L, expected)
    np.testing.assert_allclose(ref.forward_weights(L, np.array([0.0, 0.0, 1.0])), [1.0, 0, 0])
    np.testing.assert_allclose(ref.backward_weights(L, np.array([1.0, 0.0, 0.0])), [0, 0, 1.0])
    np.testing.assert_allclose(ref.precedence(np.array([0.0, 0.0, 1.0]), np.array([0.25, 0, 0])), [0.25, 0, 0.75])
    assert ref.oneplus(np.array([0.0]))[0] == pytest.approx(1 + np.log(2))


# ---- function by function -------------------------------------------------------------------------

def rand(*shape, seed):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=shape)


@pytest.mark.parametrize("seed", range(4))
def test_functions_match_reference(seed):
    n, r = 6, 3
    free, prev_read = rand(r, seed=seed), rand(r, n, seed=seed + 1) / n
    u_prev, w_prev = rand(n, seed=seed + 2), rand(n, seed=seed + 3) / n
    psi = addressing.retention(torch.tensor(free)[None], torch.tensor(prev_read)[None])[0]
    np.testing.assert_allclose(np_(psi), ref.retention(free, prev_read))
    u = addressing.usage(torch.tensor(u_prev)[None], torch.tensor(w_prev)[None], psi[None])[0]
    np.testing.assert_allclose(np_(u), ref.usage(u_prev, w_prev, np_(psi)))
    a = addressing.allocation(u[None])[0]
    np.testing.assert_allclose(np_(a), ref.allocation(np_(u)), atol=1e-15)
    c = rand(n, seed=seed + 4)
    c /= c.sum()
    ww = addressing.write_weights(a[None], torch.tensor(c)[None], torch.tensor([[0.3]], dtype=F64),
                                  torch.tensor([[0.9]], dtype=F64))[0]
    np.testing.assert_allclose(np_(ww), ref.write_weights(np_(a), c, 0.3, 0.9))
    l_prev, p_prev = rand(n, n, seed=seed + 5) / n, rand(n, seed=seed + 6) / n
    np.fill_diagonal(l_prev, 0.0)
    L = addressing.link(torch.tensor(l_prev)[None], torch.tensor(p_prev)[None], ww[None])[0]
    np.testing.assert_allclose(np_(L), ref.link(l_prev, p_prev, np_(ww)))
    p = addressing.precedence(torch.tensor(p_prev)[None], ww[None])[0]
    np.testing.assert_allclose(np_(p), ref.precedence(p_prev, np_(ww)))
    f, b = addressing.directional_weights(L[None], torch.tensor(prev_read)[None])
    for i in range(r):
        np.testing.assert_allclose(np_(f[0, i]), ref.forward_weights(np_(L), prev_read[i]))
        np.testing.assert_allclose(np_(b[0, i]), ref.backward_weights(np_(L), prev_read[i]))
    modes = rand(r, 3, seed=seed + 7)
    modes /= modes.sum(-1, keepdims=True)
    rc = rand(r, n, seed=seed + 8)
    wr = addressing.read_weights(b, torch.tensor(rc)[None], f, torch.tensor(modes)[None])[0]
    for i in range(r):
        np.testing.assert_allclose(np_(wr[i]), ref.read_weights(np_(b[0, i]), rc[i], np_(f[0, i]), modes[i]))


def test_allocation_ties_match_reference_order():
    u = np.array([0.5, 0.1, 0.5, 0.1, 0.0, 1.0])
    np.testing.assert_allclose(np_(addressing.allocation(torch.tensor(u)[None])[0]), ref.allocation(u), atol=1e-15)


def test_interface_parsing_matches_reference():
    w, r = 3, 2
    raw = np.random.default_rng(0).normal(size=access.interface_size(w, r)) * 3
    xi = access.parse_interface(torch.tensor(raw)[None], w, r)
    expected = ref.parse_interface(raw, w, r)
    for name, value in expected.items():
        np.testing.assert_allclose(np_(getattr(xi, name)[0]).reshape(np.shape(value)), value, err_msg=name)


# ---- whole access steps, state threaded through a sequence -------------------------------------

@pytest.mark.parametrize("seed,r", [(0, 1), (1, 2), (2, 3)])
def test_access_steps_match_reference_over_a_sequence(seed, r):
    n, w, steps, batch = 5, 4, 8, 2
    g = np.random.default_rng(seed)
    state = access.initial_access_state(batch, n, w, r, torch.zeros((), dtype=F64))
    refs = [ref.initial_state(n, w, r) for _ in range(batch)]
    for t in range(steps):
        raw = g.normal(size=(batch, access.interface_size(w, r))) * 2
        step = access.access_step(access.parse_interface(torch.tensor(raw), w, r), state)
        for b in range(batch):
            expected = ref.access_step(ref.parse_interface(raw[b], w, r), refs[b])
            for name, value in expected.items():
                np.testing.assert_allclose(np_(getattr(step, name)[b]), value, atol=1e-10,
                                           err_msg=f"{name} t={t} b={b}")
            refs[b] = ref.next_state(expected)
        state = access.next_state(step)
