"""The DNC's memory access: interface vector in, read vectors and new memory state out (Graves et al. 2016, Methods).

Each timestep the controller emits an interface vector xi_t, which is split into

    read keys        k^{r,i}_t in R^W       (R of them)   raw
    read strengths   beta^{r,i}_t >= 1                     oneplus
    write key        k^w_t in R^W                          raw
    write strength   beta^w_t >= 1                         oneplus
    erase vector     e_t in [0, 1]^W                       sigmoid
    write vector     v_t in R^W                            raw
    free gates       f^i_t in [0, 1]        (R of them)    sigmoid
    allocation gate  g^a_t in [0, 1]                       sigmoid
    write gate       g^w_t in [0, 1]                       sigmoid
    read modes       pi^i_t on the 3-simplex (R of them)   softmax over (backward, content, forward)

with oneplus(x) = 1 + log(1 + e^x). The interface has W R + 3 W + 5 R + 3 numbers. ``access_step``
then writes first and reads second, the paper's order:

    M_t = M_{t-1} o (E - w^w_t e_t^T) + w^w_t v_t^T        erase and add (``ntm.memory.write``)
    r^i_t = M_t^T w^{r,i}_t                                read (``ntm.memory.read``)

Shapes: B batch, N slots (``nr_cells``), W slot width (``cell_size``), R read heads (``read_heads``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..memory import read as read_memory, write as write_memory
from .addressing import (TemporalLinkage, allocation, content_weights, directional_weights, fused_content_weights,
                         fused_linkage, read_weights, retention, temporal_linkage, usage, write_weights)


def oneplus(x: torch.Tensor) -> torch.Tensor:
    """oneplus(x) = 1 + log(1 + e^x), in [1, inf): key strengths are never below 1."""
    return 1.0 + F.softplus(x)


def interface_size(cell_size: int, read_heads: int) -> int:
    """Length of xi_t: W R + 3 W + 5 R + 3."""
    return cell_size * read_heads + 3 * cell_size + 5 * read_heads + 3


class Interface(NamedTuple):
    """The interface vector xi_t parsed and activated."""

    read_keys: torch.Tensor         # [B, R, W]  k^{r,i}_t
    read_strengths: torch.Tensor    # [B, R]     beta^{r,i}_t >= 1
    write_key: torch.Tensor         # [B, W]     k^w_t
    write_strength: torch.Tensor    # [B, 1]     beta^w_t >= 1
    erase: torch.Tensor             # [B, W]     e_t in [0, 1]
    write_vector: torch.Tensor      # [B, W]     v_t
    free_gates: torch.Tensor        # [B, R]     f^i_t in [0, 1]
    allocation_gate: torch.Tensor   # [B, 1]     g^a_t in [0, 1]
    write_gate: torch.Tensor        # [B, 1]     g^w_t in [0, 1]
    read_modes: torch.Tensor        # [B, R, 3]  pi^i_t: (backward, content, forward)


def parse_interface(xi: torch.Tensor, cell_size: int, read_heads: int) -> Interface:
    """Split ``xi`` ``[B, interface_size(W, R)]`` into its parts and apply each part's activation."""
    w, r = cell_size, read_heads
    sizes = [r * w, r, w, 1, w, w, r, 1, 1, 3 * r]
    if xi.shape[-1] != sum(sizes):
        raise ValueError(f"interface vector must have {sum(sizes)} entries for W={w}, R={r}; got {xi.shape[-1]}")
    rk, rs, wk, ws, er, wv, fg, ag, wg, rm = torch.split(xi, sizes, dim=-1)
    b = xi.shape[0]
    return Interface(
        read_keys=rk.reshape(b, r, w), read_strengths=oneplus(rs),
        write_key=wk, write_strength=oneplus(ws),
        erase=torch.sigmoid(er), write_vector=wv,
        free_gates=torch.sigmoid(fg), allocation_gate=torch.sigmoid(ag), write_gate=torch.sigmoid(wg),
        read_modes=torch.softmax(rm.reshape(b, r, 3), dim=-1))


class AccessState(NamedTuple):
    """Everything the memory carries from one timestep to the next (named as pytorch-dnc's debug keys)."""

    memory: torch.Tensor            # [B, N, W]  M_t
    link: torch.Tensor              # [B, N, N]  L_t, temporal link matrix
    precedence: torch.Tensor        # [B, N]     p_t
    read_weights: torch.Tensor      # [B, R, N]  w^{r,i}_t
    write_weights: torch.Tensor     # [B, N]     w^w_t
    usage: torch.Tensor             # [B, N]     u_t


class AccessStep(NamedTuple):
    """Every intermediate of one ``access_step``, for recording and teaching (see ``addressing.STAGES``)."""

    interface: Interface
    write_content: torch.Tensor     # [B, N]     c^w_t
    retention: torch.Tensor         # [B, N]     psi_t
    usage: torch.Tensor             # [B, N]     u_t
    allocation: torch.Tensor        # [B, N]     a_t
    write_weights: torch.Tensor     # [B, N]     w^w_t
    link: torch.Tensor              # [B, N, N]  L_t
    precedence: torch.Tensor        # [B, N]     p_t
    forward: torch.Tensor           # [B, R, N]  f^i_t
    backward: torch.Tensor          # [B, R, N]  b^i_t
    read_content: torch.Tensor      # [B, R, N]  c^{r,i}_t
    read_weights: torch.Tensor      # [B, R, N]  w^{r,i}_t
    reads: torch.Tensor             # [B, R, W]  r^i_t
    memory: torch.Tensor            # [B, N, W]  M_t


def initial_access_state(batch_size: int, nr_cells: int, cell_size: int, read_heads: int,
                         like: torch.Tensor) -> AccessState:
    """The empty memory: M_0, L_0, p_0, w^r_0, w^w_0 and u_0 all zero."""
    b, n, w, r = batch_size, nr_cells, cell_size, read_heads
    return AccessState(like.new_zeros(b, n, w), like.new_zeros(b, n, n), like.new_zeros(b, n),
                       like.new_zeros(b, r, n), like.new_zeros(b, n), like.new_zeros(b, n))


def access_step(xi: Interface, state: AccessState) -> AccessStep:
    """One timestep of memory access: the one place the DNC's write-then-read pipeline is written.

    Args:
        xi: the parsed interface vector (``parse_interface``).
        state: the access state after the previous timestep.

    Returns:
        ``AccessStep`` with every weighting; ``reads`` ``[B, R, W]`` are the read vectors r^i_t.
        Each line below is the ``code`` of its row in ``addressing.STAGES``.
    """
    # Write: where (content or a free slot), then erase and add.
    write_content = content_weights(state.memory, xi.write_key.unsqueeze(1), xi.write_strength.unsqueeze(1)).squeeze(1)
    psi = retention(xi.free_gates, state.read_weights)
    u = usage(state.usage, state.write_weights, psi)
    alloc = allocation(u)
    write = write_weights(alloc, write_content, xi.allocation_gate, xi.write_gate)
    memory = write_memory(state.memory, write, xi.erase, xi.write_vector)
    # Remember the order of writes, then read: back along it, by content, or forward along it.
    linkage = temporal_linkage(TemporalLinkage(state.link, state.precedence), write)
    forward, backward = directional_weights(linkage.link, state.read_weights)
    read_content = content_weights(memory, xi.read_keys, xi.read_strengths.unsqueeze(-1))
    weights = read_weights(backward, read_content, forward, xi.read_modes)
    reads = read_memory(memory, weights)
    return AccessStep(xi, write_content, psi, u, alloc, write, linkage.link, linkage.precedence, forward, backward,
                      read_content, weights, reads, memory)


def training_step(xi: Interface, state: AccessState) -> tuple[torch.Tensor, AccessState]:
    """``access_step`` without its intermediates, for training: ``(reads [B, R, W], next AccessState)``.

    The same pipeline and values (to float rounding), with content addressing and the linkage with
    its directional weightings each one autograd node (``addressing.fused_content_weights``,
    ``addressing.fused_linkage``): fewer operations and autograd nodes per step, which is where an
    eager step's time goes (bench/README.md, "DNC"). Recording and ``torch.compile`` use
    ``access_step``.
    """
    write_content = fused_content_weights(state.memory, xi.write_key.unsqueeze(1),
                                          xi.write_strength.unsqueeze(1)).squeeze(1)
    psi = retention(xi.free_gates, state.read_weights)
    u = usage(state.usage, state.write_weights, psi)
    write = write_weights(allocation(u), write_content, xi.allocation_gate, xi.write_gate)
    memory = write_memory(state.memory, write, xi.erase, xi.write_vector)
    linkage, forward, backward = fused_linkage(TemporalLinkage(state.link, state.precedence), write,
                                               state.read_weights)
    read_content = fused_content_weights(memory, xi.read_keys, xi.read_strengths.unsqueeze(-1))
    weights = read_weights(backward, read_content, forward, xi.read_modes)
    return read_memory(memory, weights), AccessState(memory, linkage.link, linkage.precedence, weights, write, u)


def next_state(step: AccessStep) -> AccessState:
    """The state the next timestep starts from."""
    return AccessState(step.memory, step.link, step.precedence, step.read_weights, step.write_weights, step.usage)


class MemoryAccess(nn.Module):
    """Controller output h_t -> interface vector xi_t -> one ``access_step``.

    Args:
        input_size: width of the controller output that drives the memory.
        nr_cells: N, memory slots.
        cell_size: W, slot width.
        read_heads: R.
    """

    def __init__(self, input_size: int, nr_cells: int, cell_size: int, read_heads: int):
        super().__init__()
        self.nr_cells, self.cell_size, self.read_heads = nr_cells, cell_size, read_heads
        self.interface = nn.Linear(input_size, interface_size(cell_size, read_heads))

    def initial_state(self, batch_size: int, like: torch.Tensor) -> AccessState:
        return initial_access_state(batch_size, self.nr_cells, self.cell_size, self.read_heads, like)

    def forward(self, h: torch.Tensor, state: AccessState) -> tuple[torch.Tensor, AccessState, AccessStep]:
        """``h`` ``[B, input_size]`` -> ``(reads [B, R, W], new AccessState, AccessStep)``."""
        step = access_step(parse_interface(self.interface(h), self.cell_size, self.read_heads), state)
        return step.reads, next_state(step), step

    def fast(self, h: torch.Tensor, state: AccessState) -> tuple[torch.Tensor, AccessState]:
        """``forward`` without the ``AccessStep`` (``training_step``; ``access_step`` while compiling)."""
        xi = parse_interface(self.interface(h), self.cell_size, self.read_heads)
        if torch.compiler.is_compiling():        # inductor fuses the plain step itself
            step = access_step(xi, state)
            return step.reads, next_state(step)
        return training_step(xi, state)

    @staticmethod
    def record(step: AccessStep) -> dict[str, torch.Tensor]:
        """The detached tensors a recording keeps of one step: ``xi.<part>`` and every ``AccessStep`` field."""
        rec = {f"xi.{name}": value.detach() for name, value in step.interface._asdict().items()}
        rec.update({name: value.detach() for name, value in step._asdict().items() if name != "interface"})
        return rec

    @staticmethod
    def own(state: AccessState) -> AccessState:
        """A state passed in from outside, ready for this run's steps (dense steps never update in place)."""
        return state

    @staticmethod
    def memory_of(state: AccessState) -> torch.Tensor:
        """``[B, N, W]`` the state's memory."""
        return state.memory

    @staticmethod
    def dense_weights(state: AccessState) -> tuple[torch.Tensor, torch.Tensor]:
        """``(write_weights [B, N], read_weights [B, R, N])`` of a state."""
        return state.write_weights, state.read_weights


__all__ = ["oneplus", "interface_size", "Interface", "parse_interface", "AccessState", "AccessStep",
           "initial_access_state", "access_step", "training_step", "next_state", "MemoryAccess"]
