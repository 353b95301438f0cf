"""Checkpoints and preset bundles: round trips, resumption, and clear errors for damaged files."""

import json

import pytest
import torch

from ntm.model import NTM, NTMConfig
from ntm.presets import BundleError, list_presets, load_checkpoint, load_preset, save_checkpoint, save_preset
from ntm.tasks import make_task


def tiny_model(task, **kw):
    torch.manual_seed(0)
    return NTM(NTMConfig(task.input_size, task.output_size, controller_size=8, memory_slots=8,
                         memory_width=4, **kw))


@pytest.fixture
def preset_dir(tmp_path):
    task = make_task("copy", max_len=4)
    model = tiny_model(task)
    save_preset(tmp_path / "tiny", model, task, {"generalisation": []}, "python -m ntm train ...")
    return tmp_path / "tiny", model


def test_preset_round_trip(preset_dir):
    path, model = preset_dir
    preset = load_preset(path)
    assert preset.task.name == "copy" and preset.task.max_len == 4 and preset.model_type == "ntm"
    for key, value in model.state_dict().items():
        torch.testing.assert_close(preset.model.state_dict()[key], value)
    assert not preset.model.training
    assert "python -m ntm train" in (path / "README.md").read_text()
    assert list_presets(path.parent) == [path]
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pt"))


def test_truncated_weights_are_reported(preset_dir):
    path, _ = preset_dir
    data = (path / "weights.safetensors").read_bytes()
    (path / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="checksum"):
        load_preset(path)


def test_corrupted_weights_without_hash_are_reported(preset_dir):
    path, _ = preset_dir
    cfg = json.loads((path / "config.json").read_text())
    del cfg["weights"]["sha256"]
    (path / "config.json").write_text(json.dumps(cfg))
    (path / "weights.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        load_preset(path)


def test_mismatched_config_is_reported(preset_dir):
    path, _ = preset_dir
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["memory_width"] = 5
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="do not fit the model"):
        load_preset(path)


@pytest.mark.parametrize("content,match", [("{not json", "not valid JSON"),
                                           ('{"format": "other"}', "not an NTM Explorer model")])
def test_bad_config_json_is_reported(preset_dir, content, match):
    path, _ = preset_dir
    (path / "config.json").write_text(content)
    with pytest.raises(BundleError, match=match):
        load_preset(path)


def test_missing_preset_lists_alternatives(tmp_path):
    with pytest.raises(BundleError, match="no preset at"):
        load_preset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="has no config.json"):
        load_preset(tmp_path / "empty")


def test_checkpoint_round_trip_keeps_optimizer_and_rng(tmp_path):
    task = make_task("copy", max_len=4)
    model = tiny_model(task)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out, _, _ = model(torch.rand(2, 5, task.input_size))
    out.mean().backward()
    opt.step()
    gen = torch.Generator().manual_seed(9)
    torch.rand(3, generator=gen)
    save_checkpoint(tmp_path, model, task, opt, gen, train={"spec": {}}, progress={"batches": 5, "sequences": 10, "elapsed": 1.0})
    save_checkpoint(tmp_path, model, task, opt, gen, train={"spec": {}}, progress={"batches": 6, "sequences": 12, "elapsed": 1.5})
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "optimizer-00000006.safetensors", "weights-00000006.safetensors"]
    ck = load_checkpoint(tmp_path)
    assert ck.progress["batches"] == 6
    restored = torch.optim.Adam(ck.model.parameters(), lr=1e-3)
    restored.load_state_dict(ck.optimizer_state)
    for a, b in zip(model.parameters(), ck.model.parameters()):
        torch.testing.assert_close(opt.state[a]["exp_avg"], restored.state[b]["exp_avg"])
        torch.testing.assert_close(opt.state[a]["step"], restored.state[b]["step"])
    g2 = torch.Generator()
    g2.set_state(ck.generator_state)
    torch.testing.assert_close(torch.rand(4, generator=g2), torch.rand(4, generator=gen))


def test_damaged_checkpoint_is_reported(tmp_path):
    task = make_task("copy", max_len=4)
    model = tiny_model(task)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    save_checkpoint(tmp_path, model, task, opt, torch.Generator(), train={"spec": {}},
                    progress={"batches": 1, "sequences": 1, "elapsed": 0.1})
    (tmp_path / "optimizer-00000001.safetensors").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_checkpoint(tmp_path)
