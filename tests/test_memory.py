"""Memory read (eq. 2), erase-then-add write (eqs. 3-4), initialisation schemes."""

import numpy as np
import pytest
import torch

from ntm import reference
from ntm.memory import CONSTANT_INIT, MemoryInit, read, write


def test_read_hand_worked():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    w = torch.tensor([[0.5, 0.0, 0.5]])
    torch.testing.assert_close(read(memory, w), torch.tensor([[3.0, 4.0]]))
    torch.testing.assert_close(read(memory, w.unsqueeze(1)), torch.tensor([[[3.0, 4.0]]]))


def test_erase_one_at_one_hot_weighting_clears_that_row_only():
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(2, 5, 4, generator=g)
    w = torch.zeros(2, 5)
    w[:, 3] = 1.0
    out = write(memory, w, torch.ones(2, 4), torch.zeros(2, 4))
    assert out[:, 3].abs().max() == 0
    torch.testing.assert_close(out[:, [0, 1, 2, 4]], memory[:, [0, 1, 2, 4]])


def test_write_then_read_returns_what_was_added():
    memory = torch.zeros(1, 4, 3)
    w = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    add = torch.tensor([[0.5, -0.25, 1.0]])
    out = write(memory, w, torch.ones(1, 3), add)
    torch.testing.assert_close(read(out, w), add)


@pytest.mark.parametrize("heads", [1, 3])
def test_write_matches_reference_for_several_heads(heads):
    g = torch.Generator().manual_seed(heads)
    b, n, m = 3, 6, 4
    memory = torch.randn(b, n, m, generator=g, dtype=torch.float64)
    w = torch.softmax(torch.randn(b, heads, n, generator=g, dtype=torch.float64), -1)
    e = torch.rand(b, heads, m, generator=g, dtype=torch.float64)
    a = torch.randn(b, heads, m, generator=g, dtype=torch.float64)
    out = write(memory, w, e, a)
    for i in range(b):
        ref = reference.write(memory[i].numpy(), list(w[i].numpy()), list(e[i].numpy()), list(a[i].numpy()))
        np.testing.assert_allclose(out[i].numpy(), ref, rtol=1e-12)
        np.testing.assert_allclose(read(out, w)[i, 0].numpy(), reference.read(out[i].numpy(), w[i, 0].numpy()))


def test_memory_init_schemes():
    const = MemoryInit(8, 3, "constant")(2)
    assert const.shape == (2, 8, 3) and torch.all(const == CONSTANT_INIT)
    learned = MemoryInit(8, 3, "learned")
    assert any(p.requires_grad for p in learned.parameters())
    rand = MemoryInit(8, 3, "random")
    assert not list(rand.parameters()) and rand(1).std() > 0
    with pytest.raises(ValueError, match="constant, learned, random"):
        MemoryInit(8, 3, "zeros")
