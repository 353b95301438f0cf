"""Where a model runs: ``--device cpu | cuda | cuda:N | auto`` (training and evaluation).

    check_device_name("cuda:1")   -> "cuda:1"      the text only (no torch): cpu, cuda, cuda:N or auto
    resolve_device("auto")        -> cpu here      cuda when torch.cuda.is_available(), else cpu
    resolve_device("cuda")        DeviceError on a machine without CUDA, saying to use --device cpu
    model_device(model)           -> the device of the model's first parameter (cpu if it has none)
    device_choices()              -> ["cpu"] here; ["cpu", "cuda", "cuda:0", "cuda:1"] with two GPUs

The data is always drawn on the CPU (its seeded generators are CPU generators, so a run sees the
same sequences on any device) and moved to the model's device once per batch. Saved files always
hold CPU tensors (``ntm.io.save_tensors`` copies to the CPU; safetensors loads onto it), so a
preset trained on a GPU opens on a machine without one.
"""

from __future__ import annotations

import re
from typing import Any

DEVICE_RE = re.compile(r"cpu|auto|cuda(:[0-9]{1,3})?")
DEVICE_CHOICES = "cpu, cuda, cuda:N or auto"


class DeviceError(ValueError):
    """A device name that is not one, or a device this machine does not have; the message says what to do."""


def check_device_name(name: Any) -> str:
    """``name`` if it is ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (whether the machine has it is
    ``resolve_device``'s question).

    Raises:
        DeviceError: one line naming the valid forms.
    """
    if not isinstance(name, str) or not DEVICE_RE.fullmatch(name):
        raise DeviceError(f"device must be {DEVICE_CHOICES}; got {str(name)[:40]!r}")
    return name


def resolve_device(name: str):
    """The ``torch.device`` for ``name``: ``auto`` is cuda when ``torch.cuda.is_available()``,
    else cpu; ``cuda`` and ``cuda:N`` must exist on this machine.

    Raises:
        DeviceError: a bad name, or a CUDA device this machine lacks (one line: what to use instead).
    """
    import torch

    name = check_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda" if available else "cpu")
    if not available:
        raise DeviceError("CUDA is not available on this machine (torch.cuda.is_available() is False); "
                          "use --device cpu (or --device auto: cuda where there is one, else cpu)")
    device = torch.device(name)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        plural, last = ("s", f" to cuda:{count - 1}") if count > 1 else ("", "")
        raise DeviceError(f"{name} does not exist: this machine has {count} CUDA device{plural} (cuda:0{last}); "
                          f"use --device cuda:0 or --device cpu")
    return device


def device_choices() -> list[str]:
    """The devices this machine can train on, for a form's choice: ``cpu`` first (the default), then
    ``cuda`` and each ``cuda:N`` when torch sees a GPU (``torch.cuda.device_count()``)."""
    import torch

    count = torch.cuda.device_count()
    return ["cpu"] + (["cuda"] + [f"cuda:{i}" for i in range(count)] if count > 0 else [])


def model_device(model: Any):
    """The device of ``model``'s first parameter or buffer; cpu for a model with neither."""
    import torch

    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
