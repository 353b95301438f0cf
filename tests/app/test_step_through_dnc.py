"""Step through a DNC and a sparse DNC (AppTest, and the view data behind it in ``ntm.step_view``): the same
stepper, URL and teacher mode as for an NTM, with the DNC's own panels and its stage table's equations.
The stepper moves t in the browser (tests/browser/test_step_through_dnc_browser.py); here its views are
read as the data the page gives it, at any t through ``ntm.figures.client.figure_at``.

Presets are tiny untrained models made here: NTM_EXPLORER_PRESETS points the page at a temporary
presets folder instead of presets/, and NTM_EXPLORER_DATA at a temporary data folder.
"""

import json

import pytest
import torch

from ntm import step_view as sv
from ntm.figures import client
from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig, build_model
from ntm.presets import catalogue, load_preset, save_preset
from ntm.tasks import make_task
from ntm.trace import DNCReadHead, DNCWriteHead
from tests.step_through_apptest import components, open_page

pytestmark = pytest.mark.timeout(300)
DNC_PANELS = ("dnc:allocation", "dnc:link", "dnc:read_modes", "dnc:free_gates")


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


def timestep(at) -> int:
    """The page's t (the URL's), checked against its session state."""
    t = int(at.query_params["t"])
    assert at.session_state["st_t"] == t
    return t


def views(at) -> dict[str, dict]:
    """Every view the browser draws, by name (sequence, memory, dnc:link, addressing:read 1, ...)."""
    return {cell["name"]: cell["view"] for data in components(at).values() for row in data["rows"]
            for cell in row["cells"] if cell and "view" in cell}


def report_t(at, t: int) -> None:
    """What the browser sends when stepping stops at t: the main stepper's state {"t": t}."""
    (main,) = [e for e in at.get("bidi_component") if e.proto.id.endswith("-st_stepper")]
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = main.proto.id
    state.json_value = json.dumps({"t": t})
    at._run(states)
    assert not at.exception, at.exception


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

def test_choosing_a_dnc_sends_every_dnc_panel_moving_with_t():
    at = open_page()
    assert at.selectbox(key="st_preset").value == "copy"
    at.selectbox(key="st_preset").set_value("dnc-copy").run()
    assert not at.exception and not at.error and timestep(at) == 0
    shown = views(at)
    assert set(DNC_PANELS) <= set(shown)
    assert {"addressing:write 1", "addressing:read 1", "addressing:read 2", "vectors", "memory"} <= set(shown)
    assert title(client.figure_at(shown["dnc:link"], 0)).startswith("Temporal links L at t = 0")
    at3 = {name: client.figure_at(v, 3) for name, v in shown.items()}
    assert title(at3["dnc:link"]).startswith("Temporal links L at t = 3")
    assert title(at3["dnc:allocation"]).startswith("Step 3 ")
    assert cursor_x(at3["dnc:allocation"]) == [3] and cursor_x(at3["dnc:read_modes"]) == [3, 3]
    for name in (*DNC_PANELS, "addressing:write 1", "addressing:read 1", "vectors"):
        assert any(p["path"][:1] == ["data"] for p in shown[name]["patches"]), f"{name}'s data does not move with t"
    # what each read stage uses at t, as text the browser shows
    (modes,) = [c for c in components(at)["st_head_1"]["rows"][0]["cells"] if c and c["name"] == "read 1:read_weights"]
    assert len(modes["values"]) == components(at)["st_stepper"]["ctl"]["last"] + 1 and modes["values"][0].startswith("backward ")
    # equations beside the pictures: every row of the write head's table, the link update, code lines
    latex = [e.value for e in at.latex]
    assert any("L_t[i, j]" in x for x in latex) and any(r"\psi_t" in x for x in latex)
    assert any("allocation(u)" in c.value for c in at.code)
    report_t(at, 8)                                   # the browser stopped stepping at t = 8
    assert timestep(at) == 8 and at.query_params["t"] == "8" and at.query_params["preset"] == "dnc-copy"


def test_a_sparse_dnc_shows_its_own_panels_without_free_gates():
    at = open_page(preset="sdnc-copy", seed=2, length=3, t=4)
    assert not at.exception and not at.error and not at.warning and timestep(at) == 4
    assert components(at)["st_stepper"]["ctl"]["t"] == 4                   # the browser opens there
    shown = views(at)
    assert {"dnc:allocation", "dnc:link", "dnc:read_modes"} <= set(shown)
    assert "dnc:free_gates" not in shown
    assert "least recently used" in title(client.figure_at(shown["dnc:allocation"], 4))
    assert any("least recently used slot" in c.value for c in at.caption)
    report_t(at, 3)
    assert timestep(at) == 3


def test_a_shared_dnc_link_restores_the_view_and_teacher_mode_is_the_lecture_layout():
    at = open_page(preset="dnc-copy", seed=5, length=3, t=2, teacher=1)
    assert at.selectbox(key="st_preset").value == "dnc-copy" and timestep(at) == 2
    assert not at.code and not at.exception                          # teacher mode: no code
    # one head's stages at a time, chosen by a selector; the write head first
    assert at.session_state["st_head"] == "write 1" and "st_head_0" in components(at)
    assert not {"st_head_1", "st_head_2"} & set(components(at))
    at.session_state["st_head"] = "read 2"
    at.run()
    assert "st_head_2" in components(at) and "st_head_0" not in components(at) and timestep(at) == 2
    normal = open_page(preset="dnc-copy", seed=5, length=3, t=2)
    big, small = views(at)["dnc:link"]["figure"], views(normal)["dnc:link"]["figure"]
    assert big["layout"]["height"] > small["layout"]["height"] and normal.code
    assert big["data"][0]["z"] == small["data"][0]["z"]
    assert components(at)["st_main"]["rows"][0]["height"] > 0                # sized to fit one screen


def test_lstm_presets_are_still_not_offered():
    at = open_page()
    options = [o.split(" — ")[0] for o in at.selectbox(key="st_preset").options]
    assert options == ["copy", "dnc-copy", "sdnc-copy"]
    assert any("lstm" in c.value and "LSTM" in c.value for c in at.caption)
