"""ntm.curriculum and its use in training: lengths start short and grow as the model learns, the
draw stays inside the cap, and a resumed run continues the curriculum where it stopped."""

import pytest
import torch

from ntm.curriculum import ALPHA, Curriculum, CurriculumSettings
from ntm.io import read_jsonl
from ntm.presets import load_checkpoint
from ntm.training import Trainer, resolve_params

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

TINY = ["controller_size=16", "memory_slots=8", "memory_width=8", "seq_width=4", "max_len=6"]


def spec(extra=(), **settings):
    settings = {"batch_size": 4, "num_batches": 12, "report_interval": 1, "checkpoint_interval": 0, "threads": 1,
                **settings}
    return resolve_params("copy", "ntm", [*TINY, *extra], settings_overrides=settings)


def test_the_draw_stays_within_the_cap_and_covers_it():
    c = Curriculum.start_for((1, 20), CurriculumSettings(start=3))
    g = torch.Generator().manual_seed(0)
    drawn = {c.draw(g) for _ in range(300)}
    assert drawn == {1, 2, 3}


def test_the_start_is_clipped_to_the_task_range():
    assert Curriculum.start_for((5, 20), CurriculumSettings(start=2)).cap == 5
    assert Curriculum.start_for((1, 4), CurriculumSettings(start=9)).cap == 4


def test_the_cap_grows_only_after_patience_and_below_the_threshold():
    c = Curriculum.start_for((1, 5), CurriculumSettings(start=2, step=2, threshold=0.5, patience=3))
    assert [c.update(0.0) for _ in range(3)] == [False, False, True] and c.cap == 4
    # A bad batch lifts the moving average above the threshold: no growth until it comes down.
    assert c.update(10.0) is False and c.average == 10.0
    grew, steps = False, 0
    while not grew:
        grew, steps = c.update(0.0), steps + 1
    assert 10.0 * (1 - ALPHA) ** steps <= 0.5 < 10.0 * (1 - ALPHA) ** (steps - 1)   # exactly when it fell
    assert c.cap == 5                                                            # and never past high
    assert [c.update(0.0) for _ in range(10)] == [False] * 10 and c.cap == 5


def test_state_round_trip_and_damaged_state():
    settings = CurriculumSettings(start=2, patience=2)
    c = Curriculum.start_for((1, 9), settings)
    c.update(0.0), c.update(0.0), c.update(0.1)
    again = Curriculum.from_state((1, 9), settings, c.state())
    assert (again.cap, again.average, again.since) == (c.cap, c.average, c.since) == (3, 0.1, 1)
    assert Curriculum.from_state((1, 9), settings, {"cap": "x"}).cap == 2
    assert Curriculum.from_state((1, 9), settings, {"cap": 50}).cap == 9


@pytest.mark.parametrize("bad, message", [("curriculum_start=0", "curriculum_start must be a positive integer"),
                                          ("curriculum_threshold=-1", "curriculum_threshold must be a number >= 0"),
                                          ("curriculum_patience=0", "curriculum_patience must be a positive")])
def test_bad_settings_are_refused_with_their_name(bad, message):
    with pytest.raises(ValueError, match=message):
        spec([bad, "curriculum=true"])


def test_a_run_draws_short_lengths_first_and_grows(tmp_path):
    # threshold 100 bits: every batch counts as mastered, so the cap grows every 2 batches from 1.
    run = spec(["curriculum=true", "curriculum_start=1", "curriculum_patience=2", "curriculum_threshold=100"])
    Trainer(run, tmp_path / "run", progress=False).run()
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    caps = [r["curriculum_cap"] for r in records]
    assert caps == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6]
    for r, cap_before in zip(records, [1] + caps[:-1]):
        assert all(int(n) <= cap_before for n in r["cost_by_length"])     # drawn within the cap it had


def test_without_curriculum_nothing_changes(tmp_path):
    Trainer(spec(), tmp_path / "a", progress=False).run()
    records = read_jsonl(tmp_path / "a" / "metrics.jsonl")
    assert all("curriculum_cap" not in r for r in records)


def test_resume_continues_the_curriculum(tmp_path):
    extra = ["curriculum=true", "curriculum_start=1", "curriculum_patience=2", "curriculum_threshold=100"]
    whole = tmp_path / "whole"
    Trainer(spec(extra), whole, progress=False).run()
    part = tmp_path / "part"
    Trainer(spec(extra, num_batches=5, checkpoint_interval=5), part, progress=False).run()
    assert load_checkpoint(part).progress["curriculum"]["cap"] == 3
    Trainer(spec(extra, checkpoint_interval=5), part, resume=True, progress=False).run()
    assert [r["curriculum_cap"] for r in read_jsonl(part / "metrics.jsonl")] == \
        [r["curriculum_cap"] for r in read_jsonl(whole / "metrics.jsonl")]
