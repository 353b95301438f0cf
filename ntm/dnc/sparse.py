"""The sparse DNC (SDNC; Rae et al., NeurIPS 2016, "Scaling memory-augmented neural networks with sparse reads and writes").

The dense DNC touches every slot every step and keeps an N x N link matrix, so its cost grows
with N^2. The SDNC keeps the DNC's interface and read modes but makes every weighting K-sparse:

    content       the K nearest slots to a key (exact top-k of cosine similarity, ``torch.topk``),
                  softmax over those K only: c(i) = exp(beta D(k, M[i])) / sum_{j in top-K} exp(beta D(k, M[j]))
    allocation    one-hot on the least recently used slot (the slot whose last access, a read or
                  write weight above delta = 0.005, is oldest), instead of sorted usage
    write         w^w_t = g^w [g^a 1_{LRU} + (1 - g^a) c^w_t]                      K + 1 slots
                  M_t = M_{t-1} + sum_{i in w^w} w^w[i] (v_t - M_{t-1}[i] o e_t)    (the DNC's erase/add, on those rows)
    precedence    p_t = (1 - sum w^w_t) p_{t-1} + w^w_t, keeping its K_L largest entries
    links         L_t[i, j] = (1 - w^w[i] - w^w[j]) L_{t-1}[i, j] + w^w[i] p_{t-1}[j] (the DNC's rule) kept as
                  two per-slot lists of K_L entries: row i's largest L[i, .] (for backward weightings)
                  and column j's largest L[., j] (for forward weightings). Only rows and columns that the
                  rule changes are recomputed; each list is re-truncated to its K_L largest entries.
    read          w^r = pi[1] b + pi[2] c^r + pi[3] f with f, b gathered from those lists, summed
                  over duplicate slots and truncated to the K largest.

``sparse_reads`` is K, ``temporal_reads`` K_L (pytorch-dnc's names). The choices of K-sparse write
content and of re-truncating both link lists follow the paper's recipe; the details are ours.

Cost per step: the nearest-neighbour search is one pass over memory, O(N W), done without gradient;
everything else touches O(K K_L) slots, except the out-of-place copies that keep autograd correct
(O(N W) for memory and O(N K_L) for the link lists, memory-bandwidth only). Gathers go through
``F.embedding`` and writes through ``index_add``, which keep only indices for the backward pass, so a
step saves O(K K_L W) for backpropagation instead of the dense DNC's O(N^2). With K = K_L = N the
linkage, precedence and content reads are exactly the dense DNC's (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..addressing import _safe_norm, cosine_similarity
from .access import oneplus
from .model import DNC, DNCConfig, DNCModel, _check_positive

# A slot counts as accessed (for least-recently-used allocation) when a read or write weight on it
# exceeds this; Rae et al. use the same threshold. Below it a weight is numerical residue.
_ACCESS_THRESHOLD = 0.005

# Largest N for which a recording rebuilds the dense N x N link matrix (for the explorer and debug).
DENSE_LINK_LIMIT = 2048


@dataclass
class SDNCConfig(DNCConfig):
    """A DNC config plus the sparsity: K slots per read/write weighting, K_L entries per link list."""

    sparse_reads: int = 4            # K
    temporal_reads: int = 4          # K_L

    def __post_init__(self):
        super().__post_init__()
        _check_positive(self, ("sparse_reads", "temporal_reads"))
        for name in ("sparse_reads", "temporal_reads"):
            if getattr(self, name) > self.nr_cells:
                raise ValueError(f"{name} must be at most nr_cells ({self.nr_cells}); got {getattr(self, name)}")


# ---- the sparse interface -------------------------------------------------------------------------

def sparse_interface_size(cell_size: int, read_heads: int) -> int:
    """The DNC's interface without free gates (allocation is least recently used): W R + 3 W + 4 R + 3."""
    return cell_size * read_heads + 3 * cell_size + 4 * read_heads + 3


class SparseInterface(NamedTuple):
    read_keys: torch.Tensor         # [B, R, W]
    read_strengths: torch.Tensor    # [B, R]     >= 1
    write_key: torch.Tensor         # [B, W]
    write_strength: torch.Tensor    # [B, 1]     >= 1
    erase: torch.Tensor             # [B, W]     in [0, 1]
    write_vector: torch.Tensor      # [B, W]
    allocation_gate: torch.Tensor   # [B, 1]     in [0, 1]
    write_gate: torch.Tensor        # [B, 1]     in [0, 1]
    read_modes: torch.Tensor        # [B, R, 3]  (backward, content, forward)


def parse_sparse_interface(xi: torch.Tensor, cell_size: int, read_heads: int) -> SparseInterface:
    w, r = cell_size, read_heads
    sizes = [r * w, r, w, 1, w, w, 1, 1, 3 * r]
    if xi.shape[-1] != sum(sizes):
        raise ValueError(f"interface vector must have {sum(sizes)} entries for W={w}, R={r}; got {xi.shape[-1]}")
    rk, rs, wk, ws, er, wv, ag, wg, rm = torch.split(xi, sizes, dim=-1)
    b = xi.shape[0]
    return SparseInterface(rk.reshape(b, r, w), oneplus(rs), wk, oneplus(ws), torch.sigmoid(er), wv,
                           torch.sigmoid(ag), torch.sigmoid(wg), torch.softmax(rm.reshape(b, r, 3), dim=-1))


# ---- sparse vectors: (index, value) pairs along the last dimension ---------------------------------

class Sparse(NamedTuple):
    """A sparse weighting: ``value[..., k]`` sits on slot ``index[..., k]``. Indices may repeat
    (their values add up); unused entries have value 0."""

    index: torch.Tensor             # [..., K] long
    value: torch.Tensor             # [..., K]


def densify(s: Sparse, n: int) -> torch.Tensor:
    """``[..., N]`` dense weighting (duplicates summed). O(N): for recording and tests only."""
    return torch.zeros(*s.value.shape[:-1], n, dtype=s.value.dtype, device=s.value.device).scatter_add(
        -1, s.index, s.value)


def coalesce(index: torch.Tensor, value: torch.Tensor, k: int) -> Sparse:
    """Sum the values of repeated indices and keep the ``k`` largest sums.

    Sort-based (``torch.sort`` of the C candidates, a segment sum by ``scatter_add``), so it costs
    O(C log C) whatever N is. Differentiable in ``value``.

    Args:
        index: ``[..., C]`` slots (repeats allowed); value: ``[..., C]`` weights >= 0.

    Returns:
        ``Sparse`` of ``[..., k]``; when fewer than k distinct slots exist the rest have value 0.
    """
    c = index.shape[-1]
    if c < k:                                   # pad with zero-valued entries so top-k has room
        pad = k - c
        index = torch.cat([index, index[..., :1].expand(*index.shape[:-1], pad)], dim=-1)
        value = torch.cat([value, torch.zeros_like(value[..., :1]).expand(*value.shape[:-1], pad)], dim=-1)
        c = k
    s_index, order = torch.sort(index, dim=-1, stable=True)
    s_value = value.gather(-1, order)
    starts = torch.ones_like(s_index, dtype=torch.bool)
    starts[..., 1:] = s_index[..., 1:] != s_index[..., :-1]
    group = torch.cumsum(starts.long(), dim=-1) - 1                      # segment id of each candidate
    sums = torch.zeros_like(s_value).scatter_add(-1, group, s_value)     # [..., C]: segment sums first
    unique = torch.zeros_like(s_index).scatter(-1, group, s_index)      # equal values per segment
    groups = group[..., -1:] + 1
    valid = torch.arange(c, device=index.device) < groups
    with torch.no_grad():
        pos = torch.where(valid, sums, torch.full_like(sums, -1.0)).topk(k, dim=-1).indices
    return Sparse(unique.gather(-1, pos), torch.where(valid.gather(-1, pos), sums.gather(-1, pos),
                                                     torch.zeros_like(sums[..., :1])))


def lookup(query: torch.Tensor, s: Sparse) -> torch.Tensor:
    """The value of sparse weighting ``s`` (``[B, S]``) at slots ``query`` (``[B, ...]``): sum_k [index_k = q] value_k."""
    b = query.shape[0]
    q = query.reshape(b, -1, 1)
    eq = (q == s.index.unsqueeze(1)).to(s.value.dtype)                   # [B, Q, S]
    return torch.bmm(eq, s.value.unsqueeze(-1)).reshape(query.shape)


def gather_rows(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[b, rows[b, ...]]``: ``[B, N, D]``, ``[B, ...]`` -> ``[B, ..., D]``.

    Through ``F.embedding``, whose backward keeps only the indices (not the whole table), so a
    gathered memory does not stay alive for every timestep of backpropagation."""
    b, n, d = table.shape
    flat = _flat(rows, n)
    if table.dtype in (torch.long, torch.int32, torch.bool):
        return table.reshape(b * n, d)[flat].reshape(*rows.shape, d)
    return F.embedding(flat, table.reshape(b * n, d)).reshape(*rows.shape, d)


def add_rows(table: torch.Tensor, rows: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``table`` with ``delta[b, k]`` added to row ``rows[b, k]`` (repeats add up); out of place."""
    b, n, d = table.shape
    return table.reshape(b * n, d).index_add(0, _flat(rows, n), delta.reshape(-1, d)).reshape(b, n, d)


def _flat(rows: torch.Tensor, n: int) -> torch.Tensor:
    b = rows.shape[0]
    offsets = (torch.arange(b, device=rows.device) * n).reshape(b, *([1] * (rows.dim() - 1)))
    return (rows + offsets).reshape(-1)


def sparse_content_weights(memory: torch.Tensor, key: torch.Tensor, beta: torch.Tensor, k: int) -> Sparse:
    """Content weighting over the K nearest slots: softmax_{i in top-K}(beta D(key, M[i])).

    The search (all N similarities, ``topk``) runs without gradient; the K winners' similarities
    are recomputed from their gathered rows, so gradients reach keys, strengths and those rows.

    Args:
        memory: ``[B, N, W]``; key: ``[B, H, W]``; beta: ``[B, H, 1]``; k: K <= N.

    Returns:
        ``Sparse`` of ``[B, H, K]`` summing to 1 per head.
    """
    with torch.no_grad():
        index = cosine_similarity(memory, key).topk(k, dim=-1).indices        # [B, H, K]
    rows = gather_rows(memory, index)                                         # [B, H, K, W]
    sim = (rows * key.unsqueeze(-2)).sum(-1) / (_safe_norm(rows) * _safe_norm(key).unsqueeze(-1))
    return Sparse(index, torch.softmax(beta * sim, dim=-1))


# ---- sparse temporal linkage ------------------------------------------------------------------------

class SparseLinkage(NamedTuple):
    """The link matrix as two lists of K_L entries per slot, and the sparse precedence.

    ``rows``: row i's entries, L_t[i, rows.index[b, i, k]] = rows.value[b, i, k] (i written after them).
    ``columns``: column j's entries, L_t[columns.index[b, j, k], j] = columns.value[b, j, k].
    """

    rows: Sparse                    # [B, N, K_L]
    columns: Sparse                 # [B, N, K_L]
    precedence: Sparse              # [B, K_L]


def _update_lists(lists: Sparse, touched: torch.Tensor, coef: Sparse, candidates: Sparse, write: Sparse) -> Sparse:
    """Apply L[s, e] <- (1 - w[s] - w[e]) L[s, e] + coef[s] cand[e] (e != s) to the lists of the slots
    ``touched`` ``[B, T]`` (repeats allowed), re-truncated to K_L entries each.

    For row lists coef = w^w_t and cand = p_{t-1}; for column lists (L^T) coef = p_{t-1} and cand = w^w_t.
    """
    kl = lists.index.shape[-1]
    b, t = touched.shape
    old_index = gather_rows(lists.index, touched)                     # [B, T, K_L]
    old_value = gather_rows(lists.value, touched)
    w_s = lookup(touched, write).unsqueeze(-1)                        # [B, T, 1]
    w_e = lookup(old_index, write)                                    # [B, T, K_L]
    decayed = (1.0 - w_s - w_e) * old_value
    c = candidates.index.shape[-1]
    new_index = candidates.index.unsqueeze(1).expand(b, t, c)
    new_value = lookup(touched, coef).unsqueeze(-1) * candidates.value.unsqueeze(1)
    index = torch.cat([old_index, new_index], dim=-1)
    value = torch.cat([decayed, new_value], dim=-1)
    value = torch.where(index == touched.unsqueeze(-1), torch.zeros_like(value), value)   # L[s, s] = 0
    merged = coalesce(index, value.clamp_min(0.0), kl)
    # Write back. A slot touched twice got the same new list twice: each copy adds half the change.
    with torch.no_grad():
        copies = (touched.unsqueeze(-1) == touched.unsqueeze(-2)).sum(-1, keepdim=True).to(value.dtype)
        rows_index = lists.index.reshape(-1, kl).clone()
        rows_index[_flat(touched, lists.index.shape[1])] = merged.index.reshape(-1, kl)
    rows_value = add_rows(lists.value, touched, (merged.value - old_value) / copies)
    return Sparse(rows_index.reshape(lists.index.shape), rows_value)


def sparse_temporal_linkage(prev: SparseLinkage, write: Sparse) -> SparseLinkage:
    """(L_{t-1}, p_{t-1}) and w^w_t (``Sparse`` ``[B, S]``) -> (L_t, p_t), touching O(S K_L) slots.

    Rows that change: the written slots and the rows pointing at them (found through the written
    slots' column lists). Columns that change: the written slots, p_{t-1}'s slots and the columns
    the written slots point at (found through their row lists).
    """
    b = write.index.shape[0]
    p = prev.precedence
    touched_rows = torch.cat([write.index, gather_rows(prev.columns.index, write.index).reshape(b, -1)], dim=-1)
    touched_cols = torch.cat([write.index, p.index, gather_rows(prev.rows.index, write.index).reshape(b, -1)], dim=-1)
    rows = _update_lists(prev.rows, touched_rows, write, p, write)
    columns = _update_lists(prev.columns, touched_cols, p, write, write)
    kl = p.index.shape[-1]
    keep = 1.0 - write.value.sum(-1, keepdim=True)
    precedence = coalesce(torch.cat([p.index, write.index], -1), torch.cat([keep * p.value, write.value], -1), kl)
    return SparseLinkage(rows, columns, precedence)


def sparse_directional_weights(linkage: SparseLinkage, prev_read: Sparse) -> tuple[Sparse, Sparse]:
    """f = L_t w^r_{t-1} from the column lists, b = L_t^T w^r_{t-1} from the row lists.

    Args:
        prev_read: ``Sparse`` ``[B, R, K]``.

    Returns:
        ``(forward, backward)``, each ``Sparse`` ``[B, R, K K_L]`` (slots may repeat).
    """
    b, r, k = prev_read.index.shape
    out = []
    for lists in (linkage.columns, linkage.rows):
        index = gather_rows(lists.index, prev_read.index)                 # [B, R, K, K_L]
        value = gather_rows(lists.value, prev_read.index) * prev_read.value.unsqueeze(-1)
        out.append(Sparse(index.reshape(b, r, -1), value.reshape(b, r, -1)))
    return out[0], out[1]


# ---- the access step ----------------------------------------------------------------------------

class SparseAccessState(NamedTuple):
    memory: torch.Tensor            # [B, N, W]
    linkage: SparseLinkage
    read_weights: Sparse            # [B, R, K]
    write_weights: Sparse           # [B, K + 1]
    last_access: torch.Tensor       # [B, N] the step each slot was last read or written (-1: never)
    clock: torch.Tensor             # [B] steps taken


class SparseAccessStep(NamedTuple):
    interface: SparseInterface
    write_content: Sparse           # [B, K]
    lru: torch.Tensor               # [B] the least recently used slot (allocation)
    write_weights: Sparse           # [B, K + 1]
    memory: torch.Tensor            # [B, N, W]
    linkage: SparseLinkage
    forward: Sparse                 # [B, R, K K_L]
    backward: Sparse                # [B, R, K K_L]
    read_content: Sparse            # [B, R, K]
    read_weights: Sparse            # [B, R, K]
    reads: torch.Tensor             # [B, R, W]
    last_access: torch.Tensor       # [B, N]
    clock: torch.Tensor             # [B]


def initial_sparse_state(batch_size: int, n: int, w: int, r: int, k: int, kl: int,
                         like: torch.Tensor) -> SparseAccessState:
    """Empty memory; every sparse weighting zero (on arbitrary slots); no slot ever accessed."""
    def empty(*shape):
        idx = (torch.arange(shape[-1], device=like.device) % n).expand(*shape).contiguous()
        return Sparse(idx, like.new_zeros(*shape))
    linkage = SparseLinkage(empty(batch_size, n, kl), empty(batch_size, n, kl), empty(batch_size, kl))
    return SparseAccessState(like.new_zeros(batch_size, n, w), linkage, empty(batch_size, r, k),
                             empty(batch_size, k + 1), like.new_full((batch_size, n), -1.0),
                             like.new_zeros(batch_size))


def sparse_access_step(xi: SparseInterface, state: SparseAccessState, k: int) -> SparseAccessStep:
    """One timestep of sparse memory access: write (K nearest or least recently used), link, read."""
    b, n, _ = state.memory.shape
    write_content = sparse_content_weights(state.memory, xi.write_key.unsqueeze(1), xi.write_strength.unsqueeze(1), k)
    lru = state.last_access.argmin(dim=-1)                                 # ties: the lowest slot
    g_a, g_w = xi.allocation_gate, xi.write_gate
    write = Sparse(torch.cat([lru.unsqueeze(-1), write_content.index[:, 0]], -1),
                   g_w * torch.cat([g_a, (1.0 - g_a) * write_content.value[:, 0]], -1))
    old_rows = gather_rows(state.memory, write.index)                      # [B, K+1, W]
    delta = write.value.unsqueeze(-1) * (xi.write_vector.unsqueeze(1) - old_rows * xi.erase.unsqueeze(1))
    memory = add_rows(state.memory, write.index, delta)
    linkage = sparse_temporal_linkage(state.linkage, write)
    forward, backward = sparse_directional_weights(linkage, state.read_weights)
    read_content = sparse_content_weights(memory, xi.read_keys, xi.read_strengths.unsqueeze(-1), k)
    modes = xi.read_modes
    weights = coalesce(torch.cat([backward.index, read_content.index, forward.index], -1),
                       torch.cat([modes[..., 0:1] * backward.value, modes[..., 1:2] * read_content.value,
                                  modes[..., 2:3] * forward.value], -1), k)
    reads = (gather_rows(memory, weights.index) * weights.value.unsqueeze(-1)).sum(-2)   # [B, R, W]
    with torch.no_grad():
        now = state.clock.unsqueeze(-1)
        slots = torch.cat([write.index, weights.index.reshape(b, -1)], -1)
        used = torch.cat([write.value, weights.value.reshape(b, -1)], -1) > _ACCESS_THRESHOLD
        stamps = torch.where(used, now.expand_as(slots).to(state.last_access.dtype),
                             torch.full_like(slots, -1, dtype=state.last_access.dtype))
        last_access = state.last_access.scatter_reduce(-1, slots, stamps, reduce="amax", include_self=True)
    return SparseAccessStep(xi, write_content, lru, write, memory, linkage, forward, backward, read_content, weights,
                            reads, last_access, state.clock + 1)


def sparse_next_state(step: SparseAccessStep) -> SparseAccessState:
    return SparseAccessState(step.memory, step.linkage, step.read_weights, step.write_weights, step.last_access,
                             step.clock)


def dense_link(rows: Sparse, n: int) -> torch.Tensor:
    """``[B, N, N]`` L_t rebuilt from the row lists (O(N^2): recording and tests only)."""
    return densify(rows, n)


class SparseMemoryAccess(nn.Module):
    """Controller output -> sparse interface -> one ``sparse_access_step``."""

    def __init__(self, input_size: int, nr_cells: int, cell_size: int, read_heads: int, sparse_reads: int,
                 temporal_reads: int):
        super().__init__()
        self.nr_cells, self.cell_size, self.read_heads = nr_cells, cell_size, read_heads
        self.sparse_reads, self.temporal_reads = sparse_reads, temporal_reads
        self.interface = nn.Linear(input_size, sparse_interface_size(cell_size, read_heads))

    def initial_state(self, batch_size: int, like: torch.Tensor) -> SparseAccessState:
        return initial_sparse_state(batch_size, self.nr_cells, self.cell_size, self.read_heads, self.sparse_reads,
                                    self.temporal_reads, like)

    def forward(self, h: torch.Tensor, state: SparseAccessState):
        xi = parse_sparse_interface(self.interface(h), self.cell_size, self.read_heads)
        step = sparse_access_step(xi, state, self.sparse_reads)
        return step.reads, sparse_next_state(step), step

    def record(self, step: SparseAccessStep) -> dict[str, torch.Tensor]:
        """The step as dense detached tensors under the dense DNC's names (allocation: the LRU one-hot)."""
        n = self.nr_cells
        dense = lambda s: densify(Sparse(s.index, s.value.detach()), n)  # noqa: E731
        rec = {f"xi.{name}": value.detach() for name, value in step.interface._asdict().items()}
        rec.update(write_content=dense(step.write_content)[:, 0],
                   allocation=F.one_hot(step.lru, n).to(step.memory.dtype),
                   write_weights=dense(step.write_weights), memory=step.memory.detach(),
                   precedence=dense(step.linkage.precedence), forward=dense(step.forward),
                   backward=dense(step.backward), read_content=dense(step.read_content),
                   read_weights=dense(step.read_weights), reads=step.reads.detach(),
                   last_access=step.last_access.clone())
        if n <= DENSE_LINK_LIMIT:
            rec["link"] = dense_link(Sparse(step.linkage.rows.index, step.linkage.rows.value.detach()), n)
        return rec

    def dense_weights(self, state: SparseAccessState) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.nr_cells
        return densify(state.write_weights, n), densify(state.read_weights, n)


# ---- the models -----------------------------------------------------------------------------------

class SDNC(DNC):
    """A sparse DNC, built and called like pytorch-dnc's ``SDNC`` (``sparse_reads``, ``temporal_reads``).

    Everything else is as ``DNC``; the debug dict's ``usage_vector`` is each slot's last access step
    (-1: never), and ``link_matrix`` is present for N <= ``DENSE_LINK_LIMIT``.
    """

    model_type = "sdnc"
    config_class = SDNCConfig

    def __init__(self, input_size: int, hidden_size: int = 100, rnn_type: str = "lstm", num_layers: int = 1,
                 nr_cells: int = 5000, cell_size: int = 10, read_heads: int = 4, sparse_reads: int = 4,
                 temporal_reads: int = 4, **kwargs):
        super().__init__(input_size, hidden_size, rnn_type, num_layers, nr_cells, cell_size, read_heads,
                         sparse_reads=sparse_reads, temporal_reads=temporal_reads, **kwargs)

    def make_access(self) -> nn.Module:
        c = self.config
        return SparseMemoryAccess(c.hidden_size, c.nr_cells, c.cell_size, c.read_heads, c.sparse_reads,
                                  c.temporal_reads)


class SDNCModel(DNCModel):
    """The SDNC behind the library's model protocol; ``model_type = "sdnc"``."""

    model_type = "sdnc"
    machine_class = SDNC


__all__ = ["SDNCConfig", "SparseInterface", "parse_sparse_interface", "sparse_interface_size", "Sparse", "densify",
           "coalesce", "lookup", "gather_rows", "add_rows", "sparse_content_weights", "SparseLinkage",
           "sparse_temporal_linkage", "sparse_directional_weights", "SparseAccessState", "SparseAccessStep",
           "initial_sparse_state", "sparse_access_step", "sparse_next_state", "dense_link", "SparseMemoryAccess",
           "SDNC", "SDNCModel", "DENSE_LINK_LIMIT"]
