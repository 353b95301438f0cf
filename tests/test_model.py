"""The NTM as a whole: wiring checked step by step against the NumPy reference, state, heads."""

import numpy as np
import pytest
import torch

from ntm import reference
from ntm.heads import parse_head_order
from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig, build_model
from ntm.trace import record


def small_config(**kw):
    base = dict(input_size=5, output_size=4, controller_size=16, memory_slots=10, memory_width=6)
    base.update(kw)
    return NTMConfig(**base)


def run_trace(config, steps=6, seed=0):
    torch.manual_seed(seed)
    model = NTM(config)
    x = torch.rand(2, steps, config.input_size, generator=torch.Generator().manual_seed(seed))
    targets = torch.zeros(2, steps, config.output_size)
    return model, x, record(model, x, targets, torch.ones(2, steps, dtype=torch.bool))


@pytest.mark.parametrize("heads,memory_init,controller", [
    ("rw", "constant", "lstm"), ("wr", "random", "feedforward"), ("rrww", "learned", "lstm"), ("rwr", "random", "lstm")])
def test_every_recorded_step_matches_the_reference_equations(heads, memory_init, controller):
    config = small_config(heads=heads, memory_init=memory_init, controller=controller)
    _, _, trace = run_trace(config)
    memory = trace.memory[0].astype(np.float64)
    w_prev = {h.name: np.eye(config.memory_slots)[0] for h in trace.heads}
    for t in range(trace.steps):
        # Heads act in the configured order; a run of same-kind heads shares the memory it finds.
        seen = {"read": 0, "write": 0}
        for kind, count in parse_head_order(heads):
            heads_now = [trace.head(f"{kind} {seen[kind] + n + 1}") for n in range(count)]
            seen[kind] += count
            ws = []
            for h in heads_now:
                w = reference.address(memory, w_prev[h.name], h.key[t].astype(np.float64), float(h.beta[t]),
                                      float(h.g[t]), h.s[t].astype(np.float64), float(h.gamma[t]))
                np.testing.assert_allclose(h.weights[t], w, atol=2e-5, err_msg=f"{h.name} t={t}")
                ws.append(w)
                w_prev[h.name] = h.weights[t].astype(np.float64)
                if kind == "read":
                    np.testing.assert_allclose(h.read[t], reference.read(memory, w), atol=2e-5)
            if kind == "write":
                memory = reference.write(memory, ws, [h.erase[t] for h in heads_now], [h.add[t] for h in heads_now])
        np.testing.assert_allclose(trace.memory[t + 1], memory, atol=5e-5, err_msg=f"memory after t={t}")
        memory = trace.memory[t + 1].astype(np.float64)


def test_recording_does_not_change_outputs_and_state_continues_a_sequence():
    torch.manual_seed(0)
    model = NTM(small_config())
    x = torch.rand(3, 8, 5)
    full, _, none = model(x)
    assert none is None
    recorded, _, rec = model(x, record=True)
    torch.testing.assert_close(full, recorded)
    first, state, _ = model(x[:, :5])
    rest, _, _ = model(x[:, 5:], state=state)
    torch.testing.assert_close(torch.cat([first, rest], 1), full)
    assert rec.memory.shape == (3, 9, 10, 6)


def test_batch_elements_are_independent():
    torch.manual_seed(1)
    model = NTM(small_config(heads="rrw"))
    x = torch.rand(4, 6, 5)
    together, _, _ = model(x)
    alone, _, _ = model(x[2:3])
    torch.testing.assert_close(together[2:3], alone)


def test_gradients_reach_every_parameter():
    torch.manual_seed(2)
    model = NTM(small_config(memory_init="learned", heads="rwr"))
    out, _, _ = model(torch.rand(2, 7, 5))
    out.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_lstm_baseline_shapes_and_build_model_errors():
    lstm = LSTMBaseline(LSTMConfig(input_size=9, output_size=8, hidden_size=32, layers=2))
    out, state, rec = lstm(torch.rand(2, 5, 9))
    assert out.shape == (2, 5, 8) and rec is None
    with pytest.raises(ValueError, match="unknown ntm config keys"):
        build_model("ntm", {"input_size": 9, "output_size": 8, "slots": 3})
    with pytest.raises(ValueError, match="model type must be one of"):
        build_model("transformer", {})


@pytest.mark.parametrize("bad,match", [
    (dict(heads="rr"), "at least one of each"), (dict(heads="rxw"), "string of 'r' and 'w'"),
    (dict(shift_radius=6), "shift_radius"), (dict(controller="gru"), "controller must be"),
    (dict(memory_slots=0), "memory_slots must be a positive integer")])
def test_config_validation_messages(bad, match):
    with pytest.raises(ValueError, match=match):
        small_config(**bad)
