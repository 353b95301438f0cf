"""The trace records every DNC quantity as its own head types, and the JSON round trip keeps them."""

import numpy as np
import pytest

from ntm.dnc.addressing import STAGES as DNC_STAGES
import torch

from ntm.model import build_model
from ntm.tasks import make_task
from ntm.trace import DNCReadHead, DNCWriteHead, Trace, record


def _trace(model_type: str, read_heads: int = 2, length: int = 5) -> Trace:
    task = make_task("copy")
    torch.manual_seed(0)
    model = build_model(model_type, {"input_size": task.input_size, "output_size": task.output_size,
                                     "nr_cells": 12, "cell_size": 6, "read_heads": read_heads})
    batch = task.sample(3, torch.Generator().manual_seed(1), length=length)
    return record(model, batch.inputs, batch.targets, batch.mask, index=1)


def test_dense_dnc_trace_has_a_write_head_read_heads_and_the_memory_wide_state():
    tr = _trace("dnc")
    steps, n = tr.steps, 12
    write, *reads = tr.heads
    assert isinstance(write, DNCWriteHead) and [type(h) for h in reads] == [DNCReadHead, DNCReadHead]
    assert [h.name for h in tr.heads] == ["write 1", "read 1", "read 2"]
    assert [s.key for s in write.stages()] == ["write_content", "retention", "usage", "allocation", "write_weights",
                                              "precedence"]
    assert [s.key for s in reads[0].stages()] == ["forward", "backward", "read_content", "read_weights"]
    for h in tr.heads:
        assert h.weights.shape == (steps, n) and h.initial.shape == (n,)
    assert tr.extras["link"].shape == (steps, n, n) and tr.extras["usage"].shape == (steps, n)
    np.testing.assert_array_equal(write.usage, tr.extras["usage"])
    # The paper's invariants hold on what was recorded.
    assert ((tr.extras["usage"] >= 0) & (tr.extras["usage"] <= 1)).all()
    assert (write.allocation.sum(-1) <= 1 + 1e-5).all()
    link = tr.extras["link"]
    assert np.allclose(np.diagonal(link, axis1=1, axis2=2), 0)
    assert (link.sum(-1) <= 1 + 1e-5).all() and (link.sum(-2) <= 1 + 1e-5).all()
    np.testing.assert_allclose(reads[0].read_modes.sum(-1), 1, atol=1e-5)
    # The write weighting is the gated mix of allocation and content (eq. in ntm.dnc.addressing).
    g_w, g_a = write.write_gate[:, None], write.allocation_gate[:, None]
    np.testing.assert_allclose(write.weights, g_w * (g_a * write.allocation + (1 - g_a) * write.write_content),
                               atol=1e-5)


def test_the_json_round_trip_keeps_every_dnc_field():
    tr = _trace("dnc")
    back = Trace.from_json(tr.to_json())
    assert back.model_type == "dnc" and list(back.extras) == list(tr.extras)
    for a, b in zip(tr.heads, back.heads):
        assert type(a) is type(b)
        for name, value in vars(a).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(getattr(b, name), value, atol=1e-6, err_msg=f"{a.name}.{name}")
            else:
                assert getattr(b, name) == value
    for key in tr.extras:
        np.testing.assert_allclose(back.extras[key], tr.extras[key], atol=1e-6)


def test_sparse_dnc_trace_leaves_out_what_it_does_not_have():
    tr = _trace("sdnc", read_heads=1)
    write, read = tr.heads
    assert write.usage is None and write.retention is None and read.free_gate is None
    assert [s.key for s in write.stages()] == ["write_content", "allocation", "write_weights", "precedence"]
    # Its rows are the sparse DNC's own: K-nearest content, least-recently-used allocation.
    rows = {r.stage.key: r.stage for r in [*write.stages(), *read.stages()]}
    assert "least recently used" in rows["allocation"].title and "argmin" in rows["allocation"].code
    assert "K nearest" in rows["write_content"].title and "K nearest" in rows["read_content"].title
    assert rows["allocation"].equation != next(s for s in DNC_STAGES if s.key == "allocation").equation
    dense_write, _ = _trace("dnc", read_heads=1).heads
    assert [r.stage.title for r in dense_write.stages()][:3] == ["Write content weighting", "Memory retention", "Usage"]
    assert "last_access" in tr.extras and "usage" not in tr.extras
    # Allocation is the least recently used slot: a one-hot at every step.
    np.testing.assert_array_equal(write.allocation.sum(-1), np.ones(tr.steps))
    back = Trace.from_json(tr.to_json())
    assert back.heads[0].usage is None and back.heads[1].free_gate is None


def test_an_unknown_head_type_in_a_trace_file_is_a_clear_error():
    d = _trace("dnc").to_dict()
    d["heads"][0]["head_type"] = "dnc-writer"
    with pytest.raises(ValueError, match="unknown head type 'dnc-writer'"):
        Trace.from_dict(d)
