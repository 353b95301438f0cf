"""The recorded run: every timestep of one sequence, the single thing the explorer draws from.

A ``Trace`` holds whole-run arrays with time first (``[T, ...]``), so a figure of a quantity
over time is one slice and the view at timestep ``t`` is ``trace.step(t)``. Memory is kept at
``T + 1`` instants: ``memory[0]`` is M_0 and ``memory[t + 1]`` is the memory after step ``t``.

Heads are typed by model: ``NTMHead`` has the paper's emissions (key, beta, g, s, gamma, erase,
add) and the four addressing stages. Another memory model (a DNC, say) adds its own head type
with its own ``stages()`` and registers it in ``HEAD_TYPES``; figure functions only rely on
``stages()``, ``weights``, ``kind`` and ``name``, plus ``Trace.extras`` for model-wide state
such as usage or temporal links.

Traces round-trip through JSON (``to_json`` / ``from_json``) so a view can be downloaded,
shared and reloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

TRACE_FORMAT = "ntm-explorer-trace/1"


@dataclass(frozen=True)
class Stage:
    """One addressing stage of a head, ready to draw."""

    key: str          # field name, e.g. "content"
    label: str        # human name, e.g. "content"
    equation: str     # LaTeX of the paper's equation
    code: str         # the library call that computes it
    weights: np.ndarray  # [T, N]


@dataclass
class NTMHead:
    """Everything one NTM head did, over all T timesteps of one sequence.

    Shapes: N slots, M memory width, R shift radius.
    """

    head_type: ClassVar[str] = "ntm"
    STAGES: ClassVar[tuple[tuple[str, str, str, str], ...]] = (
        ("content", "content",
         r"w^c_t(i) = \frac{\exp(\beta_t K[k_t, M_t(i)])}{\sum_j \exp(\beta_t K[k_t, M_t(j)])}",
         "content_weights(memory, key, beta)"),
        ("gated", "gated",
         r"w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}",
         "interpolate(w_content, w_prev, g)"),
        ("shifted", "shifted",
         r"\tilde w_t(i) = \sum_{j=0}^{N-1} w^g_t(j)\, s_t(i - j)",
         "shift(w_gated, s)"),
        ("weights", "sharpened",
         r"w_t(i) = \frac{\tilde w_t(i)^{\gamma_t}}{\sum_j \tilde w_t(j)^{\gamma_t}}",
         "sharpen(w_shifted, gamma)"),
    )

    name: str                  # "read 1", "write 1", ...
    kind: str                  # "read" or "write"
    key: np.ndarray            # [T, M]  k_t
    beta: np.ndarray           # [T]     key strength
    g: np.ndarray              # [T]     interpolation gate
    s: np.ndarray              # [T, 2R+1] shift distribution over offsets -R..R
    gamma: np.ndarray          # [T]     sharpening exponent
    content: np.ndarray        # [T, N]  w^c_t
    gated: np.ndarray          # [T, N]  w^g_t
    shifted: np.ndarray        # [T, N]  w~_t
    weights: np.ndarray        # [T, N]  w_t (final)
    erase: np.ndarray | None = None   # [T, M] write heads
    add: np.ndarray | None = None     # [T, M] write heads
    read: np.ndarray | None = None    # [T, M] read heads: r_t
    initial: np.ndarray | None = None  # [N] w_0, the weighting the head had before step 0

    def stages(self) -> list[Stage]:
        return [Stage(key, label, eq, code, getattr(self, key)) for key, label, eq, code in self.STAGES]

    def previous_weights(self, t: int) -> np.ndarray | None:
        """``[N]`` w_{t-1}, the weighting the gate of step ``t`` mixes in (eq. 7)."""
        return self.weights[t - 1] if t >= 1 else self.initial

    @property
    def shift_offsets(self) -> list[int]:
        radius = (self.s.shape[-1] - 1) // 2
        return list(range(-radius, radius + 1))


HEAD_TYPES: dict[str, type] = {"ntm": NTMHead}


@dataclass
class Trace:
    """One sequence run through a model, every timestep recorded.

    Shapes: T timesteps, X input width, Y output width, N slots, M memory width.
    """

    model_type: str                 # "ntm"
    inputs: np.ndarray              # [T, X]
    outputs: np.ndarray             # [T, Y]  sigmoid of the logits
    targets: np.ndarray             # [T, Y]
    mask: np.ndarray                # [T] bool: timesteps whose output is scored
    memory: np.ndarray              # [T+1, N, M]
    heads: list[Any]                # NTMHead (or another registered head type)
    extras: dict[str, np.ndarray] = field(default_factory=dict)   # model-wide state, [T, ...]
    meta: dict[str, Any] = field(default_factory=dict)            # preset, task, seed, config...

    @property
    def steps(self) -> int:
        return int(self.inputs.shape[0])

    def head(self, name: str):
        for h in self.heads:
            if h.name == name:
                return h
        raise KeyError(f"no head named {name!r}; heads are {[h.name for h in self.heads]}")

    def bit_errors(self) -> int:
        """Scored bits where the thresholded output differs from the target."""
        wrong = (self.outputs > 0.5) != (self.targets > 0.5)
        return int(wrong[self.mask].sum())

    def bit_errors_per_step(self) -> np.ndarray:
        """``[T]`` wrong bits at each timestep (0 where unscored)."""
        wrong = ((self.outputs > 0.5) != (self.targets > 0.5)).sum(axis=-1)
        return np.where(self.mask, wrong, 0)

    def memory_change(self, t: int) -> np.ndarray:
        """``[N, M]`` M_t - M_{t-1}: what step ``t`` wrote."""
        return self.memory[t + 1] - self.memory[t]

    # ---- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        heads = []
        for h in self.heads:
            d = {"head_type": h.head_type}
            for f in fields(h):
                v = getattr(h, f.name)
                d[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
            heads.append(d)
        return {
            "format": TRACE_FORMAT,
            "model_type": self.model_type,
            "inputs": self.inputs.tolist(), "outputs": self.outputs.tolist(),
            "targets": self.targets.tolist(), "mask": self.mask.tolist(),
            "memory": self.memory.tolist(),
            "heads": heads,
            "extras": {k: v.tolist() for k, v in self.extras.items()},
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trace":
        if not isinstance(d, dict) or d.get("format") != TRACE_FORMAT:
            raise ValueError(f"not an NTM Explorer trace (expected format {TRACE_FORMAT!r})")
        try:
            heads = []
            for h in d["heads"]:
                head_cls = HEAD_TYPES[h["head_type"]]
                kw = {}
                for f in fields(head_cls):
                    v = h.get(f.name)
                    kw[f.name] = np.asarray(v, dtype=np.float32) if isinstance(v, list) else v
                heads.append(head_cls(**kw))
            return cls(
                model_type=d["model_type"],
                inputs=np.asarray(d["inputs"], dtype=np.float32),
                outputs=np.asarray(d["outputs"], dtype=np.float32),
                targets=np.asarray(d["targets"], dtype=np.float32),
                mask=np.asarray(d["mask"], dtype=bool),
                memory=np.asarray(d["memory"], dtype=np.float32),
                heads=heads,
                extras={k: np.asarray(v, dtype=np.float32) for k, v in d.get("extras", {}).items()},
                meta=d.get("meta", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"trace JSON is incomplete or malformed: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> "Trace":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"trace file is not valid JSON: {exc}") from exc
        return cls.from_dict(d)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().float().numpy()


def trace_from_recording(recording, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                         index: int = 0, meta: dict[str, Any] | None = None, model_type: str = "ntm") -> Trace:
    """Pick batch element ``index`` of a ``Recording`` (see ``NTM.forward``) as a ``Trace``.

    Args:
        recording: from ``model(inputs, record=True)``.
        inputs: ``[B, T, X]``; targets ``[B, T, Y]``; mask ``[B, T]`` — the batch that was run.
    """
    b = index
    heads = []
    for h in recording.heads:
        kw = {"name": h["name"], "kind": h["kind"]}
        for f in fields(NTMHead):
            if f.name in ("name", "kind"):
                continue
            if f.name in h:
                kw[f.name] = _np(h[f.name][b])
        heads.append(NTMHead(**kw))
    return Trace(
        model_type=model_type,
        inputs=_np(inputs[b]),
        outputs=_np(torch.sigmoid(recording.outputs[b])),
        targets=_np(targets[b]),
        mask=mask[b].detach().cpu().numpy().astype(bool),
        memory=_np(recording.memory[b]),
        heads=heads,
        meta=dict(meta or {}),
    )


def record(model, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
           index: int = 0, meta: dict[str, Any] | None = None) -> Trace:
    """Run ``model`` on a batch with recording on, without gradients, and return one ``Trace``."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, _, recording = model(inputs, record=True)
    finally:
        model.train(was_training)
    if recording is None:
        raise ValueError(f"model type {model.model_type!r} does not record traces")
    return trace_from_recording(recording, inputs, targets, mask, index, meta, model.model_type)
