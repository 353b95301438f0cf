"""The recorded trace: what it holds, and its JSON round trip."""

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig
from ntm.tasks import make_task
from ntm import addressing
from ntm.trace import HEAD_TYPES, NTM_STAGES, HeadRecord, NTMHead, Stage, Trace, record


@pytest.fixture(scope="module")
def trace():
    torch.manual_seed(0)
    task = make_task("copy", max_len=5)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=16, memory_slots=12,
                          memory_width=6, heads="rrw"))
    batch = task.sample(2, torch.Generator().manual_seed(3), length=4)
    return record(model, batch.inputs, batch.targets, batch.mask, index=1, meta={"task": "copy", "seed": 3})


def test_trace_holds_every_stage_for_every_head(trace):
    assert trace.steps == 9 and trace.memory.shape == (10, 12, 6)
    assert [h.name for h in trace.heads] == ["read 1", "read 2", "write 1"]
    for head in trace.heads:
        stages = head.stages()
        assert [s.key for s in stages] == ["content", "gated", "shifted", "weights"]
        for stage in stages:
            assert stage.weights.shape == (9, 12) and stage.equation and "(" in stage.code
        np.testing.assert_allclose(head.weights.sum(-1), 1.0, atol=1e-5)
        assert head.s.shape == (9, 3) and head.shift_offsets == [-1, 0, 1]
        assert (head.gamma >= 1).all() and (head.beta >= 0).all() and ((head.g > 0) & (head.g < 1)).all()
    write = trace.head("write 1")
    assert write.erase.shape == (9, 6) and write.read is None
    assert trace.head("read 2").read.shape == (9, 6) and trace.head("read 2").erase is None
    np.testing.assert_allclose(trace.memory_change(3), trace.memory[4] - trace.memory[3])
    for head in trace.heads:                  # every head starts focused on slot 0
        np.testing.assert_array_equal(head.previous_weights(0), np.eye(12)[0])
        np.testing.assert_array_equal(head.previous_weights(5), head.weights[4])
    assert trace.mask.tolist() == [False] * 5 + [True] * 4


def test_bit_errors_count_only_scored_steps(trace):
    per_step = trace.bit_errors_per_step()
    assert per_step[:5].sum() == 0 and per_step.sum() == trace.bit_errors()
    wrong = ((trace.outputs > 0.5) != (trace.targets > 0.5))[trace.mask].sum()
    assert trace.bit_errors() == wrong


def test_json_round_trip_is_exact(trace):
    text = trace.to_json()
    back = Trace.from_json(text)
    assert back.meta == {"task": "copy", "seed": 3}
    np.testing.assert_array_equal(back.memory, trace.memory)
    np.testing.assert_array_equal(back.mask, trace.mask)
    for a, b in zip(trace.heads, back.heads):
        assert a.name == b.name and a.kind == b.kind
        for field in ("key", "beta", "g", "s", "gamma", "content", "gated", "shifted", "weights", "initial"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert back.to_json() == text


@pytest.mark.parametrize("text,match", [
    ("not json", "not valid JSON"), ("[1, 2]", "not an NTM Explorer trace"),
    (json.dumps({"format": "ntm-explorer-trace/1"}), "incomplete or malformed")])
def test_bad_trace_files_give_clear_errors(text, match):
    with pytest.raises(ValueError, match=match):
        Trace.from_json(text)


def test_lstm_does_not_record():
    model = LSTMBaseline(LSTMConfig(9, 8, hidden_size=8, layers=1))
    x = torch.zeros(1, 3, 9)
    with pytest.raises(ValueError, match="does not record"):
        record(model, x, torch.zeros(1, 3, 8), torch.ones(1, 3, dtype=torch.bool))


def test_an_ntm_heads_stages_are_the_addressing_table_with_its_weightings(trace):
    assert NTM_STAGES is addressing.STAGES and NTMHead.STAGES is addressing.STAGES
    head = trace.head("write 1")
    for recorded, row in zip(head.stages(), addressing.STAGES, strict=True):
        assert recorded.stage is row                               # the table's own row
        assert (recorded.label, recorded.equation, recorded.code) == (row.label, row.equation, row.code)
        np.testing.assert_array_equal(recorded.weights, getattr(head, row.key))
    assert HEAD_TYPES["ntm"] is NTMHead and head.head_type == "ntm"


# Another memory model's head (a DNC's, say): its own table and type, nothing of the NTM's edited.
GATE = Stage("allocation", "allocation", "Allocation", "a", None, "a_t", "allocation = allocate(u)", "allocate")
FINAL = Stage("weights", "final", "Mixing", "w", None, "w_t", "weights = mix(c, allocation)", "mix",
              mixes_previous=True)


@dataclass
class TwoStageHead(HeadRecord):
    head_type: ClassVar[str] = "test-two-stage"
    STAGES: ClassVar[tuple] = (GATE, FINAL)
    allocation: np.ndarray
    weights: np.ndarray
    initial: np.ndarray | None = None


def test_a_new_head_type_registers_itself_and_round_trips_through_json(trace):
    assert HEAD_TYPES["test-two-stage"] is TwoStageHead
    w = np.full((trace.steps, 12), 1 / 12, dtype=np.float32)
    head = TwoStageHead("write 9", "write", allocation=w, weights=w * 1, initial=np.eye(12, dtype=np.float32)[3])
    mixed = Trace(trace.model_type, trace.inputs, trace.outputs, trace.targets, trace.mask, trace.memory,
                  trace.heads + [head])
    back = Trace.from_json(mixed.to_json())
    loaded = back.head("write 9")
    assert type(loaded) is TwoStageHead
    assert [s.key for s in loaded.stages()] == ["allocation", "weights"]
    np.testing.assert_array_equal(loaded.previous_weights(0), np.eye(12)[3])
    np.testing.assert_array_equal(loaded.stages()[1].weights, w)
    assert type(back.head("read 1")) is NTMHead


def test_an_unknown_head_type_is_a_clear_error(trace):
    d = json.loads(trace.to_json())
    d["heads"][0]["head_type"] = "abacus"
    with pytest.raises(ValueError, match="unknown head type 'abacus'"):
        Trace.from_dict(d)
