"""ntm.step_view: links checked value by value, the bits codec, and the episode a view stands for."""

import pytest
import torch

from ntm import step_view as sv
from ntm.model import NTM, NTMConfig
from ntm.presets import load_preset, save_preset
from ntm.tasks import make_task


def test_a_good_link_is_read_whole():
    view, warnings = sv.read_link({"preset": "copy", "seed": "7", "length": "3"}, ["copy", "repeat"], "copy")
    assert view == sv.View("copy", 7, 3) and warnings == []
    assert view.url() == {"preset": "copy", "seed": "7", "length": "3"}


@pytest.mark.parametrize("params, expected", [
    ({"seed": "abc"}, "not a whole number"), ({"seed": "-1"}, "outside"), ({"length": "65"}, "outside"),
    ({"length": "9" * 400}, "not a whole number"), ({"preset": "nope"}, "not an available NTM preset"),
])
def test_every_bad_value_warns_and_falls_back(params, expected):
    view, warnings = sv.read_link(params, ["copy"], "copy")
    assert view == sv.View() and len(warnings) == 1 and expected in warnings[0]


def test_values_are_quoted_back_short_and_on_one_line():
    hostile = "`](http://evil.example/x.png)\n![a](http://evil.example/y.png)" + "x" * 500
    _, warnings = sv.read_link({"preset": hostile}, ["copy"], "copy")
    assert "\n" not in warnings[0] and len(warnings[0]) < 200 and "x" * 50 not in warnings[0]


@pytest.mark.parametrize("text, rows, problem", [
    ("0110.1001", ("0110", "1001"), None), ("0110-1001", ("0110", "1001"), None),
    ("0120", None, "only 0 and 1"), ("011.1001", None, "vectors have 4"), ("0110..1001", None, "empty row"),
    ("", None, "empty row"), (".".join(["0110"] * 65), None, "at most 64"),
])
def test_bits_codec(text, rows, problem):
    got, why = sv.parse_bits(text, 4)
    assert got == rows and (problem is None) == (why is None) and (problem is None or problem in why)
    if rows:
        assert sv.encode_bits(rows) == text.replace("-", ".")


def test_edited_grid_is_checked_cell_by_cell():
    assert sv.bits_from_rows([[1, 0], [0.0, 1.0]], 2) == (("10", "01"), None)
    assert "empty cell in column 'b'" in sv.bits_from_rows([[1, None]], 2, ["a", "b"])[1]
    assert "bits must be 0 or 1" in sv.bits_from_rows([[1, 2]], 2)[1]
    assert "bits must be 0 or 1" in sv.bits_from_rows([[1, "x"]], 2)[1]
    assert "3 columns" in sv.bits_from_rows([[1, 0, 1]], 2)[1]
    assert "between 1 and" in sv.bits_from_rows([], 2)[1]


def test_bits_and_t_from_a_link_are_checked_against_the_task_and_the_run():
    copy, recall = make_task("copy", seq_width=4), make_task("associative-recall")
    assert sv.check_bits("1010.0101", copy) == (("1010", "0101"), None)
    assert "cannot be typed" in sv.check_bits("1010", recall)[1]
    assert sv.check_t("3", 5) == (3, None) and sv.check_t(None, 5) == (0, None)
    t, problem = sv.check_t("9", 5)
    assert t == 0 and "outside this run (0…5)" in problem and "starting at t = 0" in problem


def test_random_bits_are_the_tasks_own_sequence_and_typing_them_gives_the_same_episode():
    task = make_task("copy", seq_width=4)
    bits = sv.random_bits(task, seed=3, length=5)
    drawn = sv.episode(task, 3, 5, None)
    typed = sv.episode(task, 3, 5, bits)
    for a, b in ((drawn.inputs, typed.inputs), (drawn.targets, typed.targets), (drawn.mask, typed.mask)):
        assert torch.equal(a, b)


def test_record_view_runs_the_preset_on_the_view(tmp_path):
    task = make_task("copy", seq_width=4, max_len=6)
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=8, memory_slots=8, memory_width=4))
    preset = load_preset(save_preset(tmp_path / "tiny", model, task, {}, "test"))
    trace = sv.record_view(preset, sv.View("tiny", 1, 3, ("1010", "0110")))
    assert trace.steps == 5 and trace.meta["bits"] == "1010.0110" and trace.meta["preset"] == "tiny"


def test_why_not_explains_a_folder_that_is_not_a_usable_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(tmp_path))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    (tmp_path / "half").mkdir()
    assert "has no config.json" in sv.why_not("half")
    assert sv.why_not("..") == "" and sv.why_not("nothing") == "" and sv.why_not("x" * 300) == ""


def test_play_ticks_once_per_interval_and_stops_at_the_end():
    assert sv.play_tick(3, 9, last_tick=10.0, now=10.2, interval=0.7) == (3, 10.0, True)     # too early
    assert sv.play_tick(3, 9, last_tick=10.0, now=10.6, interval=0.7) == (4, 10.6, True)
    assert sv.play_tick(8, 9, last_tick=0.0, now=5.0, interval=0.7) == (9, 5.0, False)      # reached the end


def test_step_caption_names_the_phase_and_the_errors(tmp_path):
    task = make_task("copy", seq_width=4, max_len=6)
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=8, memory_slots=8, memory_width=4))
    trace = sv.record_view(load_preset(save_preset(tmp_path / "p", model, task, {}, "t")), sv.View("p", 0, 2))
    assert sv.step_caption(trace, 0) == "of 4 · input phase: the output is not scored"
    errors = int(trace.bit_errors_per_step()[3])
    assert sv.step_caption(trace, 3).startswith("of 4 · answer phase: the output is scored · "
                                                f"{errors} wrong bit")
