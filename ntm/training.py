"""Training: the loop, its settings, metrics, checkpoints, status for background jobs.

A run lives in one folder (``--checkpoint-path``):

    checkpoint.json + weights-*.safetensors + optimizer-*.safetensors   resumable state (ntm.presets)
    metrics.jsonl     one JSON line per report: batches, sequences, loss, cost (bits/sequence),
                      bit errors/sequence, sequences/s, elapsed seconds, and cost_by_length
                      {length: cost per sequence over the report's batches of that length}
    status.json       state (running, done, cancelled, failed), progress and ETA; rewritten
                      atomically at every report so another process can watch the run
    sample.json       the model's current answer to one fixed example, for live plots
    fixed_examples.json  the fixed examples of the history below (written when the run starts):
                      one at the longest training length, one longer (twice, or what the memory holds)
    samples.jsonl     one JSON line per report: batches, sequences, and the model's outputs
                      (probabilities, 3 decimals) on the fixed examples' scored steps

Settings come in three groups that ``-p key=value`` can all reach: the training settings of
``TrainSettings``, the model's config fields (``NTMConfig`` / ``LSTMConfig``) and the task's
parameters. ``resolve_params`` sorts overrides into them and rejects unknown keys or bad values.

``curriculum`` (``-p curriculum=true``) draws each batch's length from a range that starts short and
grows as the model learns (``ntm.curriculum``); the cap is in each metrics line and the checkpoint.

``device`` (``-p device=...``, ``--device``) says where the model, its batches and the optimizer's
state live: cpu (the default), cuda, cuda:N, or auto (cuda when available, else cpu); see
``ntm.device``. Batches are drawn on the CPU and moved once each; checkpoints and presets hold CPU
tensors whatever the device.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch

from .curriculum import Curriculum, CurriculumSettings
from .device import DeviceError, check_device_name, resolve_device
from .evaluation import (DISTRIBUTION_SEED, default_lengths, evaluate_training_distribution, generalisation_table,
                         max_length)
from .io import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from .model import MODEL_TYPES, build_model, config_fields
from .presets import BundleError, has_checkpoint, load_checkpoint, save_checkpoint, save_preset, shown_path
from .tasks import bit_errors, cost_bits, loss as task_loss, make_task, task_params

OPTIMIZERS = ("rmsprop", "adam")
HISTORY_SEED = 0                 # seed of the fixed examples (sample.json's and the history's)
HISTORY_DIGITS = 3               # decimals kept of the history's outputs and the per-length costs
LR_SCHEDULES = ("constant", "cosine")
EVALUATION_SEED = 12345          # seed of a saved preset's generalisation table (python -m ntm evaluate --seed)


@dataclass
class TrainSettings:
    """Training settings (everything except the model's and the task's own parameters)."""

    batch_size: int = 8
    num_batches: int = 4000
    optimizer: str = "adam"          # "rmsprop" (the paper, with momentum) or "adam"
    lr: float = 3e-3
    momentum: float = 0.9            # RMSprop only
    alpha: float = 0.95              # RMSprop smoothing constant
    clip_value: float = 10.0         # gradients are clipped elementwise to [-clip, clip]
    lr_schedule: str = "constant"    # "constant", or "cosine": anneal to lr * lr_min_ratio by num_batches
    lr_min_ratio: float = 0.05
    report_interval: int = 200       # batches between metrics lines
    checkpoint_interval: int = 1000  # batches between checkpoints (0: only at the end)
    compile: bool = False            # torch.compile the NTM step (faster after ~30 s of compiling)
    threads: int = 0                 # torch CPU threads; 0 leaves torch's default
    device: str = "cpu"              # "cpu", "cuda", "cuda:N", or "auto" (cuda when available, else cpu)
    curriculum: bool = False         # lengthen episodes as the model learns (ntm.curriculum)
    curriculum_start: int = 2        # the first longest length (size knob), clipped to the task's range
    curriculum_step: int = 1         # how much the longest length grows at a time
    curriculum_threshold: float = 0.25   # bit errors per sequence (moving average) at which it grows
    curriculum_patience: int = 25    # batches at least between two growths
    max_seconds: float = 0.0         # wall-time budget of one run() (compile included): stop and checkpoint
                                     # after the batch that spends it; 0: no limit

    def __post_init__(self):
        for name in ("batch_size", "num_batches", "report_interval"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        if isinstance(self.checkpoint_interval, bool) or not isinstance(self.checkpoint_interval, int) \
                or self.checkpoint_interval < 0:
            raise ValueError(f"checkpoint_interval must be an integer >= 0; got {self.checkpoint_interval!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {self.lr_schedule!r}")
        if not (isinstance(self.lr_min_ratio, (int, float)) and 0 < self.lr_min_ratio <= 1):
            raise ValueError(f"lr_min_ratio must be in (0, 1]; got {self.lr_min_ratio!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        for name in ("lr", "clip_value"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number; got {v!r}")
        for name in ("momentum", "alpha"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v < 1):
                raise ValueError(f"{name} must be in [0, 1); got {v!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(f"threads must be an integer >= 0; got {self.threads!r}")
        if isinstance(self.max_seconds, bool) or not (isinstance(self.max_seconds, (int, float))
                                                       and math.isfinite(self.max_seconds) and self.max_seconds >= 0):
            raise ValueError(f"max_seconds must be a number of seconds >= 0 (0: no limit); got {self.max_seconds!r}")
        check_device_name(self.device)          # whether this machine has it: Trainer (resolve_device)
        if not isinstance(self.curriculum, bool):
            raise ValueError(f"curriculum must be true or false; got {self.curriculum!r}")
        self.curriculum_settings()

    def curriculum_settings(self) -> CurriculumSettings:
        """The curriculum's parameters (checked: ValueError names the bad one)."""
        return CurriculumSettings(self.curriculum_start, self.curriculum_step, self.curriculum_threshold,
                                  self.curriculum_patience)


def _parse_value(text: str, like: Any, key: str) -> Any:
    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"-p {key}={text}: expected true or false")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"-p {key}={text}: expected an integer") from None
    if isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"-p {key}={text}: expected a number") from None
    return text


@dataclass
class RunSpec:
    """Everything that defines a run: what to train, on what, how."""

    task: str = "copy"
    model_type: str = "ntm"
    seed: int = 1000
    settings: TrainSettings = field(default_factory=TrainSettings)
    model: dict[str, Any] = field(default_factory=dict)      # model config overrides
    task_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model_type": self.model_type, "seed": self.seed,
                "settings": asdict(self.settings), "model": dict(self.model),
                "task_params": dict(self.task_params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        return cls(d["task"], d["model_type"], d["seed"], TrainSettings(**d["settings"]),
                   dict(d.get("model", {})), dict(d.get("task_params", {})))


def valid_param_keys(task: str, model_type: str) -> dict[str, dict[str, Any]]:
    """The keys ``-p`` accepts for this task and model type, by group, with their defaults."""
    return {
        "training": {f.name: f.default for f in fields(TrainSettings)},
        "model": config_fields(model_type),
        "task": {k: v[1] for k, v in task_params(task).items()},
    }


def resolve_params(task: str, model_type: str, pairs: list[str],
                   settings_overrides: dict[str, Any] | None = None) -> RunSpec:
    """Build a ``RunSpec`` from ``key=value`` strings (``-p``) over the defaults, then explicit
    setting overrides (``None`` values are ignored, so a form's empty fields change nothing).

    Raises:
        ValueError: one line naming the bad key or value and the valid keys.
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"--model-type must be one of {', '.join(MODEL_TYPES)}; got {model_type!r}")
    groups = valid_param_keys(task, model_type)
    settings: dict[str, Any] = asdict(TrainSettings())
    model: dict[str, Any] = {}
    tparams: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"-p expects key=value (e.g. -p batch_size=16); got {pair!r}")
        key, value = (s.strip() for s in pair.split("=", 1))
        if key in groups["training"]:
            settings[key] = _parse_value(value, groups["training"][key], key)
        elif key in groups["model"]:
            model[key] = _parse_value(value, groups["model"][key], key)
        elif key in groups["task"]:
            tparams[key] = _parse_value(value, groups["task"][key], key)
        else:
            valid = sorted(set().union(*groups.values()))
            raise ValueError(f"unknown parameter {key!r} for --task {task} --model-type {model_type}; "
                             f"valid keys: {', '.join(valid)}")
    overrides = {k: v for k, v in (settings_overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; valid: {', '.join(settings)}")
    settings.update(overrides)
    spec = RunSpec(task, model_type, settings=TrainSettings(**settings), model=model, task_params=tparams)
    # Build once to validate the model and task parameters now, not after minutes of work.
    t = make_task(task, **tparams)
    build_model(model_type, {**model, "input_size": t.input_size, "output_size": t.output_size})
    return spec


def read_json_file(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class NonFiniteError(RuntimeError):
    """A batch's loss or gradient was NaN or infinite; nothing of that batch was applied."""


# May change when a run resumes (when given: a run resumed without a device keeps its own).
RESUME_OVERRIDES = ("lr", "clip_value", "lr_schedule", "lr_min_ratio", "device")


def _grads_finite(parameters) -> bool:
    grads = [p.grad for p in parameters if p.grad is not None]
    return not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())


class Trainer:
    """Runs one training run in ``run_dir``, resuming from its checkpoint when asked.

    ``on_report(record)`` is called with each metrics line; ``on_batch(batches)`` after each batch
    (once it is reported and checkpointed), with the number of batches done.

    ``init_from`` (a loaded ``ntm.presets.Preset``) starts a new run from a preset's model and task,
    with a fresh optimiser: fine-tuning (``--init-from``). The preset's own command is kept first in
    the run's command history, so a preset saved from this run says how its weights were made.

    The model and the optimizer's state live on ``self.device`` (the settings' ``device``,
    resolved); each batch is drawn on the CPU and moved there once.

    Raises:
        DeviceError: the settings' device is not on this machine (before anything is written).
    """

    def __init__(self, spec: RunSpec, run_dir: str | os.PathLike, resume: bool = False,
                 progress: bool = True, on_report: Callable[[dict[str, Any]], None] | None = None,
                 command: str | None = None, on_batch: Callable[[int], None] | None = None,
                 resume_overrides: dict[str, Any] | None = None, init_from: Any = None):
        self.run_dir = Path(run_dir)
        self.commands: list[str] = []
        self.progress_bar = progress
        self.on_report = on_report
        self.on_batch = on_batch
        self._stop_requested = False
        self._run_start: float | None = None      # perf_counter() when run() began (its max_seconds budget)
        self.resumed = False
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ValueError(f"{shown_path(self.run_dir)} is a file, not a folder: choose another --checkpoint-path")
        if resume and has_checkpoint(self.run_dir):
            ckpt = load_checkpoint(self.run_dir)
            try:
                self.spec = RunSpec.from_dict(ckpt.train["spec"])
                self.batches = int(ckpt.progress["batches"])
                self.sequences = int(ckpt.progress["sequences"])
                self.elapsed = float(ckpt.progress["elapsed"])
                self.commands = [str(c) for c in ckpt.train.get("commands", [])]
                curriculum_state = ckpt.progress.get("curriculum")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise BundleError(f"{shown_path(self.run_dir / 'checkpoint.json')} holds a damaged run description: "
                                  f"start a new run in another --checkpoint-path, or restore the file.") from None
            # Settings that may change on resume: how long to run and how often to report/save.
            for name in ("num_batches", "report_interval", "checkpoint_interval", "compile", "threads", "max_seconds"):
                setattr(self.spec.settings, name, getattr(spec.settings, name))
            # And, when asked (e.g. after the loss diverged), the learning rate and clipping.
            for name, value in (resume_overrides or {}).items():
                if name not in RESUME_OVERRIDES:
                    raise ValueError(f"{name} cannot change when a run resumes (only {', '.join(RESUME_OVERRIDES)})")
                setattr(self.spec.settings, name, value)
            self.device = resolve_device(self.spec.settings.device)
            self.model, self.task = _to_device(ckpt.model, self.device), ckpt.task
            self.optimizer = self._make_optimizer()     # its state is loaded onto the parameters' device
            _load_optimizer_state(self.optimizer, ckpt.optimizer_state)
            self.generator = torch.Generator()
            self.generator.set_state(ckpt.generator_state)
            self.resumed = True
            # Reports written after that checkpoint describe progress that is now redone.
            for path in (self.metrics_path, self.run_dir / "samples.jsonl"):
                kept = [r for r in read_jsonl(path) if r.get("batches", 0) <= self.batches]
                atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
        else:
            if resume is False and has_checkpoint(self.run_dir):
                raise ValueError(f"{self.run_dir} already holds a checkpoint: pass --resume to continue "
                                 f"it, or choose another --checkpoint-path")
            self.spec = spec
            self.device = resolve_device(spec.settings.device)
            torch.manual_seed(spec.seed)
            if init_from is not None:       # fine-tune a preset: its model, weights and task; a fresh optimiser
                spec.task, spec.model_type = init_from.task.name, init_from.model_type
                spec.model = {k: v for k, v in init_from.config["model"].items()
                              if k not in ("input_size", "output_size")}
                spec.task_params = dict(init_from.task.config())
                self.task, self.model = init_from.task, _to_device(init_from.model, self.device)
                self.commands = [str(init_from.config["command"])] if init_from.config.get("command") else []
            else:
                self.task = make_task(spec.task, **spec.task_params)
                self.model = _to_device(build_model(spec.model_type, {**spec.model, "input_size": self.task.input_size,
                                                                      "output_size": self.task.output_size}),
                                        self.device)
            self.optimizer = self._make_optimizer()
            self.generator = torch.Generator().manual_seed(spec.seed)
            self.batches, self.sequences, self.elapsed = 0, 0, 0.0
            curriculum_state = None
            self.metrics_path.unlink(missing_ok=True)
            (self.run_dir / "samples.jsonl").unlink(missing_ok=True)
        if command:
            self.commands.append(command)
        if self.spec.settings.threads:
            torch.set_num_threads(self.spec.settings.threads)
        if self.spec.settings.compile and hasattr(self.model, "compile_step"):
            self.model.compile_step()
        self.curriculum = Curriculum.from_state(self.task.train_lengths, self.spec.settings.curriculum_settings(),
                                                curriculum_state) if self.spec.settings.curriculum else None
        self.sample = self.task.sample(1, torch.Generator().manual_seed(HISTORY_SEED),
                                       length=self.task.train_lengths[1])
        self.examples = [self.task.sample(1, torch.Generator().manual_seed(HISTORY_SEED), length=n)
                         for n in history_lengths(self.task, self.model)]

    # ---- paths -------------------------------------------------------------------------------
    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.run_dir / "status.json"

    def _make_optimizer(self) -> torch.optim.Optimizer:
        s = self.spec.settings
        params = self.model.parameters()
        if s.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=s.lr, momentum=s.momentum, alpha=s.alpha)
        return torch.optim.Adam(params, lr=s.lr)

    def request_stop(self, *_: Any) -> None:
        """Finish the current batch, checkpoint, and stop (SIGTERM/SIGINT handler)."""
        self._stop_requested = True

    # ---- the loop ------------------------------------------------------------------------------
    def learning_rate(self) -> float:
        """The learning rate for the next batch (the schedule is a function of the batch count,
        so a resumed run continues on the same curve)."""
        s = self.spec.settings
        if s.lr_schedule == "constant":
            return s.lr
        progress = min(self.batches / max(s.num_batches, 1), 1.0)
        floor = s.lr * s.lr_min_ratio
        return floor + 0.5 * (s.lr - floor) * (1 + math.cos(math.pi * progress))

    def train_batch(self) -> tuple[float, float, float, int]:
        """One optimiser step. Returns (loss, cost in bits per sequence, bit errors per sequence, the
        batch's length): the size knob is drawn here as ``task.sample`` would draw it, from the same
        generator, so the stream of batches is the one ``task.sample`` alone gives."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        size = self.spec.settings.batch_size
        length = self.curriculum.draw(self.generator) if self.curriculum is not None \
            else self.task._episode_length(size, self.generator, None)
        batch = self.task.sample(size, self.generator, length=length)
        if self.device.type != "cpu":
            batch = batch.to(self.device)        # once per batch; on the CPU the batch is used as drawn
        self.optimizer.zero_grad(set_to_none=True)
        logits, _, _ = self.model(batch.inputs)
        loss = task_loss(logits, batch)
        if not torch.isfinite(loss):
            raise NonFiniteError(f"the loss became {loss.item()}")
        loss.backward()
        if not _grads_finite(self.model.parameters()):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteError("a gradient became NaN or infinite")
        torch.nn.utils.clip_grad_value_(self.model.parameters(), self.spec.settings.clip_value)
        self.optimizer.step()
        after_batch = getattr(self.model, "after_batch", None)     # the dual NTM's long-term write path
        if after_batch is not None:
            after_batch(self.batches + 1, batch, logits.detach())
        with torch.no_grad():
            errors = bit_errors(logits, batch).float().mean().item()
            if self.curriculum is not None:
                self.curriculum.update(errors)
            return loss.item(), cost_bits(logits, batch).item(), errors, length

    def divergence_message(self, exc: NonFiniteError) -> str:
        """What happened and what to try, for a run stopped by a non-finite loss or gradient."""
        s = self.spec.settings
        manifest = read_json_file(self.run_dir / "checkpoint.json") or {}
        kept = (f"the last good checkpoint (batch {manifest.get('progress', {}).get('batches', '?')}) is kept"
                if manifest else "no checkpoint had been written yet, so a new run starts afresh")
        return (f"training stopped at batch {self.batches + 1}: {exc}. Nothing of that batch was applied and "
                f"{kept}. Try a lower learning rate (now {s.lr:g}) or a smaller gradient clip value (now "
                f"{s.clip_value:g}), and resume: --resume -p lr={s.lr / 2:g}")

    def write_status(self, state: str, message: str = "", rate: float | None = None) -> dict[str, Any]:
        total, budget = self.spec.settings.num_batches, self.spec.settings.max_seconds
        remaining = max(total - self.batches, 0) * self.spec.settings.batch_size
        eta = remaining / rate if rate else None
        if budget and self._run_start is not None:                    # a time limit ends the run first
            left = max(budget - (time.perf_counter() - self._run_start), 0.0)
            eta = left if eta is None else min(eta, left)
        status = {"state": state, "batches": self.batches, "num_batches": total,
                  "sequences": self.sequences, "elapsed": round(self.elapsed, 2),
                  "eta_seconds": round(eta, 1) if eta is not None else None, "max_seconds": budget,
                  "pid": os.getpid(), "updated": time.time(), "message": message,
                  "task": self.spec.task, "model_type": self.spec.model_type}
        atomic_write_json(self.status_path, status)
        return status

    def write_sample(self) -> None:
        self.model.eval()
        with torch.no_grad():
            logits = self._cpu_logits(self.sample.inputs)
        self.model.train()
        atomic_write_json(self.run_dir / "sample.json", {
            "batches": self.batches,
            "inputs": self.sample.inputs[0].tolist(), "targets": self.sample.targets[0].tolist(),
            "outputs": torch.sigmoid(logits[0]).tolist(), "mask": self.sample.mask[0].tolist()})

    def _cpu_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The model's logits ``[B, T, Y]`` for CPU ``inputs``, run on the model's device, back on the CPU."""
        logits, _, _ = self.model(inputs if self.device.type == "cpu" else inputs.to(self.device))
        return logits.cpu()

    def write_fixed_examples(self) -> None:
        """The history's fixed examples: inputs, and targets of the scored steps (``[T_scored, W]``)."""
        examples = [{"length": n, "inputs": ex.inputs[0].tolist(), "targets": ex.targets[0][ex.mask[0]].tolist()}
                    for n, ex in zip(history_lengths(self.task, self.model), self.examples)]
        atomic_write_text(self.run_dir / "fixed_examples.json", json.dumps({"examples": examples}) + "\n")

    def append_history(self) -> None:
        """One line of samples.jsonl: the outputs (sigmoid) on each fixed example's scored steps."""
        outputs = []
        self.model.eval()
        with torch.no_grad():
            for ex in self.examples:
                logits = self._cpu_logits(ex.inputs)
                probs = torch.sigmoid(logits[0][ex.mask[0]]).tolist()            # [T_scored, W]
                outputs.append([[round(p, HISTORY_DIGITS) for p in row] for row in probs])
        self.model.train()
        append_jsonl(self.run_dir / "samples.jsonl",
                     {"batches": self.batches, "sequences": self.sequences, "outputs": outputs})

    def checkpoint(self) -> None:
        save_checkpoint(self.run_dir, self.model, self.task, self.optimizer, self.generator,
                        train={"spec": self.spec.to_dict(), "commands": self.commands},
                        progress={"batches": self.batches, "sequences": self.sequences, "elapsed": self.elapsed,
                                  **({"curriculum": self.curriculum.state()} if self.curriculum else {})})

    def run(self) -> dict[str, Any]:
        """Train until ``num_batches``, a stop request, or ``max_seconds`` of wall time since this call
        (then state "done" with a message saying so). Returns the final status."""
        s = self.spec.settings
        run_start = self._run_start = time.perf_counter()
        out_of_time = False
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.model.train()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} \
            if _in_main_thread() else {}
        for sig in previous:
            signal.signal(sig, self.request_stop)
        bar = None
        if self.progress_bar:
            from tqdm import tqdm
            bar = tqdm(total=s.num_batches, initial=self.batches, unit="batch", dynamic_ncols=True)
        window: list[tuple[float, float, float, int]] = []
        window_start, window_seqs = time.perf_counter(), 0
        rate = None
        state = "running"
        self.write_status(state)
        self.write_fixed_examples()
        try:
            while self.batches < s.num_batches and not self._stop_requested:
                t0 = time.perf_counter()
                try:
                    window.append(self.train_batch())
                except NonFiniteError as exc:
                    return self.write_status("diverged", message=self.divergence_message(exc))
                self.elapsed += time.perf_counter() - t0
                self.batches += 1
                self.sequences += s.batch_size
                window_seqs += s.batch_size
                if bar is not None:
                    bar.update(1)
                if self.batches % s.report_interval == 0 or self.batches == s.num_batches:
                    now = time.perf_counter()
                    rate = window_seqs / max(now - window_start, 1e-9)
                    n = len(window)
                    record = {"batches": self.batches, "sequences": self.sequences,
                              "loss": sum(w[0] for w in window) / n,
                              "cost_bits": sum(w[1] for w in window) / n,
                              "bit_errors": sum(w[2] for w in window) / n,
                              "seq_per_s": round(rate, 2), "elapsed": round(self.elapsed, 2),
                              "lr": self.learning_rate(), "cost_by_length": cost_by_length(window)}
                    if self.curriculum is not None:
                        record["curriculum_cap"] = self.curriculum.cap      # the longest length now drawn
                    append_jsonl(self.metrics_path, record)
                    self.write_sample()
                    self.append_history()
                    self.write_status(state, rate=rate)
                    if bar is not None:
                        bar.set_postfix(cost=f"{record['cost_bits']:.3f}", err=f"{record['bit_errors']:.2f}",
                                        seq_s=f"{rate:.0f}")
                    if self.on_report:
                        self.on_report(record)
                    window, window_start, window_seqs = [], time.perf_counter(), 0
                if s.checkpoint_interval and self.batches % s.checkpoint_interval == 0:
                    self.checkpoint()
                if self.on_batch:
                    self.on_batch(self.batches)
                if s.max_seconds and time.perf_counter() - run_start >= s.max_seconds:
                    out_of_time = True
                    break
            self.checkpoint()
            state = "cancelled" if self._stop_requested and self.batches < s.num_batches else "done"
            message = f"stopped after its time limit of {s.max_seconds:g} s" \
                if out_of_time and self.batches < s.num_batches else ""
            return self.write_status(state, message=message, rate=rate)
        except Exception as exc:
            self.write_status("failed", message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if bar is not None:
                bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def export_preset(self, path: str | os.PathLike, command: str | None = None,
                      lengths: list[int] | None = None, sequences: int = 100) -> Path:
        """Evaluate generalisation by length and save the model as a preset bundle.

        ``command`` defaults to the commands that made the run (the first one, then each resume).
        """
        command = command or " && ".join(self.commands) or "(trained from Python)"
        lengths = lengths or default_lengths(self.task, self.model)
        table = generalisation_table(self.model, self.task, lengths, sequences=sequences, seed=EVALUATION_SEED)
        in_distribution = evaluate_training_distribution(self.model, self.task, sequences=min(5 * sequences, max(500, sequences)),
                                                         seed=DISTRIBUTION_SEED)
        curve = read_jsonl(self.metrics_path)
        metrics = {"task": self.spec.task, "model_type": self.spec.model_type, "seed": self.spec.seed,
                   "batches": self.batches, "sequences": self.sequences,
                   "train_seconds": round(self.elapsed, 1),
                   "train_lengths": list(self.task.train_lengths), "length_name": self.task.length_name,
                   "training_distribution": in_distribution, "generalisation": table,
                   "evaluation_seed": EVALUATION_SEED, "curve": curve, "spec": self.spec.to_dict(), "command": command}
        return save_preset(path, self.model, self.task, metrics, command)


def history_lengths(task, model) -> list[int]:
    """The lengths of the history's fixed examples: the longest training length, and twice it capped
    by what the model's memory holds (``task.longest_fitting``); just the first when that is no longer."""
    hi = task.train_lengths[1]
    cap = max_length(task, model)
    if cap is None:                  # no memory to fill: as long as the task has episodes (NLI: premises)
        cap = task.longest_fitting(task.slots_needed(2 * hi))
    longer = min(2 * hi, cap)
    return [hi, longer] if longer > hi else [hi]


def cost_by_length(window: list[tuple[float, float, float, int]]) -> dict[str, float]:
    """{length: mean cost in bits per sequence over the batches of that length}, lengths ascending
    (JSON keys are strings). ``window``: (loss, cost, bit errors, length) of each batch."""
    by: dict[int, list[float]] = {}
    for _, cost, _, length in window:
        by.setdefault(length, []).append(cost)
    return {str(n): round(sum(c) / len(c), HISTORY_DIGITS) for n, c in sorted(by.items())}


def _to_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` moved to ``device`` (in place; a model on the CPU is left as it is)."""
    return model if device.type == "cpu" else model.to(device)


def _load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a checkpoint's optimizer state. Its hyperparameters went through JSON, which has no
    tuples (Adam's ``betas`` come back as a list): give them back the types of the optimizer just
    built from the same settings, so the resumed optimizer is the one that was saved."""
    groups = [{k: tuple(v) if isinstance(fresh.get(k), tuple) and isinstance(v, list) else v
               for k, v in saved.items()}
              for saved, fresh in zip(state["param_groups"], optimizer.param_groups)]
    optimizer.load_state_dict({**state, "param_groups": groups})


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()
