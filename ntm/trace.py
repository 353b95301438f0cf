"""The recorded run: every timestep of one sequence, the single thing the explorer draws from.

A ``Trace`` holds whole-run arrays with time first (``[T, ...]``), so a figure of a quantity
over time is one slice and the view at timestep ``t`` is index ``t`` of each. Memory is kept at
``T + 1`` instants: ``memory[0]`` is M_0 and ``memory[t + 1]`` is the memory after step ``t``.

Heads are typed records. A head type subclasses ``HeadRecord``, names itself (``head_type``)
and points at its model's stage table (``STAGES``, rows of ``Stage``); ``stages()`` pairs each
row with the weighting the head recorded for it. ``NTMHead`` has the paper's emissions (key,
beta, g, s, gamma, erase, add) and the four stages of ``ntm.addressing.STAGES``. Another memory
model (the DNC) adds its own head type with its own table: defining the subclass registers it
in ``HEAD_TYPES`` (for loading traces), and nothing here or in the figures changes. Figure
functions rely on ``stages()``, ``weights``, ``kind``, ``name`` and ``previous_weights()`` only,
plus ``Trace.extras`` for model-wide state such as usage or temporal links.

The stage table's types (``Stage``, ``Parameter``) and the NTM's table (``NTM_STAGES``) are
re-exported here: the figures import nothing from the library but this module.

Traces round-trip through JSON (``to_json`` / ``from_json``) so a view can be downloaded,
shared and reloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

from .addressing import STAGES as NTM_STAGES, Parameter, Stage, shift_offsets
from .dnc.addressing import STAGES as DNC_STAGES
from .dnc.sparse import SPARSE_STAGES as SDNC_STAGES

TRACE_FORMAT = "ntm-explorer-trace/1"


@dataclass(frozen=True, eq=False)
class RecordedStage:
    """A row of a head type's stage table with this head's weighting from that stage.

    The row's fields read through: ``recorded.label``, ``.equation``, ``.code``, ``.parameter``...
    are those of ``recorded.stage``.
    """

    stage: Stage               # the table row itself
    weights: np.ndarray        # [T, N]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "stage":      # not a table field (copy, pickle, init)
            raise AttributeError(name)
        return getattr(self.stage, name)


HEAD_TYPES: dict[str, type["HeadRecord"]] = {}


@dataclass
class HeadRecord:
    """What one head did over the T timesteps of a run; the base of every head type.

    A subclass sets ``head_type`` and ``STAGES`` and declares its arrays as fields, time first;
    among them ``weights`` ``[T, N]`` (the final weighting), one ``[T, N]`` field per stage key,
    and ``initial`` ``[N]`` (the weighting before step 0, or None).
    """

    head_type: ClassVar[str] = ""
    STAGES: ClassVar[tuple[Stage, ...]] = ()

    name: str                  # "read 1", "write 1", ...
    kind: str                  # "read" or "write"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.head_type:
            HEAD_TYPES[cls.head_type] = cls

    def stages(self) -> list[RecordedStage]:
        """The head type's stage table, each row with this head's ``[T, N]`` weighting from it."""
        return [RecordedStage(stage, getattr(self, stage.key)) for stage in self.STAGES]

    def previous_weights(self, t: int) -> np.ndarray | None:
        """``[N]`` w_{t-1}: the weighting the head had before step ``t`` (w_0 at t = 0, if recorded)."""
        return self.weights[t - 1] if t >= 1 else getattr(self, "initial", None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"head_type": self.head_type}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "HeadRecord":
        """A head of the type ``d["head_type"]`` names, arrays as float32."""
        if d["head_type"] not in HEAD_TYPES:
            raise ValueError(f"unknown head type {d['head_type']!r} (known: {', '.join(HEAD_TYPES)})")
        head_cls = HEAD_TYPES[d["head_type"]]
        kw = {}
        for f in fields(head_cls):
            v = d.get(f.name)
            kw[f.name] = np.asarray(v, dtype=np.float32) if isinstance(v, list) else v
        return head_cls(**kw)

    @classmethod
    def from_recording(cls, rec: dict[str, Any], index: int) -> "HeadRecord":
        """Batch element ``index`` of one head of a ``Recording`` (tensors ``[B, T, ...]``)."""
        kw = {"name": rec["name"], "kind": rec["kind"]}
        for f in fields(cls):
            if f.name not in kw and f.name in rec:
                kw[f.name] = _np(rec[f.name][index])
        return cls(**kw)


@dataclass
class NTMHead(HeadRecord):
    """Everything one NTM head did, over all T timesteps of one sequence.

    Shapes: N slots, M memory width, R shift radius.
    """

    head_type: ClassVar[str] = "ntm"
    STAGES: ClassVar[tuple[Stage, ...]] = NTM_STAGES

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

    @property
    def shift_offsets(self) -> list[int]:
        """The offsets -R..R that the positions of ``s`` stand for."""
        return shift_offsets(self.s.shape[-1])


# The DNC's stage table (ntm.dnc.addressing.STAGES) split by the head that owns each weighting:
# retention, usage and precedence belong to the whole memory but are driven by the one write head,
# so its record carries them (they are also in ``Trace.extras``).
_DNC_READ_KEYS = ("forward", "backward", "read_content", "read_weights")
DNC_WRITE_STAGES = tuple(s for s in DNC_STAGES if s.key not in _DNC_READ_KEYS)
DNC_READ_STAGES = tuple(s for s in DNC_STAGES if s.key in _DNC_READ_KEYS)
SDNC_WRITE_STAGES = tuple(s for s in SDNC_STAGES if s.key not in _DNC_READ_KEYS)
SDNC_READ_STAGES = tuple(s for s in SDNC_STAGES if s.key in _DNC_READ_KEYS)


class _DNCHead(HeadRecord):
    """Shared by the DNC's head types: the table's final row (``write_weights`` / ``read_weights``)
    is the head's ``weights``; rows the model did not record (the sparse DNC has no retention or
    usage) are left out of ``stages()``."""

    SPARSE_STAGES: ClassVar[tuple[Stage, ...]] = ()

    @property
    def sparse(self) -> bool:
        """Recorded from a sparse DNC (ntm.dnc.sparse), whose rows follow ``SPARSE_STAGES``."""
        raise NotImplementedError

    def stages(self) -> list[RecordedStage]:
        out = []
        for stage in self.SPARSE_STAGES if self.sparse else self.STAGES:
            values = self.weights if stage.key in ("write_weights", "read_weights") else getattr(self, stage.key, None)
            if values is not None:
                out.append(RecordedStage(stage, values))
        return out


@dataclass
class DNCWriteHead(_DNCHead):
    """The DNC's write head over T timesteps: where it wrote and why (Graves et al. 2016, Methods).

    Shapes: N slots, W slot width. ``usage``/``retention`` are None for the sparse DNC, whose
    allocation is the least recently used slot (``Trace.extras["last_access"]``).
    """

    head_type: ClassVar[str] = "dnc-write"
    STAGES: ClassVar[tuple[Stage, ...]] = DNC_WRITE_STAGES
    SPARSE_STAGES: ClassVar[tuple[Stage, ...]] = SDNC_WRITE_STAGES

    write_content: np.ndarray      # [T, N]  c^w_t
    allocation: np.ndarray         # [T, N]  a_t
    weights: np.ndarray            # [T, N]  w^w_t
    write_key: np.ndarray          # [T, W]  k^w_t
    write_strength: np.ndarray     # [T]     beta^w_t
    erase: np.ndarray              # [T, W]  e_t
    write_vector: np.ndarray       # [T, W]  v_t
    allocation_gate: np.ndarray    # [T]     g^a_t
    write_gate: np.ndarray         # [T]     g^w_t
    retention: np.ndarray | None = None    # [T, N] psi_t
    usage: np.ndarray | None = None        # [T, N] u_t
    precedence: np.ndarray | None = None   # [T, N] p_t
    initial: np.ndarray | None = None      # [N] w^w_0

    @property
    def sparse(self) -> bool:
        return self.usage is None


@dataclass
class DNCReadHead(_DNCHead):
    """One DNC read head over T timesteps: back along the write order, by content, or forward.

    ``read_modes`` ``[T, 3]`` is pi_t as (backward, content, forward); ``free_gate`` is None for the
    sparse DNC.
    """

    head_type: ClassVar[str] = "dnc-read"
    STAGES: ClassVar[tuple[Stage, ...]] = DNC_READ_STAGES
    SPARSE_STAGES: ClassVar[tuple[Stage, ...]] = SDNC_READ_STAGES

    forward: np.ndarray            # [T, N]  f_t = L_t w^r_{t-1}
    backward: np.ndarray           # [T, N]  b_t = L_t^T w^r_{t-1}
    read_content: np.ndarray       # [T, N]  c^r_t
    weights: np.ndarray            # [T, N]  w^r_t
    read: np.ndarray               # [T, W]  r_t
    key: np.ndarray                # [T, W]  k^r_t
    strength: np.ndarray           # [T]     beta^r_t
    read_modes: np.ndarray         # [T, 3]  pi_t
    free_gate: np.ndarray | None = None    # [T] f_t
    initial: np.ndarray | None = None      # [N] w^r_0

    @property
    def sparse(self) -> bool:
        return self.free_gate is None


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
    heads: list[HeadRecord]         # NTMHead, or another registered head type
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
        return {
            "format": TRACE_FORMAT,
            "model_type": self.model_type,
            "inputs": self.inputs.tolist(), "outputs": self.outputs.tolist(),
            "targets": self.targets.tolist(), "mask": self.mask.tolist(),
            "memory": self.memory.tolist(),
            "heads": [h.to_dict() for h in self.heads],
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
            heads = [HeadRecord.from_dict(h) for h in d["heads"]]
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
    heads = [HEAD_TYPES[h.get("head_type", model_type)].from_recording(h, b) for h in recording.heads]
    return Trace(
        model_type=model_type,
        inputs=_np(inputs[b]),
        outputs=_np(torch.sigmoid(recording.outputs[b])),
        targets=_np(targets[b]),
        mask=mask[b].detach().cpu().numpy().astype(bool),
        memory=_np(recording.memory[b]),
        heads=heads,
        extras={k: _np(v[b]) for k, v in (getattr(recording, "extras", None) or {}).items()},
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


__all__ = ["TRACE_FORMAT", "Stage", "Parameter", "NTM_STAGES", "RecordedStage", "HEAD_TYPES", "HeadRecord",
           "NTMHead", "DNC_WRITE_STAGES", "DNC_READ_STAGES", "SDNC_WRITE_STAGES", "SDNC_READ_STAGES", "DNCWriteHead", "DNCReadHead", "Trace", "trace_from_recording", "record"]
