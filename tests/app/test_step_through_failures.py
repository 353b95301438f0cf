"""The Step-through page offers a preset's failing examples (AppTest): one click opens a sequence its own
evaluation got wrong (its seed and length), captioned with how rare such failures are; a preset whose
evaluation found none says so, in how many sequences.

Presets are tiny untrained NTMs made here (NTM_EXPLORER_PRESETS points the page at them): an untrained
model fails on nearly everything, so its evaluation lists failures whose bit errors the page must show.
"""

import json

import pytest
import torch

from ntm import evaluation
from ntm.model import NTM, NTMConfig
from ntm.presets import save_preset
from ntm.step_view import episode, failing_examples
from ntm.tasks import bit_errors, make_task
from tests.step_through_apptest import open_page

pytestmark = pytest.mark.timeout(180)
TASK = make_task("copy", seq_width=4, max_len=6)


def _ntm():
    torch.manual_seed(0)
    return NTM(NTMConfig(TASK.input_size, TASK.output_size, controller_size=16, memory_slots=12, memory_width=6))


def _errors(model, seed, length):
    batch = episode(TASK, seed, length, None)
    with torch.no_grad():
        return int(bit_errors(model(batch.inputs)[0], batch)[0])


@pytest.fixture(scope="module")
def preset_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    model = _ntm().eval()
    # Evaluated as `python -m ntm evaluate --update-preset` does: every sequence fails, the first are listed.
    save_preset(root / "fails", model, TASK, evaluation.measure(model, TASK, [3, 5], sequences=4, seed=20),
                "test preset")
    # One failure in 1,000 at length 5 (written by hand: the sequence seeded 77 does fail).
    rare = {"generalisation": [{"length": 5, "sequences": 1000, "bit_errors": 0.01, "bit_errors_max": 9,
                                "perfect": 0.999, "failed": 1,
                                "failures": [{"seed": 77, "length": 5, "bit_errors": _errors(model, 77, 5)}]}]}
    save_preset(root / "rare", model, TASK, rare, "test preset")
    clean = {"training_distribution": {"sequences": 1000, "bit_errors": 0.0, "bit_errors_max": 0.0, "perfect": 1.0,
                                       "failed": 0, "failures": []},
             "generalisation": [{"length": 5, "sequences": 1000, "bit_errors": 0.0, "bit_errors_max": 0.0,
                                 "perfect": 1.0, "failed": 0, "failures": []}]}
    save_preset(root / "clean", model, TASK, clean, "test preset")
    return root


@pytest.fixture(autouse=True)
def env(preset_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(preset_root))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_one_click_opens_a_failing_example_and_the_next_click_the_next(preset_root):
    metrics = json.loads((preset_root / "fails" / "metrics.json").read_text())
    examples = failing_examples(metrics)
    listed = [f for row in [metrics["training_distribution"], *metrics["generalisation"]] for f in row["failures"]]
    assert len(examples) == len({(f["seed"], f["length"]) for f in listed}) > 2
    at = open_page(preset="fails", seed=0, length=6)
    assert f"lists {len(examples)} failing sequences" in captions(at)
    first = examples[0]                                  # the training distribution's first failure
    assert (first.seed, first.where) == (evaluation.DISTRIBUTION_SEED, "on its training distribution")
    at.button(key="st_failure").click().run()
    assert not at.exception
    assert at.number_input(key="st_seed").value == first.seed
    assert at.number_input(key="st_length").value == first.length
    assert at.query_params["seed"] == str(first.seed) and at.query_params["length"] == str(first.length)
    assert at.query_params["t"] == "0"
    text = captions(at)
    assert (f"Seed {first.seed}, length {first.length} is one of this preset's failures: {first.failed} of 4 "
            "sequences on its training distribution failed") in text
    assert f"{first.bit_errors} bit errors in total" in text          # the trace shown is the failing one
    assert first.bit_errors == _errors(_ntm().eval(), first.seed, first.length)
    at.button(key="st_failure").click().run()
    second = examples[1]
    assert (at.number_input(key="st_seed").value, at.number_input(key="st_length").value) == (second.seed,
                                                                                            second.length)
    assert f"{second.bit_errors} bit errors in total" in captions(at)


def test_a_rare_failure_says_how_rare():
    at = open_page(preset="rare")
    at.button(key="st_failure").click().run()
    assert not at.exception
    text = captions(at)
    assert "Seed 77, length 5 is one of this preset's rare failures: 1 of 1,000 sequences at length 5" in text
    wrong = _errors(_ntm().eval(), 77, 5)
    assert wrong > 0 and f"This one has {wrong} wrong bits" in text and f"{wrong} bit errors in total" in text


def test_typing_a_failing_seed_by_hand_shows_the_same_caption():
    at = open_page(preset="rare", seed=77, length=5)
    assert "one of this preset's rare failures" in captions(at)
    at.number_input(key="st_seed").set_value(78).run()
    assert "rare failures" not in captions(at)


def test_a_preset_without_failures_says_none_was_found_in_a_thousand():
    at = open_page(preset="clean")
    assert not at.exception
    assert "st_failure" not in [b.key for b in at.button]
    assert "No failure was found in 1,000 sequences" in captions(at)
