"""The DNC as a whole (ntm.dnc.model): pytorch-dnc's constructor and call, the library's model protocol,
state threading and memory reset, controllers, recording checked step by step against the reference."""

import dataclasses

import numpy as np
import pytest
import torch

from ntm import dnc_reference as ref
from ntm.dnc import DNC, DNCConfig, DNCModel, DNCState, detach_state
from ntm.dnc.access import AccessState

DEBUG_KEYS = {"memory", "link_matrix", "precedence", "read_weights", "write_weights", "usage_vector"}


def small_dnc(**kw):
    base = dict(input_size=6, hidden_size=16, nr_cells=7, cell_size=4, read_heads=2)
    base.update(kw)
    torch.manual_seed(0)
    return DNC(**base)


def inputs(b=3, t=5, x=6, seed=0):
    return torch.rand(b, t, x, generator=torch.Generator().manual_seed(seed))


# ---- pytorch-dnc's constructor and call -----------------------------------------------------------

def test_familiar_constructor_call_and_state_unpacking():
    dnc = DNC(input_size=6, hidden_size=16, rnn_type="lstm", num_layers=2, nr_cells=7, cell_size=4, read_heads=3,
              batch_first=True)
    output, (controller_hidden, memory, read_vectors) = dnc(inputs(), (None, None, None), reset_experience=True)
    assert output.shape == (3, 5, 6)                      # output_size defaults to input_size, as pytorch-dnc
    assert len(controller_hidden) == 2 and controller_hidden[0][0].shape == (3, 16)
    assert isinstance(memory, AccessState) and memory.memory.shape == (3, 7, 4) and memory.link.shape == (3, 7, 7)
    assert read_vectors.shape == (3, 3, 4)


def test_time_first_inputs_when_batch_first_is_false():
    a, b = small_dnc(), small_dnc(batch_first=False)
    x = inputs()
    out_a, _ = a(x)
    out_b, _ = b(x.transpose(0, 1))
    assert out_b.shape == (5, 3, 6)
    torch.testing.assert_close(out_b.transpose(0, 1), out_a)


def test_debug_record_has_pytorch_dnc_keys_for_the_first_sequence():
    dnc = small_dnc(debug=True)
    output, state, debug = dnc(inputs(t=4))
    assert set(debug) == DEBUG_KEYS and all(isinstance(v, np.ndarray) for v in debug.values())
    assert debug["memory"].shape == (4, 7, 4) and debug["link_matrix"].shape == (4, 7, 7)
    assert debug["read_weights"].shape == (4, 2, 7) and debug["usage_vector"].shape == (4, 7)
    np.testing.assert_allclose(debug["memory"][-1], state.access.memory[0].detach().numpy())
    np.testing.assert_allclose(debug["read_weights"][-1], state.access.read_weights[0].detach().numpy())
    assert not np.allclose(debug["write_weights"], 0)


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_controllers_and_layers_run_and_every_parameter_gets_a_gradient(rnn_type, num_layers):
    dnc = small_dnc(rnn_type=rnn_type, num_layers=num_layers, output_size=5)
    output, state = dnc(inputs())
    assert output.shape == (3, 5, 5) and len(state.controller) == num_layers
    output.pow(2).sum().backward()
    missing = [n for n, p in dnc.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_state_carries_over_and_reset_experience_empties_memory():
    dnc = small_dnc()
    x = inputs(t=8)
    whole, _ = dnc(x)
    first, state = dnc(x[:, :4])
    second, _ = dnc(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    # Reset: same controller state and read vectors, memory as at the start.
    reset_out, reset_state = dnc(x[:, 4:], state, reset_experience=True)
    expected, _ = dnc(x[:, 4:], state._replace(access=dnc.initial_state(3).access))
    torch.testing.assert_close(reset_out, expected)
    assert not torch.allclose(reset_out, second)
    empty = dnc.reset_experience(state)
    assert all((t == 0).all() for t in empty.access) and empty.controller is state.controller


def test_hidden_tuple_parts_may_be_none_and_bad_hidden_is_a_clear_error():
    dnc = small_dnc()
    x = inputs()
    _, state = dnc(x)
    out_partial, _ = dnc(x, (state.controller, None, None))
    out_full, _ = dnc(x, (state.controller, dnc.initial_state(3).access, dnc.initial_state(3).reads))
    torch.testing.assert_close(out_partial, out_full)
    with pytest.raises(ValueError, match="hidden must be"):
        dnc(x, (None, None))


def test_pass_through_memory_false_leaves_memory_untouched():
    dnc = small_dnc()
    _, state = dnc(inputs())
    _, after = dnc(inputs(seed=1), state, pass_through_memory=False)
    for a, b in zip(after.access, state.access):
        assert torch.equal(a, b)
    torch.testing.assert_close(after.reads, state.reads)


def test_detach_state_cuts_the_graph():
    dnc = small_dnc()
    _, state = dnc(inputs())
    assert state.access.memory.requires_grad
    cut = detach_state(state)
    assert isinstance(cut, DNCState) and isinstance(cut.access, AccessState)
    assert not any(t.requires_grad for t in cut.access) and not cut.reads.requires_grad
    assert not cut.controller[0][0].requires_grad
    out, _ = dnc(inputs(), cut)
    out.sum().backward()                                   # works without retain_graph


# ---- the library's model protocol ---------------------------------------------------------------

def test_model_protocol_config_and_recording():
    config = DNCConfig(input_size=6, output_size=4, hidden_size=16, nr_cells=9, cell_size=5, read_heads=2)
    model = DNCModel(config)
    assert model.model_type == "dnc"
    logits, state, recording = model(inputs())
    assert logits.shape == (3, 5, 4) and recording is None
    logits, state, recording = model(inputs(), record=True)
    assert recording.memory.shape == (3, 6, 9, 5) and recording.outputs.shape == (3, 5, 4)
    assert [h["name"] for h in recording.heads] == ["write 1", "read 1", "read 2"]
    write, read1 = recording.heads[0], recording.heads[1]
    assert write["head_type"] == "dnc-write" and write["weights"].shape == (3, 5, 9)
    assert write["allocation_gate"].shape == (3, 5) and write["erase"].shape == (3, 5, 5)
    assert read1["head_type"] == "dnc-read" and read1["read_modes"].shape == (3, 5, 3)
    assert recording.extras["link"].shape == (3, 5, 9, 9) and recording.extras["usage"].shape == (3, 5, 9)
    torch.testing.assert_close(recording.memory[:, -1], state.access.memory.detach())
    # The config round-trips through JSON-able dicts.
    rebuilt = DNCModel(DNCConfig(**dataclasses.asdict(config)))
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt(inputs())[0], model(inputs())[0])


@pytest.mark.parametrize("bad,match", [
    (dict(rnn_type="transformer"), "rnn_type must be"), (dict(nr_cells=0), "nr_cells must be a positive"),
    (dict(read_heads=1.5), "read_heads must be a positive"), (dict(dropout=1.0), "dropout"),
    (dict(nonlinearity="sigmoid"), "nonlinearity"), (dict(clip=-1), "clip")])
def test_bad_configs_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        DNCConfig(input_size=3, output_size=3, **bad)


# ---- every recorded step against the NumPy reference ---------------------------------------------

def test_recorded_steps_match_the_reference_equations():
    torch.manual_seed(3)
    model = DNCModel(DNCConfig(input_size=5, output_size=5, hidden_size=12, nr_cells=6, cell_size=3, read_heads=2))
    model.double()
    x = torch.rand(2, 9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    _, _, rec = model(x, record=True)
    write, reads = rec.heads[0], rec.heads[1:]
    for b in range(2):
        state = ref.initial_state(6, 3, 2)
        for t in range(9):
            xi = {"read_keys": np.stack([h["key"][b, t].numpy() for h in reads]),
                  "read_strengths": np.array([h["strength"][b, t].item() for h in reads]),
                  "write_key": write["write_key"][b, t].numpy(), "write_strength": write["write_strength"][b, t].item(),
                  "erase": write["erase"][b, t].numpy(), "write_vector": write["write_vector"][b, t].numpy(),
                  "free_gates": np.array([h["free_gate"][b, t].item() for h in reads]),
                  "allocation_gate": write["allocation_gate"][b, t].item(),
                  "write_gate": write["write_gate"][b, t].item(),
                  "read_modes": np.stack([h["read_modes"][b, t].numpy() for h in reads])}
            step = ref.access_step(xi, state)
            np.testing.assert_allclose(write["weights"][b, t].numpy(), step["write_weights"], atol=1e-10)
            np.testing.assert_allclose(write["allocation"][b, t].numpy(), step["allocation"], atol=1e-10)
            np.testing.assert_allclose(rec.extras["usage"][b, t].numpy(), step["usage"], atol=1e-10)
            np.testing.assert_allclose(rec.extras["link"][b, t].numpy(), step["link"], atol=1e-10)
            np.testing.assert_allclose(rec.memory[b, t + 1].numpy(), step["memory"], atol=1e-10)
            for i, h in enumerate(reads):
                np.testing.assert_allclose(h["weights"][b, t].numpy(), step["read_weights"][i], atol=1e-10)
                np.testing.assert_allclose(h["read"][b, t].numpy(), step["reads"][i], atol=1e-10)
            state = ref.next_state(step)


def test_a_few_optimizer_steps_lower_the_loss_on_a_fixed_batch():
    from ntm.tasks import loss, make_task
    task = make_task("copy")
    batch = task.sample(2, torch.Generator().manual_seed(0), length=3)
    torch.manual_seed(0)
    model = DNCModel(DNCConfig(task.input_size, task.output_size, hidden_size=32, nr_cells=16, cell_size=8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        value = loss(model(batch.inputs)[0], batch)
        value.backward()
        opt.step()
        losses.append(value.item())
    assert losses[-1] < 0.8 * losses[0]


def test_registered_with_the_library_model_types_and_p_names():
    from ntm.model import build_model, config_fields, model_config_dict
    for model_type, cls in (("dnc", DNCModel), ("sdnc", None)):
        assert {"nr_cells", "cell_size", "read_heads", "rnn_type", "hidden_size", "num_layers"} <= set(config_fields(model_type))
        model = build_model(model_type, {"input_size": 5, "output_size": 4, "nr_cells": 16, "read_heads": 2})
        assert model.model_type == model_type and model_config_dict(model)["nr_cells"] == 16
        if cls is not None:
            assert isinstance(model, cls)
    assert {"sparse_reads", "temporal_reads"} <= set(config_fields("sdnc"))
    with pytest.raises(ValueError, match="unknown dnc config keys"):
        build_model("dnc", {"input_size": 5, "output_size": 4, "memory_slots": 3})
