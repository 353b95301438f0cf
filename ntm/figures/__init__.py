"""Plotly figures for the explorer: plain data in, ``plotly.graph_objects.Figure`` out.

Pure functions, no Streamlit: figures are tested by reading their data (``tests/test_figures.py``,
``tests/test_training_figures.py``). Pages write ``from ntm import figures as F`` and call them.
From the library the figures import only ``ntm.trace`` (the recorded run, with the stage tables
its heads carry), so data flows one way: model -> trace -> figures -> pages.

    common.py       fixed colour scales and ranges, the time cursor, Plotly settings, layout helpers
    step.py         a recorded run at timestep t: sequences, memory, weightings over time, vectors
    addressing.py   addressing stages: one head at t (through its stage table), and the lab's figures
    memory_lab.py   the Memory lab: the DNC's usage, allocation, write mix, link matrix and read modes
    training.py     training curves, sample predictions, generalisation by length
    observatory.py  runs overlaid: learning curves by model, cost by length, outputs over training
    client.py       the Step-through views as data for the browser: each figure once, and what changes with t
    dnc.py          the DNC's memory management at t: usage and allocation, temporal links with the write
                    order, read modes, free gates and retention, and its heads' stage tables
"""

from ntm.figures.addressing import (addressing_figure, format_parameter, lab_stage_title, matrix_figure,
                                    memory_key_figure, shift_figure, similarity_figure, stage_figure, stage_parameters,
                                    stage_widths, weighting_figure)
from ntm.figures.common import (CURSOR_NAME, MEMORY_COLORSCALE, SLOT_CHOICES, WEIGHT_COLORSCALE, WEIGHT_RANGE,
                                change_range, cursor_shape, enlarge, memory_clip, memory_range, plotly_config,
                                set_cursor, slot_window, trace_phases)
from ntm.figures.memory_lab import (lab_allocation_figure, lab_bars, lab_heads_figure, lab_link_figure,
                                    lab_precedence_figure, lab_read_figure, lab_read_modes_figure, lab_write_figure)
from ntm.figures.dnc import (dnc_stage_figure, dnc_stage_parameters, free_gates_figure, is_dnc, link_order_figure,
                             read_modes_over_time_figure, usage_allocation_figure)
from ntm.figures.observatory import history_figure, learning_curves_figure, length_cost_figure
from ntm.figures.step import (memory_change_figure, memory_figure, sequence_figure, vector_panels,
                              vectors_figure, weights_over_time_figure)
from ntm.figures.training import (curves_figure, examples_figure, format_duration, generalisation_figure,
                                  sample_figure)

__all__ = [
    "WEIGHT_RANGE", "WEIGHT_COLORSCALE", "MEMORY_COLORSCALE", "CURSOR_NAME", "memory_range", "change_range",
    "memory_clip", "slot_window", "SLOT_CHOICES", "trace_phases",
    "cursor_shape", "set_cursor", "plotly_config", "enlarge", "sequence_figure", "memory_figure",
    "memory_change_figure", "weights_over_time_figure", "stage_parameters", "format_parameter",
    "addressing_figure", "stage_widths", "shift_figure", "vector_panels", "vectors_figure", "weighting_figure", "stage_figure",
    "similarity_figure", "matrix_figure", "memory_key_figure", "lab_stage_title", "curves_figure", "sample_figure", "generalisation_figure",
    "examples_figure", "format_duration",
    "lab_bars", "lab_allocation_figure", "lab_write_figure", "lab_link_figure", "lab_precedence_figure",
    "lab_heads_figure", "lab_read_figure", "lab_read_modes_figure",
    "is_dnc", "usage_allocation_figure", "link_order_figure", "read_modes_over_time_figure", "free_gates_figure",
    "dnc_stage_figure", "dnc_stage_parameters",
    "learning_curves_figure", "length_cost_figure", "history_figure",
]
