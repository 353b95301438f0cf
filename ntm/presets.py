"""Saved models: training checkpoints and preset bundles, as safetensors plus JSON (no pickle).

A *model bundle* is a folder with a JSON file that says what the model is (its type, config and
task) and names a safetensors file of weights with its sha256. Two kinds share that layout:

    presets/<name>/                     a trained model the app can open
        config.json                     format, model_type, model config, task, weights file + hash
        weights.safetensors
        metrics.json                    training curve, generalisation table, wall time, command
        README.md                       what it is and the command that made it

    <checkpoint-path>/                  a training run that can be resumed
        checkpoint.json                 the same, plus training settings, progress and file hashes
        weights-<batch>.safetensors     model weights at that batch
        optimizer-<batch>.safetensors   optimizer tensors and the task generator's RNG state
        metrics.jsonl, status.json, sample.json (see ntm.training)

Every file is written atomically; the JSON manifest is written last and names files by their
batch number, so a crash mid-checkpoint leaves the previous checkpoint whole. Loading checks
the hashes and the shapes, and reports problems as ``BundleError`` with what to do about it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .io import ROOT, atomic_write_json, atomic_write_text, data_dir, load_tensors, save_tensors
from .model import build_model, model_config_dict
from .tasks import Task, make_task

MODEL_FORMAT = "ntm-explorer-model/1"
CHECKPOINT_FORMAT = "ntm-explorer-checkpoint/1"
PRESETS_DIR = ROOT / "presets"          # built-in presets, committed with the project


def user_presets_dir() -> Path:
    """Presets saved from the app's training jobs (kept out of the committed ``presets/``)."""
    return data_dir() / "presets"


class BundleError(ValueError):
    """A preset or checkpoint that cannot be used; the message says why and what to do."""


@dataclass
class Preset:
    """A loaded model bundle."""

    name: str
    path: Path
    model: nn.Module
    task: Task
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def model_type(self) -> str:
        return self.config["model_type"]


def model_manifest(model: nn.Module, task: Task) -> dict[str, Any]:
    return {"model_type": model.model_type, "model": model_config_dict(model),
            "task": {"name": task.name, "params": task.config()}}


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{what} {path.parent} has no {path.name}: it is not a saved model "
                          f"(or was deleted). Pick another, or train one with `python -m ntm train`.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}): the file is "
                          f"corrupted. Restore it from version control or retrain.") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} should hold a JSON object; it holds {type(data).__name__}.")
    return data


def _build(manifest: dict[str, Any], where: Path) -> tuple[nn.Module, Task]:
    try:
        task_info = manifest["task"]
        task = make_task(task_info["name"], **task_info.get("params", {}))
        model_cfg = dict(manifest["model"])
        model_cfg["input_size"], model_cfg["output_size"] = task.input_size, task.output_size
        model = build_model(manifest["model_type"], model_cfg)
    except (KeyError, TypeError) as exc:
        raise BundleError(f"{where}: the config is missing {exc}; it was not written by this version "
                          f"of NTM Explorer. Retrain or restore the file.") from None
    except ValueError as exc:
        raise BundleError(f"{where}: the config is invalid: {exc}") from None
    return model, task


def _load_weights(model: nn.Module, file: Path, sha256: str | None) -> None:
    try:
        tensors = load_tensors(file, sha256)
    except FileNotFoundError:
        raise BundleError(f"weights file {file} is missing. Restore it, or retrain the model.") from None
    except ValueError as exc:
        raise BundleError(f"{exc}. Restore the file, or retrain the model.") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    wrong = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or extra or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:3]}")
        if extra:
            details.append(f"unexpected {extra[:3]}")
        if wrong:
            details.append("shape " + ", ".join(f"{k} {tuple(tensors[k].shape)} != {tuple(own[k].shape)}"
                                                for k in wrong[:3]))
        raise BundleError(f"weights in {file} do not fit the model its config describes "
                          f"({'; '.join(details)}). The config and weights are from different models: "
                          f"retrain, or restore both files together.")
    model.load_state_dict(tensors)


# ---- presets ----------------------------------------------------------------------------------

def save_preset(path: str | os.PathLike, model: nn.Module, task: Task, metrics: dict[str, Any],
                command: str, description: str = "") -> Path:
    """Write a preset bundle (weights first, config last, each atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sha = save_tensors(path / "weights.safetensors", model.state_dict())
    atomic_write_json(path / "metrics.json", metrics)
    atomic_write_text(path / "README.md", preset_readme(path.name, model.model_type, task, metrics, command,
                                                      description))
    manifest = {"format": MODEL_FORMAT, **model_manifest(model, task),
                "weights": {"file": "weights.safetensors", "sha256": sha}, "command": command}
    atomic_write_json(path / "config.json", manifest)
    return path


def preset_readme(name: str, model_type: str, task: Task, metrics: dict[str, Any], command: str,
                  description: str = "") -> str:
    """The preset's README: what it is, what it reaches by length, how long it trained, the command."""
    lines = [f"# Preset `{name}`", "",
             description or f"An {model_type.upper()} trained on the {task.name} task "
                            f"({task.length_name} {task.train_lengths[0]}-{task.train_lengths[1]}) "
                            f"by NTM Explorer's own training command.", ""]
    if metrics.get("sequences") is not None:
        lines += [f"Trained on {metrics['sequences']:,} sequences ({metrics.get('batches', '?'):,} batches) "
                  f"in {metrics.get('train_seconds', 0):.0f} s of training time.", ""]
    dist = metrics.get("training_distribution")
    if dist:
        lines += [f"On its training distribution: {dist['bit_errors']:.2f} bit errors per sequence "
                  f"({100 * dist['perfect']:.0f}% of {dist['sequences']} sequences perfect).", ""]
    rows = metrics.get("generalisation") or []
    if rows:
        lines += [f"| {task.length_name} | bit errors per sequence | max | perfect sequences |",
                  "| ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['length']} | {r['bit_errors']:.2f} | {r['bit_errors_max']:.0f} | "
                  f"{100 * r['perfect']:.0f}% |" for r in rows]
        lines += ["", f"({rows[0]['sequences']} seeded test sequences per row; `python -m ntm evaluate` "
                      f"reproduces any row.)", ""]
    lines += ["Made with:", "", "```", command, "```", ""]
    return "\n".join(lines)


def load_preset(path: str | os.PathLike) -> Preset:
    """Load a preset bundle (a folder, or a name under ``presets/``) in eval mode.

    Raises:
        BundleError: missing, truncated, corrupted or mismatched files, with what to do.
    """
    path = Path(path)
    if not path.is_dir():
        for root in (PRESETS_DIR, user_presets_dir()):
            if (root / str(path)).is_dir():
                path = root / str(path)
                break
    if not path.is_dir():
        raise BundleError(f"no preset at {path}. Available presets: "
                          f"{', '.join(p.name for p in list_presets()) or 'none'}.")
    manifest = _read_json(path / "config.json", "preset")
    if manifest.get("format") != MODEL_FORMAT:
        raise BundleError(f"{path / 'config.json'} is not an NTM Explorer model (format "
                          f"{manifest.get('format')!r}, expected {MODEL_FORMAT!r}).")
    model, task = _build(manifest, path)
    weights = manifest.get("weights", {})
    _load_weights(model, path / weights.get("file", "weights.safetensors"), weights.get("sha256"))
    model.eval()
    metrics = {}
    if (path / "metrics.json").exists():
        try:
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            metrics = {"error": "metrics.json is corrupted"}
    return Preset(path.name, path, model, task, manifest, metrics)


def list_presets(root: str | os.PathLike | None = None) -> list[Path]:
    """Preset folders (those with a config.json) under ``root``, sorted by name.

    Without ``root``: the built-in ``presets/`` first, then the user's presets (``user_presets_dir``).
    """
    roots = [Path(root)] if root is not None else [PRESETS_DIR, user_presets_dir()]
    found = []
    for r in roots:
        if r.is_dir():
            found += sorted(p for p in r.iterdir() if (p / "config.json").is_file())
    return found


# ---- training checkpoints ----------------------------------------------------------------------

def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("state."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": dict(sorted(state.items())), "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, task: Task, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, train: dict[str, Any], progress: dict[str, Any]) -> Path:
    """Write a resumable checkpoint; the previous one stays valid until ``checkpoint.json`` is replaced."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    batch = int(progress["batches"])
    weights_name, opt_name = f"weights-{batch:08d}.safetensors", f"optimizer-{batch:08d}.safetensors"
    w_sha = save_tensors(path / weights_name, model.state_dict())
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    opt_tensors["rng.task"] = generator.get_state()
    o_sha = save_tensors(path / opt_name, opt_tensors)
    manifest = {"format": CHECKPOINT_FORMAT, **model_manifest(model, task), "train": train,
                "progress": progress, "optimizer": opt_meta,
                "weights": {"file": weights_name, "sha256": w_sha},
                "optimizer_file": {"file": opt_name, "sha256": o_sha}}
    atomic_write_json(path / "checkpoint.json", manifest)
    keep = {weights_name, opt_name}
    for old in path.glob("*.safetensors"):
        if re.fullmatch(r"(weights|optimizer)-\d{8}\.safetensors", old.name) and old.name not in keep:
            old.unlink(missing_ok=True)
    return path


@dataclass
class Checkpoint:
    model: nn.Module
    task: Task
    manifest: dict[str, Any]
    optimizer_state: dict[str, Any]
    generator_state: torch.Tensor

    @property
    def train(self) -> dict[str, Any]:
        return self.manifest["train"]

    @property
    def progress(self) -> dict[str, Any]:
        return self.manifest["progress"]


def has_checkpoint(path: str | os.PathLike) -> bool:
    return (Path(path) / "checkpoint.json").is_file()


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a training checkpoint written by ``save_checkpoint``.

    Raises:
        BundleError: missing, truncated, corrupted or mismatched files, with what to do.
    """
    path = Path(path)
    manifest = _read_json(path / "checkpoint.json", "checkpoint folder")
    if manifest.get("format") != CHECKPOINT_FORMAT:
        raise BundleError(f"{path / 'checkpoint.json'} is not an NTM Explorer checkpoint "
                          f"(format {manifest.get('format')!r}).")
    model, task = _build(manifest, path)
    try:
        _load_weights(model, path / manifest["weights"]["file"], manifest["weights"]["sha256"])
        opt_file = path / manifest["optimizer_file"]["file"]
        tensors = load_tensors(opt_file, manifest["optimizer_file"]["sha256"])
        manifest["train"], manifest["progress"]
    except KeyError as exc:
        raise BundleError(f"{path / 'checkpoint.json'} is missing {exc}: start a new run in "
                          f"another --checkpoint-path, or restore the checkpoint.") from None
    except FileNotFoundError as exc:
        raise BundleError(f"checkpoint file {exc.filename} is missing: the checkpoint is incomplete. "
                          f"Start a new run in another --checkpoint-path.") from None
    except ValueError as exc:
        raise BundleError(f"{exc}. The checkpoint is damaged: start a new run in another "
                          f"--checkpoint-path.") from None
    generator_state = tensors.pop("rng.task", None)
    if generator_state is None:
        raise BundleError(f"{opt_file} lacks the task generator state; the checkpoint is damaged.")
    return Checkpoint(model, task, manifest, _unflatten_optimizer(tensors, manifest["optimizer"]), generator_state)
