"""The Neural Turing Machine (Graves et al. 2014, fig. 1) and the LSTM baseline it is compared with.

One timestep of the NTM:

    h_t, state = controller([x_t ; r_{t-1}], state)          controller sees input and last reads
    for each head group, in the configured order:
        w_t = address(M, w_{t-1}, emissions(h_t))             eqs. 5-9
        read:  r_t = w_t M                                    eq. 2
        write: M   = M (1 - w_t^T e_t) + w_t^T a_t            eqs. 3-4
    y_t = W_o [h_t ; r_t] + b_o                               output logits

Both models are plain recurrent ``nn.Module``s with the same call:
``logits, state, recording = model(inputs, state=None, record=False)`` with ``inputs`` of shape
``[B, T, input_size]`` and ``logits`` of shape ``[B, T, output_size]``. Passing the returned
state back in continues the sequence. With ``record=True`` the NTM also returns everything
the explorer draws (see ``ntm.trace``); with ``record=False`` nothing is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import torch
from torch import nn

from .controller import CONTROLLERS, ControllerState
from .heads import HeadGroup, parse_head_order
from .memory import MEMORY_INITS, MemoryInit, read as read_memory
from .recording import Recorder, Recording  # noqa: F401 - Recording: part of this module's interface


@dataclass
class NTMConfig:
    """Everything needed to rebuild an NTM; saved as JSON beside its weights."""

    input_size: int
    output_size: int
    controller: str = "lstm"          # "lstm" or "feedforward"
    controller_size: int = 100
    controller_layers: int = 1
    memory_slots: int = 128           # N
    memory_width: int = 20            # M
    heads: str = "rw"                 # order in which heads act each step: r = read, w = write
    shift_radius: int = 1             # R: shifts -R..R
    memory_init: str = "constant"     # "constant" (Collier & Beel), "learned" or "random"

    def __post_init__(self):
        _check_positive(self, ("input_size", "output_size", "controller_size", "controller_layers",
                               "memory_slots", "memory_width"))
        if self.controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}; got {self.controller!r}")
        if self.memory_init not in MEMORY_INITS:
            raise ValueError(f"memory_init must be one of {', '.join(MEMORY_INITS)}; got {self.memory_init!r}")
        parse_head_order(self.heads)
        if not isinstance(self.shift_radius, int) or self.shift_radius < 0 \
                or 2 * self.shift_radius + 1 > self.memory_slots:
            raise ValueError(f"shift_radius must be an integer with 0 <= 2R+1 <= memory_slots "
                             f"({self.memory_slots}); got {self.shift_radius}")

    @property
    def num_reads(self) -> int:
        return self.heads.count("r")


@dataclass
class LSTMConfig:
    """The paper's baseline: a stack of LSTM layers with a linear read-out (section 4)."""

    input_size: int
    output_size: int
    hidden_size: int = 256
    layers: int = 3

    def __post_init__(self):
        _check_positive(self, ("input_size", "output_size", "hidden_size", "layers"))


def _check_positive(cfg: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


class NTMState(NamedTuple):
    """The machine's whole state between timesteps."""

    controller: ControllerState
    memory: torch.Tensor               # [B, N, M]
    weights: tuple[torch.Tensor, ...]  # one [B, H, N] per head group, in head order
    reads: torch.Tensor                # [B, R, M], every read head's last read vector


class NTM(nn.Module):
    """A Neural Turing Machine with any number of read and write heads in a configurable order."""

    model_type = "ntm"

    def __init__(self, config: NTMConfig):
        super().__init__()
        self.config = config
        n, m = config.memory_slots, config.memory_width
        self.controller = CONTROLLERS[config.controller](
            config.input_size + config.num_reads * m, config.controller_size, config.controller_layers)
        self.groups = nn.ModuleList(
            HeadGroup(kind, count, config.controller_size, m, config.shift_radius)
            for kind, count in parse_head_order(config.heads))
        self.memory_init = MemoryInit(n, m, config.memory_init)
        self.output = nn.Linear(config.controller_size + config.num_reads * m, config.output_size)

    def initial_state(self, batch_size: int) -> NTMState:
        """M_0 from the chosen initialisation; every head starts focused on slot 0."""
        memory = self.memory_init(batch_size).contiguous()
        like = memory
        n = self.config.memory_slots
        weights = []
        for group in self.groups:
            w = like.new_zeros(batch_size, group.count, n)
            w[:, :, 0] = 1.0
            weights.append(w)
        reads = torch.cat([read_memory(memory, w) for g, w in zip(self.groups, weights) if g.kind == "read"], 1)
        return NTMState(self.controller.initial_state(batch_size, like), memory, tuple(weights), reads)

    def step(self, x_t: torch.Tensor, state: NTMState, record: bool = False):
        """One timestep: ``x_t [B, input_size]`` -> ``(logits [B, output_size], new state, head records)``."""
        ctrl, memory, weights, reads = state
        h, ctrl = self.controller(torch.cat([x_t, reads.flatten(1)], dim=-1), ctrl)
        new_weights, new_reads, head_recs = [], [], []
        for group, w_prev in zip(self.groups, weights):
            w, memory, r, rec = group(h, memory, w_prev, record)
            new_weights.append(w)
            if r is not None:
                new_reads.append(r)
            head_recs.append(rec)
        reads = new_reads[0] if len(new_reads) == 1 else torch.cat(new_reads, dim=1)
        out = self.output(torch.cat([h, reads.flatten(1)], dim=-1))
        return out, NTMState(ctrl, memory, tuple(new_weights), reads), head_recs

    def compile_step(self) -> None:
        """Use ``torch.compile`` for the unrecorded timestep (training and evaluation).

        Inductor fuses the ~100 small kernels of a step into a few, which makes training 2-3x
        faster on CPU; compiling takes ~20-40 s per batch size, so it pays off only for runs of
        more than a minute. Recording always uses the plain step.
        """
        self._compiled_step = torch.compile(self.step, dynamic=False)

    def forward(self, inputs: torch.Tensor, state: NTMState | None = None, record: bool = False):
        """Run the machine over a sequence.

        Args:
            inputs: ``[B, T, input_size]``.
            state: state to continue from; ``None`` starts from ``initial_state``.
            record: also return a ``Recording`` of every timestep (detached tensors).

        Returns:
            ``(logits [B, T, output_size], final NTMState, Recording or None)``.
        """
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.initial_state(batch)
        step = self.step
        if not record and getattr(self, "_compiled_step", None) is not None:
            step = self._compiled_step
        recorder = Recorder(self, state) if record else None
        outputs = []
        # Time-major and contiguous, so every x_t has the same strides whatever T is (a compiled
        # step would otherwise recompile for each sequence length).
        # (.contiguous() would keep the odd stride of a size-1 batch dimension, hence the copy.)
        per_step = inputs.new_empty(steps, batch, inputs.shape[-1]).copy_(inputs.transpose(0, 1))
        for t in range(steps):
            out, state, head_recs = step(per_step[t], state, record)
            outputs.append(out)
            if recorder is not None:
                recorder.step(state.memory, head_recs, out)
        logits = torch.stack(outputs, dim=1)
        recording = recorder.finish() if recorder is not None else None
        return logits, state, recording


class LSTMBaseline(nn.Module):
    """A stacked LSTM with a linear read-out; same call as ``NTM`` (its recording is None)."""

    model_type = "lstm"

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(config.input_size, config.hidden_size, config.layers, batch_first=True)
        self.output = nn.Linear(config.hidden_size, config.output_size)

    def forward(self, inputs: torch.Tensor, state=None, record: bool = False):
        hidden, state = self.lstm(inputs, state)
        return self.output(hidden), state, None


MODEL_TYPES: dict[str, tuple[type, type]] = {"ntm": (NTM, NTMConfig), "lstm": (LSTMBaseline, LSTMConfig)}
# The DNC and the sparse DNC (ntm.dnc) follow the same protocol; imported here, below the NTM, so
# ntm.dnc never needs to import this module.
from .dnc import DNCConfig, DNCModel, SDNCConfig, SDNCModel  # noqa: E402
MODEL_TYPES.update({"dnc": (DNCModel, DNCConfig), "sdnc": (SDNCModel, SDNCConfig)})


def config_fields(model_type: str) -> dict[str, Any]:
    """Name -> default of each field of a model type's config (inputs/outputs sizes excluded)."""
    _, cfg_cls = MODEL_TYPES[model_type]
    return {f.name: f.default for f in fields(cfg_cls) if f.name not in ("input_size", "output_size")}


def build_model(model_type: str, config: dict[str, Any]) -> nn.Module:
    """Build an untrained model from its type and a config dict (as saved in JSON)."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model type must be one of {', '.join(MODEL_TYPES)}; got {model_type!r}")
    model_cls, cfg_cls = MODEL_TYPES[model_type]
    known = {f.name for f in fields(cfg_cls)}
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"unknown {model_type} config keys {sorted(unknown)}; valid keys: {sorted(known)}")
    return model_cls(cfg_cls(**config))


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    return asdict(model.config)
# The dual-memory NTM (ntm.dual) is built from the NTM's parts (controller, heads, memory), not from
# this module, so registering it here makes no import cycle.
from .dual.model import DualConfig, DualNTM  # noqa: E402
MODEL_TYPES["dual"] = (DualNTM, DualConfig)
