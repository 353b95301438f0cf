"""DNC addressing (ntm.dnc.addressing): hand-worked cases, invariants, edge cases, gradients, the stage table."""

import inspect

import pytest
import torch

from ntm.dnc import access, addressing
from ntm.dnc.addressing import (STAGES, TemporalLinkage, allocation, directional_weights, link, precedence,
                                read_weights, retention, temporal_linkage, usage, write_weights)

F64 = torch.float64


def t(values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


# ---- hand-worked cases ----------------------------------------------------------------------------

def test_retention_hand_worked():
    # Head 1 frees the slot it read fully; head 2 half-frees slot 1; slot 2 was not read.
    free = t([[1.0, 0.5]])
    prev_read = t([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    torch.testing.assert_close(retention(free, prev_read), t([[0.0, 0.5, 1.0]]))


def test_usage_hand_worked():
    u = usage(t([[0.5, 0.0, 1.0]]), t([[0.5, 1.0, 0.0]]), t([[1.0, 1.0, 0.5]]))
    torch.testing.assert_close(u, t([[0.75, 1.0, 0.5]]))


def test_allocation_hand_worked():
    # Least used first: slot 1 (0.2), then slot 0 (0.5), then slot 2 (0.9).
    a = allocation(t([[0.5, 0.2, 0.9]]))
    torch.testing.assert_close(a, t([[0.5 * 0.2, 0.8, 0.1 * 0.2 * 0.5]]))
    torch.testing.assert_close(a.sum(), t(1 - 0.5 * 0.2 * 0.9))


def test_allocation_ties_are_in_slot_order_and_deterministic():
    u = torch.full((4, 5), 0.3, dtype=F64)
    a = allocation(u)
    expected = t([0.7 * 0.3 ** k for k in range(5)])
    for row in a:
        torch.testing.assert_close(row, expected)
    # Ties among some slots only: the tied slots keep slot order among themselves.
    a = allocation(t([[0.6, 0.1, 0.6, 0.1]]))
    torch.testing.assert_close(a, t([[0.4 * 0.1 * 0.1, 0.9, 0.4 * 0.1 * 0.1 * 0.6, 0.9 * 0.1]]))


def test_allocation_empty_memory_picks_the_first_slot_and_full_memory_allocates_nothing():
    torch.testing.assert_close(allocation(torch.zeros(2, 4, dtype=F64)), t([[1.0, 0, 0, 0]] * 2))
    torch.testing.assert_close(allocation(torch.ones(2, 4, dtype=F64)), torch.zeros(2, 4, dtype=F64))


def test_write_weights_gates():
    a, c = t([[1.0, 0.0, 0.0]]), t([[0.0, 0.25, 0.75]])
    torch.testing.assert_close(write_weights(a, c, t([[1.0]]), t([[1.0]])), a)
    torch.testing.assert_close(write_weights(a, c, t([[0.0]]), t([[1.0]])), c)
    torch.testing.assert_close(write_weights(a, c, t([[0.5]]), t([[0.5]])), t([[0.25, 0.0625, 0.1875]]))
    torch.testing.assert_close(write_weights(a, c, t([[0.5]]), t([[0.0]])), torch.zeros(1, 3, dtype=F64))


def test_linkage_records_write_order_and_reads_follow_it():
    # Write slot 2, then slot 0, then slot 1, each fully: L[i, j] = 1 where i was written right after j.
    n = 3
    state = TemporalLinkage(torch.zeros(1, n, n, dtype=F64), torch.zeros(1, n, dtype=F64))
    for slot in (2, 0, 1):
        w = torch.zeros(1, n, dtype=F64)
        w[0, slot] = 1.0
        state = temporal_linkage(state, w)
    expected = torch.zeros(n, n, dtype=F64)
    expected[0, 2] = expected[1, 0] = 1.0
    torch.testing.assert_close(state.link[0], expected)
    torch.testing.assert_close(state.precedence, t([[0.0, 1.0, 0.0]]))
    # A head that read slot 2 goes forward to slot 0; one that read slot 1 goes backward to slot 0.
    prev_read = t([[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    fwd, bwd = directional_weights(state.link, prev_read)
    torch.testing.assert_close(fwd[0, 0], t([1.0, 0.0, 0.0]))
    torch.testing.assert_close(bwd[0, 1], t([1.0, 0.0, 0.0]))
    torch.testing.assert_close(fwd[0, 1], t([0.0, 0.0, 0.0]))   # nothing was written after slot 1


def test_link_hand_worked_partial_write():
    prev_link = t([[[0.0, 0.5, 0.0], [0.2, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    prev_p = t([[0.1, 0.3, 0.4]])
    w = t([[0.0, 0.0, 0.5]])
    out = link(prev_link, prev_p, w)
    expected = t([[[0.0, 0.5, 0.0 * 0.5], [0.2, 0.0, 0.0], [0.5 * 0.1, 0.5 * 0.3, 0.0]]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(precedence(prev_p, w), t([[0.05, 0.15, 0.7]]))


def test_read_modes_select_backward_content_forward():
    b, c, f = t([[[1.0, 0, 0]]]), t([[[0, 1.0, 0]]]), t([[[0, 0, 1.0]]])
    for k, expected in enumerate((b, c, f)):
        modes = torch.zeros(1, 1, 3, dtype=F64)
        modes[..., k] = 1.0
        torch.testing.assert_close(read_weights(b, c, f, modes), expected)
    torch.testing.assert_close(read_weights(b, c, f, t([[[0.2, 0.3, 0.5]]])), t([[[0.2, 0.3, 0.5]]]))


def test_interface_activations_and_layout():
    w, r = 4, 2
    size = access.interface_size(w, r)
    assert size == w * r + 3 * w + 5 * r + 3
    xi = access.parse_interface(torch.randn(3, size, generator=torch.Generator().manual_seed(0)) * 5, w, r)
    assert xi.read_keys.shape == (3, r, w) and xi.read_modes.shape == (3, r, 3)
    assert (xi.read_strengths >= 1).all() and (xi.write_strength >= 1).all()
    for gate in (xi.erase, xi.free_gates, xi.allocation_gate, xi.write_gate):
        assert ((gate >= 0) & (gate <= 1)).all()
    torch.testing.assert_close(xi.read_modes.sum(-1), torch.ones(3, r))
    with pytest.raises(ValueError, match="interface vector must have"):
        access.parse_interface(torch.zeros(1, size + 1), w, r)
    torch.testing.assert_close(access.oneplus(torch.tensor([0.0])), torch.tensor([1.0 + 0.6931471805599453]))


# ---- invariants over random runs ----------------------------------------------------------------

def random_run(steps=12, batch=4, n=7, w=3, r=2, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    state = access.initial_access_state(batch, n, w, r, torch.zeros((), dtype=dtype))
    out = []
    for _ in range(steps):
        xi = access.parse_interface(3 * torch.randn(batch, access.interface_size(w, r), generator=g, dtype=dtype), w, r)
        step = access.access_step(xi, state)
        out.append(step)
        state = access.next_state(step)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariants_hold_on_random_runs(seed):
    tol = 1e-5
    for s in random_run(seed=seed):
        assert ((s.usage >= 0) & (s.usage <= 1)).all()
        assert (s.allocation >= 0).all() and (s.allocation.sum(-1) <= 1 + tol).all()
        assert (s.retention >= 0).all() and (s.retention <= 1).all()
        assert (s.write_weights >= 0).all() and (s.write_weights.sum(-1) <= 1 + tol).all()
        assert (s.precedence >= 0).all() and (s.precedence.sum(-1) <= 1 + tol).all()
        assert (s.link >= -tol).all() and (s.link <= 1 + tol).all()
        assert (s.link.sum(-1) <= 1 + tol).all() and (s.link.sum(-2) <= 1 + tol).all()
        assert (torch.diagonal(s.link, dim1=-2, dim2=-1) == 0).all()
        assert (s.forward.sum(-1) <= 1 + tol).all() and (s.backward.sum(-1) <= 1 + tol).all()
        assert (s.read_weights >= 0).all() and (s.read_weights.sum(-1) <= 1 + tol).all()
        assert all(torch.isfinite(x).all() for x in s[1:])


def test_memory_fills_slot_by_slot_under_full_allocation():
    # Allocation gate and write gate 1, no freeing: each step writes the next free slot, in order.
    n, w, r = 4, 2, 1
    state = access.initial_access_state(1, n, w, r, torch.zeros((), dtype=F64))
    written = []
    for _ in range(n):
        xi = access.Interface(
            read_keys=torch.zeros(1, r, w, dtype=F64), read_strengths=torch.ones(1, r, dtype=F64),
            write_key=torch.zeros(1, w, dtype=F64), write_strength=torch.ones(1, 1, dtype=F64),
            erase=torch.ones(1, w, dtype=F64), write_vector=torch.ones(1, w, dtype=F64),
            free_gates=torch.zeros(1, r, dtype=F64), allocation_gate=torch.ones(1, 1, dtype=F64),
            write_gate=torch.ones(1, 1, dtype=F64), read_modes=t([[[0.0, 1.0, 0.0]]]))
        step = access.access_step(xi, state)
        written.append(int(step.write_weights.argmax()))
        torch.testing.assert_close(step.write_weights.max(), t(1.0))
        state = access.next_state(step)
    assert written == list(range(n))
    # u_t counts writes up to t - 1: the last write shows in the next step's usage.
    torch.testing.assert_close(state.usage, t([[1.0, 1.0, 1.0, 0.0]]))
    step = access.access_step(xi, state)
    torch.testing.assert_close(step.usage, torch.ones(1, n, dtype=F64))
    # Memory full: allocation is zero everywhere, so a pure allocation write writes nothing.
    torch.testing.assert_close(step.allocation, torch.zeros(1, n, dtype=F64))
    torch.testing.assert_close(step.memory, state.memory)


# ---- edge cases: finite values and gradients ----------------------------------------------------

@pytest.mark.parametrize("u", [torch.zeros(2, 6), torch.ones(2, 6), torch.full((2, 6), 0.4),
                               torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.5, 0.5]] * 2)],
                         ids=["empty", "all-used", "all-tied", "mixed-ties"])
def test_allocation_edge_cases_have_finite_values_and_gradients(u):
    u = u.to(F64).requires_grad_(True)
    a = allocation(u)
    assert torch.isfinite(a).all() and (a.sum(-1) <= 1 + 1e-12).all()
    (a * torch.arange(6, dtype=F64)).sum().backward()
    assert torch.isfinite(u.grad).all()


def test_empty_memory_step_is_finite_with_finite_gradients():
    n, w, r = 5, 3, 2
    state = access.initial_access_state(2, n, w, r, torch.zeros((), dtype=F64))
    raw = torch.zeros(2, access.interface_size(w, r), dtype=F64, requires_grad=True)
    step = access.access_step(access.parse_interface(raw, w, r), state)
    # An all-zero memory and key: content addressing is uniform, not NaN.
    torch.testing.assert_close(step.write_content, torch.full((2, n), 1 / n, dtype=F64))
    loss = sum(x.sum() for x in step[1:])
    loss.backward()
    assert torch.isfinite(raw.grad).all()


# ---- gradcheck (float64) on every differentiable function --------------------------------------

def _rand(*shape, seed=0, low=0.05, high=0.95):
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(*shape, generator=g, dtype=F64)).requires_grad_(True)


def test_gradcheck_retention_usage_write_weights_precedence():
    assert torch.autograd.gradcheck(retention, (_rand(2, 3, seed=1), _rand(2, 3, 5, seed=2)))
    assert torch.autograd.gradcheck(usage, (_rand(2, 5, seed=3), _rand(2, 5, seed=4), _rand(2, 5, seed=5)))
    assert torch.autograd.gradcheck(write_weights, (_rand(2, 5, seed=6), _rand(2, 5, seed=7), _rand(2, 1, seed=8),
                                                    _rand(2, 1, seed=9)))
    assert torch.autograd.gradcheck(precedence, (_rand(2, 5, seed=10) / 5, _rand(2, 5, seed=11) / 5))


def test_gradcheck_allocation_away_from_ties():
    u = torch.tensor([[0.1, 0.7, 0.3, 0.9, 0.5], [0.8, 0.2, 0.6, 0.05, 0.4]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(allocation, (u,))


def test_gradcheck_link_directional_read_weights():
    assert torch.autograd.gradcheck(link, (_rand(2, 4, 4, seed=1) / 4, _rand(2, 4, seed=2) / 4,
                                           _rand(2, 4, seed=3) / 4))
    assert torch.autograd.gradcheck(directional_weights, (_rand(2, 4, 4, seed=4), _rand(2, 3, 4, seed=5)))
    assert torch.autograd.gradcheck(read_weights, (_rand(2, 3, 4, seed=6), _rand(2, 3, 4, seed=7),
                                                   _rand(2, 3, 4, seed=8), _rand(2, 3, 3, seed=9)))


def test_gradcheck_whole_access_step():
    n, w, r = 4, 3, 2
    g = torch.Generator().manual_seed(3)
    prev = access.AccessState(torch.randn(1, n, w, generator=g, dtype=F64), _rand(1, n, n, seed=1) / n,
                              _rand(1, n, seed=2) / n, _rand(1, r, n, seed=3) / n, _rand(1, n, seed=4) / n,
                              _rand(1, n, seed=5))

    def run(raw, memory, link_, prec, read_w, write_w, usage_):
        step = access.access_step(access.parse_interface(raw, w, r),
                                  access.AccessState(memory, link_, prec, read_w, write_w, usage_))
        return step.reads, step.memory, step.link, step.usage

    raw = torch.randn(1, access.interface_size(w, r), generator=g, dtype=F64).requires_grad_(True)
    inputs = (raw,) + tuple(x.detach().requires_grad_(True) for x in prev)
    assert torch.autograd.gradcheck(run, inputs)


# ---- the stage table ----------------------------------------------------------------------------

def test_every_stage_names_a_step_field_a_function_and_a_line_of_access_step():
    source = inspect.getsource(access.access_step)
    fields = set(access.AccessStep._fields)
    for stage in STAGES:
        assert stage.key in fields, stage.key
        assert stage.code in source, stage.code
        assert stage.function in stage.code and callable(getattr(addressing, stage.function))
        assert stage.equation and stage.title and stage.note
    assert len({s.key for s in STAGES}) == len(STAGES)
