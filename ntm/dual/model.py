"""The dual-memory NTM: the library's NTM (controller, heads, short-term memory M) whose controller
also reads the long-term proposition graph G (``ntm.longterm``).

One timestep (NTM notation of ``ntm.model``; l_{t-1} is the long-term read of the previous step):

    x'_t       = W_x x_t                                       the input (a sentence step, ntm.tasks.nli) projected
    h_t, state = controller([x'_t ; r_{t-1} ; l_{t-1}], state)
    heads      : w_t, r_t, M as in the NTM (eqs. 2-9)
    long-term read head, from h_t:
      k_t      = W_k h_t                   [B, D]              key into G (D = 384, the embeddings)
      beta_t   = 1 + softplus(W_beta h_t)  [B, 1]              key strength
      hits     = G.nearest(k_t, K)         K propositions, embeddings E_t [B, K, D] (constants)
      c_t      = softmax(beta_t cos(k_t, E_t))  [B, K]         content weighting (eq. 5, over the hits)
      r^c_t    = c_t E_t                                       content read
      r^f_t    = c_t F_t,  F_t[i] = [mean e(j) ; rel(i->j)]    relations followed forward from each hit
      r^b_t    = c_t P_t,  P_t[i] = [mean e(j) ; rel(j->i)]    and backward into it
                 (rel = the confidence-weighted share of ENTAILS, CONTRADICTS, NEUTRAL)
      pi_t     = softmax(W_pi h_t)         [B, 3]              read modes (backward, content, forward)
      l_t      = tanh(W_l (pi^b r^b + pi^c [r^c ; 0] + pi^f r^f))   [B, long_term_dim]
    y_t        = W_o [h_t ; r_t ; l_t]                         output logits

The key k_t gets gradients through cos(k_t, E_t); the retrieved vectors are constants (G is a
database, not a tensor). ``long_term=False`` switches the read off (l_t = 0, G never queried): the
ablation. The store is attached at run time (``attach_store``); a model with none reads zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..controller import CONTROLLERS, ControllerState
from ..heads import HeadGroup, parse_head_order
from ..longterm.records import RELATION_TYPES as RELATIONS   # ENTAILS, CONTRADICTS, NEUTRAL: ntm.nli.LABELS' order
from ..memory import MEMORY_INITS, MemoryInit, read as read_memory
from ..recording import Recorder

_EPSILON = 1e-8        # keeps cos(k, E) finite when the key is all zeros (an untrained W_k)


@dataclass
class DualConfig:
    """Everything needed to rebuild a dual-memory NTM (the long-term store itself is not part of it)."""

    input_size: int
    output_size: int
    controller: str = "lstm"
    controller_size: int = 100
    controller_layers: int = 1
    memory_slots: int = 16            # N of the short-term memory (the fork's short_term_n)
    memory_width: int = 20            # M (the fork's short_term_m)
    num_heads: int = 1                # read heads, and as many write heads (order r..rw..w)
    shift_radius: int = 1
    memory_init: str = "constant"
    input_projection: int = 64        # x'_t = W_x x_t; 0: the input as it is
    long_term: bool = True            # False: the long-term read is switched off (ablation)
    long_term_nodes: int = 8          # K, propositions retrieved per read
    long_term_dim: int = 32           # the read l_t handed to the controller and the output
    key_size: int = 384               # D, the store's embedding length
    write_every: int = 1              # write to the store after every N-th batch (0: never)
    write_confidence: float = 0.5     # only predictions at least this confident are written

    def __post_init__(self):
        for name in ("input_size", "output_size", "controller_size", "controller_layers", "memory_slots",
                     "memory_width", "num_heads", "long_term_nodes", "long_term_dim", "key_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name in ("input_projection", "write_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
        if self.controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}; got {self.controller!r}")
        if self.memory_init not in MEMORY_INITS:
            raise ValueError(f"memory_init must be one of {', '.join(MEMORY_INITS)}; got {self.memory_init!r}")
        if not isinstance(self.long_term, bool):
            raise ValueError(f"long_term must be true or false; got {self.long_term!r}")
        if not (isinstance(self.write_confidence, (int, float)) and 0 <= self.write_confidence <= 1):
            raise ValueError(f"write_confidence must be in [0, 1]; got {self.write_confidence!r}")
        if not isinstance(self.shift_radius, int) or self.shift_radius < 0 \
                or 2 * self.shift_radius + 1 > self.memory_slots:
            raise ValueError(f"shift_radius must be an integer with 0 <= 2R+1 <= memory_slots "
                             f"({self.memory_slots}); got {self.shift_radius}")

    @property
    def heads(self) -> str:
        return "r" * self.num_heads + "w" * self.num_heads

    @property
    def num_reads(self) -> int:
        return self.num_heads


class DualState(NamedTuple):
    controller: ControllerState
    memory: torch.Tensor               # [B, N, M]
    weights: tuple[torch.Tensor, ...]  # one [B, H, N] per head group
    reads: torch.Tensor                # [B, R, M]
    long_term: torch.Tensor            # [B, long_term_dim], l_t


class LongTermRead(NamedTuple):
    """What one long-term read retrieved, per batch element (for the app and the tests)."""

    ids: list[list[str]]               # the hits' proposition ids
    weights: torch.Tensor              # [B, K] c_t (zero where fewer than K hits)
    modes: torch.Tensor                # [B, 3] pi_t (backward, content, forward)


class DualNTM(nn.Module):
    """A Neural Turing Machine with a second, long-term memory: a proposition graph."""

    model_type = "dual"

    def __init__(self, config: DualConfig):
        super().__init__()
        self.config = config
        n, m = config.memory_slots, config.memory_width
        x_size = config.input_projection or config.input_size
        self.input_projection = nn.Linear(config.input_size, x_size) if config.input_projection else nn.Identity()
        self.controller = CONTROLLERS[config.controller](
            x_size + config.num_reads * m + config.long_term_dim, config.controller_size, config.controller_layers)
        self.groups = nn.ModuleList(
            HeadGroup(kind, count, config.controller_size, m, config.shift_radius)
            for kind, count in parse_head_order(config.heads))
        self.memory_init = MemoryInit(n, m, config.memory_init)
        d, c = config.key_size, config.controller_size
        self.key = nn.Linear(c, d)                    # W_k
        self.strength = nn.Linear(c, 1)               # W_beta
        self.modes = nn.Linear(c, 3)                  # W_pi
        self.long_term_out = nn.Linear(d + len(RELATIONS), config.long_term_dim)   # W_l
        self.output = nn.Linear(c + config.num_reads * m + config.long_term_dim, config.output_size)
        self.store = None
        self._links: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.last_reads: list[LongTermRead] = []      # the long-term reads of the last forward pass
        self.last_state: DualState | None = None

    # -- the long-term store -------------------------------------------------------------------
    def attach_store(self, store) -> None:
        """Read from (and let the write path write to) ``store``, a ``ntm.longterm.LongTermStore``."""
        self.store = store
        self.forget_links()

    def forget_links(self) -> None:
        """Drop the cached relations (after the store changed)."""
        self._links.clear()

    def _followed(self, pid: str, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """[mean embedding of the propositions one relation away ; share of each relation type]."""
        key = (pid, direction)
        if key not in self._links:
            d = self.config.key_size
            links = self.store.neighbours(pid, direction=direction)
            vecs = [ln.proposition.embedding for ln in links if ln.proposition.embedding is not None
                    and ln.proposition.embedding.shape[0] == d]
            mean = np.mean(vecs, axis=0) if vecs else np.zeros(d, np.float32)
            rel = np.zeros(len(RELATIONS), np.float32)
            for ln in links:
                rel[RELATIONS.index(ln.relation.type)] += ln.relation.confidence
            self._links[key] = (mean.astype(np.float32), rel / max(rel.sum(), 1.0))
        return self._links[key]

    def read_long_term(self, h: torch.Tensor) -> tuple[torch.Tensor, LongTermRead | None]:
        """The long-term read head: ``h [B, C]`` -> ``(l_t [B, long_term_dim], what was read)``."""
        cfg = self.config
        b = h.shape[0]
        if not cfg.long_term or self.store is None or not self.store.dimension:
            return h.new_zeros(b, cfg.long_term_dim), None
        k = self.key(h)                                                    # [B, D]
        beta = 1 + F.softplus(self.strength(h))                            # [B, 1]
        K, D, R = cfg.long_term_nodes, cfg.key_size, len(RELATIONS)
        emb = np.zeros((b, K, D), np.float32)
        fwd = np.zeros((b, K, D + R), np.float32)
        bwd = np.zeros((b, K, D + R), np.float32)
        found = np.zeros((b, K), bool)
        ids: list[list[str]] = []
        queries = k.detach().cpu().numpy()
        for i in range(b):
            q = queries[i] if np.any(queries[i]) else np.full(D, _EPSILON, np.float32)
            hits = self.store.nearest(q, k=K)
            ids.append([hit.proposition.id for hit in hits])
            for j, hit in enumerate(hits):
                emb[i, j] = hit.proposition.embedding
                found[i, j] = True
                for arr, direction in ((fwd, "out"), (bwd, "in")):
                    mean, rel = self._followed(hit.proposition.id, direction)
                    arr[i, j, :D], arr[i, j, D:] = mean, rel
        E = torch.from_numpy(emb).to(h)                                    # constants
        found_t = torch.from_numpy(found).to(h.device)
        cos = F.cosine_similarity(k.unsqueeze(1), E, dim=-1, eps=_EPSILON)  # [B, K]
        scores = (beta * cos).masked_fill(~found_t, float("-inf"))
        c = torch.softmax(scores, dim=-1)
        c = torch.where(found_t.any(dim=-1, keepdim=True), c, torch.zeros_like(c))   # no hits: no read
        r_c = torch.cat([torch.einsum("bk,bkd->bd", c, E), h.new_zeros(b, R)], dim=-1)
        r_f = torch.einsum("bk,bkd->bd", c, torch.from_numpy(fwd).to(h))
        r_b = torch.einsum("bk,bkd->bd", c, torch.from_numpy(bwd).to(h))
        pi = torch.softmax(self.modes(h), dim=-1)                          # [B, 3]
        mixed = pi[:, 0:1] * r_b + pi[:, 1:2] * r_c + pi[:, 2:3] * r_f
        return torch.tanh(self.long_term_out(mixed)), LongTermRead(ids, c.detach(), pi.detach())

    # -- the machine ---------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> DualState:
        memory = self.memory_init(batch_size).contiguous()
        weights = []
        for group in self.groups:
            w = memory.new_zeros(batch_size, group.count, self.config.memory_slots)
            w[:, :, 0] = 1.0
            weights.append(w)
        reads = torch.cat([read_memory(memory, w) for g, w in zip(self.groups, weights) if g.kind == "read"], 1)
        return DualState(self.controller.initial_state(batch_size, memory), memory, tuple(weights), reads,
                         memory.new_zeros(batch_size, self.config.long_term_dim))

    def step(self, x_t: torch.Tensor, state: DualState, record: bool = False):
        """One timestep: ``x_t [B, input_size]`` -> ``(logits [B, output_size], new state, long-term read,
        head records)`` (the records, one dict per head group, only with ``record``)."""
        ctrl, memory, weights, reads, l_prev = state
        x = self.input_projection(x_t)
        h, ctrl = self.controller(torch.cat([x, reads.flatten(1), l_prev], dim=-1), ctrl)
        new_weights, new_reads, head_recs = [], [], []
        for group, w_prev in zip(self.groups, weights):
            w, memory, r, rec = group(h, memory, w_prev, record)
            new_weights.append(w)
            head_recs.append(rec)
            if r is not None:
                new_reads.append(r)
        reads = torch.cat(new_reads, dim=1)
        l_t, seen = self.read_long_term(h)
        out = self.output(torch.cat([h, reads.flatten(1), l_t], dim=-1))
        return out, DualState(ctrl, memory, tuple(new_weights), reads, l_t), seen, head_recs

    def forward(self, inputs: torch.Tensor, state: DualState | None = None, record: bool = False):
        """``inputs [B, T, input_size]`` -> ``(logits [B, T, output_size], final state, recording)``.

        The long-term reads of the pass are kept in ``last_reads`` (one ``LongTermRead`` per
        timestep that read the graph) and the final state in ``last_state`` (detached), for the
        write path and the app. ``record``: also return the short-term machine's ``Recording``
        (``ntm.recording``; ``ntm.trace.record`` makes a Trace of it, stepped as an NTM's).
        """
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.initial_state(batch)
        recorder = Recorder(self, state) if record else None
        outputs, self.last_reads = [], []
        for t in range(steps):
            out, state, seen, head_recs = self.step(inputs[:, t], state, record)
            outputs.append(out)
            if seen is not None:
                self.last_reads.append(seen)
            if recorder is not None:
                recorder.step(state.memory, head_recs, out)
        self.last_state = DualState(*(
            v.detach() if isinstance(v, torch.Tensor) else v for v in state))
        return torch.stack(outputs, dim=1), state, recorder.finish() if recorder is not None else None

    # -- the write path (ntm.training calls this after every optimiser step) -------------------
    def after_batch(self, batches: int, batch: Any, logits: torch.Tensor) -> dict[str, int] | None:
        """Write what this batch taught to the long-term store (``ntm.dual.writer``)."""
        if self.store is None or not self.config.write_every or batches % self.config.write_every:
            return None
        from .writer import write_batch
        written = write_batch(self, batch, logits, run=getattr(self, "run_name", "default"), batches=batches)
        self.forget_links()
        return written
