"""How the DNC decides where to write and where to read (Graves et al. 2016, Methods).

Where the NTM moves a head by shifting it, the DNC has three mechanisms beside content lookup:

    content      c = C(M, k, beta)[i] = softmax_i(beta D(k, M[i]))          "Content-based addressing"
    allocation   psi_t = prod_i (1 - f^i_t w^{r,i}_{t-1})                    retention     "Dynamic memory allocation"
                 u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} o w^w_{t-1}) o psi_t  usage
                 phi_t = SortIndicesAscending(u_t)
                 a_t[phi_t[j]] = (1 - u_t[phi_t[j]]) prod_{i<j} u_t[phi_t[i]]  allocation
    write        w^w_t = g^w_t [g^a_t a_t + (1 - g^a_t) c^w_t]              "Write weighting"
    linkage      p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t                  precedence    "Temporal memory linkage"
                 L_t[i, j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i, j] + w^w_t[i] p_{t-1}[j],  L_t[i, i] = 0
                 f^i_t = L_t w^{r,i}_{t-1},   b^i_t = L_t^T w^{r,i}_{t-1}      forward, backward
    read         w^{r,i}_t = pi^i_t[1] b^i_t + pi^i_t[2] c^{r,i}_t + pi^i_t[3] f^i_t   read modes

(o is the elementwise product; D is cosine similarity, the NTM's eq. 6, so content addressing is
``ntm.addressing.content_weights`` itself.)

Every function is pure and batched: the leading dimension is the batch ``B``, read weightings
carry a head dimension ``R`` (``[B, R, N]``), and nothing loops over the batch, the heads or the
slots in Python. The sort of the allocation is ``torch.sort(stable=True)`` and its product an
exclusive ``torch.cumprod``, as in the paper; the stable sort makes slots with equal usage come
in slot order, so ties are deterministic (the free slot with the lowest index is allocated first).
Like the paper, gradients pass through the sorted values but not through the order itself.

Numerical care: allocation and linkage need no epsilon (every quantity is a product or convex
mix of numbers in [0, 1]); usage is clamped to [0, 1] so rounding cannot make 1 - u negative.
Content addressing keeps ``ntm.addressing._NORM_EPS`` for all-zero keys and rows.

``STAGES`` below lists the weightings in the order ``ntm.dnc.access.access_step`` computes them,
with their equations and the line that computes each, for the trace, the figures and the pages.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..addressing import _NORM_EPS, Parameter, Stage, content_weights


class TemporalLinkage(NamedTuple):
    """The DNC's record of write order: ``link`` L_t ``[B, N, N]`` and ``precedence`` p_t ``[B, N]``.

    L_t[i, j] is the degree to which slot i was written after slot j; p_t[j] the degree to which
    slot j was the last one written.
    """

    link: torch.Tensor
    precedence: torch.Tensor


def retention(free_gates: torch.Tensor, prev_read_weights: torch.Tensor) -> torch.Tensor:
    """Memory retention vector psi_t = prod_i (1 - f^i_t w^{r,i}_{t-1}).

    A read head with free gate f^i = 1 releases the slots it read last step; psi_t[j] is how much
    of slot j's usage survives.

    Args:
        free_gates: ``[B, R]`` free gates f^i_t in [0, 1].
        prev_read_weights: ``[B, R, N]`` read weightings w^{r,i}_{t-1}.

    Returns:
        ``[B, N]`` retention psi_t in [0, 1].
    """
    return torch.prod(1.0 - free_gates.unsqueeze(-1) * prev_read_weights, dim=1)


def usage(prev_usage: torch.Tensor, prev_write_weights: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """Usage vector u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} o w^w_{t-1}) o psi_t, with u_0 = 0.

    Writing to a slot raises its usage towards 1; freeing it (psi < 1) lowers it.

    Args:
        prev_usage: ``[B, N]`` u_{t-1} in [0, 1].
        prev_write_weights: ``[B, N]`` w^w_{t-1}, entries in [0, 1].
        psi: ``[B, N]`` retention psi_t.

    Returns:
        ``[B, N]`` u_t, clamped to [0, 1] against rounding.
    """
    u = (prev_usage + prev_write_weights - prev_usage * prev_write_weights) * psi
    return u.clamp(0.0, 1.0)


def allocation(u: torch.Tensor) -> torch.Tensor:
    """Allocation weighting a_t[phi_t[j]] = (1 - u_t[phi_t[j]]) prod_{i=1}^{j-1} u_t[phi_t[i]].

    phi_t lists the slots from least to most used (``torch.sort``, stable: equal usages keep slot
    order, so the lowest free slot comes first). The first free slot gets weight 1 - u; each later
    slot is discounted by how used every freer slot is. sum_i a_t[i] = 1 - prod_i u_t[i] <= 1, and
    is 0 when every slot is fully used.

    Args:
        u: ``[B, N]`` usage u_t in [0, 1].

    Returns:
        ``[B, N]`` allocation a_t, entries in [0, 1], summing to at most 1.
    """
    sorted_usage, phi = torch.sort(u, dim=-1, stable=True)            # [B, N], u[phi] ascending
    ones = torch.ones_like(sorted_usage[..., :1])
    # Exclusive cumulative product: prod_{i<j} u[phi[i]] (1 for j = 0).
    before = torch.cumprod(torch.cat([ones, sorted_usage[..., :-1]], dim=-1), dim=-1)
    sorted_allocation = (1.0 - sorted_usage) * before
    return torch.zeros_like(u).scatter(-1, phi, sorted_allocation)    # undo the sort: a[phi[j]]


def write_weights(alloc: torch.Tensor, write_content: torch.Tensor, allocation_gate: torch.Tensor,
                  write_gate: torch.Tensor) -> torch.Tensor:
    """Write weighting w^w_t = g^w_t [g^a_t a_t + (1 - g^a_t) c^w_t].

    Args:
        alloc: ``[B, N]`` allocation weighting a_t.
        write_content: ``[B, N]`` write content weighting c^w_t = C(M_{t-1}, k^w_t, beta^w_t).
        allocation_gate: ``[B, 1]`` g^a_t in [0, 1]: 1 writes to a free slot, 0 to a slot found by content.
        write_gate: ``[B, 1]`` g^w_t in [0, 1]: 0 writes nothing.

    Returns:
        ``[B, N]`` w^w_t, summing to at most 1.
    """
    return write_gate * (allocation_gate * alloc + (1.0 - allocation_gate) * write_content)


def precedence(prev_precedence: torch.Tensor, write: torch.Tensor) -> torch.Tensor:
    """Precedence weighting p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t, with p_0 = 0.

    Args:
        prev_precedence: ``[B, N]`` p_{t-1}, summing to at most 1.
        write: ``[B, N]`` w^w_t.

    Returns:
        ``[B, N]`` p_t, summing to at most 1.
    """
    return (1.0 - write.sum(dim=-1, keepdim=True)) * prev_precedence + write


def link(prev_link: torch.Tensor, prev_precedence: torch.Tensor, write: torch.Tensor) -> torch.Tensor:
    """Temporal link matrix L_t[i, j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i, j] + w^w_t[i] p_{t-1}[j].

    L_0 = 0 and L_t[i, i] = 0: a slot never precedes itself. Rows and columns of L_t sum to at
    most 1. The matrix is ``[B, N, N]``, which is what makes the dense DNC quadratic in N.

    Args:
        prev_link: ``[B, N, N]`` L_{t-1}.
        prev_precedence: ``[B, N]`` p_{t-1}.
        write: ``[B, N]`` w^w_t.

    Returns:
        ``[B, N, N]`` L_t with a zero diagonal.
    """
    w_i = write.unsqueeze(-1)                                          # [B, N, 1]
    w_j = write.unsqueeze(-2)                                          # [B, 1, N]
    # (1 - w_i - w_j) L written as three products with a vector, so autograd keeps only L_{t-1} (alive
    # anyway) and vectors for the backward pass, not another N x N factor per step.
    new = prev_link * (1.0 - w_i) - prev_link * w_j + w_i * prev_precedence.unsqueeze(-2)
    new.diagonal(dim1=-2, dim2=-1).zero_()
    return new


def temporal_linkage(prev: TemporalLinkage, write: torch.Tensor) -> TemporalLinkage:
    """(L_{t-1}, p_{t-1}) and w^w_t -> (L_t, p_t); L_t uses the previous precedence p_{t-1}."""
    return TemporalLinkage(link(prev.link, prev.precedence, write), precedence(prev.precedence, write))


def directional_weights(link_matrix: torch.Tensor,
                        prev_read_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward weightings f^i_t = L_t w^{r,i}_{t-1} and b^i_t = L_t^T w^{r,i}_{t-1}.

    f moves each read head to the slot written after the one it read; b to the one written before.

    Args:
        link_matrix: ``[B, N, N]`` L_t.
        prev_read_weights: ``[B, R, N]`` w^{r,i}_{t-1}.

    Returns:
        ``(forward, backward)``, each ``[B, R, N]``.
    """
    forward = torch.bmm(prev_read_weights, link_matrix.transpose(1, 2))   # f[h, i] = sum_j L[i, j] w[h, j]
    backward = torch.bmm(prev_read_weights, link_matrix)                  # b[h, i] = sum_j L[j, i] w[h, j]
    return forward, backward


def read_weights(backward: torch.Tensor, content: torch.Tensor, forward: torch.Tensor,
                 read_modes: torch.Tensor) -> torch.Tensor:
    """Read weighting w^{r,i}_t = pi^i_t[1] b^i_t + pi^i_t[2] c^{r,i}_t + pi^i_t[3] f^i_t.

    Args:
        backward: ``[B, R, N]`` b^i_t.
        content: ``[B, R, N]`` read content weighting c^{r,i}_t = C(M_t, k^{r,i}_t, beta^{r,i}_t).
        forward: ``[B, R, N]`` f^i_t.
        read_modes: ``[B, R, 3]`` pi^i_t on the simplex, ordered (backward, content, forward).

    Returns:
        ``[B, R, N]`` w^{r,i}_t.
    """
    return (read_modes[..., 0:1] * backward + read_modes[..., 1:2] * content
            + read_modes[..., 2:3] * forward)


# ---- fused forms for training ------------------------------------------------------------------
# The same equations as ``content_weights`` and ``temporal_linkage`` + ``directional_weights`` above,
# each as one autograd node with its gradient written out, for ``ntm.dnc.access.training_step``: a
# step's tensors are small, so its time goes to the number of operations and autograd nodes, not to
# arithmetic. They are checked against the functions above (values and ``gradcheck``) in
# tests/test_dnc_fused.py; the functions above stay the definitions.

class _ContentWeighting(torch.autograd.Function):
    """softmax_n(beta K[k, M(n)]) with K the cosine similarity (``content_weights``) as one node."""

    @staticmethod
    def forward(ctx, memory, key, beta):
        eps2 = _NORM_EPS * _NORM_EPS
        key_norm = key.square().sum(-1).add_(eps2).sqrt_()                   # [B, H]
        memory_norm = memory.square().sum(-1).add_(eps2).sqrt_()             # [B, N]
        sim = torch.bmm(key, memory.transpose(1, 2))                         # [B, H, N] dots ...
        sim.div_(key_norm.unsqueeze(-1)).div_(memory_norm.unsqueeze(1))      # ... / (||k|| ||M(n)||)
        weights = torch.softmax(beta * sim, dim=-1)
        ctx.save_for_backward(memory, key, beta, key_norm, memory_norm, sim, weights)
        return weights

    @staticmethod
    def backward(ctx, grad):
        memory, key, beta, key_norm, memory_norm, sim, weights = ctx.saved_tensors
        grad_z = weights * (grad - (grad * weights).sum(-1, keepdim=True))  # through the softmax
        grad_beta = (grad_z * sim).sum(-1, keepdim=True) if ctx.needs_input_grad[2] else None
        grad_sim = grad_z * beta
        grad_dots = grad_sim / key_norm.unsqueeze(-1) / memory_norm.unsqueeze(1)
        grad_sim.mul_(sim)                                                   # d/d||.|| of dots / norms
        grad_memory = grad_key = None
        if ctx.needs_input_grad[1]:
            grad_key = torch.bmm(grad_dots, memory)
            grad_key -= (grad_sim.sum(-1) / key_norm.square()).unsqueeze(-1) * key
        if ctx.needs_input_grad[0]:
            grad_memory = torch.bmm(grad_dots.transpose(1, 2), key)
            grad_memory -= (grad_sim.sum(-2) / memory_norm.square()).unsqueeze(-1) * memory
        return grad_memory, grad_key, grad_beta


def fused_content_weights(memory: torch.Tensor, key: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``content_weights(memory, key, beta)`` for ``key`` ``[B, H, W]``, ``beta`` ``[B, H, 1]``, as one
    autograd node: ``[B, H, N]``."""
    return _ContentWeighting.apply(memory, key, beta)


class _Linkage(torch.autograd.Function):
    """(L_{t-1}, p_{t-1}, w^w_t, w^r_{t-1}) -> (L_t, p_t, f_t, b_t) (``link``, ``precedence``,
    ``directional_weights``) as one node."""

    @staticmethod
    def forward(ctx, prev_link, prev_precedence, write, prev_read_weights):
        w_i, w_j = write.unsqueeze(-1), write.unsqueeze(-2)
        new = prev_link * ((1.0 - w_i) - w_j)                               # (1 - w_i - w_j) L_{t-1}
        new.baddbmm_(w_i, prev_precedence.unsqueeze(-2))                     # + w_i p_{t-1}[j]
        new.diagonal(dim1=-2, dim2=-1).zero_()
        prec = (1.0 - write.sum(dim=-1, keepdim=True)) * prev_precedence + write
        forward = torch.bmm(prev_read_weights, new.transpose(1, 2))
        backward = torch.bmm(prev_read_weights, new)
        ctx.save_for_backward(prev_link, prev_precedence, write, prev_read_weights, new)
        return new, prec, forward, backward

    @staticmethod
    def backward(ctx, grad_link, grad_prec, grad_forward, grad_backward):
        prev_link, prev_precedence, write, prev_read_weights, new = ctx.saved_tensors
        b, n = write.shape
        grad = grad_link.clone() if grad_link is not None else write.new_zeros(b, n, n)
        grad_read = None
        if grad_forward is not None:                  # f = w^r L^T
            grad.baddbmm_(grad_forward.transpose(1, 2), prev_read_weights)
            grad_read = torch.bmm(grad_forward, new)
        if grad_backward is not None:                 # b = w^r L
            grad.baddbmm_(prev_read_weights.transpose(1, 2), grad_backward)
            back = torch.bmm(grad_backward, new.transpose(1, 2))
            grad_read = back if grad_read is None else grad_read + back
        grad.diagonal(dim1=-2, dim2=-1).zero_()       # the diagonal was set, not computed
        w_i, w_j = write.unsqueeze(-1), write.unsqueeze(-2)
        grad_prev_link = grad * ((1.0 - w_i) - w_j) if ctx.needs_input_grad[0] else None
        weighted = grad * prev_link
        grad_write = (torch.bmm(grad, prev_precedence.unsqueeze(-1)).squeeze(-1)
                      - weighted.sum(-1) - weighted.sum(-2))
        grad_prev_prec = torch.bmm(w_i.transpose(1, 2), grad).squeeze(1)
        if grad_prec is not None:                     # p = (1 - sum w) p_{t-1} + w
            grad_prev_prec += grad_prec * (1.0 - write.sum(dim=-1, keepdim=True))
            grad_write += grad_prec - (grad_prec * prev_precedence).sum(-1, keepdim=True)
        return grad_prev_link, grad_prev_prec, grad_write, grad_read


def fused_linkage(prev: TemporalLinkage, write: torch.Tensor,
                  prev_read_weights: torch.Tensor) -> tuple[TemporalLinkage, torch.Tensor, torch.Tensor]:
    """``temporal_linkage(prev, write)`` and ``directional_weights`` of its link matrix, as one autograd
    node: ``(TemporalLinkage(L_t, p_t), forward [B, R, N], backward [B, R, N])``."""
    link_t, prec_t, forward, backward = _Linkage.apply(prev.link, prev.precedence, write, prev_read_weights)
    return TemporalLinkage(link_t, prec_t), forward, backward


# The DNC's weightings in the order ``access_step`` (ntm/dnc/access.py) computes them. ``key`` is the
# field of ``AccessStep`` holding it; ``code`` the line of ``access_step`` that computes it.
STAGES: tuple[Stage, ...] = (
    Stage("write_content", "write content", "Write content weighting", "cʷ",
          Parameter("write_strength", "βʷ", "write strength"),
          r"c^w_t = \mathcal{C}(M_{t-1}, k^w_t, \beta^w_t)",
          "write_content = content_weights(state.memory, xi.write_key.unsqueeze(1), "
          "xi.write_strength.unsqueeze(1)).squeeze(1)", "content_weights",
          "Which slot the write key points at, by cosine similarity."),
    Stage("retention", "retention", "Memory retention", "ψ",
          Parameter("free_gates", "f", "free gates"),
          r"\psi_t = \prod_{i=1}^{R} (1 - f^i_t w^{r,i}_{t-1})",
          "psi = retention(xi.free_gates, state.read_weights)", "retention",
          "A read head with free gate 1 releases the slots it read last step.", mixes_previous=True),
    Stage("usage", "usage", "Usage", "u",
          None,
          r"u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} \circ w^w_{t-1}) \circ \psi_t",
          "u = usage(state.usage, state.write_weights, psi)", "usage",
          "Writing raises a slot's usage towards 1; freeing lowers it.", mixes_previous=True),
    Stage("allocation", "allocation", "Allocation", "a",
          None,
          r"a_t[\phi_t[j]] = (1 - u_t[\phi_t[j]]) \prod_{i=1}^{j-1} u_t[\phi_t[i]]",
          "alloc = allocation(u)", "allocation",
          "The least used slot gets the most weight; slots are sorted by usage."),
    Stage("write_weights", "write", "Write weighting", "wʷ",
          Parameter("allocation_gate", "gᵃ", "allocation gate"),
          r"w^w_t = g^w_t \left[ g^a_t a_t + (1 - g^a_t) c^w_t \right]",
          "write = write_weights(alloc, write_content, xi.allocation_gate, xi.write_gate)", "write_weights",
          "The allocation gate chooses a free slot or the content match; the write gate scales both."),
    Stage("precedence", "precedence", "Precedence", "p",
          None,
          r"p_t = \left(1 - \sum_i w^w_t[i]\right) p_{t-1} + w^w_t",
          "linkage = temporal_linkage(TemporalLinkage(state.link, state.precedence), write)", "precedence",
          "How much each slot was the last one written.", mixes_previous=True),
    Stage("forward", "forward", "Forward weighting", "f",
          None,
          r"f^i_t = L_t\, w^{r,i}_{t-1}",
          "forward, backward = directional_weights(linkage.link, state.read_weights)", "directional_weights",
          "The slots written just after the ones each head read.", mixes_previous=True),
    Stage("backward", "backward", "Backward weighting", "b",
          None,
          r"b^i_t = L_t^\top w^{r,i}_{t-1}",
          "forward, backward = directional_weights(linkage.link, state.read_weights)", "directional_weights",
          "The slots written just before the ones each head read.", mixes_previous=True),
    Stage("read_content", "read content", "Read content weighting", "cʳ",
          Parameter("read_strengths", "βʳ", "read strength"),
          r"c^{r,i}_t = \mathcal{C}(M_t, k^{r,i}_t, \beta^{r,i}_t)",
          "read_content = content_weights(memory, xi.read_keys, xi.read_strengths.unsqueeze(-1))",
          "content_weights", "Which slots each read key points at."),
    Stage("read_weights", "read", "Read weighting", "wʳ",
          Parameter("read_modes", "π", "read modes"),
          r"w^{r,i}_t = \pi^i_t[1] b^i_t + \pi^i_t[2] c^{r,i}_t + \pi^i_t[3] f^i_t",
          "weights = read_weights(backward, read_content, forward, xi.read_modes)", "read_weights",
          "Each head mixes going back, looking up and going forward."),
)

__all__ = ["TemporalLinkage", "STAGES", "content_weights", "retention", "usage", "allocation", "write_weights",
           "precedence", "link", "temporal_linkage", "directional_weights", "read_weights",
           "fused_content_weights", "fused_linkage"]
