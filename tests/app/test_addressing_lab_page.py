"""The Addressing lab (AppTest): every stage recomputes from the controls through ntm.addressing,
shown with its equation above its numbered picture and its library source; bad hand-edited input gets a clear message; the lab's
state is in the URL, scenarios open by name or link, and an exact tie gets its hint."""

import base64
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ntm import addressing, lab
from ntm.io import ROOT

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


@pytest.fixture
def at() -> AppTest:
    return lab_page()


def lab_page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.query_params.update(params)
    at.switch_page("pages/addressing_lab.py").run()
    assert not at.exception, at.exception
    return at


def chart(at, key: str) -> dict:
    (found,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id]
    return found


def values(spec) -> np.ndarray:
    """A figure's array as Plotly's JSON holds it: a list, or a typed array (base64, with its shape)."""
    if isinstance(spec, dict):
        flat = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
        return flat.reshape([int(d) for d in str(spec["shape"]).split(",")]) if "shape" in spec else flat
    return np.asarray(spec)


def bars(at, function: str) -> np.ndarray:
    return values(chart(at, f"fig_{function}")["data"][0]["y"])


def expected(memory, key, beta, prev, g, s, gamma) -> dict[str, np.ndarray]:
    """Each stage's weighting by ``ntm.addressing.address``, keyed by the function the page names."""
    mem = torch.tensor(memory, dtype=torch.float32)[None]
    k = torch.tensor(key, dtype=torch.float32)[None]
    one = lambda x: torch.tensor([[float(x)]])   # noqa: E731
    out = addressing.address(mem, torch.tensor(prev, dtype=torch.float32)[None], k, one(beta), one(g),
                             torch.tensor(s, dtype=torch.float32)[None], one(gamma))
    return {stage.function: getattr(out, stage.key)[0].numpy() for stage in addressing.STAGES}


def seeded_memory(seed=0, n=8, m=4) -> np.ndarray:
    return torch.randn(n, m, generator=torch.Generator().manual_seed(seed)).numpy().round(2)


def test_every_stage_is_the_library_result_with_its_equation_and_source(at):
    assert len(at.get("plotly_chart")) == 6                   # the memory and key, and the five stages
    memory_fig = chart(at, "fig_memory")
    assert [d["name"] for d in memory_fig["data"]] == ["M", "k"]
    np.testing.assert_allclose(values(memory_fig["data"][0]["z"]), seeded_memory())
    np.testing.assert_allclose(values(memory_fig["data"][1]["z"]), seeded_memory()[2][None, :], atol=1e-3)
    memory = seeded_memory()
    prev = np.eye(8)[0]
    want = expected(memory, memory[2], 5.0, prev, 0.5, [0.0, 0.0, 1.0], 1.0)
    for function, w in want.items():
        np.testing.assert_allclose(bars(at, function), w, atol=1e-6)
    assert int(np.argmax(bars(at, "content_weights"))) == 2       # the key is slot 2's content
    assert len(at.latex) == 5
    sources = "\n".join(c.value for c in at.code)
    assert "ntm/addressing.py:" in sources and "return torch.softmax(beta * cosine_similarity(memory, key)" in sources
    assert "return g * w_content + (1.0 - g) * w_prev" in sources


def test_headings_equations_code_and_slider_labels_come_from_the_stage_table(at):
    rows = (addressing.SIMILARITY,) + addressing.STAGES
    assert [x.value.strip("$\n") for x in at.latex] == [stage.equation for stage in rows]
    assert [x.value.split("\n")[0] for x in at.code] == [stage.code for stage in rows]
    titles = [chart(at, f"fig_{stage.function}")["layout"]["title"]["text"] for stage in rows]
    assert titles == ["1. cosine similarity K", "2. content weighting wᶜ · β = 5", "3. gated weighting wᵍ · g = 0.5",
                      "4. shifted weighting w̃", "5. sharpened weighting w · γ = 1"]
    assert any(c.value == "→ s = (0, 0, 1)" for c in at.caption)      # the normalised shift kernel
    assert [c.value for c in at.caption if c.value.startswith("Eq. ")] == [stage.note for stage in rows]
    for name in ("beta", "g", "gamma"):
        (stage,) = [s for s in addressing.STAGES if s.parameter.name == name]
        assert at.slider(key=f"lab_{name}").label == stage.parameter.title
    assert at.slider(key="lab_gamma").label == "γ, sharpening"


def test_teacher_mode_enlarges_the_stage_figures_and_hides_the_source(at):
    normal = chart(at, "fig_sharpen")["layout"]["height"]
    assert len(at.code) == 5 and len(at.expander) == 6         # memory and key, and each stage's code
    at.session_state["teacher"] = True
    at.run()
    assert not at.exception and chart(at, "fig_sharpen")["layout"]["height"] > normal
    assert len(at.code) == 0 and len(at.latex) == 5           # the equations stay, with each stage's note on hover
    rows = (addressing.SIMILARITY,) + addressing.STAGES
    assert [x.proto.help for x in at.latex] == [f"{stage.title}. {stage.note}" for stage in rows]


def test_sliders_recompute_live(at):
    before = bars(at, "sharpen")
    at.slider(key="lab_gamma").set_value(20.0).run()
    after = bars(at, "sharpen")
    assert after.max() > before.max() and abs(after.sum() - 1) < 1e-5
    at.slider(key="lab_beta").set_value(0.0).run()
    np.testing.assert_allclose(bars(at, "content_weights"), np.full(8, 1 / 8), atol=1e-6)
    at.slider(key="lab_g").set_value(0.0).run()
    np.testing.assert_allclose(bars(at, "interpolate"), np.eye(8)[0], atol=1e-6)


def test_copying_a_slot_into_the_key_focuses_there(at):
    at.selectbox(key="lab_key_slot").set_value(5).run()
    at.button(key="lab_copy_key").click().run()
    memory = seeded_memory()
    assert [at.number_input(key=f"lab_key_{j}").value for j in range(4)] == pytest.approx(memory[5], abs=1e-3)
    assert int(np.argmax(bars(at, "content_weights"))) == 5


def test_an_all_zero_shift_kernel_warns_and_means_no_shift(at):
    at.number_input(key="lab_s_p1").set_value(0.0).run()
    assert "all zeros" in at.warning[0].value
    np.testing.assert_allclose(bars(at, "shift"), bars(at, "interpolate"), atol=1e-6)


def test_a_hand_edited_memory_is_used_and_an_empty_cell_is_reported(at):
    at.toggle(key="lab_edit_memory").set_value(True).run()
    (editor,) = at.data_editor
    at.session_state[editor.key] = {"edited_rows": {3: {"M[:, 0]": 9.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    memory = seeded_memory()
    memory[3, 0] = 9.0
    assert not at.error
    want = expected(memory, seeded_memory()[2], 5.0, np.eye(8)[0], 0.5, [0.0, 0.0, 1.0], 1.0)
    np.testing.assert_allclose(bars(at, "content_weights"), want["content_weights"], atol=1e-6)
    at.session_state[editor.key] = {"edited_rows": {3: {"M[:, 0]": None}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "slot 3, column 0 is empty" in at.error[0].value and not at.exception


def test_resizing_the_memory_keeps_every_control_valid(at):
    at.selectbox(key="lab_key_slot").set_value(7).run()
    at.number_input(key="lab_prev_slot").set_value(7).run()
    at.number_input(key="lab_n").set_value(4).run()
    at.number_input(key="lab_m").set_value(2).run()
    assert not at.exception and len(bars(at, "sharpen")) == 4
    assert at.selectbox(key="lab_key_slot").value == 3


def test_the_url_holds_the_whole_lab_and_reopens_it(at):
    at.slider(key="lab_gamma").set_value(7.5).run()
    at.number_input(key="lab_s_0").set_value(0.5).run()
    params = dict(at.query_params)
    assert params["gamma"] == "7.5" and params["s"] == "0,0.5,1" and params["n"] == "8"
    again = lab_page(**params)
    assert again.slider(key="lab_gamma").value == 7.5 and again.number_input(key="lab_s_0").value == 0.5
    np.testing.assert_allclose(bars(again, "sharpen"), bars(at, "sharpen"), atol=1e-6)
    assert not again.warning


def test_a_bad_link_value_warns_in_plain_text_and_falls_back():
    at = lab_page(beta="lots", prev="uniform", n="6")
    assert any("beta is not a number from 0 to 50" in w.value for w in at.warning)
    assert at.slider(key="lab_beta").value == 5.0 and at.selectbox(key="lab_prev_kind").value == "uniform"
    assert len(bars(at, "sharpen")) == 6
    assert at.query_params["beta"] == "5"                      # the link now says what is shown


def test_a_scenario_opens_by_link_and_by_the_selector():
    at = lab_page(scenario="location-iteration")
    assert at.selectbox(key="lab_scenario").value == "location-iteration"
    assert at.slider(key="lab_g").value == 0.0
    assert int(np.argmax(bars(at, "interpolate"))) == 3 and int(np.argmax(bars(at, "sharpen"))) == 4
    assert dict(at.query_params) == {"scenario": "location-iteration"}
    assert any("one slot on" in c.value for c in at.caption)   # what to look at
    at.selectbox(key="lab_scenario").set_value("content-lookup").run()
    assert int(np.argmax(bars(at, "sharpen"))) == 5 and at.slider(key="lab_beta").value == 20.0
    at.slider(key="lab_beta").set_value(10.0).run()            # changed: one's own settings again
    assert at.selectbox(key="lab_scenario").value == "custom" and at.query_params["beta"] == "10"


def test_an_exact_tie_gets_the_hint_and_a_broken_tie_does_not():
    at = lab_page(scenario="exact-tie")
    (info,) = at.info
    assert "Slots 2, 3, 4 tie exactly" in info.value
    np.testing.assert_allclose(bars(at, "sharpen")[[2, 3, 4]], [1 / 3] * 3, atol=1e-6)
    at.number_input(key="lab_s_p1").set_value(1.5).run()       # unequal weights: γ can pick slot 4
    assert not at.info and bars(at, "sharpen")[4] > 0.99


def test_in_teacher_mode_the_tie_hint_is_what_to_look_at():
    at = lab_page(scenario="exact-tie")
    at.session_state["teacher"] = True
    at.run()
    assert not at.info and not at.code                          # the one screen: no boxes below the pictures
    (hint,) = [c.value for c in at.caption if "tie exactly" in c.value]
    assert hint.startswith(":material/lightbulb: Slots 2, 3, 4 tie exactly")
    assert not any(c.value == lab.SCENARIOS["exact-tie"].what_to_look_at for c in at.caption)
