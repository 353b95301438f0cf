"""The Step-through page (AppTest): choose a preset and an input, step through time, share the view
by URL, and get a clear message (never a crash) for broken presets and bad links.

Presets are tiny untrained models made here: NTM_EXPLORER_PRESETS points the page at a temporary
presets folder instead of presets/, and NTM_EXPLORER_DATA at a temporary data folder.
"""

import json
import re
import time

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT
from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig
from ntm.presets import save_preset
from ntm.tasks import make_task

pytestmark = pytest.mark.timeout(180)


def _ntm(task, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(controller_size=16, memory_slots=12, memory_width=6, heads="rw")
    cfg.update(kw)
    return NTM(NTMConfig(task.input_size, task.output_size, **cfg))


@pytest.fixture(scope="module")
def preset_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    copy = make_task("copy", seq_width=4, max_len=6)
    save_preset(root / "copy", _ntm(copy), copy, {}, "test preset")
    repeat = make_task("repeat-copy", seq_width=4, max_len=4, max_repeats=3)
    save_preset(root / "repeat", _ntm(repeat, 1, heads="rrw"), repeat, {}, "test preset")
    torch.manual_seed(0)
    save_preset(root / "lstm", LSTMBaseline(LSTMConfig(copy.input_size, copy.output_size, hidden_size=8, layers=1)),
                copy, {}, "test preset")
    save_preset(root / "truncated", _ntm(copy), copy, {}, "test preset")
    weights = root / "truncated" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    save_preset(root / "mismatched", _ntm(copy), copy, {}, "test preset")
    config = json.loads((root / "mismatched" / "config.json").read_text())
    config["model"]["memory_slots"] = 20
    (root / "mismatched" / "config.json").write_text(json.dumps(config))
    save_preset(root / "half-written", _ntm(copy), copy, {}, "test preset")
    (root / "half-written" / "config.json").unlink()          # a preset whose config is not written yet
    return root


@pytest.fixture(autouse=True)
def env(preset_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(preset_root))
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))


def open_page(**params) -> AppTest:
    """The page as a browser opening ``/step-through?<params>`` shows it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    at.switch_page("pages/step_through.py")
    at.run()
    assert not at.exception, at.exception
    return at


def timestep(at) -> int:
    """The t the page shows: its heading, checked against the slider."""
    heading = [m.value for m in at.markdown if m.value.startswith("### t = ")]
    assert len(heading) == 1
    t = int(heading[0].split()[3])
    assert slider(at).value == t
    return t


def slider(at):
    (found,) = [s for s in at.slider if s.label == "Timestep t"]
    return found


def charts(at) -> dict[str, dict]:
    return {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def chart(at, key: str) -> dict:
    for c in at.get("plotly_chart"):
        if key in c.proto.id:
            return json.loads(c.proto.spec)
    raise AssertionError(f"no chart {key}; charts: {list(charts(at))}")


def decode(arr) -> np.ndarray:
    """Plotly's JSON array, plain or base64-typed ({"dtype", "bdata", "shape"})."""
    if isinstance(arr, dict):
        import base64
        out = np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"]))
        if "shape" in arr:
            out = out.reshape([int(s) for s in str(arr["shape"]).split(",")])
        return out
    return np.asarray(arr)


def cursor_x(fig: dict) -> float:
    shapes = [s for s in fig["layout"]["shapes"] if s.get("name") == "cursor"]
    return (shapes[0]["x0"] + shapes[0]["x1"]) / 2


def messages(at, kind: str) -> str:
    """The text of the page's messages of one kind, with the escapes that keep values plain undone."""
    return "\n".join(re.sub(r"\\(.)", r"\1", e.value) for e in getattr(at, kind))


# ---- stepping ---------------------------------------------------------------------------------

def test_default_preset_steps_forward_and_back_with_every_panel_following():
    at = open_page()
    assert at.selectbox(key="st_preset").value == "copy"
    assert timestep(at) == 0
    before = charts(at)
    assert len(before) >= 8      # sequences, memory, change, weights over time, 2 heads, shifts, vectors
    for _ in range(3):
        at.button(key="st_next").click().run()
    assert timestep(at) == 3 and at.query_params["t"] == "3"
    after = charts(at)
    assert cursor_x(chart(at, "fig_seq")) == 3 and cursor_x(chart(at, "fig_wot")) == 3
    for key in ("fig_mem", "fig_dmem", "fig_addr_0", "fig_addr_1", "fig_vec"):
        old = next(v for k, v in before.items() if key in k)
        new = next(v for k, v in after.items() if key in k)
        assert old["data"] != new["data"], f"{key} did not change with t"
    at.button(key="st_prev").click().run()
    assert timestep(at) == 2
    at.button(key="st_last").click().run()
    last = 2 * 10 + 1 - 1                       # default length 10: T = 2L + 1
    assert timestep(at) == last and at.button(key="st_next").disabled and at.button(key="st_last").disabled
    at.button(key="st_first").click().run()
    assert timestep(at) == 0 and at.button(key="st_prev").disabled
    slider(at).set_value(7).run()
    assert timestep(at) == 7


def test_changing_preset_seed_and_length_recomputes_the_trace():
    at = open_page()
    seq0 = chart(at, "fig_seq")
    at.number_input(key="st_seed").set_value(5).run()
    assert chart(at, "fig_seq")["data"][0] != seq0["data"][0]
    at.number_input(key="st_length").set_value(3).run()
    assert slider(at).max == 6
    at.selectbox(key="st_preset").set_value("repeat").run()
    assert not at.exception and not at.error
    assert len(chart(at, "fig_wot")["data"]) == 3          # read 1, read 2, write 1
    assert at.query_params["preset"] == "repeat" and at.query_params["seed"] == "5"


def test_figures_hold_the_trace_values_on_fixed_scales():
    at = open_page(seed=2, length=4, t=5)
    seq = chart(at, "fig_seq")
    inputs = decode(seq["data"][0]["z"])
    assert inputs.shape == (5, 9) and set(np.unique(inputs)) <= {0.0, 1.0}
    assert seq["layout"]["coloraxis"]["cmin"] == 0 and seq["layout"]["coloraxis"]["cmax"] == 1
    mem = chart(at, "fig_mem")["data"][0]
    assert mem["zmin"] == -mem["zmax"] and "hovertemplate" in mem
    addr = chart(at, "fig_addr_0")
    assert addr["layout"]["yaxis"]["range"] == [0, 1]
    weights = decode(addr["data"][-1]["y"])
    assert abs(float(weights.sum()) - 1) < 1e-5


def test_play_advances_one_step_per_tick_and_pause_stops():
    at = open_page(length=2)
    at.button(key="st_play").click().run()
    assert at.session_state["st_playing"] and timestep(at) == 0
    at.session_state["st_last_tick"] = time.monotonic() + 3600   # the interval has not passed yet
    at.run()                                    # a tick before the interval has passed: no step
    assert timestep(at) == 0
    at.session_state["st_last_tick"] = 0.0      # the interval has passed since the last step
    at.run()                                    # the fragment's timer tick
    assert timestep(at) == 1
    at.button(key="st_play").click().run()      # pause
    assert not at.session_state["st_playing"]
    at.session_state["st_last_tick"] = 0.0
    at.run()
    assert timestep(at) == 1
    at.button(key="st_last").click().run()
    at.button(key="st_play").click().run()      # at the end, play starts over
    assert timestep(at) == 0


def test_download_and_step_time_are_there():
    at = open_page()
    assert any("trace" in b.label.lower() for b in at.download_button)
    assert at.session_state["st_view_ms"] > 0


# ---- shareable URL ----------------------------------------------------------------------------

def test_a_shared_link_restores_the_view():
    at = open_page(preset="repeat", seed=7, length=3, t=4)
    assert at.selectbox(key="st_preset").value == "repeat"
    assert at.number_input(key="st_seed").value == 7 and at.number_input(key="st_length").value == 3
    assert timestep(at) == 4
    assert not at.warning
    assert {"preset": "repeat", "seed": "7", "length": "3", "t": "4"}.items() <= dict(at.query_params).items()


def test_own_bits_from_a_link_drive_the_input():
    at = open_page(bits="1010.0110.1111", t=2)
    assert at.radio(key="st_source").value == "bits"
    seq = chart(at, "fig_seq")
    inputs = decode(seq["data"][0]["z"]).T           # [T, X]
    assert inputs.shape[0] == 7
    np.testing.assert_array_equal(inputs[:3, :4], [[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 1]])
    targets = decode(seq["data"][1]["z"]).T
    np.testing.assert_array_equal(targets[4:7], inputs[:3, :4])
    assert at.query_params["bits"] == "1010.0110.1111" and "length" not in at.query_params
    assert timestep(at) == 2


@pytest.mark.parametrize("params, expected", [
    ({"t": "abc"}, "not a whole number"),
    ({"t": "99"}, "outside this run"),
    ({"seed": "-3"}, "outside"),
    ({"length": "1000"}, "outside"),
    ({"preset": "nope"}, "not an available NTM preset"),
    ({"preset": "lstm"}, "it is an LSTM model"),
    ({"preset": "half-written"}, "has no config.json"),
    ({"bits": "0120.1111"}, "only 0 and 1"),
    ({"bits": "101.111"}, "vectors have 4"),
    ({"bits": "1010..1111"}, "empty row"),
])
def test_bad_link_parameters_warn_and_fall_back(params, expected):
    at = open_page(**params)
    assert expected in messages(at, "warning"), messages(at, "warning")
    assert not at.error
    assert timestep(at) == 0 and at.get("plotly_chart")


# ---- editing the input ------------------------------------------------------------------------

def _editor_key(at) -> str:
    keys = [e.key for e in at.data_editor]
    assert len(keys) == 1, keys
    return keys[0]


def test_edited_bits_are_validated():
    at = open_page(length=3)
    at.radio(key="st_source").set_value("bits").run()
    key = _editor_key(at)
    table = at.data_editor[0].value
    assert table.shape == (3, 4)
    at.session_state[key] = {"edited_rows": {1: {"bit 2": 2}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "bits must be 0 or 1" in messages(at, "error") and not at.exception
    at.session_state[key] = {"edited_rows": {}, "added_rows": [{"bit 0": 1}], "deleted_rows": []}
    at.run()
    assert "empty cell" in messages(at, "error")
    at.session_state[key] = {"edited_rows": {0: {"bit 0": 1, "bit 1": 1, "bit 2": 1, "bit 3": 1}},
                             "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.error
    assert at.query_params["bits"].split(".")[0] == "1111"


# ---- presets that cannot be used ---------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [("truncated", "weights"), ("mismatched", "do not fit")])
def test_broken_presets_show_a_clear_message_and_the_page_recovers(name, expected):
    at = open_page()
    at.selectbox(key="st_preset").set_value(name).run()
    assert not at.exception
    assert f"Preset {name} cannot be opened" in messages(at, "error") and expected in messages(at, "error")
    at.selectbox(key="st_preset").set_value("copy").run()
    assert not at.error and timestep(at) == 0


def test_lstm_presets_are_not_offered_and_the_reason_is_given():
    at = open_page()
    assert "lstm" not in [o.split(" — ")[0] for o in at.selectbox(key="st_preset").options]
    assert any("lstm" in c.value and "LSTM" in c.value for c in at.caption)


def test_no_presets_at_all(monkeypatch, tmp_path):
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(tmp_path / "empty"))
    at = open_page()
    assert "no NTM presets" in messages(at, "info") and not at.exception


def test_user_presets_are_listed_after_the_built_in_ones(tmp_path, preset_root):
    task = make_task("copy", seq_width=4, max_len=6)
    save_preset(tmp_path / "data" / "presets" / "mine", _ntm(task, 3), task, {}, "test preset")
    save_preset(tmp_path / "data" / "presets" / "copy", _ntm(task, 4), task, {}, "test preset")
    at = open_page(preset="mine")
    options = [o.split(" — ")[0] for o in at.selectbox(key="st_preset").options]
    assert options == ["copy", "mismatched", "repeat", "truncated", "user:copy", "mine"]
    assert at.selectbox(key="st_preset").value == "mine" and not at.error


# ---- teacher mode -------------------------------------------------------------------------------

def test_teacher_mode_hides_advanced_controls_and_enlarges_figures():
    normal = open_page()
    teacher = open_page(teacher=1)
    assert teacher.toggle(key="teacher").value
    assert not teacher.download_button and not teacher.code and not teacher.get("radio")
    assert normal.download_button and normal.code
    assert chart(teacher, "fig_mem")["layout"]["height"] > chart(normal, "fig_mem")["layout"]["height"]
    assert teacher.query_params["teacher"] == "1"
    teacher.toggle(key="teacher").set_value(False).run()
    assert "teacher" not in teacher.query_params and teacher.download_button


def test_a_link_from_another_page_opens_its_preset_even_after_a_visit():
    at = open_page()
    at.button(key="st_next").click().run()
    at.switch_page("pages/home.py").run()
    at.query_params.clear()
    at.query_params["preset"] = "repeat"           # e.g. the Train page's "Step through <preset>" link
    at.switch_page("pages/step_through.py").run()
    assert at.selectbox(key="st_preset").value == "repeat" and timestep(at) == 0
    at.button(key="st_next").click().run()
    assert at.selectbox(key="st_preset").value == "repeat" and timestep(at) == 1
    at.switch_page("pages/home.py").run()
    at.query_params.clear()                         # the sidebar navigation: no parameters
    at.switch_page("pages/step_through.py").run()
    assert at.selectbox(key="st_preset").value == "repeat" and timestep(at) == 1


@pytest.mark.parametrize("params", [{"preset": "x`](http://127.0.0.9/evil.png) ![i](http://127.0.0.9/i.png)"},
                                    {"seed": "`<img src=http://127.0.0.9/x.png>`"},
                                    {"preset": "p" * 300}, {"preset": ".."}, {"preset": "../presets"}])
def test_hostile_link_values_are_echoed_as_plain_text(params):
    at = open_page(**params)
    raw = "\n".join(w.value for w in at.warning)
    unescaped = [m for m in ("](", "<", "`", "![") if re.search(r"(?<!\\)" + re.escape(m), raw)]
    assert raw and not unescaped, raw
    assert "p" * 100 not in raw and not at.error and not at.exception
    assert timestep(at) == 0
