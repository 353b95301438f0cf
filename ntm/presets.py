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
A manifest names its files by plain name only: a name with a folder in it, a link, a device or
a file larger than the model's own tensors need is refused before a byte of it is read.
Tensors are saved from the CPU and load onto it (safetensors files name no device: torch.load's
``map_location="cpu"``), so a model trained with ``--device cuda`` opens on a machine without a GPU;
``Trainer`` moves what it loads to its own device.

The preset catalogue (``catalogue()``) is the one list of presets every page and the command
line use: the built-in folder (``presets/``, or ``$NTM_EXPLORER_PRESETS``), then the user's
presets under ``$NTM_EXPLORER_DATA/presets``.
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

from .io import ROOT, atomic_write_json, atomic_write_text, data_dir, load_tensors, save_tensors, sha256_file
from .model import build_model, model_config_dict
from .numbers import percent
from .tasks import Task, make_task

MODEL_FORMAT = "ntm-explorer-model/1"
CHECKPOINT_FORMAT = "ntm-explorer-checkpoint/1"
PRESETS_ENV = "NTM_EXPLORER_PRESETS"    # another folder of built-in presets (tests, a course's own set)
USER_PREFIX = "user:"                   # catalogue id of a user preset whose name a built-in one has
MAX_NAME = 128                          # longest preset name accepted from a link or a command line
CONFIG_MAX_BYTES = 1 << 20              # a config.json is a few kB; anything over 1 MB is not ours
_HEADER_SLACK = 1 << 16                 # safetensors header (tensor names, offsets) beyond the data


def builtin_presets_dir() -> Path:
    """Presets committed with the project: ``presets/``, or ``$NTM_EXPLORER_PRESETS``."""
    return Path(os.environ.get(PRESETS_ENV) or ROOT / "presets")


def user_presets_dir() -> Path:
    """Presets saved from the app's training jobs (kept out of the committed ``presets/``)."""
    return data_dir() / "presets"


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as users see it in messages: relative to the project or the data folder when it is
    inside one (no server paths on screen), else its last two parts."""
    path = Path(path)
    for base, label in ((data_dir(), "$NTM_EXPLORER_DATA"), (builtin_presets_dir(), "presets"), (ROOT, "")):
        try:
            rel = path.resolve().relative_to(base.resolve())
        except (ValueError, OSError):
            continue
        return f"{label}/{rel}" if label else str(rel)
    return "/".join(path.parts[-2:])


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
    shown = shown_path(path)
    if not path.exists():
        raise BundleError(f"{what} {shown_path(path.parent)} has no {path.name}: it is not a saved model "
                          f"(or was deleted). Pick another, or train one with `python -m ntm train`.")
    if not path.is_file():
        raise BundleError(f"{shown} is not a regular file. Restore it from version control or retrain.")
    if path.stat().st_size > CONFIG_MAX_BYTES:
        raise BundleError(f"{shown} is {path.stat().st_size:,} bytes, far more than a model's JSON file; "
                          f"it is not ours. Restore it from version control or retrain.")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BundleError(f"{shown} cannot be read ({exc.strerror}). Check its permissions.") from None
    except UnicodeDecodeError:
        raise BundleError(f"{shown} is not UTF-8 text: the file is corrupted. Restore it from version "
                          f"control or retrain.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BundleError(f"{shown} is not valid JSON{where}: the file is corrupted. Restore it from "
                          f"version control or retrain.") from None
    if not isinstance(data, dict):
        raise BundleError(f"{shown} should hold a JSON object; it holds {type(data).__name__}.")
    return data


def _file_entry(manifest: dict[str, Any], key: str, where: Path) -> tuple[str, str | None]:
    """The ``{"file", "sha256"}`` entry ``key`` of a manifest, checked to name a plain file."""
    entry = manifest.get(key, {"file": "weights.safetensors"} if key == "weights" else None)
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) \
            or not isinstance(entry.get("sha256"), (str, type(None))):
        raise BundleError(f"{shown_path(where)}: its '{key}' entry should be an object with a file name and a "
                          f"sha256; the config is damaged. Restore it from version control or retrain.")
    name = entry["file"]
    if name in ("", ".", "..") or Path(name).name != name or "\\" in name or "\x00" in name:
        raise BundleError(f"{shown_path(where)}: its '{key}' entry names {name[:60]!r}, which is not a plain "
                          f"file name in the model's folder; it is refused. Restore the config or retrain.")
    return name, entry.get("sha256")


def _checked_file(folder: Path, name: str, max_bytes: int) -> Path:
    """``folder/name`` if it is a regular file inside ``folder`` of at most ``max_bytes``."""
    file = folder / name
    if not file.exists():
        raise FileNotFoundError(file)
    if file.is_symlink() or not file.is_file() or file.resolve().parent != folder.resolve():
        raise BundleError(f"{shown_path(file)} is not a regular file in the model's folder; it is refused. "
                          f"Restore it, or retrain the model.")
    size = file.stat().st_size
    if size > max_bytes:
        raise BundleError(f"{shown_path(file)} is {size:,} bytes, more than the {max_bytes:,} its config's "
                          f"shapes need: it is not this model's file. Restore it, or retrain the model.")
    return file


def _tensor_bytes(tensors: dict[str, torch.Tensor]) -> int:
    """The largest safetensors file these tensors can make: their data plus a generous header."""
    return sum(t.numel() * t.element_size() for t in tensors.values()) + _HEADER_SLACK + 256 * len(tensors)


def _build(manifest: dict[str, Any], where: Path) -> tuple[nn.Module, Task]:
    try:
        task_info = manifest["task"]
        task = make_task(task_info["name"], **task_info.get("params", {}))
        model_cfg = dict(manifest["model"])
        model_cfg["input_size"], model_cfg["output_size"] = task.input_size, task.output_size
        model = build_model(manifest["model_type"], model_cfg)
    except (KeyError, TypeError, AttributeError) as exc:
        what = f"is missing {exc}" if isinstance(exc, KeyError) else "has entries of the wrong kind"
        raise BundleError(f"{shown_path(where)}: the config {what}; it was not written by this version "
                          f"of NTM Explorer. Retrain or restore the file.") from None
    except ValueError as exc:
        raise BundleError(f"{shown_path(where)}: the config is invalid: {exc}") from None
    except RuntimeError:
        raise BundleError(f"{shown_path(where)}: the model its config describes cannot be built on this machine "
                          f"(too large?). Retrain or restore the file.") from None
    return model, task


def _load_weights(model: nn.Module, folder: Path, name: str, sha256: str | None) -> None:
    own = model.state_dict()
    tensors = _read_tensors(folder, name, sha256, _tensor_bytes(own), "weights file")
    file = folder / name
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


def _read_tensors(folder: Path, name: str, sha256: str | None, max_bytes: int, what: str) -> dict[str, torch.Tensor]:
    """Tensors of ``folder/name``: size-capped, hash streamed and checked before the file is read."""
    try:
        file = _checked_file(folder, name, max_bytes)
        if sha256 is not None and sha256_file(file) != sha256:
            raise BundleError(f"{what} {shown_path(file)} does not match the checksum recorded beside it "
                              f"(truncated or overwritten). Restore the file, or retrain the model.")
        return load_tensors(file)
    except FileNotFoundError:
        raise BundleError(f"{what} {shown_path(folder / name)} is missing. Restore it, or retrain the model.") from None
    except OSError as exc:
        raise BundleError(f"{what} {shown_path(folder / name)} cannot be read ({exc.strerror}).") from None
    except ValueError as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{what} {shown_path(folder / name)} is damaged: it is not a readable safetensors "
                          f"file. Restore the file, or retrain the model.") from None


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
    article = {"ntm": "An NTM", "lstm": "An LSTM", "dnc": "A DNC", "sdnc": "A sparse DNC"}
    lines = [f"# Preset `{name}`", "",
             description or f"{article.get(model_type, model_type)} trained on the {task.name} task "
                            f"({task.length_name} {_span(task.train_lengths)}) "
                            f"by NTM Explorer's own training command.", ""]
    if metrics.get("sequences") is not None:
        lines += [f"Trained on {metrics['sequences']:,} sequences ({metrics.get('batches', '?'):,} batches) "
                  f"in {metrics.get('train_seconds', 0):.0f} s of training time.", ""]
    lines += evaluation_lines(task, metrics)
    lines += ["Made with:", "", "```", command, "```", ""]
    return "\n".join(lines)


def _span(lengths) -> str:
    """(10, 20) -> '10-20'; (200, 200) -> '200'."""
    lo, hi = lengths
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


SHOWN_FAILURES = 3                # failing seeds a README row lists


def _failed(row: dict[str, Any]) -> str:
    """'2 of 1,000 (seeds 12400, 12873)' for a row with failures listed; '' for one without. A row of
    many lengths (the training distribution) gives each seed's length: 'seed 54400 at length 17'."""
    if "failed" not in row:
        return ""
    seeds = [str(f["seed"]) if "length" in row else f"{f['seed']} at length {f['length']}"
             for f in row.get("failures", [])[:SHOWN_FAILURES]]
    more = ", …" if row["failed"] > len(seeds) else ""
    listed = f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}{more})" if seeds else ""
    return f"{row['failed']:,} of {row['sequences']:,}{listed}"


def evaluation_lines(task: Task, metrics: dict[str, Any]) -> list[str]:
    """The README's measured part: the training-distribution sentence and the generalisation table
    (with the failing sequences' seeds when the metrics list them), then how to reproduce them.
    ``refresh_readme`` replaces exactly these lines."""
    if task.scored_by == "cost":
        return cost_lines(task, metrics)
    lines: list[str] = []
    dist = metrics.get("training_distribution")
    if dist:
        seeded = f", seed {dist['seed']}" if dist.get("seed") is not None else ""
        failed = f" Failing: {_failed(dist)}." if dist.get("failed") else ""
        lines += [f"On its training distribution: {dist['bit_errors']:.2f} bit errors per sequence "
                  f"({percent(dist['perfect'])} of {dist['sequences']:,} sequences perfect{seeded}).{failed}", ""]
    rows = metrics.get("generalisation") or []
    if rows:
        listed = all("failed" in r for r in rows)
        lines += [f"| {task.length_name} | bit errors per sequence | max | perfect sequences |"
                  + (" failing sequences |" if listed else ""),
                  "| ---: | ---: | ---: | ---: |" + (" --- |" if listed else "")]
        lines += [f"| {r['length']} | {r['bit_errors']:.2f} | {r['bit_errors_max']:.0f} | "
                  f"{percent(r['perfect'])} |" + (f" {_failed(r) if r['failed'] else '-'} |" if listed else "")
                  for r in rows]
        seed = metrics.get("evaluation_seed")
        seeded = f"test sequences per row, seed {seed}" if seed is not None else "seeded test sequences per row"
        how = ("; `python -m ntm evaluate` reproduces any row, and sequence i of a row is the Step-through "
               "page's sequence for seed + i at that length, so each failing seed opens there."
               if listed else "; `python -m ntm evaluate` reproduces any row.")
        lines += ["", f"({rows[0]['sequences']:,} {seeded}{how})", ""]
    return lines


def cost_lines(task: Task, metrics: dict[str, Any]) -> list[str]:
    """``evaluation_lines`` of a task scored by cost (dynamic N-grams, the paper's figure 13): the model's
    cost in bits per sequence against ``task.optimal_cost_bits`` on the same sequences, the excess, and
    chance (½ for every scored bit), on the training distribution and by length."""
    lines: list[str] = []
    dist = metrics.get("training_distribution")
    if dist and "optimal_bits" in dist:
        seeded = f", seed {dist['seed']}" if dist.get("seed") is not None else ""
        lines += [f"On its training distribution: {dist['cost_bits']:.2f} bits per sequence against "
                  f"{task.optimum_name}'s {dist['optimal_bits']:.2f} on the same {dist['sequences']:,} sequences "
                  f"({dist['excess_bits']:+.2f} bits; chance {dist['chance_bits']:.0f}{seeded}).", ""]
    rows = [r for r in metrics.get("generalisation") or [] if "optimal_bits" in r]
    if rows:
        lines += [f"| {task.length_name} | cost per sequence (bits) | optimum (bits) | above optimum | chance (bits) |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['length']} | {r['cost_bits']:.2f} | {r['optimal_bits']:.2f} | {r['excess_bits']:+.2f} | "
                  f"{r['chance_bits']:.0f} |" for r in rows]
        seed = metrics.get("evaluation_seed")
        seeded = f"test sequences per row, seed {seed}" if seed is not None else "seeded test sequences per row"
        lines += ["", f"({rows[0]['sequences']:,} {seeded}; the optimum is {task.optimum_name} on the same "
                      f"sequences and chance predicts ½ for every scored bit; `python -m ntm evaluate` reproduces "
                      f"any row.)", ""]
    return lines


_MEASURED = re.compile(r"^(On its training distribution:|\| .* \| (bit errors|cost) per sequence)")
_MEASURED_END = re.compile(r"^\(.*reproduces any row.*\)$")


def refresh_readme(text: str, task: Task, metrics: dict[str, Any]) -> str:
    """A preset README with its measured part (``evaluation_lines``) replaced by the one of ``metrics``
    and everything else (the hand-written prose, the command) kept as it is.

    Raises:
        ValueError: the README has no measured part to replace (its table was removed by hand).
    """
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if _MEASURED.match(line)), None)
    end = next((i for i, line in enumerate(lines) if _MEASURED_END.match(line) and start is not None and i >= start), None)
    if start is None or end is None:
        raise ValueError("the README has no generalisation table to update (it should start with 'On its "
                         "training distribution:' or the table and end with '(... reproduces any row.)')")
    while end + 1 < len(lines) and not lines[end + 1].strip():
        end += 1
    return "\n".join(lines[:start] + evaluation_lines(task, metrics) + lines[end + 1:])


def write_measurements(preset: Preset, measured: dict[str, Any]) -> dict[str, Any]:
    """Replace what a preset's metrics.json and README report as measured (``measured``: its
    ``generalisation``, ``evaluation_seed`` and ``training_distribution``, as ``ntm.evaluation.measure``
    returns them); the README's hand-written prose and everything else in metrics.json are kept.
    Nothing is written unless both files can be (each atomically). Returns the new metrics.

    Raises:
        ValueError: the README has no measured part to replace.
    """
    metrics = {**preset.metrics, **measured}
    metrics.pop("error", None)
    readme = preset.path / "README.md"
    if readme.exists():
        text = refresh_readme(readme.read_text(encoding="utf-8"), preset.task, metrics)
    else:
        text = preset_readme(preset.name, preset.model_type, preset.task, metrics, preset.config.get("command", ""))
    atomic_write_json(preset.path / "metrics.json", metrics)
    atomic_write_text(readme, text)
    return metrics


def resolve_preset(name_or_path: str | os.PathLike) -> Path:
    """The folder of a preset given by path, or by catalogue id (a name under the built-in
    presets, or a user preset's name, ``user:<name>`` when a built-in one has it too).

    Raises:
        BundleError: no such preset; the message lists the available ones.
    """
    text = str(name_or_path)
    if len(text) > 4096 or "\x00" in text:
        raise BundleError("that is not a preset name or folder. " + _available())
    path = Path(text)
    try:
        if path.is_dir():
            return path
    except OSError:                       # a name too long for the file system, say
        pass
    entry = find_preset(text)
    if entry is not None:
        return entry.path
    raise BundleError(f"no preset {text[:MAX_NAME]!r}. " + _available())


def _available() -> str:
    return f"Available presets: {', '.join(e.id for e in catalogue()) or 'none'}."


def load_preset(path: str | os.PathLike) -> Preset:
    """Load a preset bundle (a folder, or a catalogue id such as ``copy``) in eval mode.

    Raises:
        BundleError: missing, truncated, corrupted or mismatched files, with what to do.
    """
    path = resolve_preset(path)
    manifest = _read_json(path / "config.json", "preset")
    if manifest.get("format") != MODEL_FORMAT:
        raise BundleError(f"{shown_path(path / 'config.json')} is not an NTM Explorer model (format "
                          f"{str(manifest.get('format'))[:40]!r}, expected {MODEL_FORMAT!r}).")
    model, task = _build(manifest, path)
    _load_weights(model, path, *_file_entry(manifest, "weights", path))
    model.eval()
    metrics = {}
    if (path / "metrics.json").exists():
        try:
            metrics = _read_json(path / "metrics.json", "preset")
        except BundleError:
            metrics = {"error": "metrics.json is damaged"}
    return Preset(path.name, path, model, task, manifest, metrics)


def list_presets(root: str | os.PathLike | None = None) -> list[Path]:
    """Preset folders (those with a config.json) under ``root``, sorted by name.

    Without ``root``: the built-in presets first, then the user's presets (``user_presets_dir``).
    """
    roots = [Path(root)] if root is not None else [builtin_presets_dir(), user_presets_dir()]
    found = []
    for r in roots:
        try:
            found += sorted(p for p in r.iterdir() if (p / "config.json").is_file())
        except OSError:
            continue
    return found


# ---- the catalogue -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PresetEntry:
    """One preset as the pages and the command line list it, read from its config.json alone.

    Attributes:
        id: what links, select boxes and ``--preset`` use: the folder name, or ``user:<name>``
            for a user preset whose name a built-in preset already has.
        path: the preset's folder.
        model_type: ``ntm``, ``lstm``, ... or None when config.json cannot be read.
        task: the task's name, or None.
        summary: one line for a select box.
        stamp: changes whenever any of the preset's files changes (a cache key).
        problem: why the preset cannot be opened, when config.json already says so.
    """

    id: str
    path: Path
    model_type: str | None
    task: str | None
    summary: str
    stamp: tuple
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None


def preset_stamp(path: str | os.PathLike) -> tuple:
    """(name, mtime, size) of every file in the folder: a re-saved preset gets a new stamp."""
    try:
        files = sorted(p for p in Path(path).iterdir() if p.is_file())
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:
        return ()


def _summary(config: dict[str, Any]) -> str:
    task = config.get("task", {}).get("name", "?")
    model = config.get("model", {})
    if config.get("model_type") == "ntm":
        return (f"{task} · NTM, {model.get('memory_slots', '?')}×{model.get('memory_width', '?')} "
                f"memory, heads {model.get('heads', '?')}")
    if config.get("model_type") in ("dnc", "sdnc"):
        reads = model.get("read_heads", "?")
        sparse = f", K={model.get('sparse_reads', '?')}" if config["model_type"] == "sdnc" else ""
        return (f"{task} · {'sparse DNC' if sparse else 'DNC'}, {model.get('nr_cells', '?')}×"
                f"{model.get('cell_size', '?')} memory, {reads} read head{'' if reads == 1 else 's'}, "
                f"{str(model.get('rnn_type', '?')).upper()} {model.get('hidden_size', '?')}{sparse}")
    return f"{task} · {config.get('model_type', '?')}"


def _entry(pid: str, path: Path) -> PresetEntry:
    stamp = preset_stamp(path)
    try:
        config = _read_json(path / "config.json", "preset")
        model_type, task = config.get("model_type"), config.get("task", {}).get("name")
        if not isinstance(model_type, str) or not isinstance(task, str):
            raise BundleError(f"{shown_path(path / 'config.json')} does not say which model and task it holds.")
        return PresetEntry(pid, path, model_type, task, _summary(config), stamp)
    except (BundleError, AttributeError) as exc:
        problem = str(exc) if isinstance(exc, BundleError) else "config.json is damaged"
        return PresetEntry(pid, path, None, None, "config.json unreadable", stamp, problem)


def catalogue() -> list[PresetEntry]:
    """Every preset: the built-in ones, then the user's (``user:<name>`` when the name is taken)."""
    entries, ids = [], set()
    for root, prefix in ((builtin_presets_dir(), ""), (user_presets_dir(), USER_PREFIX)):
        for path in list_presets(root):
            pid = path.name if path.name not in ids else prefix + path.name
            ids.add(pid)
            entries.append(_entry(pid, path))
    return entries


def find_preset(pid: str) -> PresetEntry | None:
    """The catalogue entry with id ``pid``, or None (also for any name that is not a plain id)."""
    if not isinstance(pid, str) or not 0 < len(pid) <= MAX_NAME or "/" in pid or "\\" in pid or pid in (".", ".."):
        return None
    return next((e for e in catalogue() if e.id == pid), None)


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
    if not isinstance(manifest.get("train"), dict) or not isinstance(manifest.get("progress"), dict) \
            or not isinstance(manifest.get("optimizer"), dict):
        raise BundleError(f"{shown_path(path / 'checkpoint.json')} is damaged (its train, progress or optimizer "
                          f"entry is missing): start a new run in another --checkpoint-path, or restore it.")
    weights_name, weights_sha = _file_entry(manifest, "weights", path)
    opt_name, opt_sha = _file_entry(manifest, "optimizer_file", path)
    _load_weights(model, path, weights_name, weights_sha)
    # Optimizer state: at most a few tensors per parameter (Adam: two), plus the generator state.
    tensors = _read_tensors(path, opt_name, opt_sha, 3 * _tensor_bytes(model.state_dict()) + (1 << 16),
                            "optimizer file")
    generator_state = tensors.pop("rng.task", None)
    if generator_state is None:
        raise BundleError(f"{shown_path(path / opt_name)} lacks the task generator state; the checkpoint is "
                          f"damaged. Start a new run in another --checkpoint-path.")
    return Checkpoint(model, task, manifest, _unflatten_optimizer(tensors, manifest["optimizer"]), generator_state)
