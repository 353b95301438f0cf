"""The Generalisation page on dynamic N-grams (AppTest): its table sets each model's cost in bits per sequence
against the Bayesian optimal estimator on the same sequences and chance, instead of bit errors and % perfect;
and the Step-through page opens an N-grams preset."""

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

import ntm.evaluation
from ntm.io import ROOT
from ntm.model import build_model
from ntm.presets import load_preset, save_preset
from ntm.tasks import make_task
from tests.step_through_apptest import open_page

pytestmark = pytest.mark.timeout(240)
SAVED = [{"length": 200, "sequences": 9, "bit_errors": 50.0, "bit_errors_max": 60, "cost_bits": 150.0,
          "optimal_bits": 130.0, "excess_bits": 20.0, "chance_bits": 195.0}]


@pytest.fixture(autouse=True)
def presets(tmp_path, monkeypatch):
    """Built-in presets "ngrams" (NTM) and "lstm-ngrams" (LSTM), small and untrained, beside a copy NTM."""
    builtin = tmp_path / "builtin"
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(builtin))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    for name, task_name, model_type, config in (
            ("ngrams", "dynamic-ngrams", "ntm", dict(controller_size=16, memory_slots=32, memory_width=8)),
            ("lstm-ngrams", "dynamic-ngrams", "lstm", dict(hidden_size=16, layers=1)),
            ("copy", "copy", "ntm", dict(controller_size=16, memory_slots=16, memory_width=8))):
        task = make_task(task_name)
        torch.manual_seed(0)
        model = build_model(model_type, {"input_size": task.input_size, "output_size": task.output_size, **config})
        save_preset(builtin / name, model, task, {"generalisation": SAVED if name == "ngrams" else []}, "test")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield builtin


def test_ngrams_are_compared_by_cost_against_the_optimum_and_chance(presets):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/generalisation.py").run()
    at.selectbox(key="gen_task").set_value("dynamic-ngrams").run()
    assert not at.exception, at.exception
    assert at.text_input(key="gen_lengths_dynamic-ngrams").value == "100, 200, 400"
    assert not at.get("plotly_chart") or all("gen_curves" not in c.proto.id for c in at.get("plotly_chart"))
    at.text_input(key="gen_lengths_dynamic-ngrams").set_value("40, 20")
    at.number_input(key="gen_sequences").set_value(3)
    at.number_input(key="gen_seed").set_value(5)
    at.button(key="gen_evaluate").click().run()
    assert not at.exception, at.exception
    assert all("gen_curves" not in c.proto.id for c in at.get("plotly_chart"))   # no bit-error curves
    (table,) = at.dataframe
    rows = table.value
    assert rows["length"].tolist() == [20, 40]
    assert list(rows.columns) == ["length", "NTM · ngrams: cost (bits)", "NTM · ngrams: above optimum",
                                  "LSTM · lstm-ngrams: cost (bits)", "LSTM · lstm-ngrams: above optimum",
                                  "optimum (bits)", "chance (bits)"]
    for i, length in enumerate((20, 40)):
        for label, name in (("NTM · ngrams", "ngrams"), ("LSTM · lstm-ngrams", "lstm-ngrams")):
            preset = load_preset(presets / name)
            row = ntm.evaluation.evaluate(preset.model, preset.task, length, 3, 5)
            assert rows[f"{label}: cost (bits)"][i] == pytest.approx(row["cost_bits"], abs=0.01)
            assert rows["optimum (bits)"][i] == pytest.approx(row["optimal_bits"], abs=0.01)
        assert rows["chance (bits)"][i] == length - 5
    assert "gen_show_trained" not in [c.key for c in at.checkbox]   # the saved table scored other sequences


def test_the_step_through_page_opens_an_ngrams_preset():
    at = open_page(preset="ngrams", seed=3, length=12)
    assert at.selectbox(key="st_preset").value == "ngrams"
    assert not at.error, [e.value for e in at.error]
