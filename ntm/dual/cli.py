"""What ``python -m ntm train|evaluate`` needs for the dual-memory NTM: the fork's ``-p`` names, the
long-term store of a run, its graph export beside a preset, and scoring a preset on an NLI file.

Every failure a user can fix is raised as ValueError with a message that says what to do.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from ..io import data_dir
from . import GRAPH_FILE

# The dual-memory pytorch-ntm fork's -p names, and what they are here.
FORK_PARAMS = {
    "short_term_n": "memory_slots (N, short-term memory slots)",
    "short_term_m": "memory_width (M, short-term memory width)",
    "num_heads": "num_heads (read heads, and as many write heads)",
    "long_term_nodes": "long_term_nodes (K, propositions retrieved per long-term read)",
    "long_term_dim": "long_term_dim (size of the long-term read handed to the controller)",
    "num_epochs": "num_batches = ceil(num_epochs * examples / batch_size) (cdcl-nli only)",
}
_RENAMED = {"short_term_n": "memory_slots", "short_term_m": "memory_width"}


def fork_params(task: str, pairs: list[str]) -> tuple[list[str], float | None]:
    """``-p`` pairs with the fork's names renamed, and ``num_epochs`` taken out (None if absent).

    On a task other than cdcl-nli the long-term keys are short-term memory rows, so ``key_size``
    defaults to ``memory_width`` there.
    """
    out, epochs = [], None
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if key == "num_epochs" and eq:
            try:
                epochs = float(value)
            except ValueError:
                raise ValueError(f"-p num_epochs={value}: expected a number") from None
            if not (math.isfinite(epochs) and epochs > 0):
                raise ValueError(f"-p num_epochs={value}: expected a positive number")
            if task != "cdcl-nli":
                raise ValueError("num_epochs needs a dataset (--task cdcl-nli); on other tasks use --num-batches")
            continue
        out.append(f"{_RENAMED.get(key, key)}{eq}{value}" if eq else pair)
    given = {p.partition("=")[0].strip() for p in out}
    if task != "cdcl-nli" and "key_size" not in given:
        width = next((p.partition("=")[2].strip() for p in out if p.partition("=")[0].strip() == "memory_width"),
                     None)
        from .model import DualConfig
        out.append(f"key_size={width or DualConfig.memory_width}")
    return out, epochs


def batches_for_epochs(spec, epochs: float) -> int:
    """The batches that make ``epochs`` passes over the task's examples."""
    from ..tasks import make_task
    examples = len(make_task(spec.task, **spec.task_params).examples)
    return max(1, math.ceil(epochs * examples / spec.settings.batch_size))


def default_store(task: str) -> Path:
    """The embedded store of a run: the Long-term memory page's store for NLI (sentence embeddings),
    a separate one for consolidated episodes (memory rows have another length)."""
    from ..longterm import default_store_path
    return default_store_path() if task == "cdcl-nli" else data_dir() / "longterm" / "episodes.json"


def open_long_term(backend: str, path: str | None, task: str):
    from ..longterm import LongTermStoreError, open_store
    try:
        if backend == "neo4j":
            return open_store("neo4j")
        return open_store("embedded", path=path or default_store(task))
    except LongTermStoreError as exc:
        raise ValueError(f"the long-term store cannot be opened: {exc}") from None


def attach_long_term(model, backend: str, path: str | None, run: str, task: str):
    """Open the run's store and attach it to ``model`` (reads, and the write path as run ``run``)."""
    store = open_long_term(backend, path, task)
    dim = store.dimension
    if dim is not None and dim != model.config.key_size:
        store.close()
        raise ValueError(f"the long-term store holds {dim}-value embeddings but the model's keys have "
                         f"{model.config.key_size} (key_size): use another --long-term-store")
    model.attach_store(store)
    model.run_name = run
    return store


def export_graph(store, preset: str | Path, sentences: bool = True) -> Path:
    """The store's graph as ``graph.json`` beside a preset (``LongTermStore.export_json``).

    ``sentences``: the nodes are sentences, whose embeddings MiniLM gives back from their text
    (``with_embeddings``), so the export leaves them out (a tenth of the size). Consolidated
    episodes (memory rows) keep theirs.
    """
    path = Path(preset) / GRAPH_FILE
    store.export_json(path, include_embeddings=not sentences)
    return path


def _cpu_in_out(model):
    """``model`` itself on the CPU; on another device (``evaluate --device``), a wrapper that moves
    each batch's inputs there and gives the logits back on the CPU, once per batch."""
    import torch

    from ..device import model_device

    device = model_device(model)
    if device.type == "cpu":
        return model

    class OnDevice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs: torch.Tensor):
            logits, *rest = self.model(inputs.to(device))
            return (logits.cpu(), *rest)

    return OnDevice()


def evaluate_file(preset, data: str, breakdown=None) -> dict[str, Any]:
    """Score an NLI preset on every example of ``data`` (its graph, if exported, read from a
    throwaway copy so evaluation never changes a store); ``breakdown`` as ``evaluate_nli``'s."""
    from ..longterm import InvalidGraphData, open_store
    from ..nli import load_nli
    from .demo import load_preset_graph
    from .nli_eval import evaluate_nli

    if preset.task.name != "cdcl-nli":
        raise ValueError(f"--data scores NLI presets; {preset.name} was trained on {preset.task.name} "
                         f"(use --length for it)")
    examples = load_nli(data)
    model = preset.model
    scored = _cpu_in_out(model)          # evaluate_nli scores on the CPU; the model may be on a GPU
    graph = Path(preset.path) / GRAPH_FILE
    if getattr(model, "model_type", None) != "dual" or not graph.is_file():
        result = evaluate_nli(scored, examples, features=preset.task.features, breakdown=breakdown)
        return {"preset": preset.name, "data": Path(data).name, **result}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store("embedded", path=Path(tmp) / "graph.json")
        try:
            try:
                load_preset_graph(store, preset.path)
            except InvalidGraphData as exc:
                raise ValueError(str(exc)) from None
            model.attach_store(store)
            result = evaluate_nli(scored, examples, features=preset.task.features, breakdown=breakdown)
        finally:
            model.attach_store(None)
            store.close()
    return {"preset": preset.name, "data": Path(data).name, **result}
