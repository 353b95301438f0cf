"""Step through a DNC and a sparse DNC (AppTest, and the view data behind it in ``ntm.step_view``): the same
cursor, URL and teacher mode as for an NTM, with the DNC's own panels and its stage table's equations.

Presets are tiny untrained models made here: NTM_EXPLORER_PRESETS points the page at a temporary
presets folder instead of presets/, and NTM_EXPLORER_DATA at a temporary data folder.
"""

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ntm import step_view as sv
from ntm.io import ROOT
from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig, build_model
from ntm.presets import catalogue, load_preset, save_preset
from ntm.tasks import make_task
from ntm.trace import DNCReadHead, DNCWriteHead

pytestmark = pytest.mark.timeout(300)
DNC_PANELS = ("fig_dnc_allocation", "fig_dnc_link", "fig_dnc_read_modes", "fig_dnc_free_gates")


def _dnc(model_type: str, task, seed: int, read_heads: int):
    torch.manual_seed(seed)
    return build_model(model_type, dict(input_size=task.input_size, output_size=task.output_size, hidden_size=16,
                                        nr_cells=10, cell_size=6, read_heads=read_heads))


@pytest.fixture(scope="module")
def preset_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    copy = make_task("copy", seq_width=4, max_len=6)
    torch.manual_seed(0)
    save_preset(root / "copy", NTM(NTMConfig(copy.input_size, copy.output_size, controller_size=16, memory_slots=12,
                                             memory_width=6, heads="rw")), copy, {}, "test preset")
    save_preset(root / "dnc-copy", _dnc("dnc", copy, 0, 2), copy, {}, "test preset")
    save_preset(root / "sdnc-copy", _dnc("sdnc", copy, 1, 1), copy, {}, "test preset")
    save_preset(root / "lstm", LSTMBaseline(LSTMConfig(copy.input_size, copy.output_size, hidden_size=8, layers=1)),
                copy, {}, "test preset")
    return root


@pytest.fixture(autouse=True)
def env(preset_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(preset_root))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


def open_page(**params) -> AppTest:
    """The page as a browser opening ``/step-through?<params>`` shows it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    at.switch_page("pages/step_through.py")
    at.run()
    assert not at.exception, at.exception
    return at


def timestep(at) -> int:
    heading = [m.value for m in at.markdown if m.value.startswith("### t = ")]
    assert len(heading) == 1
    (slider,) = [s for s in at.slider if s.label == "Timestep t"]
    assert slider.value == int(heading[0].split()[3])
    return slider.value


def charts(at) -> dict[str, dict]:
    """{key the page gave the chart: its figure}"""
    out = {}
    for c in at.get("plotly_chart"):
        key = next((k for k in (*DNC_PANELS, *(f"fig_addr_{i}" for i in range(4)), "fig_seq", "fig_mem", "fig_vec")
                    if c.proto.id.endswith(k)), c.proto.id)
        out[key] = json.loads(c.proto.spec)
    return out


def title(fig: dict) -> str:
    return fig["layout"]["title"]["text"]


def cursor_x(fig: dict) -> list[float]:
    return [(s["x0"] + s["x1"]) / 2 for s in fig["layout"].get("shapes", []) if s.get("name") == "cursor"]


# ---- the view data ----------------------------------------------------------------------------------

def test_dnc_presets_are_steppable_and_lstm_ones_are_not(preset_root):
    entries = {e.id: e for e in catalogue()}
    assert [i for i, e in entries.items() if sv.steppable(e)] == ["copy", "dnc-copy", "sdnc-copy"]
    assert sv.unlisted_note(list(entries.values())).startswith("Not listed: lstm (LSTM")
    assert sv.why_not("dnc-copy") == "" and "LSTM model" in sv.why_not("lstm")
    view, warnings = sv.read_link({"preset": "sdnc-copy", "t": "3"}, ["copy", "dnc-copy", "sdnc-copy"], "copy")
    assert view.preset == "sdnc-copy" and not warnings


def test_record_view_records_a_dnc_and_names_its_panels(preset_root):
    view = sv.View("dnc-copy", 3, 4)
    trace = sv.record_view(load_preset(preset_root / "dnc-copy"), view)
    assert trace.model_type == "dnc" and trace.steps == 9 and trace.meta["preset"] == "dnc-copy"
    assert isinstance(trace.heads[0], DNCWriteHead) and all(isinstance(h, DNCReadHead) for h in trace.heads[1:])
    assert sv.model_name(trace) == "DNC" and sv.dnc_panels(trace) == list(sv.DNC_PANELS)
    assert [s.key for s in sv.panel_stages(trace, "allocation")] == ["usage", "allocation", "write_weights"]
    assert [s.key for s in sv.panel_stages(trace, "read_modes")] == ["read_weights"]
    assert all(s.equation and s.code and s.note for p in sv.DNC_PANELS for s in sv.panel_stages(trace, p))
    sparse = sv.record_view(load_preset(preset_root / "sdnc-copy"), view)
    assert sv.model_name(sparse) == "sparse DNC"
    assert sv.dnc_panels(sparse) == ["allocation", "link", "read_modes"]          # no usage, so no free gates
    assert [s.key for s in sv.panel_stages(sparse, "allocation")] == ["allocation", "write_weights"]
    ntm = sv.record_view(load_preset(preset_root / "copy"), sv.View("copy", 3, 4))
    assert sv.dnc_panels(ntm) == [] and sv.model_name(ntm) == "NTM"


# ---- the page ---------------------------------------------------------------------------------------

def test_choosing_a_dnc_and_moving_t_moves_every_dnc_panel():
    at = open_page()
    assert at.selectbox(key="st_preset").value == "copy"
    at.selectbox(key="st_preset").set_value("dnc-copy").run()
    assert not at.exception and not at.error and timestep(at) == 0
    before = charts(at)
    assert set(DNC_PANELS) <= set(before) and {"fig_addr_0", "fig_addr_1", "fig_addr_2"} <= set(before)
    assert title(before["fig_dnc_link"]).startswith("Temporal links L at t = 0")
    for _ in range(3):
        at.button(key="st_next").click().run()
    assert not at.exception and timestep(at) == 3 and at.query_params["t"] == "3"
    assert at.query_params["preset"] == "dnc-copy"
    after = charts(at)
    assert title(after["fig_dnc_link"]).startswith("Temporal links L at t = 3")
    assert title(after["fig_dnc_allocation"]).startswith("Step 3 ")
    assert cursor_x(after["fig_dnc_allocation"]) == [3] and cursor_x(after["fig_dnc_read_modes"]) == [3, 3]
    for key in (*DNC_PANELS, "fig_addr_0", "fig_addr_1", "fig_vec"):
        assert before[key]["data"] != after[key]["data"], f"{key} did not change with t"
    # equations beside the pictures: every row of the write head's table, the link update, code lines
    latex = [e.value for e in at.latex]
    assert any("L_t[i, j]" in x for x in latex) and any(r"\psi_t" in x for x in latex)
    assert any("allocation(u)" in c.value for c in at.code)
    next(s for s in at.slider if s.label == "Timestep t").set_value(8).run()
    assert not at.exception and timestep(at) == 8
    assert title(charts(at)["fig_dnc_link"]).startswith("Temporal links L at t = 8")


def test_a_sparse_dnc_shows_its_own_panels_without_free_gates():
    at = open_page(preset="sdnc-copy", seed=2, length=3, t=4)
    assert not at.exception and not at.error and not at.warning and timestep(at) == 4
    shown = charts(at)
    assert {"fig_dnc_allocation", "fig_dnc_link", "fig_dnc_read_modes"} <= set(shown)
    assert "fig_dnc_free_gates" not in shown
    assert "least recently used" in title(shown["fig_dnc_allocation"])
    assert any("least recently used slot" in c.value for c in at.caption)
    at.button(key="st_prev").click().run()
    assert not at.exception and timestep(at) == 3
    assert title(charts(at)["fig_dnc_link"]).startswith("Temporal links L at t = 3")


def test_a_shared_dnc_link_restores_the_view_and_teacher_mode_enlarges_it():
    at = open_page(preset="dnc-copy", seed=5, length=3, t=2, teacher=1)
    assert at.selectbox(key="st_preset").value == "dnc-copy" and timestep(at) == 2
    assert not at.code and not at.exception                          # teacher mode: no code
    normal = open_page(preset="dnc-copy", seed=5, length=3, t=2)
    big, small = charts(at)["fig_dnc_link"], charts(normal)["fig_dnc_link"]
    assert big["layout"]["height"] > small["layout"]["height"] and normal.code
    assert big["data"][0]["z"] == small["data"][0]["z"]


def test_lstm_presets_are_still_not_offered():
    at = open_page()
    options = [o.split(" — ")[0] for o in at.selectbox(key="st_preset").options]
    assert options == ["copy", "dnc-copy", "sdnc-copy"]
    assert any("lstm" in c.value and "LSTM" in c.value for c in at.caption)
