"""The Step-through page (AppTest): choose a preset and an input, hand every view to the stepper (which
moves t in the browser), follow the t the browser reports back, share the view by URL, and get a clear
message (never a crash) for broken presets and bad links.

The stepper itself runs in the browser (tests/browser/test_explorer_browser.py). Here it is read as
the data the page gives it (``stepper``, ``views``), and a step is what the browser sends once
stepping stops: the component's state ``{"t": ...}`` (``report_t``).

Presets are tiny untrained models made here: NTM_EXPLORER_PRESETS points the page at a temporary
presets folder instead of presets/, and NTM_EXPLORER_DATA at a temporary data folder.
"""

import json
import re

import numpy as np
import pytest
import torch

from ntm.figures import client
from ntm.model import NTM, LSTMBaseline, LSTMConfig, NTMConfig
from ntm.presets import save_preset
from ntm.tasks import make_task
from ntm.trace import NTM_STAGES
from tests.step_through_apptest import components, open_page

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


def stepper(at) -> dict:
    return components(at)["st_stepper"]


def timestep(at) -> int:
    """The page's t (the URL's), checked against its session state."""
    t = int(at.query_params["t"])
    assert at.session_state["st_t"] == t
    return t


def views(at) -> dict[str, dict]:
    """Every view the browser draws, by name (sequence, memory, ..., addressing:read 1, vectors)."""
    out = {}
    for data in components(at).values():
        for row in data["rows"]:
            for cell in row["cells"]:
                if cell and "view" in cell:
                    out[cell["name"]] = cell["view"]
    return out


def report_t(at, t: int) -> None:
    """What the browser sends when stepping stops at t: the main stepper's state {"t": t}."""
    (main,) = [e for e in at.get("bidi_component") if e.proto.id.endswith("-st_stepper")]
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = main.proto.id
    state.json_value = json.dumps({"t": t})
    at._run(states)
    assert not at.exception, at.exception


def decode(arr) -> np.ndarray:
    """Plotly's JSON array, plain or base64-typed ({"dtype", "bdata", "shape"})."""
    return np.asarray(client.decode(arr))


def cursor_x(fig: dict) -> float:
    shapes = [s for s in fig["layout"]["shapes"] if s.get("name") == "cursor"]
    return (shapes[0]["x0"] + shapes[0]["x1"]) / 2


def messages(at, kind: str) -> str:
    """The text of the page's messages of one kind, with the escapes that keep values plain undone."""
    return "\n".join(re.sub(r"\\(.)", r"\1", e.value) for e in getattr(at, kind))


# ---- stepping ---------------------------------------------------------------------------------

def test_every_view_goes_to_the_browser_once_with_what_changes_with_t():
    at = open_page()
    assert at.selectbox(key="st_preset").value == "copy"
    assert timestep(at) == 0
    data = stepper(at)
    last = 2 * 10 + 1 - 1                       # default length 10: T = 2L + 1
    assert data["controls"] and data["ctl"]["last"] == last and len(data["captions"]) == last + 1
    assert data["captions"][0].startswith(f"of {last} · input phase")
    assert data["plotly"].endswith("/plotly.min.js") and "://" not in data["plotly"]   # served by this app
    shown = views(at)
    assert set(shown) == {"sequence", "memory", "memory_change", "weights", "addressing:read 1",
                          "addressing:write 1", "read 1:shifted", "write 1:shifted", "vectors"}
    assert cursor_x(client.figure_at(shown["sequence"], 3)) == 3
    assert cursor_x(client.figure_at(shown["weights"], 3)) == 3
    for name in ("memory", "memory_change", "addressing:read 1", "addressing:write 1", "vectors"):
        before, after = client.figure_at(shown[name], 0), client.figure_at(shown[name], 3)
        drawn = lambda fig: [np.asarray(d["z"] if "z" in d else d["y"]) for d in fig["data"]]   # noqa: E731
        assert not all(np.array_equal(a, b) for a, b in zip(drawn(before), drawn(after))), f"{name} is still"
    parameters = components(at)["st_head_1"]["rows"][0]["cells"]       # what each stage uses at t
    assert [c["label"] for c in parameters] == [stage.parameter.title for stage in NTM_STAGES]
    assert len(parameters[0]["values"]) == last + 1 and "view" in parameters[2]


def test_the_t_the_browser_reports_goes_into_the_url_without_moving_the_browser():
    at = open_page()
    ctl = stepper(at)["ctl"]
    assert ctl["t"] == 0
    report_t(at, 3)
    assert timestep(at) == 3 and at.query_params["t"] == "3"
    assert stepper(at)["ctl"] == ctl            # same data: the browser keeps its own t (it may be further on)
    report_t(at, 99)                            # not a t of this run: ignored
    assert timestep(at) == 3
    at.number_input(key="st_seed").set_value(4).run()   # another input keeps t, and the browser is told
    assert timestep(at) == 3 and at.query_params["seed"] == "4"
    assert stepper(at)["ctl"]["t"] == 3 and stepper(at)["ctl"]["trace"] != ctl["trace"]
    at.number_input(key="st_length").set_value(1).run()  # a shorter run: t is clamped, the browser follows
    assert timestep(at) == 2 and stepper(at)["ctl"]["version"] > ctl["version"]
    assert stepper(at)["ctl"]["t"] == 2 and stepper(at)["ctl"]["last"] == 2


def test_changing_preset_seed_and_length_recomputes_the_trace():
    at = open_page()
    seq0 = views(at)["sequence"]["figure"]["data"][0]
    trace0 = stepper(at)["ctl"]["trace"]
    at.number_input(key="st_seed").set_value(5).run()
    assert views(at)["sequence"]["figure"]["data"][0] != seq0 and stepper(at)["ctl"]["trace"] != trace0
    at.number_input(key="st_length").set_value(3).run()
    assert stepper(at)["ctl"]["last"] == 6
    at.selectbox(key="st_preset").set_value("repeat").run()
    assert not at.exception and not at.error
    assert len(views(at)["weights"]["figure"]["data"]) == 3          # read 1, read 2, write 1
    assert {"st_head_0", "st_head_1", "st_head_2"} <= set(components(at))
    assert at.query_params["preset"] == "repeat" and at.query_params["seed"] == "5"


def test_figures_hold_the_trace_values_on_fixed_scales():
    at = open_page(seed=2, length=4, t=5)
    seq = views(at)["sequence"]["figure"]
    inputs = decode(seq["data"][0]["z"])
    assert inputs.shape == (5, 9) and set(np.unique(inputs)) <= {0.0, 1.0}
    assert seq["layout"]["coloraxis"]["cmin"] == 0 and seq["layout"]["coloraxis"]["cmax"] == 1
    mem = views(at)["memory"]["figure"]["data"][0]
    assert mem["zmin"] == -mem["zmax"] and "hovertemplate" in mem
    addr = client.figure_at(views(at)["addressing:read 1"], 5)
    assert addr["layout"]["yaxis"]["range"] == [0, 1]
    weights = decode(addr["data"][-1]["y"])
    assert abs(float(weights.sum()) - 1) < 1e-5


def test_download_and_step_time_are_there():
    at = open_page()
    assert any("trace" in b.label.lower() for b in at.download_button)
    assert at.session_state["st_view_ms"] > 0


# ---- shareable URL ----------------------------------------------------------------------------

def test_a_shared_link_restores_the_view():
    at = open_page(preset="repeat", seed=7, length=3, t=4)
    assert at.selectbox(key="st_preset").value == "repeat"
    assert at.number_input(key="st_seed").value == 7 and at.number_input(key="st_length").value == 3
    assert timestep(at) == 4 and stepper(at)["ctl"]["t"] == 4        # the browser opens there
    assert not at.warning
    assert {"preset": "repeat", "seed": "7", "length": "3", "t": "4"}.items() <= dict(at.query_params).items()


def test_own_bits_from_a_link_drive_the_input():
    at = open_page(bits="1010.0110.1111", t=2)
    assert at.radio(key="st_source").value == "bits"
    seq = views(at)["sequence"]["figure"]
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
    assert timestep(at) == 0 and views(at)


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
    assert not teacher.download_button and not teacher.code and [r.key for r in teacher.radio] == ["st_head"]
    assert normal.download_button and normal.code and "st_head" not in [r.key for r in normal.radio]
    # the lecture layout: the controls alone (a bar that stays in view), the strip, memory and weightings in
    # one row sized for a 720 px screen, one head's stages at a time (the write head's first)
    assert stepper(teacher)["rows"] == [] and components(teacher)["st_main"]["rows"][0]["height"] <= 240
    assert [c["name"] for c in components(teacher)["st_main"]["rows"][0]["cells"]] == ["sequence", "memory", "weights"]
    assert teacher.radio(key="st_head").value == "write 1" and "st_head_0" not in components(teacher)
    teacher.radio(key="st_head").set_value("read 1").run()
    assert "st_head_0" in components(teacher) and "st_head_1" not in components(teacher)
    height = lambda at: views(at)["memory"]["figure"]["layout"]["height"]   # noqa: E731
    assert height(teacher) > height(normal) and stepper(teacher)["teacher"] and not stepper(normal)["teacher"]
    assert teacher.query_params["teacher"] == "1"
    teacher.toggle(key="teacher").set_value(False).run()
    assert "teacher" not in teacher.query_params and teacher.download_button


def test_a_link_from_another_page_opens_its_preset_even_after_a_visit():
    at = open_page()
    report_t(at, 1)
    at.switch_page("pages/home.py").run()
    at.query_params.clear()
    at.query_params["preset"] = "repeat"           # e.g. the Train page's "Step through <preset>" link
    at.switch_page("pages/step_through.py").run()
    assert at.selectbox(key="st_preset").value == "repeat" and timestep(at) == 0
    report_t(at, 1)
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
