"""Recording a run timestep by timestep: what ``forward(..., record=True)`` returns.

Shared by every model whose heads are ``ntm.heads.HeadGroup``s (the NTM, the dual-memory NTM):
``Recorder(model, initial_state)`` collects each step's detached memory, logits and head records
(``model.groups``; ``state.memory`` [B, N, M], ``state.weights`` one [B, H, N] per group), and
``finish()`` stacks them into a ``Recording`` that ``ntm.trace.trace_from_recording`` reads.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn


class Recording(NamedTuple):
    """Stacked, detached tensors of one recorded run (batch-first, time second)."""

    memory: torch.Tensor            # [B, T+1, N, M]; index 0 is M_0, index t+1 is after step t
    outputs: torch.Tensor           # [B, T, output_size] logits
    heads: list[dict[str, Any]]     # per head: {"head_type", "kind", "name", field: [B, T, ...]}


class Recorder:
    """Collects detached per-step tensors and stacks them into a ``Recording`` at the end."""

    def __init__(self, model: nn.Module, state: Any):
        self.model = model
        self.memory = [state.memory.detach()]
        self.initial = [w.detach() for w in state.weights]     # per group, [B, H, N]
        self.outputs: list[torch.Tensor] = []
        self.per_group: list[list[dict[str, torch.Tensor]]] = [[] for _ in model.groups]

    def step(self, memory: torch.Tensor, head_recs: list[dict[str, torch.Tensor]], out: torch.Tensor) -> None:
        self.memory.append(memory.detach())
        self.outputs.append(out.detach())
        for store, rec in zip(self.per_group, head_recs):
            store.append({k: v.detach() for k, v in rec.items()})

    def finish(self) -> Recording:
        heads = []
        counters = {"read": 0, "write": 0}
        for group, steps, initial in zip(self.model.groups, self.per_group, self.initial):
            stacked = {k: torch.stack([s[k] for s in steps], dim=2) for k in steps[0]} if steps else {}
            for i in range(group.count):
                counters[group.kind] += 1
                head = {"head_type": group.head_type, "kind": group.kind,
                        "name": f"{group.kind} {counters[group.kind]}", "initial": initial[:, i]}
                for key, value in stacked.items():           # value: [B, H, T, ...]
                    v = value[:, i]
                    if key in group.scalars:                 # [B, T, 1] -> [B, T]
                        v = v.squeeze(-1)
                    head[key] = v
                heads.append(head)
        return Recording(torch.stack(self.memory, dim=1), torch.stack(self.outputs, dim=1), heads)
