"""The command line equivalent to a job, written into the preset it saves (its README and metrics)."""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict
from typing import Any


def spec_command(spec: Any, run_dir: str | os.PathLike, preset_path: str | os.PathLike) -> str:
    """The ``python -m ntm train`` command that trains ``spec`` (a ``ntm.training.RunSpec``) into
    ``run_dir`` and saves it to ``preset_path``; training settings left at their defaults are omitted,
    and the device is given as ``--device`` (the job keeps it when it resumes: job.json's spec holds it)."""
    # The defaults come from the settings' own class, so this module does not import ntm.training (torch).
    defaults = asdict(type(spec.settings)())
    args = ["python", "-m", "ntm", "train", "--task", spec.task, "--model-type", spec.model_type,
            "--seed", str(spec.seed)]
    for key, value in asdict(spec.settings).items():
        if value != defaults.get(key):
            args += ["--device", str(value)] if key == "device" else ["-p", f"{key}={value}"]
    for key, value in {**spec.model, **spec.task_params}.items():
        args += ["-p", f"{key}={value}"]
    args += ["--checkpoint-path", str(run_dir), "--no-progress", "--preset-out", str(preset_path)]
    return " ".join(shlex.quote(a) for a in args)
