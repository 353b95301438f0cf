"""The sparse DNC (ntm.dnc.sparse): sparse helpers by hand, K = K_L = N equal to the dense DNC, invariants
with small K_L, least-recently-used allocation, gradients, and the models' calls."""

import numpy as np
import pytest
import torch

from ntm.addressing import content_weights
from ntm.dnc import SDNC, SDNCConfig, SDNCModel, detach_state
from ntm.dnc import addressing as dense
from ntm.dnc.sparse import (Sparse, SparseInterface, coalesce, densify, gather_index, initial_sparse_state, lookup,
                            new_table, row_norms, sparse_access_step, sparse_content_weights,
                            sparse_directional_weights, sparse_next_state, sparse_temporal_linkage, table_add,
                            table_gather)

F64 = torch.float64


# ---- sparse helpers by hand -------------------------------------------------------------------------

def test_coalesce_sums_repeats_and_keeps_the_largest():
    out = coalesce(torch.tensor([[3, 1, 3, 0]]), torch.tensor([[0.1, 0.2, 0.3, 0.05]]), 2)
    assert out.index.tolist() == [[3, 1]]
    torch.testing.assert_close(out.value, torch.tensor([[0.4, 0.2]]))
    # Fewer distinct slots than k: the rest are zero-valued, and the dense view is unchanged.
    out = coalesce(torch.tensor([[2, 2]]), torch.tensor([[0.25, 0.5]]), 3)
    torch.testing.assert_close(densify(out, 4), torch.tensor([[0.0, 0.0, 0.75, 0.0]]))
    value = torch.tensor([[0.1, 0.2, 0.3, 0.05]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: coalesce(torch.tensor([[3, 1, 3, 0]]), v, 3).value, (value,))


def test_lookup_and_gather_with_repeated_slots():
    s = Sparse(torch.tensor([[1, 4, 1]]), torch.tensor([[0.25, 0.5, 0.125]]))
    torch.testing.assert_close(lookup(torch.tensor([[1, 0, 4]]), s), torch.tensor([[0.375, 0.0, 0.5]]))
    table = torch.arange(12).reshape(2, 3, 2)
    rows = torch.tensor([[2, 2], [0, 1]])
    assert torch.equal(gather_index(table, rows), torch.stack([table[0, [2, 2]], table[1, [0, 1]]]))


def test_journalled_table_values_and_gradients_match_out_of_place_updates():
    g = torch.Generator().manual_seed(0)
    start = torch.randn(2, 5, 3, generator=g, dtype=F64)
    deltas = [torch.randn(2, 2, 3, generator=g, dtype=F64, requires_grad=True) for _ in range(3)]
    rows = [torch.tensor([[1, 1], [0, 4]]), torch.tensor([[4, 1], [2, 2]]), torch.tensor([[0, 3], [4, 0]])]
    query = torch.tensor([[1, 4, 0], [4, 2, 2]])
    table, plain, got, expected = new_table(start), start.clone(), [], []
    for r, d in zip(rows, deltas):
        table = table_add(table, r, d)
        batch = torch.arange(2)[:, None].expand_as(r)
        plain = plain + torch.zeros_like(plain).index_put((batch, r), d, accumulate=True)
        got.append(table_gather(table, query))
        expected.append(torch.stack([plain[b, query[b]] for b in range(2)]))
    torch.testing.assert_close(table.data, plain.detach())
    weights = [torch.randn(2, 3, 3, generator=g, dtype=F64) for _ in range(3)]
    grads = torch.autograd.grad(sum((w * x).sum() for w, x in zip(weights, got)), deltas)
    grads_expected = torch.autograd.grad(sum((w * x).sum() for w, x in zip(weights, expected)), deltas)
    for a, b in zip(grads, grads_expected):
        torch.testing.assert_close(a, b)


# ---- with K = K_L = N the sparse DNC is the dense one ----------------------------------------------

def random_sparse_write(b, n, s, g):
    """A write weighting on s slots (repeats allowed) summing to at most 1, like g^w [g^a 1 + (1-g^a) c]."""
    index = torch.randint(0, n, (b, s), generator=g)
    value = torch.rand(b, s, generator=g, dtype=F64)
    return Sparse(index, value / value.sum(-1, keepdim=True) * torch.rand(b, 1, generator=g, dtype=F64))


def empty_linkage(b, n, kl):
    state = initial_sparse_state(b, n, 2, 1, 1, kl, torch.zeros((), dtype=F64))
    return state.linkage


@pytest.mark.parametrize("seed", [0, 1])
def test_full_width_linkage_equals_the_dense_link_matrix(seed):
    b, n = 2, 6
    g = torch.Generator().manual_seed(seed)
    sparse = empty_linkage(b, n, n)
    link, prec = torch.zeros(b, n, n, dtype=F64), torch.zeros(b, n, dtype=F64)
    for _ in range(7):
        write = random_sparse_write(b, n, 3, g)
        w = densify(write, n)
        link, prec = dense.link(link, prec, w), dense.precedence(prec, w)
        sparse = sparse_temporal_linkage(sparse, write)
        torch.testing.assert_close(densify(sparse.rows, n), link)
        torch.testing.assert_close(densify(sparse.columns, n).transpose(1, 2), link)
        torch.testing.assert_close(densify(sparse.precedence, n), prec)
        read = Sparse(torch.randint(0, n, (b, 2, 3), generator=g), torch.rand(b, 2, 3, generator=g, dtype=F64) / 3)
        fwd, bwd = sparse_directional_weights(sparse, read)
        d_fwd, d_bwd = dense.directional_weights(link, densify(read, n))
        torch.testing.assert_close(densify(fwd, n), d_fwd)
        torch.testing.assert_close(densify(bwd, n), d_bwd)


def test_full_width_content_weights_equal_the_dense_ones():
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(2, 7, 4, generator=g, dtype=F64)
    key, beta = torch.randn(2, 3, 4, generator=g, dtype=F64), 1 + 3 * torch.rand(2, 3, 1, generator=g, dtype=F64)
    table, norms = new_table(memory), row_norms(memory)
    torch.testing.assert_close(densify(sparse_content_weights(table, norms, key, beta, 7), 7),
                               content_weights(memory, key, beta))
    top2 = sparse_content_weights(table, norms, key, beta, 2)
    full = content_weights(memory, key, beta)
    assert (top2.index == full.topk(2, dim=-1).indices).all()
    torch.testing.assert_close(top2.value.sum(-1), torch.ones(2, 3, dtype=F64))


def test_full_width_model_records_the_dense_linkage_and_reads():
    torch.manual_seed(0)
    n = 8
    model = SDNCModel(SDNCConfig(input_size=5, output_size=5, hidden_size=16, nr_cells=n, cell_size=4, read_heads=2,
                                 sparse_reads=n, temporal_reads=n)).double()
    x = torch.rand(2, 7, 5, dtype=F64, generator=torch.Generator().manual_seed(1))
    _, _, rec = model(x, record=True)
    write, reads = rec.heads[0], rec.heads[1:]
    link, prec = torch.zeros(2, n, n, dtype=F64), torch.zeros(2, n, dtype=F64)
    prev_read = torch.zeros(2, 2, n, dtype=F64)
    for t in range(7):
        w = write["weights"][:, t]
        link, prec = dense.link(link, prec, w), dense.precedence(prec, w)
        torch.testing.assert_close(rec.extras["link"][:, t], link)
        torch.testing.assert_close(rec.extras["precedence"][:, t], prec)
        fwd, bwd = dense.directional_weights(link, prev_read)
        keys = torch.stack([h["key"][:, t] for h in reads], 1)
        strengths = torch.stack([h["strength"][:, t] for h in reads], 1).unsqueeze(-1)
        content = content_weights(rec.memory[:, t + 1], keys, strengths)
        modes = torch.stack([h["read_modes"][:, t] for h in reads], 1)
        expected = dense.read_weights(bwd, content, fwd, modes)
        got = torch.stack([h["weights"][:, t] for h in reads], 1)
        torch.testing.assert_close(got, expected)
        prev_read = got


# ---- invariants with truncated links ---------------------------------------------------------------

@pytest.mark.parametrize("kl", [1, 2, 3])
def test_truncated_links_keep_the_invariants(kl):
    b, n = 3, 12
    g = torch.Generator().manual_seed(kl)
    sparse = empty_linkage(b, n, kl)
    tol = 1e-12
    for _ in range(30):
        sparse = sparse_temporal_linkage(sparse, random_sparse_write(b, n, 3, g))
        rows, cols = densify(sparse.rows, n), densify(sparse.columns, n).transpose(1, 2)
        for L in (rows, cols):
            assert (L >= 0).all() and (L.sum(-1) <= 1 + tol).all() and (L.sum(-2) <= 1 + tol).all()
            assert (torch.diagonal(L, dim1=-2, dim2=-1) == 0).all()
        p = densify(sparse.precedence, n)
        assert (p >= 0).all() and (p.sum(-1) <= 1 + tol).all()


def test_one_hot_writes_are_followed_exactly_with_a_single_link_per_slot():
    # Writing slots 5, 2, 7, 0 in that order: forward from 2 reaches 7, backward from 7 reaches 2.
    n = 10
    sparse = empty_linkage(1, n, 1)
    for slot in (5, 2, 7, 0):
        sparse = sparse_temporal_linkage(sparse, Sparse(torch.tensor([[slot]]), torch.tensor([[1.0]], dtype=F64)))
    read = Sparse(torch.tensor([[[2], [7]]]), torch.tensor([[[1.0], [1.0]]], dtype=F64))
    fwd, bwd = sparse_directional_weights(sparse, read)
    assert densify(fwd, n)[0, 0].argmax() == 7 and densify(fwd, n)[0, 0].max() == 1.0
    assert densify(bwd, n)[0, 1].argmax() == 2 and densify(bwd, n)[0, 1].max() == 1.0


# ---- least-recently-used allocation --------------------------------------------------------------

def interface(key, alloc=1.0, write_gate=1.0, w=3, r=1, b=1):
    return SparseInterface(read_keys=key.reshape(b, 1, w).expand(b, r, w), read_strengths=torch.full((b, r), 50.0),
                           write_key=torch.zeros(b, w), write_strength=torch.ones(b, 1), erase=torch.ones(b, w),
                           write_vector=key.reshape(b, w), allocation_gate=torch.full((b, 1), alloc),
                           write_gate=torch.full((b, 1), write_gate), read_modes=torch.tensor([[[0.0, 1.0, 0.0]]] * b))


def test_allocation_fills_the_least_recently_used_slots_in_order_then_reuses_the_oldest():
    n, w = 4, 3
    state = initial_sparse_state(1, n, w, 1, 1, 2, torch.zeros(()))
    written = []
    for t in range(6):
        key = torch.tensor([1.0 + t, (-1.0) ** t, 0.5 * t])        # a new, distinct vector each step
        step = sparse_access_step(interface(key), state, 1)
        written.append(int(step.lru[0]))
        assert step.read_weights.index[0, 0, 0] == written[-1]      # the read finds what was just written
        state = sparse_next_state(step)
    assert written == [0, 1, 2, 3, 0, 1]
    assert state.last_access[0].tolist() == [4.0, 5.0, 2.0, 3.0]
    # A write gate of 0 writes nothing, so the same slot stays least recently used.
    before = state.memory.data.clone()
    step = sparse_access_step(interface(torch.zeros(3), write_gate=0.0), state, 1)
    assert int(step.lru[0]) == 2 and torch.equal(step.memory.data, before)


# ---- gradients -------------------------------------------------------------------------------------

def test_gradcheck_sparse_access_steps_through_the_journals():
    # Three steps from an empty memory, every interface input differentiated: gradients reach earlier
    # writes through the memory and link journals.
    b, n, w, r, k, kl, steps = 1, 6, 3, 2, 2, 2, 3
    g = torch.Generator().manual_seed(5)
    shapes = [(b, r, w), (b, r), (b, w), (b, 1), (b, w), (b, w), (b, 1), (b, 1), (b, r, 3)]
    raw = [torch.randn(*shape, generator=g, dtype=F64).requires_grad_(True) for _ in range(steps) for shape in shapes]

    def run(*parts):
        state = initial_sparse_state(b, n, w, r, k, kl, torch.zeros((), dtype=F64))
        outputs = []
        for t in range(steps):
            p = parts[t * len(shapes):(t + 1) * len(shapes)]
            xi = SparseInterface(p[0], 1 + p[1] ** 2, p[2], 1 + p[3] ** 2, torch.sigmoid(p[4]), p[5],
                                 torch.sigmoid(p[6]), torch.sigmoid(p[7]), torch.softmax(p[8], -1))
            step = sparse_access_step(xi, state, k)
            state = sparse_next_state(step)
            outputs.append(step.reads)
        all_slots = torch.arange(n)[None]
        return (*outputs, table_gather(state.memory, all_slots), table_gather(state.linkage.row_value, all_slots),
                table_gather(state.linkage.column_value, all_slots))

    assert torch.autograd.gradcheck(run, tuple(raw), fast_mode=True)


# ---- the models ------------------------------------------------------------------------------------

def test_familiar_constructor_debug_and_gradients():
    sdnc = SDNC(input_size=6, hidden_size=16, nr_cells=20, cell_size=4, read_heads=2, sparse_reads=3,
                temporal_reads=2, debug=True)
    x = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(0))
    output, (controller, memory, reads), debug = sdnc(x, reset_experience=True)
    assert output.shape == (2, 5, 6) and reads.shape == (2, 2, 4) and memory.memory.data.shape == (2, 20, 4)
    assert set(debug) == {"memory", "link_matrix", "precedence", "read_weights", "write_weights", "usage_vector"}
    assert debug["read_weights"].shape == (5, 2, 20)
    assert ((debug["read_weights"] > 0).sum(-1) <= 3).all()                # K-sparse reads
    assert ((debug["write_weights"] > 0).sum(-1) <= 4).all()               # K + 1 written slots
    output.pow(2).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in sdnc.parameters())


def test_state_threading_reset_and_detach():
    torch.manual_seed(0)
    sdnc = SDNC(input_size=4, hidden_size=12, nr_cells=16, cell_size=3, read_heads=1, sparse_reads=2, temporal_reads=2)
    x = torch.rand(2, 8, 4, generator=torch.Generator().manual_seed(1))
    whole, _ = sdnc(x)
    first, state = sdnc(x[:, :4])
    second, _ = sdnc(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    reset, _ = sdnc(x[:, 4:], state, reset_experience=True)
    expected, _ = sdnc(x[:, 4:], state._replace(access=sdnc.initial_state(2).access))
    torch.testing.assert_close(reset, expected)
    assert state.access.memory.deltas.requires_grad and state.access.linkage.row_value.deltas.requires_grad
    cut = detach_state(state)
    assert cut.access.memory.rows.shape[1] == 0 and cut.access.linkage.row_value.rows.shape[1] == 0
    assert not cut.access.read_weights.value.requires_grad
    torch.testing.assert_close(cut.access.memory.data, state.access.memory.data)
    out, _ = sdnc(x, cut)
    out.sum().backward()


def test_model_protocol_and_config_errors():
    model = SDNCModel(SDNCConfig(input_size=5, output_size=3, hidden_size=8, nr_cells=32, cell_size=4, read_heads=1))
    assert model.model_type == "sdnc" and model.config.sparse_reads == 4
    logits, state, rec = model(torch.rand(2, 6, 5))
    assert logits.shape == (2, 6, 3) and rec is None
    _, _, rec = model(torch.rand(2, 6, 5), record=True)
    assert rec.extras["link"].shape == (2, 6, 32, 32) and rec.extras["last_access"].shape == (2, 6, 32)
    assert rec.heads[0]["allocation"].sum(-1).eq(1).all()                   # one-hot on the LRU slot
    with pytest.raises(ValueError, match="sparse_reads must be at most nr_cells"):
        SDNCConfig(input_size=3, output_size=3, nr_cells=4, sparse_reads=5)
    with pytest.raises(ValueError, match="temporal_reads must be a positive"):
        SDNCConfig(input_size=3, output_size=3, temporal_reads=0)


def test_large_memory_runs_without_dense_link_matrix():
    sdnc = SDNC(input_size=4, hidden_size=8, nr_cells=8192, cell_size=4, read_heads=1, debug=True)
    out, state, debug = sdnc(torch.rand(1, 3, 4))
    assert "link_matrix" not in debug and debug["memory"].shape == (3, 8192, 4)
    assert state.access.linkage.rows.index.shape == (1, 8192, 4)
    assert np.isfinite(out.detach().numpy()).all()
