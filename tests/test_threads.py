"""ntm.threads: the app's torch thread count, from NTM_EXPLORER_THREADS or 1."""

import pytest
import torch

from ntm import threads


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_default_is_one_thread():
    torch.set_num_threads(2)
    assert threads.configure({}) == (1, None)
    assert torch.get_num_threads() == 1


def test_the_environment_sets_it():
    assert threads.configure({"NTM_EXPLORER_THREADS": " 2 "}) == (2, None)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", "999"])
def test_a_bad_value_keeps_the_default_and_says_what_to_set(raw):
    count, problem = threads.configure({"NTM_EXPLORER_THREADS": raw})
    assert count == 1 and torch.get_num_threads() == 1
    assert "NTM_EXPLORER_THREADS must be a whole number of threads from 1 to 256" in problem
