"""Tests for ntm.tasks: episode layouts, targets, determinism, costs and the registry."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ntm.tasks import (
    TASKS, AssociativeRecallTask, Batch, CopyTask, NGramsTask, NLITask, PrioritySortTask, RepeatCopyTask, bit_errors,
    cost_bits, loss, make_task, task_params,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_binary(x: torch.Tensor) -> None:
    assert ((x == 0) | (x == 1)).all()


# -- every task ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_batch_contract(name):
    task = make_task(name)
    batch = task.sample(5, gen())
    B, T = batch.mask.shape
    assert B == 5
    assert batch.inputs.shape == (B, T, task.input_size)
    assert batch.targets.shape == (B, T, task.output_size)
    assert batch.inputs.dtype == batch.targets.dtype == torch.float32
    assert batch.mask.dtype == torch.bool
    # Targets are zero wherever the output is not scored; every element has something scored.
    assert (batch.targets[~batch.mask] == 0).all()
    assert batch.mask.any(dim=1).all()
    # Inputs are silent whenever the output is scored (the answer phase).
    if task.answers_after_input:
        assert (batch.inputs[batch.mask] == 0).all()


def longest(task) -> int:
    return task.train_lengths[1]


@pytest.mark.parametrize("name", list(TASKS))
def test_same_seed_same_batch_other_seed_differs(name):
    task = make_task(name)
    a, b = task.sample(4, gen(7)), task.sample(4, gen(7))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert torch.equal(a.mask, b.mask)
    # With the length fixed so that shapes agree, another seed gives other data.
    c, d = task.sample(4, gen(7), length=longest(task)), task.sample(4, gen(8), length=longest(task))
    assert not torch.equal(c.inputs, d.inputs)


@pytest.mark.parametrize("name", list(TASKS))
def test_no_global_rng_used(name):
    task = make_task(name)
    torch.manual_seed(0)
    a = task.sample(3, gen(1))
    torch.manual_seed(123)
    b = task.sample(3, gen(1))
    assert torch.equal(a.inputs, b.inputs)


@pytest.mark.parametrize("name", list(TASKS))
def test_batch_elements_differ(name):
    task = make_task(name)
    batch = task.sample(8, gen(3), length=longest(task))
    flat = batch.inputs.flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) == 8


@pytest.mark.parametrize("name", list(TASKS))
def test_lengths_drawn_from_training_range(name):
    task = make_task(name)
    lo, hi = task.train_lengths
    g = gen(11)
    seen = {episode_size(task, task.sample(2, g)) for _ in range(200)}
    assert seen <= set(range(lo, hi + 1))
    assert seen == set(range(lo, hi + 1))


def episode_size(task, batch: Batch) -> int:
    """Recovers the size knob from an episode's layout."""
    if isinstance(task, CopyTask):
        return (batch.num_steps - 1) // 2
    if isinstance(task, RepeatCopyTask):
        return int(batch.inputs[0, :, task.seq_width].nonzero()[0])  # delimiter at t = L
    if isinstance(task, AssociativeRecallTask):
        return batch.num_steps // (task.item_len + 1) - 2
    if isinstance(task, PrioritySortTask):
        return int(batch.inputs[0, :, task.seq_width + 1].nonzero()[0])
    if isinstance(task, NGramsTask):
        return batch.num_steps + 1                                   # L bits, L - 1 predictions
    if isinstance(task, NLITask):
        return batch.num_steps - 2                                   # premises, hypothesis, answer
    raise AssertionError(task)


@pytest.mark.parametrize("name", list(TASKS))
def test_sample_rejects_bad_arguments(name):
    task = make_task(name)
    with pytest.raises(ValueError, match="batch_size"):
        task.sample(0, gen())
    with pytest.raises(ValueError, match="length"):
        task.sample(2, gen(), length=0)
    with pytest.raises(ValueError, match="generator"):
        task.sample(2, 0)


# -- copy ---------------------------------------------------------------------------------------


def test_copy_layout():
    task = CopyTask()
    L = 5
    batch = task.sample(3, gen(), length=L)
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (3, 2 * L + 1, 9) and y.shape == (3, 2 * L + 1, 8)
    assert_binary(x)
    # Delimiter channel only at t = L.
    assert torch.equal(x[:, :, 8], torch.eye(2 * L + 1)[L].expand(3, -1))
    assert (x[:, L, :8] == 0).all() and (x[:, L + 1:] == 0).all()
    assert torch.equal(m[0], torch.tensor([False] * (L + 1) + [True] * L))
    assert torch.equal(y[:, L + 1:], x[:, :L, :8])


def test_copy_generalises_beyond_training_range():
    batch = CopyTask().sample(2, gen(), length=120)
    assert batch.inputs.shape == (2, 241, 9)
    assert torch.equal(batch.targets[:, 121:], batch.inputs[:, :120, :8])
    # Random bits are roughly balanced.
    assert 0.4 < batch.inputs[:, :120, :8].mean() < 0.6


# -- repeat copy --------------------------------------------------------------------------------


def test_repeat_copy_layout_fixed_repeats():
    task = RepeatCopyTask()
    L, r = 3, 4
    batch = task.sample(2, gen(), length=L, repeats=r)
    x, y, m = batch.inputs, batch.targets, batch.mask
    T = L + 2 + L * r + 1
    assert x.shape == (2, T, 10) and y.shape == (2, T, 9)
    assert (x[:, L, :] == torch.eye(10)[8]).all()                 # delimiter only
    expected = (4 - 5.5) / math.sqrt(99 / 12)
    assert torch.allclose(x[:, L + 1, 9], torch.tensor(expected))
    assert (x[:, L + 1, :9] == 0).all() and (x[:, L + 2:] == 0).all()
    seq = x[:, :L, :8]
    assert torch.equal(y[:, L + 2:T - 1, :8], seq.repeat(1, r, 1))
    assert (y[:, :T - 1, 8] == 0).all() and (y[:, T - 1] == torch.eye(9)[8]).all()  # end marker
    assert m[:, L + 2:].all() and not m[:, :L + 2].any()


def test_repeat_count_normalisation():
    task = RepeatCopyTask()  # counts 1..10: mean 5.5, variance (100 - 1) / 12
    std = math.sqrt(99 / 12)
    for r, want in [(1, -4.5 / std), (10, 4.5 / std), (20, 14.5 / std)]:
        batch = task.sample(1, gen(), length=2, repeats=r)
        assert batch.inputs[0, 3, 9].item() == pytest.approx(want, abs=1e-6)
    # The normalised training counts have zero mean and unit (population) variance.
    z = task.normalise_repeats(torch.arange(1, 11).double())
    assert z.mean().item() == pytest.approx(0, abs=1e-12)
    assert z.var(unbiased=False).item() == pytest.approx(1, abs=1e-12)
    # A single training count is centred, not divided by zero.
    assert RepeatCopyTask(min_repeats=3, max_repeats=3).normalise_repeats(5) == 2.0


def test_repeat_copy_pads_varying_repeats():
    task = RepeatCopyTask()
    L = 2
    batch = task.sample(64, gen(5), length=L)
    x, y, m = batch.inputs, batch.targets, batch.mask
    std, mean = math.sqrt(99 / 12), 5.5
    reps = torch.round(x[:, L + 1, 9] * std + mean).long()
    assert len(set(reps.tolist())) > 1
    assert batch.num_steps == L + 2 + L * int(reps.max()) + 1
    for b in range(64):  # per-element check of the vectorised construction
        r = int(reps[b])
        end = L + 2 + L * r
        assert m[b].nonzero().flatten().tolist() == list(range(L + 2, end + 1))
        assert torch.equal(y[b, L + 2:end, :8], x[b, :L, :8].repeat(r, 1))
        assert y[b, end].tolist() == [0] * 8 + [1]
        assert (y[b, end + 1:] == 0).all() and (x[b, L + 2:] == 0).all()


def test_repeat_copy_repeats_beyond_training_range():
    batch = RepeatCopyTask().sample(2, gen(), length=4, repeats=15)
    assert batch.mask.sum(1).tolist() == [61, 61]
    with pytest.raises(ValueError, match="repeats"):
        RepeatCopyTask().sample(2, gen(), length=4, repeats=0)


# -- associative recall -------------------------------------------------------------------------


def test_associative_recall_layout_and_answer():
    task = AssociativeRecallTask()
    n, K, W = 4, 3, 6
    batch = task.sample(50, gen(2), length=n)
    x, y, m = batch.inputs, batch.targets, batch.mask
    T = (n + 2) * (K + 1)
    assert x.shape == (50, T, W + 2) and y.shape == (50, T, W)
    assert_binary(x)
    item_delims = [i * (K + 1) for i in range(n)]
    query_delims = [n * (K + 1), n * (K + 1) + K + 1]
    assert (x[:, :, W].nonzero()[:, 1].view(50, n) == torch.tensor(item_delims)).all()
    assert (x[:, :, W + 1].nonzero()[:, 1].view(50, 2) == torch.tensor(query_delims)).all()
    assert (x[:, T - K:] == 0).all()
    assert torch.equal(m[0], torch.arange(T) >= T - K)

    items = torch.stack([x[:, d + 1:d + 1 + K, :W] for d in item_delims], 1)  # [B, n, K, W]
    query = x[:, query_delims[0] + 1:query_delims[1], :W]                    # [B, K, W]
    positions = []
    for b in range(50):
        matches = [i for i in range(n) if torch.equal(items[b, i], query[b])]
        i = matches[0]  # random 18-bit items: a duplicate would be a 1-in-2^18 event
        assert i < n - 1, "query must not be the last item"
        assert torch.equal(y[b, T - K:], items[b, i + 1])
        positions.append(i)
    assert set(positions) == set(range(n - 1))  # the query position varies per element


def test_associative_recall_more_items_than_training():
    task = AssociativeRecallTask()
    batch = task.sample(2, gen(), length=12)
    assert batch.num_steps == 14 * 4
    assert task.sample(2, gen(), length=2).num_steps == 16
    with pytest.raises(ValueError, match=">= 2"):
        task.sample(2, gen(), length=1)


# -- priority sort ------------------------------------------------------------------------------


def test_priority_sort_layout_and_targets():
    task = PrioritySortTask()
    batch = task.sample(6, gen(4))
    x, y, m = batch.inputs, batch.targets, batch.mask
    L, K, W = 20, 16, 8
    assert x.shape == (6, L + 1 + K, W + 2) and y.shape == (6, L + 1 + K, W)
    priority = x[:, :L, W]
    assert (priority >= -1).all() and (priority <= 1).all() and priority.std() > 0.3
    assert (x[:, :, W + 1].nonzero()[:, 1] == L).all()        # delimiter only at t = L
    assert (x[:, L + 1:] == 0).all()
    assert torch.equal(m[0], torch.arange(L + 1 + K) > L)
    for b in range(6):
        ranked = sorted(range(L), key=lambda i: -priority[b, i].item())[:K]
        assert torch.equal(y[b, L + 1:], x[b, ranked, :W])
        # Emitted highest first, and none left out outranks an emitted one.
        assert min(priority[b, ranked]) > max(priority[b, sorted(set(range(L)) - set(ranked))])


def test_priority_sort_other_lengths():
    task = PrioritySortTask()
    assert [task.outputs_for(L) for L in (1, 2, 5, 10, 20, 40)] == [1, 2, 4, 8, 16, 32]
    assert PrioritySortTask(num_inputs=4, num_outputs=2).outputs_for(3) == 2  # 1.5 rounds up
    batch = task.sample(2, gen(), length=40)
    assert batch.num_steps == 40 + 1 + 32 and batch.mask.sum(1).tolist() == [32, 32]
    assert task.train_lengths == (20, 20)


# -- costs --------------------------------------------------------------------------------------


def scored_bits(batch: Batch) -> torch.Tensor:
    return batch.mask.sum(1) * batch.targets.shape[-1]  # [B]


@pytest.mark.parametrize("name", list(TASKS))
def test_costs_on_hand_made_logits(name):
    batch = make_task(name).sample(4, gen(9))
    signs = batch.targets * 2 - 1
    perfect = 20.0 * signs
    assert bit_errors(perfect, batch).tolist() == [0, 0, 0, 0]
    assert cost_bits(perfect, batch).item() < 1e-4
    assert loss(perfect, batch).item() < 1e-6

    flipped = -perfect
    assert torch.equal(bit_errors(flipped, batch), scored_bits(batch))
    # Unscored positions are ignored whatever the logits say there.
    noisy = torch.where(batch.mask.unsqueeze(-1), perfect, -50.0)
    assert bit_errors(noisy, batch).sum() == 0

    zero = torch.zeros_like(batch.targets)  # p = 0.5: exactly one bit per scored bit
    assert cost_bits(zero, batch).item() == pytest.approx(scored_bits(batch).float().mean().item(), rel=1e-5)
    assert loss(zero, batch).item() == pytest.approx(math.log(2), rel=1e-6)


def test_cost_bits_per_sequence_average():
    batch = Batch(inputs=torch.zeros(2, 3, 1), targets=torch.tensor([[[1.0], [0.0], [0.0]]] * 2),
                  mask=torch.tensor([[True, True, False], [True, False, False]]))
    logits = torch.zeros(2, 3, 1)
    # Sequence 0 scores 2 bits, sequence 1 scores 1 bit, each costing 1 bit at p = 0.5.
    assert cost_bits(logits, batch).item() == pytest.approx(1.5)
    logits[0, 0, 0] = math.log(3.0)  # p = 3/4 on a 1 target: -log2(3/4) bits
    assert cost_bits(logits, batch).item() == pytest.approx((-math.log2(0.75) + 1 + 1) / 2)
    # Logit 0 (p = 0.5) is not > 0.5, so it predicts 0: right for a 0 target, wrong for a 1.
    assert bit_errors(logits, batch).tolist() == [0, 1]
    with pytest.raises(ValueError, match="shape"):
        cost_bits(torch.zeros(2, 3, 2), batch)


# -- registry -----------------------------------------------------------------------------------


def test_registry_names_and_metadata():
    assert list(TASKS) == ["copy", "repeat-copy", "associative-recall", "dynamic-ngrams", "priority-sort", "cdcl-nli"]
    assert {n: c.length_name for n, c in TASKS.items()} == {
        "copy": "sequence length", "repeat-copy": "sequence length", "associative-recall": "items",
        "dynamic-ngrams": "bits per sequence", "priority-sort": "inputs", "cdcl-nli": "premises"}
    sizes = {n: (make_task(n).input_size, make_task(n).output_size) for n in TASKS}
    assert sizes == {"copy": (9, 8), "repeat-copy": (10, 9), "associative-recall": (8, 6),
                     "dynamic-ngrams": (1, 1), "priority-sort": (10, 8), "cdcl-nli": (1153, 3)}
    assert make_task("copy").train_lengths == (1, 20)
    assert make_task("repeat-copy").train_lengths == (1, 10)
    assert make_task("associative-recall").train_lengths == (2, 6)


def test_task_params():
    assert task_params("repeat-copy") == {
        "seq_width": (int, 8), "min_len": (int, 1), "max_len": (int, 10),
        "min_repeats": (int, 1), "max_repeats": (int, 10)}
    assert task_params("associative-recall") == {
        "item_bits": (int, 6), "item_len": (int, 3), "min_items": (int, 2), "max_items": (int, 6)}
    assert task_params("priority-sort") == {
        "seq_width": (int, 8), "num_inputs": (int, 20), "num_outputs": (int, 16)}


@pytest.mark.parametrize("name", list(TASKS))
def test_make_task_round_trip_through_config(name):
    first = task_params(name)
    key = next(iter(first))
    task = make_task(name, **{key: 5})
    config = json.loads(json.dumps(task.config()))
    assert config[key] == 5 and list(config) == list(first)
    again = make_task(name, **config)
    assert again == task and type(again) is TASKS[name]
    assert torch.equal(again.sample(2, gen()).inputs, task.sample(2, gen()).inputs)


def test_make_task_errors_name_the_valid_choices():
    with pytest.raises(ValueError, match="copy, repeat-copy, associative-recall, dynamic-ngrams, priority-sort"):
        make_task("sort")
    with pytest.raises(ValueError, match=r"bogus.*seq_width, min_len, max_len"):
        make_task("copy", bogus=1)
    with pytest.raises(ValueError, match="task_params|unknown|valid"):
        task_params("nope")


@pytest.mark.parametrize("name, params, field", [
    ("copy", {"seq_width": 0}, "seq_width"),
    ("copy", {"min_len": 5, "max_len": 4}, "min_len"),
    ("copy", {"max_len": 2.5}, "max_len"),
    ("copy", {"max_len": True}, "max_len"),
    ("repeat-copy", {"min_repeats": 0}, "min_repeats"),
    ("repeat-copy", {"min_repeats": 7, "max_repeats": 3}, "min_repeats"),
    ("associative-recall", {"min_items": 1}, "min_items"),
    ("associative-recall", {"item_len": "3"}, "item_len"),
    ("priority-sort", {"num_outputs": 21}, "num_outputs"),
])
def test_invalid_params_raise(name, params, field):
    with pytest.raises(ValueError, match=field):
        make_task(name, **params)


# ---- what a task knows about itself (asked by evaluation and the pages) -------------------------

@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_describes_itself(name):
    task = make_task(name)
    assert "section 4." in task.title or isinstance(task, NLITask)       # NLI is not one of the paper's
    assert task.default_test_lengths and min(task.default_test_lengths) >= task.min_length
    assert task.train_lengths[1] in task.default_test_lengths


@pytest.mark.parametrize("name, slots, longest", [("copy", 128, 128), ("repeat-copy", 64, 64),
                                                   ("associative-recall", 128, 32), ("priority-sort", 20, 20),
                                                   ("associative-recall", 7, 1)])
def test_longest_episode_that_fits_the_memory(name, slots, longest):
    task = make_task(name)
    assert task.longest_fitting(slots) == longest
    assert all(task.slots_needed(n) <= slots for n in task.test_lengths(slots))
    assert task.slots_needed(longest + 1) > slots


def test_typed_sequence_becomes_a_copy_episode():
    task = make_task("copy", seq_width=3)
    seq = torch.tensor([[1., 0., 1.], [0., 1., 1.]])
    batch = task.with_sequence(seq, torch.Generator().manual_seed(0))
    assert torch.equal(batch.inputs[0, :2, :3], seq) and torch.equal(batch.targets[0, 3:5], seq)
    assert batch.mask[0].tolist() == [False, False, False, True, True]


def test_typed_sequence_becomes_a_repeat_copy_episode_with_the_seeds_count():
    task = make_task("repeat-copy", seq_width=2, max_repeats=4)
    seq = torch.tensor([[1., 0.], [1., 1.], [0., 1.]])
    drawn = task.sample(1, torch.Generator().manual_seed(5), length=3)
    typed = task.with_sequence(seq, torch.Generator().manual_seed(5))
    repeats = (int(drawn.mask[0].sum()) - 1) // 3
    assert typed.mask.shape == drawn.mask.shape and torch.equal(typed.mask, drawn.mask)
    assert torch.equal(typed.targets[0, 5:5 + 3 * repeats, :2], seq.repeat(repeats, 1))
    assert typed.targets[0, 5 + 3 * repeats, 2] == 1.0                       # the end marker


@pytest.mark.parametrize("name", ["associative-recall", "priority-sort"])
def test_tasks_without_a_typed_sequence_say_so(name):
    task = make_task(name)
    assert task.sequence_width is None
    with pytest.raises(ValueError, match="not supported"):
        task.with_sequence(torch.zeros(3, 6), torch.Generator())


def test_typed_sequence_is_checked():
    task = make_task("copy", seq_width=3)
    for bad in (torch.zeros(2, 4), torch.full((2, 3), 0.5), torch.zeros(0, 3)):
        with pytest.raises(ValueError):
            task.with_sequence(bad, torch.Generator())
