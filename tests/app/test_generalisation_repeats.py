"""The Generalisation page's repeats axis (AppTest): the shipped repeat-copy preset evaluated over a
(length, repeats) grid, drawn as the paper's repeat-copy picture, equal to ``generalisation_grid``."""

import json
import math

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from ntm import evaluation
from ntm.io import ROOT
from ntm.model import build_model
from ntm.presets import load_preset, save_preset
from ntm.tasks import make_task

pytestmark = pytest.mark.timeout(300)
SHIPPED = ROOT / "presets" / "repeat-copy"


@pytest.fixture(autouse=True)
def presets(tmp_path, monkeypatch):
    """Built-in presets: the shipped, trained "repeat-copy" NTM, and a small untrained copy NTM."""
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "repeat-copy").symlink_to(SHIPPED, target_is_directory=True)
    task = make_task("copy")
    model = build_model("ntm", {"input_size": task.input_size, "output_size": task.output_size,
                                "controller_size": 16, "memory_slots": 32, "memory_width": 8})
    save_preset(builtin / "copy", model, task, {"generalisation": []}, "test")
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(builtin))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # 2 shared cores: small batches gain nothing from more
    st.cache_data.clear()
    st.cache_resource.clear()
    yield builtin
    torch.set_num_threads(threads)


def repeat_copy_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/generalisation.py").run()
    at.selectbox(key="gen_task").set_value("repeat-copy").run()
    assert not at.exception, at.exception
    return at


def chart(at, key):
    (found,) = [c for c in at.get("plotly_chart") if key in c.proto.id]
    return json.loads(found.proto.spec)


def test_repeat_copy_offers_the_repeats_axis_and_draws_the_grid_generalisation_grid_computes(monkeypatch, plotly_array):
    array = plotly_array
    calls, real = [], evaluation.evaluate

    def counting(model, task, length, sequences=100, seed=0, **kw):
        calls.append((length, kw.get("repeats"), sequences, seed))
        return real(model, task, length, sequences, seed, **kw)

    monkeypatch.setattr(evaluation, "evaluate", counting)
    at = repeat_copy_page()
    assert at.text_input(key="gen_repeats_repeat-copy").value == "1, 5, 10, 15, 20"    # trained on 1-10
    at.text_input(key="gen_lengths_repeat-copy").set_value("12, 2")
    at.text_input(key="gen_repeats_repeat-copy").set_value("12 3")
    at.number_input(key="gen_sequences").set_value(3)
    at.number_input(key="gen_seed").set_value(5)
    at.button(key="gen_evaluate").click().run()
    assert not at.exception, at.exception
    assert sorted(calls) == [(2, 3, 3, 5), (2, 12, 3, 5), (12, 3, 3, 5), (12, 12, 3, 5)]   # one per cell
    # The sequences are counted per (length, repeats) cell, and the labels say so.
    assert at.number_input(key="gen_sequences").label == "Sequences per cell"
    refine = at.button(key="gen_refine_button")
    assert refine.label == "Refine: 100 sequences per cell" and "3 sequences per cell" in refine.help

    preset = load_preset(SHIPPED)
    monkeypatch.setattr(evaluation, "evaluate", real)
    expected = evaluation.generalisation_grid(preset.model, preset.task, [2, 12], [3, 12], sequences=3, seed=5)
    by_cell = {(r["length"], r["repeats"]): r for r in expected}
    fig = chart(at, "gen_curves")
    (heatmap,) = fig["data"]
    assert heatmap["type"] == "heatmap" and heatmap["name"] == "NTM · repeat-copy"
    assert fig["layout"]["xaxis"]["ticktext"] == ["2", "12"] and fig["layout"]["yaxis"]["ticktext"] == ["3", "12"]
    custom = np.asarray(heatmap["customdata"], dtype=float)                   # [repeats, lengths, 5]
    z = array(heatmap["z"])
    for i, r in enumerate([3, 12]):
        for j, n in enumerate([2, 12]):
            row = by_cell[n, r]
            assert custom[i, j, :2].tolist() == [n, r]
            assert custom[i, j, 2:] == pytest.approx([row["cost_bits"], row["bit_errors"], row["perfect"]])
            assert z[i, j] == pytest.approx(math.log10(1 + row["cost_bits"]))       # coloured by cost (bits)
    # The training range (lengths 1-10, 1-10 repeats) outlined: the cell (2, 3) only.
    (box,) = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert (box["x0"], box["x1"], box["y0"], box["y1"]) == (-0.5, 0.5, -0.5, 0.5)
    assert "trained on sequence length 1–10, 1–10 repeats" in fig["layout"]["title"]["text"]

    table = at.dataframe[0].value
    assert list(zip(table["length"], table["repeats"])) == [(2, 3), (2, 12), (12, 3), (12, 12)]
    assert table["cost (bits)"].tolist() == pytest.approx([round(r["cost_bits"], 3) for r in expected], abs=1e-3)

    at.radio(key="gen_measure").set_value("perfect").run()             # cached: recoloured, not re-evaluated
    assert not at.exception, at.exception
    z = array(chart(at, "gen_curves")["data"][0]["z"])
    assert z.ravel().tolist() == pytest.approx([100 * by_cell[n, r]["perfect"] for r in (3, 12) for n in (2, 12)])
    assert len(calls) == 4


def test_a_grid_over_the_work_cap_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(evaluation, "MAX_WORK", 100)
    at = repeat_copy_page()
    at.text_input(key="gen_lengths_repeat-copy").set_value("2, 3")
    at.text_input(key="gen_repeats_repeat-copy").set_value("4, 6")
    at.number_input(key="gen_sequences").set_value(2)        # 2 x (2 + 3) x (4 + 6) = 100: within the cap
    at.run()
    assert "gen_evaluate" in [b.key for b in at.button] and not at.warning
    at.number_input(key="gen_sequences").set_value(3).run()  # 150 > 100
    assert not at.exception, at.exception
    assert "gen_evaluate" not in [b.key for b in at.button] and "gen_background" not in [b.key for b in at.button]
    (warning,) = at.warning
    assert "too large to evaluate here" in warning.value and "150 sequence-steps" in warning.value
    assert "fewer sequences, lengths or numbers of repeats" in warning.value


@pytest.mark.parametrize("text, message", [("3, three", "whole numbers"), ("0, 3", "between 1 and 100")])
def test_bad_numbers_of_repeats_are_a_clear_message(text, message):
    at = repeat_copy_page()
    at.text_input(key="gen_repeats_repeat-copy").set_value(text).run()
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("plotly_chart")


def test_empty_repeats_give_the_curves_by_length_and_copy_has_no_repeats_axis(plotly_array):
    array = plotly_array
    at = repeat_copy_page()
    at.text_input(key="gen_lengths_repeat-copy").set_value("2, 4")
    at.text_input(key="gen_repeats_repeat-copy").set_value("")
    at.number_input(key="gen_sequences").set_value(2)
    at.button(key="gen_evaluate").click().run()
    assert not at.exception, at.exception
    (curve,) = [t for t in chart(at, "gen_curves")["data"] if t["type"] == "scatter"]
    assert array(curve["x"]).tolist() == [2, 4]
    assert at.dataframe[0].value["length"].tolist() == [2, 4]
    assert at.number_input(key="gen_sequences").label == "Sequences per length"
    refine = at.button(key="gen_refine_button")
    assert refine.label == "Refine: 100 sequences per length" and "2 sequences per length" in refine.help
    at.selectbox(key="gen_task").set_value("copy").run()
    assert not at.exception, at.exception
    assert at.number_input(key="gen_sequences").label == "Sequences per length"
    assert "gen_repeats_copy" not in [t.key for t in at.text_input]
    assert "gen_measure" not in [r.key for r in at.radio]
