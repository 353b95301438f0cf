"""The Memory lab (AppTest): every stage of the DNC's memory management recomputed from the controls
by ntm.dnc.lab (through ntm.dnc.addressing), shown with its equation and library source; scenarios
change the figures, the view lives in the URL, and bad values from a link or a text box give a
clear message instead of an exception."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ntm.dnc import addressing, lab
from ntm.io import ROOT

pytestmark = pytest.mark.timeout(180)
PAGE = "pages/memory_lab.py"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


def open_lab(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(params)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def at() -> AppTest:
    return open_lab()


def chart(at, key: str) -> dict:
    (found,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "mlab_" + key]
    return found


def bars(at, key: str, trace: int = 0) -> np.ndarray:
    return np.asarray(chart(at, key)["data"][trace]["y"], dtype=float)


def test_every_stage_is_the_library_result_with_its_equation_and_source(at):
    out = lab.run(lab.SCENARIOS[lab.DEFAULT_SCENARIO].settings)
    assert len(at.get("plotly_chart")) == 14
    np.testing.assert_allclose(bars(at, "fig_write_content_0"), out.write_content, atol=1e-6)
    np.testing.assert_allclose(bars(at, "fig_usage_0"), out.usage, atol=1e-6)
    np.testing.assert_allclose(bars(at, "fig_allocation_0"), out.allocation, atol=1e-6)
    assert bars(at, "fig_allocation_0").tolist() == [1, 0, 0, 0, 0, 0]
    rows = list(addressing.STAGES)
    rows.insert(6, lab.LINK)
    assert [x.value.strip("$\n") for x in at.latex] == [stage.equation for stage in rows]
    assert [x.value.split("\n")[0] for x in at.code] == [stage.code for stage in rows]
    sources = "\n".join(c.value for c in at.code)
    assert "ntm/dnc/addressing.py:" in sources and "torch.sort(u, dim=-1, stable=True)" in sources
    headings = [x.value for x in at.markdown if x.value.startswith("#### ")]
    assert headings[0] == "#### 1. Write content weighting (βʷ = 10, key = M[0])"
    assert headings[4] == "#### 5. Write weighting (gᵃ = 1, gʷ = 1)" and len(headings) == 11
    assert at.query_params["scenario"] == "empty" and not at.warning


def test_a_scenario_changes_the_figures_and_the_url(at):
    at.selectbox(key="mlab_scenario").set_value("free").run()
    assert not at.exception and at.query_params["scenario"] == "free"
    assert bars(at, "fig_retention_0")[2] == 0.0
    assert int(np.argmax(bars(at, "fig_allocation_0"))) == 2
    assert "Free gate releases what was read" in at.info[0].value
    at.selectbox(key="mlab_scenario").set_value("forward").run()
    modes = chart(at, "fig_read_weights_1")
    total = np.sum([d["y"] for d in modes["data"]], axis=0)
    assert int(np.argmax(total)) == 4 and total[4] == pytest.approx(1.0)
    link = chart(at, "fig_link_0")
    assert "3 → 0 → 4 → 1" in link["layout"]["title"]["text"]


def test_editing_an_input_writes_every_value_to_the_url_and_the_link_reproduces_it(at):
    at.selectbox(key="mlab_scenario").set_value("ties").run()
    at.slider(key="mlab_ga").set_value(0.5).run()
    params = dict(at.query_params)
    assert "scenario" not in params and params["ga"] == "0.5" and params["usage"] == "1,0.5,1,0.5,1,0.5"
    assert "changed its inputs" in at.info[0].value
    again = open_lab(**params)
    assert not again.warning and again.slider(key="mlab_ga").value == 0.5
    np.testing.assert_allclose(bars(again, "fig_write_weights_0"), bars(at, "fig_write_weights_0"))


def test_a_link_to_a_scenario_opens_it():
    at = open_lab(scenario="both-ways")
    assert at.selectbox(key="mlab_scenario").value == "both-ways" and at.number_input(key="mlab_heads").value == 2
    assert chart(at, "fig_read_weights_0")["data"][0]["x"] == [1.0, 0.0]   # backward: head 1 only


@pytest.mark.parametrize("params,fragment", [
    ({"scenario": "<script>"}, "is not one of the lab"),
    ({"usage": "0,0,x,0,0,0"}, "'x' is not a number"),
    ({"slots": "99"}, "'99' is outside 3…10"),
    ({"order": "1 2 banana"}, "'banana' is not a slot"),
    ({"modes": "1,2"}, "three weights per head"),
])
def test_bad_link_values_warn_and_the_lab_still_works(params, fragment):
    at = open_lab(**params)
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert len(warnings) == 1 and fragment.replace("<", "") in warnings[0].replace("<", ""), warnings
    assert not at.error and len(at.get("plotly_chart")) == 14
    assert str(ROOT) not in warnings[0] and "Traceback" not in warnings[0]
    assert "usage" not in at.query_params or at.query_params["usage"] != params.get("usage")


def test_stepping_on_fills_the_empty_memory_in_order(at):
    for _ in range(3):
        at.button(key="mlab_step").click().run()
    assert not at.exception and at.text_input(key="mlab_order").value == "0 1 2"
    assert at.query_params["order"] == "0 1 2" and "joins the write order" in at.info[0].value
    assert int(np.argmax(bars(at, "fig_allocation_0"))) == 3
    at.button(key="mlab_reset").click().run()
    assert at.query_params["scenario"] == "empty" and at.text_input(key="mlab_order").value == ""


def test_a_bad_write_order_typed_in_is_reported_without_an_exception(at):
    at.text_input(key="mlab_order").input("0 1 seven").run()
    assert not at.exception
    assert "'seven' is not a slot" in at.error[0].value.replace("\\", "")


def test_all_zero_read_modes_warn_and_mean_content(at):
    at.number_input(key="mlab_pi_0_1").set_value(0.0).run()
    assert "modes are all zero" in at.warning[0].value
    assert chart(at, "fig_read_weights_0")["data"][1]["x"] == [1.0]       # content share of head 1


def test_resizing_keeps_every_control_valid(at):
    at.selectbox(key="mlab_scenario").set_value("both-ways").run()
    at.selectbox(key="mlab_wkey").set_value(5).run()
    at.number_input(key="mlab_n").set_value(3).run()
    assert not at.exception and at.error[0].value      # the write order 3 0 4 1 names slots a 3-slot memory lacks
    at.text_input(key="mlab_order").input("0 1").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="mlab_wkey").value == 2 and len(bars(at, "fig_usage_0")) == 3
    at.number_input(key="mlab_heads").set_value(3).run()
    assert not at.exception and len([d for d in chart(at, "fig_forward_0")["data"] if d["type"] == "bar"]) == 3


def test_teacher_mode_enlarges_the_figures_and_folds_the_controls(at):
    normal = chart(at, "fig_allocation_0")["layout"]["height"]
    at.session_state["teacher"] = True
    at.run()
    assert not at.exception and chart(at, "fig_allocation_0")["layout"]["height"] > normal
    assert not at.expander[0].proto.expanded
