"""The sparse DNC (SDNC; Rae et al., NeurIPS 2016, "Scaling memory-augmented neural networks with sparse
reads and writes").

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

Cost per step: the nearest-neighbour searches are two passes over memory, O(N W), without gradient
(row norms are kept up to date, not recomputed), and least-recently-used allocation is one argmin
over N; everything else touches O(K K_L) slots. Memory and link values live in ``Table``s that are
updated in place, with a journal of the updates carrying the gradient, so no step copies a whole
table and the backward pass keeps O(K K_L W) per step instead of the dense DNC's O(N^2) (the
journal makes a step's cost grow with the number of steps since the state was fresh or detached:
meant for episodes of tens to thousands of steps, with truncated backpropagation beyond). With
K = K_L = N the linkage, precedence and content reads are exactly the dense DNC's (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..addressing import Parameter, Stage, _safe_norm
from .access import oneplus
from .addressing import STAGES as DENSE_STAGES
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
    """The value of sparse weighting ``s`` (``[B, S]``) at slots ``query`` (``[B, ...]``):
    sum_k [index_k = q] value_k."""
    b = query.shape[0]
    q = query.reshape(b, -1, 1)
    eq = (q == s.index.unsqueeze(1)).to(s.value.dtype)                   # [B, Q, S]
    return torch.bmm(eq, s.value.unsqueeze(-1)).reshape(query.shape)


def _flat(rows: torch.Tensor, n: int) -> torch.Tensor:
    """Row numbers of a ``[B, N, D]`` table seen as ``[B N, D]``."""
    b = rows.shape[0]
    offsets = (torch.arange(b, device=rows.device) * n).reshape(b, *([1] * (rows.dim() - 1)))
    return (rows + offsets).reshape(-1)


def gather_index(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[b, rows[b, ...]]`` for a table of slot numbers: ``[B, N, D]``, ``[B, ...]`` -> ``[B, ..., D]``."""
    b, n, d = table.shape
    return table.reshape(b * n, d)[_flat(rows, n)].reshape(*rows.shape, d)


class Table(NamedTuple):
    """A ``[B, N, D]`` table (memory, link values) updated in place, with a journal of the updates.

    Copying the whole table at every step, as autograd would need, costs O(N D) per step in time and
    in memory kept for the backward pass. Instead ``data`` is updated in place (it never carries the
    graph) and each update's rows and deltas are appended to the journal, which does. A gathered row
    is ``data[i]`` (the right value) plus ``sum_s [rows_s = i] (delta_s - delta_s.detach())`` (zero,
    with the right gradient: d M_t[i] / d delta_s = 1 for every earlier update s of row i). So a step
    costs O(K D) plus the journal's length, and the backward pass keeps O(K D) per step.

    The table's values before its first journalled update are constants (no gradient reaches them).
    Whoever updates a table owns it: ``SparseAccessState.clone`` gives an independent copy.
    """

    data: torch.Tensor              # [B, N, D] current values; never requires grad
    rows: torch.Tensor              # [B, J] long: the rows updated so far
    deltas: torch.Tensor            # [B, J, D] what was added to them (carries the graph)


def new_table(data: torch.Tensor) -> Table:
    """A table holding ``data`` (copied, detached) with an empty journal."""
    b, _, d = data.shape
    return Table(data.detach().clone().contiguous(), torch.zeros(b, 0, dtype=torch.long, device=data.device),
                 data.new_zeros(b, 0, d))


def table_gather(table: Table, rows: torch.Tensor) -> torch.Tensor:
    """Rows ``[B, ...]`` of the table -> ``[B, ..., D]``, differentiable through the journal."""
    b, n, d = table.data.shape
    out = table.data.reshape(b * n, d)[_flat(rows, n)].reshape(b, -1, d)
    if table.deltas.requires_grad and table.rows.shape[1]:
        match = (rows.reshape(b, -1, 1) == table.rows.unsqueeze(1)).to(table.deltas.dtype)     # [B, Q, J]
        out = out + torch.bmm(match, table.deltas - table.deltas.detach())
    return out.reshape(*rows.shape, d)


def table_add(table: Table, rows: torch.Tensor, delta: torch.Tensor) -> Table:
    """Add ``delta`` ``[B, S, D]`` to rows ``[B, S]`` (repeats add up): in place, and journalled."""
    b, n, d = table.data.shape
    with torch.no_grad():
        table.data.reshape(b * n, d).index_add_(0, _flat(rows, n), delta.detach().reshape(-1, d))
    return Table(table.data, torch.cat([table.rows, rows], 1), torch.cat([table.deltas, delta], 1))


def row_norms(data: torch.Tensor) -> torch.Tensor:
    """``[B, N]`` ||M[i]|| (as ``ntm.addressing``'s cosine similarity computes it)."""
    return _safe_norm(data)


def sparse_content_weights(memory: Table, norms: torch.Tensor, key: torch.Tensor, beta: torch.Tensor,
                           k: int) -> Sparse:
    """Content weighting over the K nearest slots: softmax_{i in top-K}(beta D(key, M[i])).

    The search (all N similarities from the current values and their norms, ``topk``) runs without
    gradient: one pass over memory. The K winners' similarities are recomputed from their gathered
    rows, so gradients reach keys, strengths and what was written to those rows.

    Args:
        memory: the memory table ``[B, N, W]``; norms: ``[B, N]`` its row norms (``row_norms``).
        key: ``[B, H, W]``; beta: ``[B, H, 1]``; k: K <= N.

    Returns:
        ``Sparse`` of ``[B, H, K]`` summing to 1 per head.
    """
    with torch.no_grad():
        dots = torch.bmm(key, memory.data.transpose(1, 2))                   # [B, H, N]
        index = (dots / (norms.unsqueeze(1) * _safe_norm(key).unsqueeze(-1))).topk(k, dim=-1).indices
    rows = table_gather(memory, index)                                        # [B, H, K, W]
    sim = (rows * key.unsqueeze(-2)).sum(-1) / (_safe_norm(rows) * _safe_norm(key).unsqueeze(-1))
    return Sparse(index, torch.softmax(beta * sim, dim=-1))


# ---- sparse temporal linkage ------------------------------------------------------------------------

class SparseLinkage(NamedTuple):
    """The link matrix as two lists of K_L entries per slot, and the sparse precedence.

    Row i's list: L_t[i, row_index[b, i, k]] = row_value[b, i, k] (slot i was written after those).
    Column j's list: L_t[column_index[b, j, k], j] = column_value[b, j, k].
    """

    row_index: torch.Tensor         # [B, N, K_L] long, updated in place
    row_value: Table                # [B, N, K_L]
    column_index: torch.Tensor      # [B, N, K_L] long, updated in place
    column_value: Table             # [B, N, K_L]
    precedence: Sparse              # [B, K_L] p_t

    @property
    def rows(self) -> Sparse:
        return Sparse(self.row_index, self.row_value.data)

    @property
    def columns(self) -> Sparse:
        return Sparse(self.column_index, self.column_value.data)


def _update_lists(index: torch.Tensor, value: Table, touched: torch.Tensor, coef: Sparse, candidates: Sparse,
                  write: Sparse) -> Table:
    """Apply L[s, e] <- (1 - w[s] - w[e]) L[s, e] + coef[s] cand[e] (e != s) to the lists of the slots
    ``touched`` ``[B, T]`` (repeats allowed), re-truncated to K_L entries each; ``index`` in place.

    For row lists coef = w^w_t and cand = p_{t-1}; for column lists (L^T) coef = p_{t-1} and cand = w^w_t.
    """
    kl = index.shape[-1]
    b, t = touched.shape
    old_index = gather_index(index, touched)                          # [B, T, K_L]
    old_value = table_gather(value, touched)
    w_s = lookup(touched, write).unsqueeze(-1)                        # [B, T, 1]
    w_e = lookup(old_index, write)                                    # [B, T, K_L]
    decayed = (1.0 - w_s - w_e) * old_value
    c = candidates.index.shape[-1]
    new_index = candidates.index.unsqueeze(1).expand(b, t, c)
    new_value = lookup(touched, coef).unsqueeze(-1) * candidates.value.unsqueeze(1)
    all_index = torch.cat([old_index, new_index], dim=-1)
    all_value = torch.cat([decayed, new_value], dim=-1)
    all_value = torch.where(all_index == touched.unsqueeze(-1), torch.zeros_like(all_value), all_value)  # L[s, s] = 0
    merged = coalesce(all_index, all_value.clamp_min(0.0), kl)
    # Write back. A slot touched twice got the same new list twice: each copy adds half the change.
    with torch.no_grad():
        copies = (touched.unsqueeze(-1) == touched.unsqueeze(-2)).sum(-1, keepdim=True).to(all_value.dtype)
        index.reshape(-1, kl)[_flat(touched, index.shape[1])] = merged.index.reshape(-1, kl)
    return table_add(value, touched, (merged.value - old_value) / copies)


def sparse_temporal_linkage(prev: SparseLinkage, write: Sparse) -> SparseLinkage:
    """(L_{t-1}, p_{t-1}) and w^w_t (``Sparse`` ``[B, S]``) -> (L_t, p_t), touching O(S K_L) slots.

    Rows that change: the written slots and the rows pointing at them (found through the written
    slots' column lists). Columns that change: the written slots, p_{t-1}'s slots and the columns
    the written slots point at (found through their row lists). The lists are updated in place.
    """
    b = write.index.shape[0]
    p = prev.precedence
    touched_rows = torch.cat([write.index, gather_index(prev.column_index, write.index).reshape(b, -1)], dim=-1)
    touched_cols = torch.cat([write.index, p.index, gather_index(prev.row_index, write.index).reshape(b, -1)], dim=-1)
    row_value = _update_lists(prev.row_index, prev.row_value, touched_rows, write, p, write)
    column_value = _update_lists(prev.column_index, prev.column_value, touched_cols, p, write, write)
    kl = p.index.shape[-1]
    keep = 1.0 - write.value.sum(-1, keepdim=True)
    precedence = coalesce(torch.cat([p.index, write.index], -1), torch.cat([keep * p.value, write.value], -1), kl)
    return SparseLinkage(prev.row_index, row_value, prev.column_index, column_value, precedence)


def sparse_directional_weights(linkage: SparseLinkage, prev_read: Sparse) -> tuple[Sparse, Sparse]:
    """f = L_t w^r_{t-1} from the column lists, b = L_t^T w^r_{t-1} from the row lists.

    Args:
        prev_read: ``Sparse`` ``[B, R, K]``.

    Returns:
        ``(forward, backward)``, each ``Sparse`` ``[B, R, K K_L]`` (slots may repeat).
    """
    b, r, k = prev_read.index.shape
    out = []
    for index, value in ((linkage.column_index, linkage.column_value), (linkage.row_index, linkage.row_value)):
        slots = gather_index(index, prev_read.index)                         # [B, R, K, K_L]
        weights = table_gather(value, prev_read.index) * prev_read.value.unsqueeze(-1)
        out.append(Sparse(slots.reshape(b, r, -1), weights.reshape(b, r, -1)))
    return out[0], out[1]


# ---- the access step ----------------------------------------------------------------------------

class SparseAccessState(NamedTuple):
    """The sparse memory between timesteps. Its tables are updated in place by the next step."""

    memory: Table                   # [B, N, W] M_t
    norms: torch.Tensor             # [B, N] ||M_t[i]||, kept up to date for the nearest-neighbour search
    linkage: SparseLinkage
    read_weights: Sparse            # [B, R, K]
    write_weights: Sparse           # [B, K + 1]
    last_access: torch.Tensor       # [B, N] the step each slot was last read or written (-1: never)
    clock: torch.Tensor             # [B] steps taken

    def clone(self) -> "SparseAccessState":
        """An independent copy: later steps from it leave this state's tables alone."""
        copy = lambda t: t.clone()  # noqa: E731
        table = lambda tb: Table(tb.data.clone(), tb.rows, tb.deltas)  # noqa: E731
        lk = self.linkage
        return self._replace(memory=table(self.memory), norms=copy(self.norms), last_access=copy(self.last_access),
                             linkage=lk._replace(row_index=copy(lk.row_index), row_value=table(lk.row_value),
                                                 column_index=copy(lk.column_index),
                                                 column_value=table(lk.column_value)))

    def detach(self) -> "SparseAccessState":
        """The same values cut from the graph: journals emptied, small tensors detached."""
        lk = self.linkage
        return self._replace(
            memory=new_table(self.memory.data), norms=self.norms.clone(), last_access=self.last_access.clone(),
            linkage=lk._replace(row_index=lk.row_index.clone(), row_value=new_table(lk.row_value.data),
                                column_index=lk.column_index.clone(), column_value=new_table(lk.column_value.data),
                                precedence=Sparse(lk.precedence.index, lk.precedence.value.detach())),
            read_weights=Sparse(self.read_weights.index, self.read_weights.value.detach()),
            write_weights=Sparse(self.write_weights.index, self.write_weights.value.detach()))


class SparseAccessStep(NamedTuple):
    interface: SparseInterface
    write_content: Sparse           # [B, 1, K]
    lru: torch.Tensor               # [B] the least recently used slot (allocation)
    write_weights: Sparse           # [B, K + 1]
    memory: Table                   # [B, N, W]
    norms: torch.Tensor             # [B, N]
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
    rows, cols = empty(batch_size, n, kl), empty(batch_size, n, kl)
    linkage = SparseLinkage(rows.index, new_table(rows.value), cols.index, new_table(cols.value), empty(batch_size, kl))
    memory = new_table(like.new_zeros(batch_size, n, w))
    return SparseAccessState(memory, row_norms(memory.data), linkage, empty(batch_size, r, k), empty(batch_size, k + 1),
                             like.new_full((batch_size, n), -1.0), like.new_zeros(batch_size))


def sparse_access_step(xi: SparseInterface, state: SparseAccessState, k: int) -> SparseAccessStep:
    """One timestep of sparse memory access: write (K nearest or least recently used), link, read.

    Updates ``state``'s tables in place (``state.clone()`` first to keep them)."""
    b = state.norms.shape[0]
    write_content = sparse_content_weights(state.memory, state.norms, xi.write_key.unsqueeze(1),
                                           xi.write_strength.unsqueeze(1), k)
    lru = state.last_access.argmin(dim=-1)                                 # ties: the lowest slot
    g_a, g_w = xi.allocation_gate, xi.write_gate
    write = Sparse(torch.cat([lru.unsqueeze(-1), write_content.index[:, 0]], -1),
                   g_w * torch.cat([g_a, (1.0 - g_a) * write_content.value[:, 0]], -1))
    old_rows = table_gather(state.memory, write.index)                     # [B, K+1, W]
    delta = write.value.unsqueeze(-1) * (xi.write_vector.unsqueeze(1) - old_rows * xi.erase.unsqueeze(1))
    memory = table_add(state.memory, write.index, delta)
    norms = state.norms
    with torch.no_grad():
        written = row_norms(gather_index(memory.data, write.index))
        norms.reshape(-1)[_flat(write.index, norms.shape[1])] = written.reshape(-1)
    linkage = sparse_temporal_linkage(state.linkage, write)
    forward, backward = sparse_directional_weights(linkage, state.read_weights)
    read_content = sparse_content_weights(memory, norms, xi.read_keys, xi.read_strengths.unsqueeze(-1), k)
    modes = xi.read_modes
    weights = coalesce(torch.cat([backward.index, read_content.index, forward.index], -1),
                       torch.cat([modes[..., 0:1] * backward.value, modes[..., 1:2] * read_content.value,
                                  modes[..., 2:3] * forward.value], -1), k)
    reads = (table_gather(memory, weights.index) * weights.value.unsqueeze(-1)).sum(-2)   # [B, R, W]
    last_access = state.last_access
    with torch.no_grad():
        slots = torch.cat([write.index, weights.index.reshape(b, -1)], -1)
        used = torch.cat([write.value, weights.value.reshape(b, -1)], -1) > _ACCESS_THRESHOLD
        now = state.clock.unsqueeze(-1).expand_as(slots)
        last_access.scatter_reduce_(-1, slots, torch.where(used, now, torch.full_like(now, -1.0)), reduce="amax")
    return SparseAccessStep(xi, write_content, lru, write, memory, norms, linkage, forward, backward, read_content,
                            weights, reads, last_access, state.clock + 1)


def sparse_next_state(step: SparseAccessStep) -> SparseAccessState:
    return SparseAccessState(step.memory, step.norms, step.linkage, step.read_weights, step.write_weights,
                             step.last_access, step.clock)


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

    def own(self, state: SparseAccessState) -> SparseAccessState:
        """A copy of a state passed in from outside, which the steps of this run may update in place."""
        return state.clone()

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
                   allocation=F.one_hot(step.lru, n).to(step.reads.dtype),
                   write_weights=dense(step.write_weights), memory=step.memory.data.clone(),
                   precedence=dense(step.linkage.precedence), forward=dense(step.forward),
                   backward=dense(step.backward), read_content=dense(step.read_content),
                   read_weights=dense(step.read_weights), reads=step.reads.detach(),
                   last_access=step.last_access.clone())
        if n <= DENSE_LINK_LIMIT:
            rec["link"] = dense_link(step.linkage.rows, n)
        return rec

    @staticmethod
    def memory_of(state: SparseAccessState) -> torch.Tensor:
        """``[B, N, W]`` a copy of the state's memory (its table changes in place later)."""
        return state.memory.data.clone()

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

    def compile_step(self) -> None:
        """Runs eagerly: the journals grow every step, so a compiled step would recompile every step."""

    def make_access(self) -> nn.Module:
        c = self.config
        return SparseMemoryAccess(c.hidden_size, c.nr_cells, c.cell_size, c.read_heads, c.sparse_reads,
                                  c.temporal_reads)


class SDNCModel(DNCModel):
    """The SDNC behind the library's model protocol; ``model_type = "sdnc"``."""

    model_type = "sdnc"
    machine_class = SDNC


__all__ = ["SDNCConfig", "SparseInterface", "parse_sparse_interface", "sparse_interface_size", "Sparse", "densify",
           "coalesce", "lookup", "gather_index", "Table", "new_table", "table_gather", "table_add", "row_norms",
           "sparse_content_weights", "SparseLinkage",
           "sparse_temporal_linkage", "sparse_directional_weights", "SparseAccessState", "SparseAccessStep",
           "initial_sparse_state", "sparse_access_step", "sparse_next_state", "dense_link", "SparseMemoryAccess",
           "SDNC", "SDNCModel", "DENSE_LINK_LIMIT"]


# The sparse DNC's stage table: the dense one (ntm.dnc.addressing.STAGES) with the rows that the
# SDNC computes differently: K-sparse content lookups, least-recently-used allocation and a write
# to K + 1 slots. It has no retention or usage (its write head records neither). ``function``
# names a function of this module, as the dense rows name functions of theirs.
_SPARSE_ROWS = {
    "write_content": Stage(
        "write_content", "write content", "Write content weighting (K nearest)", "cʷ",
        Parameter("write_strength", "βʷ", "write strength"),
        r"c^w_t[i] = \frac{\exp(\beta^w_t D(k^w_t, M_{t-1}[i]))}{\sum_{j \in \mathrm{top}_K} "
        r"\exp(\beta^w_t D(k^w_t, M_{t-1}[j]))},\ i \in \mathrm{top}_K",
        "write_content = sparse_content_weights(state.memory, state.norms, xi.write_key.unsqueeze(1), "
        "xi.write_strength.unsqueeze(1), k)", "sparse_content_weights",
        "Only the K slots nearest the write key get weight (an exact top-K of cosine similarity)."),
    "allocation": Stage(
        "allocation", "allocation", "Allocation (least recently used)", "a",
        None,
        r"a_t = \mathbb{1}\left[i = \arg\min_j \ell_{t-1}[j]\right]",
        "lru = state.last_access.argmin(dim=-1)", "sparse_access_step",
        "One-hot on the slot whose last read or write (weight above 0.005) is oldest; no usage sort."),
    "write_weights": Stage(
        "write_weights", "write", "Write weighting (K + 1 slots)", "wʷ",
        Parameter("allocation_gate", "gᵃ", "allocation gate"),
        r"w^w_t = g^w_t \left[ g^a_t a_t + (1 - g^a_t) c^w_t \right]",
        "write = Sparse(torch.cat([lru, write_content.index]), g_w * torch.cat([g_a, (1 - g_a) * "
        "write_content.value]))", "sparse_access_step",
        "The LRU slot or the K content matches; the write gate scales both."),
    "read_content": Stage(
        "read_content", "read content", "Read content weighting (K nearest)", "cʳ",
        Parameter("read_strengths", "βʳ", "read strength"),
        r"c^{r,i}_t[j] \propto \exp(\beta^{r,i}_t D(k^{r,i}_t, M_t[j])),\ j \in \mathrm{top}_K",
        "read_content = sparse_content_weights(memory, norms, xi.read_keys, xi.read_strengths.unsqueeze(-1), k)",
        "sparse_content_weights", "The K slots nearest each read key."),
}
SPARSE_STAGES: tuple[Stage, ...] = tuple(_SPARSE_ROWS.get(s.key, s) for s in DENSE_STAGES
                                         if s.key not in ("retention", "usage"))

