"""The Differentiable Neural Computer (Graves et al. 2016, fig. 1 and Methods) as a recurrent module.

One timestep:

    h_t, state = controller([x_t ; r^1_{t-1} ; ... ; r^R_{t-1}], state)   LSTM, GRU or RNN layers
    xi_t = W_xi h_t                                                       interface vector
    r_t, memory = access(xi_t, memory)                                   write, link, read (ntm.dnc.access)
    y_t = W_y [h_t ; r^1_t ; ... ; r^R_t] + b_y                           output

Two front doors to the same machine:

``DNC`` is built like pytorch-dnc's class (``input_size, hidden_size, rnn_type, num_layers,
nr_cells, cell_size, read_heads, batch_first, ...``) and called like it:
``output, (controller_hidden, memory, read_vectors) = dnc(x, hidden, reset_experience=...)``,
with a third return value, a dict of NumPy arrays of the first sequence of the batch, when built
with ``debug=True`` (keys ``memory, link_matrix, precedence, read_weights, write_weights,
usage_vector``; each ``[T, ...]``). Differences: ``num_layers`` stacks controller layers over one
memory (pytorch-dnc stacks whole DNCs); no ``gpu_id``, ``num_hidden_layers``, ``bidirectional``,
``independent_linears`` or ``share_memory``; ``output_size`` may differ from ``input_size``.

``DNCModel`` is the library's model protocol, as ``ntm.model.NTM``: built from a ``DNCConfig``
(saved as JSON), ``model_type = "dnc"``, and ``logits, state, recording = model(inputs, state=None,
record=False)`` with batch-first ``[B, T, X]`` inputs. ``ntm.dnc.sparse`` adds the sparse DNC the
same way (``SDNC``, ``SDNCModel``, ``model_type = "sdnc"``).

Memory starts empty (all zeros) for every sequence unless a state is passed back in; passing the
returned state continues the sequence (its tensors still carry the graph: ``detach_state`` cuts it
between training batches). ``reset_experience`` empties the memory but keeps the controller state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .access import MemoryAccess

RNN_TYPES = ("lstm", "gru", "rnn")
NONLINEARITIES = ("tanh", "relu")


# ---- configuration ---------------------------------------------------------------------------------

@dataclass
class DNCConfig:
    """Everything needed to rebuild a DNC; saved as JSON beside its weights.

    The defaults are pytorch-dnc's copy-task configuration: LSTM 100, memory 128 x 20, one read head.
    """

    input_size: int
    output_size: int
    rnn_type: str = "lstm"           # "lstm", "gru" or "rnn"
    hidden_size: int = 100           # controller units per layer
    num_layers: int = 1              # stacked controller layers
    nr_cells: int = 128              # N, memory slots
    cell_size: int = 20              # W, slot width
    read_heads: int = 1              # R
    nonlinearity: str = "tanh"       # of the "rnn" controller: "tanh" or "relu"
    dropout: float = 0.0             # between controller layers, while training
    clip: float = 20.0               # the controller output is clamped to [-clip, clip]; 0 turns it off
    bias: bool = True                # biases in the controller cells

    def __post_init__(self):
        _check_positive(self, ("input_size", "output_size", "hidden_size", "num_layers", "nr_cells",
                               "cell_size", "read_heads"))
        if self.rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {', '.join(RNN_TYPES)}; got {self.rnn_type!r}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}; got {self.nonlinearity!r}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1); got {self.dropout!r}")
        if not isinstance(self.clip, (int, float)) or self.clip < 0:
            raise ValueError(f"clip must be a number >= 0 (0 turns clipping off); got {self.clip!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be true or false; got {self.bias!r}")


def _check_positive(cfg: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


# ---- controller ------------------------------------------------------------------------------------

ControllerState = tuple  # LSTM: ((h, c), ...) per layer; GRU and RNN: (h, ...) per layer; each [B, hidden]


class RecurrentController(nn.Module):
    """``num_layers`` stacked LSTM, GRU or RNN cells, stepped one timestep at a time."""

    def __init__(self, input_size: int, hidden_size: int, rnn_type: str = "lstm", num_layers: int = 1,
                 nonlinearity: str = "tanh", dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.rnn_type, self.hidden_size, self.num_layers = rnn_type, hidden_size, num_layers
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        if rnn_type == "lstm":
            cells = [nn.LSTMCell(s, hidden_size, bias=bias) for s in sizes]
        elif rnn_type == "gru":
            cells = [nn.GRUCell(s, hidden_size, bias=bias) for s in sizes]
        else:
            cells = [nn.RNNCell(s, hidden_size, bias=bias, nonlinearity=nonlinearity) for s in sizes]
        self.cells = nn.ModuleList(cells)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def initial_state(self, batch_size: int, like: torch.Tensor) -> ControllerState:
        zeros = like.new_zeros(batch_size, self.hidden_size)
        if self.rnn_type == "lstm":
            return tuple((zeros, zeros) for _ in self.cells)
        return tuple(zeros for _ in self.cells)

    def forward(self, x: torch.Tensor, state: ControllerState) -> tuple[torch.Tensor, ControllerState]:
        """``x`` ``[B, input_size]`` -> (top layer's h ``[B, hidden_size]``, new state)."""
        new_state = []
        for layer, (cell, s) in enumerate(zip(self.cells, state)):
            if layer > 0 and self.dropout is not None:
                x = self.dropout(x)
            s = cell(x, s)
            new_state.append(s)
            x = s[0] if self.rnn_type == "lstm" else s
        return x, tuple(new_state)


# ---- state and recording -------------------------------------------------------------------------

class DNCState(NamedTuple):
    """The machine's whole state between timesteps; unpacks as pytorch-dnc's
    ``(controller_hidden, memory_hidden, read_vectors)``."""

    controller: ControllerState
    access: Any                      # AccessState (dense) or SparseAccessState (sparse)
    reads: torch.Tensor              # [B, R, W] r_t


def detach_state(state: DNCState) -> DNCState:
    """The same state cut from the graph (to carry memory over between training batches)."""
    detach = lambda t: t.detach()  # noqa: E731
    access = state.access.detach() if hasattr(state.access, "detach") else _map_tensors(state.access, detach)
    return DNCState(_map_tensors(state.controller, detach), access, state.reads.detach())


def _map_tensors(value, fn):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_map_tensors(v, fn) for v in value))
    if isinstance(value, tuple):
        return tuple(_map_tensors(v, fn) for v in value)
    return value


class DNCRecording(NamedTuple):
    """Stacked, detached tensors of one recorded run (batch first, time second).

    ``heads`` follows ``ntm.model.Recording``: one dict per head with ``head_type`` ("dnc-write" or
    "dnc-read"), ``kind``, ``name``, ``initial`` (its weighting before step 0, ``[B, N]``) and its
    per-step fields ``[B, T, ...]``. ``extras`` holds what belongs to the whole memory: retention,
    usage, precedence ``[B, T, N]`` and the link matrix ``[B, T, N, N]``.
    """

    memory: torch.Tensor             # [B, T+1, N, W]; index 0 is M_0
    outputs: torch.Tensor            # [B, T, output_size] logits
    heads: list[dict[str, Any]]
    extras: dict[str, torch.Tensor]


# Fields of an access step that each kind of head records ([B, ...] per step; read heads [B, R, ...]).
WRITE_FIELDS = {"write_key": "write_key", "write_strength": "write_strength", "erase": "erase",
                "write_vector": "write_vector", "allocation_gate": "allocation_gate", "write_gate": "write_gate"}
READ_FIELDS = {"key": "read_keys", "strength": "read_strengths", "free_gate": "free_gates",
               "read_modes": "read_modes"}


def stack_recording(initial: tuple[torch.Tensor, torch.Tensor], steps: list[dict[str, torch.Tensor]],
                    outputs: list[torch.Tensor], memory0: torch.Tensor) -> DNCRecording:
    """Stack per-step records (``MemoryAccess.record``) into a ``DNCRecording``.

    ``initial`` is ``(write_weights [B, N], read_weights [B, R, N])`` before the first step."""
    s = {k: torch.stack([r[k] for r in steps], dim=1) for k in steps[0]}   # [B, T, ...]
    scalar = lambda t: t.squeeze(-1) if t.dim() == 3 and t.shape[-1] == 1 else t  # noqa: E731
    write = {"head_type": "dnc-write", "kind": "write", "name": "write 1", "initial": initial[0].detach(),
             "write_content": s["write_content"], "allocation": s["allocation"], "weights": s["write_weights"]}
    write.update({k: s[k] for k in ("retention", "usage", "precedence") if k in s})
    for name, field in WRITE_FIELDS.items():
        write[name] = scalar(s[f"xi.{field}"])
    heads = [write]
    for i in range(s["read_weights"].shape[2]):
        head = {"head_type": "dnc-read", "kind": "read", "name": f"read {i + 1}", "initial": initial[1][:, i].detach(),
                "read_content": s["read_content"][:, :, i], "forward": s["forward"][:, :, i],
                "backward": s["backward"][:, :, i], "weights": s["read_weights"][:, :, i], "read": s["reads"][:, :, i]}
        for name, field in READ_FIELDS.items():
            if f"xi.{field}" in s:                  # the sparse DNC has no free gates
                head[name] = s[f"xi.{field}"][:, :, i]
        heads.append(head)
    extras = {k: s[k] for k in ("retention", "usage", "precedence", "link", "last_access") if k in s}
    memory = torch.cat([memory0.detach().unsqueeze(1), s["memory"]], dim=1)
    return DNCRecording(memory, torch.stack(outputs, dim=1), heads, extras)


def debug_record(recording: DNCRecording, index: int = 0) -> dict[str, np.ndarray]:
    """pytorch-dnc's debug dict for sequence ``index``: NumPy arrays, time first.

    For the sparse DNC ``usage_vector`` is each slot's last access step, and ``link_matrix`` is
    left out when N is too large to rebuild it densely."""
    extras = recording.extras
    read_weights = torch.stack([h["weights"][index] for h in recording.heads if h["kind"] == "read"], dim=1)
    out = {"memory": recording.memory[index, 1:], "precedence": extras["precedence"][index],
           "read_weights": read_weights, "write_weights": recording.heads[0]["weights"][index],
           "usage_vector": extras["usage" if "usage" in extras else "last_access"][index]}
    if "link" in extras:
        out["link_matrix"] = extras["link"][index]
    return {k: v.float().cpu().numpy() for k, v in out.items()}


# ---- the machine ---------------------------------------------------------------------------------

class DNC(nn.Module):
    """A Differentiable Neural Computer, built and called like pytorch-dnc's ``DNC``.

    Args:
        input_size: X, width of each input vector.
        hidden_size: controller units per layer.
        rnn_type: "lstm", "gru" or "rnn".
        num_layers: stacked controller layers.
        nr_cells: N, memory slots.
        cell_size: W, slot width.
        read_heads: R.
        batch_first: inputs and outputs are ``[B, T, X]`` (else ``[T, B, X]``).
        output_size: Y, width of each output (default: ``input_size``, as pytorch-dnc).
        nonlinearity: of the "rnn" controller.
        dropout: between controller layers.
        clip: the controller output is clamped to [-clip, clip] (0: no clamp).
        bias: biases in the controller cells.
        debug: ``forward`` also returns the debug dict.
    """

    model_type = "dnc"
    config_class = DNCConfig

    def __init__(self, input_size: int, hidden_size: int = 100, rnn_type: str = "lstm", num_layers: int = 1,
                 nr_cells: int = 5, cell_size: int = 10, read_heads: int = 2, batch_first: bool = True,
                 output_size: int | None = None, nonlinearity: str = "tanh", dropout: float = 0.0,
                 clip: float = 20.0, bias: bool = True, debug: bool = False, **sparse):
        super().__init__()
        self.config = self.config_class(
            input_size=input_size, output_size=output_size or input_size, rnn_type=rnn_type,
            hidden_size=hidden_size, num_layers=num_layers, nr_cells=nr_cells, cell_size=cell_size,
            read_heads=read_heads, nonlinearity=nonlinearity, dropout=dropout, clip=clip, bias=bias, **sparse)
        self.batch_first, self.debug = batch_first, debug
        c = self.config
        self.controller = RecurrentController(c.input_size + c.read_heads * c.cell_size, c.hidden_size, c.rnn_type,
                                              c.num_layers, c.nonlinearity, c.dropout, c.bias)
        self.access = self.make_access()
        self.output = nn.Linear(c.hidden_size + c.read_heads * c.cell_size, c.output_size)
        self._compiled_step = None

    def make_access(self) -> nn.Module:
        c = self.config
        return MemoryAccess(c.hidden_size, c.nr_cells, c.cell_size, c.read_heads)

    @classmethod
    def from_config(cls, config: DNCConfig, **kwargs) -> "DNC":
        return cls(**asdict(config), **kwargs)

    # ---- state ------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, like: torch.Tensor | None = None) -> DNCState:
        """Zero controller state, empty memory, zero read vectors."""
        if like is None:
            like = self.output.weight
        c = self.config
        return DNCState(self.controller.initial_state(batch_size, like), self.access.initial_state(batch_size, like),
                        like.new_zeros(batch_size, c.read_heads, c.cell_size))

    def reset_experience(self, state: DNCState) -> DNCState:
        """The same state with an empty memory (pytorch-dnc's ``reset_experience``)."""
        batch = state.reads.shape[0]
        return state._replace(access=self.access.initial_state(batch, state.reads))

    # ---- one step and a sequence ------------------------------------------------------------
    def step(self, x_t: torch.Tensor, state: DNCState, record: bool = False, pass_through_memory: bool = True):
        """One timestep: ``x_t`` ``[B, X]`` -> ``(logits [B, Y], new DNCState, AccessStep or None)``.

        Without ``pass_through_memory`` the memory is neither written nor read: the controller
        still sees the last read vectors, and the state's memory is returned unchanged.
        """
        ctrl, access_state, reads = state
        h, ctrl = self.controller(torch.cat([x_t, reads.flatten(1)], dim=-1), ctrl)
        if self.config.clip:
            h = h.clamp(-self.config.clip, self.config.clip)
        step = None
        if pass_through_memory and not record and hasattr(self.access, "fast"):
            reads, access_state = self.access.fast(h, access_state)       # no intermediates kept
        elif pass_through_memory:
            reads, access_state, step = self.access(h, access_state)
        out = self.output(torch.cat([h, reads.flatten(1)], dim=-1))
        return out, DNCState(ctrl, access_state, reads), (step if record else None)

    def compile_step(self) -> None:
        """Use ``torch.compile`` for the unrecorded timestep (training and evaluation); recording
        always uses the plain step. Compiling takes tens of seconds per batch size.

        Inductor's generated kernels run on one thread (``cpp.threads``): a step's tensors are
        small (at most B x N x N), and with two threads on a loaded machine the OpenMP threads
        waiting for each other made a step several times slower than one thread did
        (bench/README.md, "DNC"). Matrix products still use torch's threads.
        """
        self._compiled_step = torch.compile(self.step, dynamic=False, options={"cpp.threads": 1})

    def run(self, inputs: torch.Tensor, state: DNCState | None = None, record: bool = False,
            pass_through_memory: bool = True) -> tuple[torch.Tensor, DNCState, DNCRecording | None]:
        """The machine over a batch-first sequence ``[B, T, X]`` -> ``(logits [B, T, Y], state, recording)``."""
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.initial_state(batch, inputs)
        else:                      # the sparse access updates its tables in place: work on a copy
            state = state._replace(access=self.access.own(state.access))
        compiled = self._compiled_step if not record and pass_through_memory else None
        initial_weights = self.access.dense_weights(state.access) if record else None
        memory0 = self.access.memory_of(state.access) if record else None
        outputs, records = [], []
        # Time-major copy: every x_t has the same strides whatever T is (no recompiling per length).
        per_step = inputs.new_empty(steps, batch, inputs.shape[-1]).copy_(inputs.transpose(0, 1))
        for t in range(steps):
            if compiled is not None:
                out, state, access_step = compiled(per_step[t], state)
            else:
                out, state, access_step = self.step(per_step[t], state, record, pass_through_memory)
            outputs.append(out)
            if access_step is not None:
                records.append(self.access.record(access_step))
        logits = torch.stack(outputs, dim=1)
        recording = None
        if records:
            recording = stack_recording(initial_weights, records,
                                        [o.detach() for o in outputs], memory0)
        return logits, state, recording

    def forward(self, input: torch.Tensor, hidden: Any = None, reset_experience: bool = False,
                pass_through_memory: bool = True):
        """pytorch-dnc's call: ``output, hidden[, debug] = dnc(input, hidden, reset_experience)``.

        Args:
            input: ``[B, T, X]`` (``[T, B, X]`` when ``batch_first`` is False).
            hidden: a ``DNCState``, or ``(controller_hidden, memory, read_vectors)`` with any part None
                (None parts start fresh), or None.
            reset_experience: empty the memory before this sequence.
            pass_through_memory: False runs the controller alone (memory untouched).

        Returns:
            ``(output, DNCState)``, plus the debug dict (NumPy arrays of the first sequence, time
            first) when the DNC was built with ``debug=True``.
        """
        x = input if self.batch_first else input.transpose(0, 1)
        state = self._complete_state(hidden, x)
        if reset_experience:
            state = self.reset_experience(state)
        logits, state, recording = self.run(x, state, record=self.debug, pass_through_memory=pass_through_memory)
        output = logits if self.batch_first else logits.transpose(0, 1)
        if self.debug:
            return output, state, (debug_record(recording) if recording is not None else None)
        return output, state

    def _complete_state(self, hidden: Any, x: torch.Tensor) -> DNCState:
        fresh = self.initial_state(x.shape[0], x)
        if hidden is None:
            return fresh
        if isinstance(hidden, DNCState):
            return hidden
        if not isinstance(hidden, (tuple, list)) or len(hidden) != 3:
            raise ValueError("hidden must be None, a DNCState or a tuple (controller_hidden, memory, read_vectors)")
        parts = [fresh[i] if part is None else part for i, part in enumerate(hidden)]
        return DNCState(*parts)


class DNCModel(nn.Module):
    """The DNC behind the library's model protocol (``ntm.model``): config in, ``(logits, state, recording)`` out."""

    model_type = "dnc"
    machine_class = DNC

    def __init__(self, config: DNCConfig):
        super().__init__()
        self.config = config
        self.dnc = self.machine_class.from_config(config)

    def initial_state(self, batch_size: int) -> DNCState:
        return self.dnc.initial_state(batch_size)

    def compile_step(self) -> None:
        self.dnc.compile_step()

    def forward(self, inputs: torch.Tensor, state: DNCState | None = None, record: bool = False):
        """``inputs`` ``[B, T, X]`` -> ``(logits [B, T, Y], final DNCState, DNCRecording or None)``."""
        return self.dnc.run(inputs, state, record)


__all__ = ["DNCConfig", "RNN_TYPES", "RecurrentController", "DNCState", "DNCRecording", "detach_state", "debug_record",
           "stack_recording", "DNC", "DNCModel"]
