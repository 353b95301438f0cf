"""Dynamic N-grams (section 4.4): the generator, the episode, and the Bayesian optimal predictor."""

import math

import pytest
import torch

from ntm.tasks import NGramsTask, cost_bits, make_task
from ntm.tasks.ngrams import optimal_cost_bits, optimal_predictions, sequence_bits


def test_episode_shapes_mask_and_targets_are_the_next_bits():
    task = make_task("dynamic-ngrams")
    batch = task.sample(4, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (4, 199, 1) and batch.targets.shape == (4, 199, 1) and batch.mask.shape == (4, 199)
    assert not batch.mask[:, :4].any() and batch.mask[:, 4:].all()       # x_5 is the first bit with a context
    bits = sequence_bits(batch)
    assert bits.shape == (4, 200) and set(bits.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(batch.targets[:, 4:, 0], bits[:, 5:])
    torch.testing.assert_close(batch.inputs[:, :, 0], bits[:, :-1])
    assert task.slots_needed(200) == 32 == task.slots_needed(800)
    assert task.longest_fitting(32) > 10_000 and task.longest_fitting(31) < task.min_length
    again = task.sample(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.inputs, batch.inputs)


def test_the_table_is_beta_half_half_and_the_bits_follow_it():
    task = NGramsTask(n=3, seq_len=20)
    table = task.table(20_000, torch.Generator().manual_seed(1))
    # Beta(1/2, 1/2): mean 1/2, variance 1/8, mass piled at the ends (P(x < 0.1) = 2/pi asin(sqrt .1) ~ 0.205).
    assert table.mean().item() == pytest.approx(0.5, abs=0.01)
    assert table.var().item() == pytest.approx(0.125, abs=0.005)
    assert (table < 0.1).float().mean().item() == pytest.approx(2 / math.pi * math.asin(math.sqrt(0.1)), abs=0.01)
    # A deterministic table: context (a, b) -> next = a XOR b.
    rule = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    bits = task.bits(rule, 30, torch.Generator().manual_seed(2))[0]
    for t in range(2, 30):
        assert bits[t] == (bits[t - 2] != bits[t - 1])


def test_the_optimal_predictor_by_hand_for_bigrams():
    # n = 2: the context is the previous bit. Sequence 0 1 0 1 0 0.
    bits = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]])
    p = optimal_predictions(bits, 2)
    # After x0=0 (ctx 0, nothing seen): 1/2. After x1=1 (ctx 1, nothing seen): 1/2.
    # After x2=0 (ctx 0 seen once, followed by 1): (1 + .5)/(1 + 1) = .75.
    # After x3=1 (ctx 1 seen once, followed by 0): (0 + .5)/2 = .25.
    # After x4=0 (ctx 0 seen twice, both followed by 1): (2 + .5)/3 = 5/6.
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.5, 0.75, 0.25, 5 / 6]], dtype=torch.float64))
    task = NGramsTask(n=2, seq_len=6)
    batch = task.episode(bits)
    # Cost of the actual next bits 1 0 1 0 0 under those predictions, all scored (n - 2 = 0).
    expected = -(math.log2(0.5) + math.log2(0.5) + math.log2(0.75) + math.log2(0.75) + math.log2(1 / 6))
    assert optimal_cost_bits(batch, 2).item() == pytest.approx(expected)


def test_the_optimum_beats_guessing_and_a_model_predicting_it_costs_the_same():
    task = make_task("dynamic-ngrams")
    batch = task.sample(64, torch.Generator().manual_seed(3))
    optimum = optimal_cost_bits(batch, task.n)
    scored = batch.mask.sum(-1).double()
    assert (optimum < scored).float().mean() > 0.95          # guessing 1/2 costs one bit per scored bit
    p = optimal_predictions(sequence_bits(batch), task.n).float()
    logits = torch.log(p) - torch.log1p(-p)
    assert cost_bits(logits.unsqueeze(-1), batch).item() == pytest.approx(optimum.mean().item(), rel=1e-4)


def test_bad_parameters_and_typed_sequences():
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        NGramsTask(n=1)
    with pytest.raises(ValueError, match="seq_len must be an int >= 6"):
        NGramsTask(seq_len=3)
    task = NGramsTask()
    with pytest.raises(ValueError, match="length"):
        task.sample(1, torch.Generator(), length=5)
    batch = task.with_sequence(torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0], [1.0], [1.0]]), torch.Generator())
    assert batch.inputs.shape == (1, 6, 1) and batch.targets[0, 4:, 0].tolist() == [1.0, 1.0]
