"""Small traces of untrained machines on a short copy episode, shared by the figure tests.

    tiny_copy_trace("ntm", seed=0, controller_size=16, memory_slots=10, memory_width=6, heads="rrw")
    tiny_copy_trace("dnc", seed=4, sample_seed=2, length=3, hidden_size=16, nr_cells=10, cell_size=6, read_heads=2)

The model's weights come from ``torch.manual_seed(seed)``, the episode (copy, 4 bits wide) from
``sample_seed``; the trace's meta records the preset "test" and that seed.
"""

from __future__ import annotations

import torch

from ntm.model import NTM, NTMConfig, build_model
from ntm.tasks import make_task
from ntm.trace import Trace, record


def tiny_copy_trace(model_type: str = "ntm", *, seed: int = 0, sample_seed: int = 1, length: int = 4,
                    **config) -> Trace:
    """One recorded copy episode of ``length`` of an untrained ``model_type`` built from ``config``."""
    torch.manual_seed(seed)
    task = make_task("copy", seq_width=4, max_len=5)
    if model_type == "ntm":
        model = NTM(NTMConfig(task.input_size, task.output_size, **config))
    else:
        model = build_model(model_type, dict(input_size=task.input_size, output_size=task.output_size, **config))
    batch = task.sample(1, torch.Generator().manual_seed(sample_seed), length=length)
    return record(model, batch.inputs, batch.targets, batch.mask, meta={"preset": "test", "seed": sample_seed})
