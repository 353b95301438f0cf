"""ntm.controller: the LSTM and feed-forward controllers (paper section 3.4): shapes, the state
they carry from one timestep to the next, and how their layers stack."""

import pytest
import torch
from torch import nn

from ntm.controller import CONTROLLERS, FeedForwardController, LSTMController

B, IN, SIZE = 3, 7, 5


def inputs(steps=1, seed=0):
    return torch.randn(steps, B, IN, generator=torch.Generator().manual_seed(seed))


def test_the_names_the_config_accepts():
    assert CONTROLLERS == {"lstm": LSTMController, "feedforward": FeedForwardController}


# ---- LSTM ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [1, 2, 3])
def test_lstm_shapes_and_state(layers):
    torch.manual_seed(0)
    ctrl = LSTMController(IN, SIZE, layers)
    x = inputs()[0]
    state = ctrl.initial_state(B, x)
    assert len(state) == layers
    assert all(h.shape == c.shape == (B, SIZE) and not h.any() and not c.any() for h, c in state)
    out, new_state = ctrl(x, state)
    assert out.shape == (B, SIZE)
    assert len(new_state) == layers and all(h.shape == c.shape == (B, SIZE) for h, c in new_state)
    assert torch.equal(out, new_state[-1][0])        # the controller's output is the top layer's h
    assert all(c.any() for _, c in new_state)        # every layer's cell state moved


def test_lstm_initial_state_follows_the_dtype_of_its_reference():
    ctrl = LSTMController(IN, SIZE, 2).double()
    state = ctrl.initial_state(B, torch.zeros(1, dtype=torch.float64))
    assert all(h.dtype == c.dtype == torch.float64 for h, c in state)
    out, _ = ctrl(inputs()[0].double(), state)
    assert out.dtype == torch.float64


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_lstm_unrolled_is_torch_s_stacked_lstm(layers):
    """Stepping the controller T times, carrying its state, equals nn.LSTM with the same weights
    over the whole sequence: each layer feeds the next, and (h, c) flows from step to step."""
    torch.manual_seed(1)
    ctrl = LSTMController(IN, SIZE, layers)
    ref = nn.LSTM(IN, SIZE, num_layers=layers)
    with torch.no_grad():
        for k, cell in enumerate(ctrl.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{k}").copy_(getattr(cell, name))
    xs = inputs(steps=6, seed=2)                                     # [T, B, IN]
    state = ctrl.initial_state(B, xs)
    outs = []
    for x in xs:
        out, state = ctrl(x, state)
        outs.append(out)
    expected, (h_n, c_n) = ref(xs)
    torch.testing.assert_close(torch.stack(outs), expected)
    torch.testing.assert_close(torch.stack([h for h, _ in state]), h_n)
    torch.testing.assert_close(torch.stack([c for _, c in state]), c_n)


def test_lstm_output_depends_on_the_state_it_is_given():
    torch.manual_seed(0)
    ctrl = LSTMController(IN, SIZE, 2)
    x0, x1 = inputs(steps=2)
    fresh = ctrl.initial_state(B, x0)
    _, after_one = ctrl(x0, fresh)
    out_fresh, _ = ctrl(x1, fresh)
    out_carried, _ = ctrl(x1, after_one)
    assert not torch.allclose(out_fresh, out_carried)
    again, _ = ctrl(x1, after_one)                   # same input and state: same output
    assert torch.equal(again, out_carried)


def test_lstm_rows_of_a_batch_are_independent():
    torch.manual_seed(0)
    ctrl = LSTMController(IN, SIZE, 2)
    x = inputs()[0]
    out, _ = ctrl(x, ctrl.initial_state(B, x))
    single, _ = ctrl(x[1:2], ctrl.initial_state(1, x))
    torch.testing.assert_close(out[1:2], single)


@pytest.mark.parametrize("kind", ["lstm", "feedforward"])
def test_gradients_reach_every_layer(kind):
    torch.manual_seed(0)
    ctrl = CONTROLLERS[kind](IN, SIZE, 3)
    x0, x1 = inputs(steps=2)
    _, state = ctrl(x0, ctrl.initial_state(B, x0))   # two steps: h_0 = 0 gives W_hh no gradient
    out, _ = ctrl(x1, state)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ctrl.parameters())


# ---- feed-forward ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [1, 2, 3])
def test_feedforward_shapes_and_no_state(layers):
    torch.manual_seed(0)
    ctrl = FeedForwardController(IN, SIZE, layers)
    x = inputs()[0]
    state = ctrl.initial_state(B, x)
    assert state == ()
    out, new_state = ctrl(x, state)
    assert out.shape == (B, SIZE) and new_state == ()
    assert out.abs().max() < 1                                       # tanh outputs
    linears = [m for m in ctrl.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(IN, SIZE)] + [(SIZE, SIZE)] * (layers - 1)


def test_feedforward_is_tanh_layers_applied_in_order():
    torch.manual_seed(0)
    ctrl = FeedForwardController(IN, SIZE, 2)
    x = inputs()[0]
    l1, l2 = [m for m in ctrl.modules() if isinstance(m, nn.Linear)]
    expected = torch.tanh(l2(torch.tanh(l1(x))))
    out, _ = ctrl(x, ())
    torch.testing.assert_close(out, expected)


def test_feedforward_remembers_nothing():
    """Everything a feed-forward NTM remembers goes through memory: the same input gives the same
    output whatever came before."""
    torch.manual_seed(0)
    ctrl = FeedForwardController(IN, SIZE, 2)
    x0, x1 = inputs(steps=2)
    first, _ = ctrl(x1, ctrl.initial_state(B, x1))
    ctrl(x0, ())
    second, _ = ctrl(x1, ())
    assert torch.equal(first, second)
