"""Controllers: the network that reads the input and the previous read vectors and drives the heads.

The paper (section 3.4) uses either an LSTM or a feed-forward network. Both here take one
timestep ``x_t = [input_t ; r_{t-1}]`` of shape ``[B, input_size]`` and return ``[B, size]``.
"""

from __future__ import annotations

import torch
from torch import nn

ControllerState = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # ((h, c) per LSTM layer)


class LSTMController(nn.Module):
    """A stack of ``layers`` LSTM cells of ``size`` units each."""

    def __init__(self, input_size: int, size: int, layers: int = 1):
        super().__init__()
        self.size, self.layers = size, layers
        self.cells = nn.ModuleList(
            nn.LSTMCell(input_size if i == 0 else size, size) for i in range(layers))

    def initial_state(self, batch_size: int, like: torch.Tensor) -> ControllerState:
        zeros = like.new_zeros(batch_size, self.size)
        return tuple((zeros, zeros) for _ in range(self.layers))

    def forward(self, x: torch.Tensor, state: ControllerState) -> tuple[torch.Tensor, ControllerState]:
        new_state = []
        for cell, (h, c) in zip(self.cells, state):
            h, c = cell(x, (h, c))
            new_state.append((h, c))
            x = h
        return x, tuple(new_state)


class FeedForwardController(nn.Module):
    """``layers`` fully connected tanh layers of ``size`` units; no state of its own.

    With a feed-forward controller everything the machine remembers must go through memory,
    which makes its heads easier to read (the paper's remark in section 3.4).
    """

    def __init__(self, input_size: int, size: int, layers: int = 1):
        super().__init__()
        self.size, self.layers = size, layers
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(input_size if i == 0 else size, size), nn.Tanh()]
        self.net = nn.Sequential(*mods)

    def initial_state(self, batch_size: int, like: torch.Tensor) -> ControllerState:
        return ()

    def forward(self, x: torch.Tensor, state: ControllerState) -> tuple[torch.Tensor, ControllerState]:
        return self.net(x), state


CONTROLLERS = {"lstm": LSTMController, "feedforward": FeedForwardController}
