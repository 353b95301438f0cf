"""The DNC's fused training path (ntm.dnc.addressing fused_*, ntm.dnc.access.training_step) against the
plain equations it replaces: values, gradients (gradcheck) and whole models."""

import pytest
import torch

from ntm.dnc import DNCConfig, DNCModel, access
from ntm.dnc.addressing import (TemporalLinkage, content_weights, directional_weights, fused_content_weights,
                                fused_linkage, temporal_linkage)

F64 = torch.float64


def _simplex_rows(*shape, seed):
    """Rows of non-negative numbers summing to at most 1, like weightings."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g, dtype=F64)
    return x / (x.sum(-1, keepdim=True) + 0.5)


def _link(b, n, seed):
    link = _simplex_rows(b, n, n, seed=seed)
    link.diagonal(dim1=-2, dim2=-1).zero_()
    return link


@pytest.mark.parametrize("zero_row", [False, True])
def test_fused_content_weights_match_and_gradcheck(zero_row):
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(2, 5, 3, generator=g, dtype=F64)
    if zero_row:                                  # an all-zero slot: similarity 0, gradients finite
        memory[:, 2] = 0.0
    key = torch.randn(2, 2, 3, generator=g, dtype=F64)
    beta = 1.0 + torch.rand(2, 2, 1, generator=g, dtype=F64) * 3
    torch.testing.assert_close(fused_content_weights(memory, key, beta), content_weights(memory, key, beta))
    if not zero_row:     # at a zero row the similarity is not smooth on gradcheck's scale (1e-6 >> eps)
        inputs = tuple(x.clone().requires_grad_(True) for x in (memory, key, beta))
        assert torch.autograd.gradcheck(fused_content_weights, inputs)
    grads = []           # either way the gradients are the plain function's
    for fn in (fused_content_weights, content_weights):
        inputs = [x.clone().requires_grad_(True) for x in (memory, key, beta)]
        (fn(*inputs) * torch.arange(5.0, dtype=F64)).sum().backward()
        grads.append([x.grad for x in inputs])
    for fused, plain in zip(*grads):
        assert torch.isfinite(fused).all()
        torch.testing.assert_close(fused, plain)


def test_fused_content_weights_gradients_equal_plain_ones():
    g = torch.Generator().manual_seed(1)
    parts = [torch.randn(3, 6, 4, generator=g), torch.randn(3, 1, 4, generator=g), torch.rand(3, 1, 1, generator=g)]
    grads = []
    for fn in (fused_content_weights, content_weights):
        inputs = [p.clone().requires_grad_(True) for p in parts]
        out = fn(*inputs)
        (out * torch.arange(6.0)).sum().backward()
        grads.append([x.grad for x in inputs])
    for fused, plain in zip(*grads):
        torch.testing.assert_close(fused, plain)


@pytest.mark.parametrize("r", [1, 2])
def test_fused_linkage_matches_plain_and_gradchecks(r):
    b, n = 2, 5
    prev = TemporalLinkage(_link(b, n, 1), _simplex_rows(b, n, seed=2))
    write = _simplex_rows(b, n, seed=3)
    read = _simplex_rows(b, r, n, seed=4)
    linkage, forward, backward = fused_linkage(prev, write, read)
    plain = temporal_linkage(prev, write)
    torch.testing.assert_close(linkage.link, plain.link)
    torch.testing.assert_close(linkage.precedence, plain.precedence)
    f, bw = directional_weights(plain.link, read)
    torch.testing.assert_close(forward, f)
    torch.testing.assert_close(backward, bw)
    assert torch.all(linkage.link.diagonal(dim1=-2, dim2=-1) == 0)

    def run(link_, prec, write_, read_):
        out, f_, b_ = fused_linkage(TemporalLinkage(link_, prec), write_, read_)
        return out.link, out.precedence, f_, b_

    inputs = tuple(x.clone().requires_grad_(True) for x in (prev.link, prev.precedence, write, read))
    assert torch.autograd.gradcheck(run, inputs)


def test_fused_linkage_with_only_some_outputs_used():
    # Gradients arriving for the directional weightings alone (link and precedence unused) are right.
    b, n = 1, 4
    prev = TemporalLinkage(_link(b, n, 5), _simplex_rows(b, n, seed=6))
    inputs = [x.clone().requires_grad_(True) for x in (prev.link, prev.precedence, _simplex_rows(b, n, seed=7),
                                                       _simplex_rows(b, 1, n, seed=8))]
    grads = []
    for fused in (True, False):
        for x in inputs:
            x.grad = None
        if fused:
            _, forward, backward = fused_linkage(TemporalLinkage(*inputs[:2]), inputs[2], inputs[3])
        else:
            forward, backward = directional_weights(temporal_linkage(TemporalLinkage(*inputs[:2]), inputs[2]).link,
                                                    inputs[3])
        (forward.sum() + 2 * backward.sum()).backward()
        grads.append([x.grad.clone() for x in inputs])
    for fused, plain in zip(*grads):
        torch.testing.assert_close(fused, plain)


def test_training_step_equals_access_step_with_gradients():
    n, w, r, b = 6, 4, 2, 3
    g = torch.Generator().manual_seed(9)
    state = access.AccessState(torch.randn(b, n, w, generator=g, dtype=F64), _link(b, n, 1),
                               _simplex_rows(b, n, seed=2), _simplex_rows(b, r, n, seed=3),
                               _simplex_rows(b, n, seed=4), torch.rand(b, n, generator=g, dtype=F64))
    raw = torch.randn(b, access.interface_size(w, r), generator=g, dtype=F64)
    results = []
    for fused in (True, False):
        xs = [raw.clone().requires_grad_(True)] + [x.clone().requires_grad_(True) for x in state]
        xi = access.parse_interface(xs[0], w, r)
        s = access.AccessState(*xs[1:])
        if fused:
            reads, new = access.training_step(xi, s)
        else:
            step = access.access_step(xi, s)
            reads, new = step.reads, access.next_state(step)
        total = reads.square().sum() + sum((x * (i + 1)).sum() for i, x in enumerate(new))
        total.backward()
        results.append((reads.detach(), [x.detach() for x in new], [x.grad for x in xs]))
    (reads_f, new_f, grads_f), (reads_p, new_p, grads_p) = results
    torch.testing.assert_close(reads_f, reads_p)
    for fused, plain in zip(new_f + grads_f, new_p + grads_p):
        torch.testing.assert_close(fused, plain)


def test_model_training_path_equals_recording_path():
    """The unrecorded run (fused) and the recorded run (plain access_step) give the same logits and
    the same parameter gradients."""
    model = DNCModel(DNCConfig(input_size=5, output_size=4, nr_cells=8, cell_size=4, read_heads=2))
    inputs = torch.rand(2, 7, 5, generator=torch.Generator().manual_seed(0))
    grads = []
    for record in (False, True):
        model.zero_grad()
        logits, _, recording = model(inputs, record=record)
        assert (recording is None) != record
        logits.square().sum().backward()
        grads.append((logits.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for name in grads[0][1]:
        torch.testing.assert_close(grads[0][1][name], grads[1][1][name], rtol=1e-4, atol=1e-5, msg=name)
