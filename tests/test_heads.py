"""Heads: the head order, the emissions' ranges, and that a head addresses memory by address()."""

import pytest
import torch

from ntm import addressing, memory as memory_ops
from ntm.heads import SCALAR_PARAMETERS, HeadGroup, param_sizes, parse_head_order

B, C, N, M, R = 3, 12, 9, 5, 1


def group(kind: str, count: int = 2, seed: int = 0, radius: int = R) -> HeadGroup:
    torch.manual_seed(seed)
    return HeadGroup(kind, count, C, M, radius)


def inputs(seed: int = 1, scale: float = 1.0, heads: int = 2):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(B, C, generator=g) * scale
    memory = torch.randn(B, N, M, generator=g)
    w_prev = torch.softmax(torch.randn(B, heads, N, generator=g), -1)
    return h, memory, w_prev


# ---- head order ------------------------------------------------------------------------------

@pytest.mark.parametrize("order,groups", [
    ("rw", [("read", 1), ("write", 1)]), ("wr", [("write", 1), ("read", 1)]),
    ("rrw", [("read", 2), ("write", 1)]), ("rwwr", [("read", 1), ("write", 2), ("read", 1)])])
def test_parse_head_order_groups_runs_of_one_kind(order, groups):
    assert parse_head_order(order) == groups


@pytest.mark.parametrize("order", ["", "rr", "ww", "rxw", "RW"])
def test_parse_head_order_rejects_orders_without_both_kinds(order):
    with pytest.raises(ValueError, match="heads must be a string of 'r' and 'w'"):
        parse_head_order(order)


def test_param_sizes_in_projection_order():
    assert param_sizes("read", M, 2) == {"key": M, "beta": 1, "g": 1, "s": 5, "gamma": 1}
    assert list(param_sizes("write", M, 1)) == ["key", "beta", "g", "s", "gamma", "erase", "add"]
    assert group("write", count=3).proj.out_features == 3 * (3 * M + 3 + 3)


# ---- emissions ----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 1e3])      # 1e3: controller outputs far into the saturated tails
def test_emitted_parameters_stay_in_their_ranges(scale):
    write = group("write", radius=2)
    h, _, _ = inputs(scale=scale)
    with torch.no_grad():
        p = write.emit(h)
    assert p["key"].shape == (B, 2, M) and p["s"].shape == (B, 2, 5)
    for name in SCALAR_PARAMETERS:
        assert p[name].shape == (B, 2, 1), name
    for name, value in p.items():
        assert torch.isfinite(value).all(), name
    assert (p["beta"] >= 0).all()
    assert ((p["g"] >= 0) & (p["g"] <= 1)).all()
    assert (p["s"] >= 0).all()
    torch.testing.assert_close(p["s"].sum(-1), torch.ones(B, 2))
    assert (p["gamma"] >= 1).all()
    assert ((p["erase"] >= 0) & (p["erase"] <= 1)).all()
    assert ((p["add"] >= -1) & (p["add"] <= 1)).all()


def test_read_heads_emit_no_erase_or_add():
    h, _, _ = inputs()
    assert set(group("read").emit(h)) == {"key", "beta", "g", "s", "gamma"}


# ---- addressing, reading and writing ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["read", "write"])
def test_a_heads_weighting_is_address_on_its_emissions(kind):
    heads = group(kind)
    h, memory, w_prev = inputs()
    with torch.no_grad():
        p = heads.emit(h)
        want = addressing.address(memory, w_prev, p["key"], p["beta"], p["g"], p["s"], p["gamma"])
        w, new_memory, reads, rec = heads(h, memory, w_prev, record=True)
        w_plain, memory_plain, reads_plain, rec_plain = heads(h, memory, w_prev)
    torch.testing.assert_close(w, want.weights, rtol=0, atol=0)
    torch.testing.assert_close(w_plain, w, rtol=0, atol=0)     # recording changes nothing
    assert rec_plain is None
    for stage in addressing.STAGES:                             # the record holds every stage
        torch.testing.assert_close(rec[stage.key], getattr(want, stage.key), rtol=0, atol=0)
        torch.testing.assert_close(rec[stage.parameter.name], p[stage.parameter.name], rtol=0, atol=0)
    if kind == "read":
        assert new_memory is memory and memory_plain is memory
        torch.testing.assert_close(reads, memory_ops.read(memory, w))
        torch.testing.assert_close(rec["read"], reads)
    else:
        assert reads is None and reads_plain is None and "read" not in rec
        torch.testing.assert_close(new_memory, memory_ops.write(memory, w, p["erase"], p["add"]))
        assert not torch.equal(new_memory, memory)


def test_heads_of_a_group_match_the_same_head_alone():
    heads = group("read", count=2)
    h, memory, w_prev = inputs()
    with torch.no_grad():
        w, _, reads, _ = heads(h, memory, w_prev)
        p = heads.emit(h)
        for j in range(2):
            alone = addressing.address(memory, w_prev[:, j], p["key"][:, j], p["beta"][:, j], p["g"][:, j],
                                       p["s"][:, j], p["gamma"][:, j])
            torch.testing.assert_close(w[:, j], alone.weights)
            torch.testing.assert_close(reads[:, j], memory_ops.read(memory, alone.weights))


def test_gradients_flow_from_the_weighting_into_the_projection():
    heads = group("write")
    h, memory, w_prev = inputs()
    w, new_memory, _, _ = heads(h, memory, w_prev)
    (w.sum() + new_memory.pow(2).sum()).backward()
    assert heads.proj.weight.grad is not None and heads.proj.weight.grad.abs().sum() > 0
