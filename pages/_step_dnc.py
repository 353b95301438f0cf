"""Step through, the DNC's part: its memory-management panels and its heads' stages at t, laid out.

Used by ``pages/step_through.py`` inside its step fragment, so it moves with the same t. Which panels
a trace has comes from ``ntm.step_view.dnc_panels``; each figure from ``ntm.figures.dnc``; each
equation, line of code and note from the rows of the DNC stage table that the trace's heads carry.
Layout only.
"""

from __future__ import annotations

import streamlit as st

from ntm import figures as F
from ntm import step_view as sv
from ntm.figures.dnc import LINK_EQUATION

K = "st_"                              # the Step-through page's session-state prefix
FIGURES = {"allocation": (F.usage_allocation_figure, "usage-allocation"), "link": (F.link_order_figure, "links"),
           "read_modes": (F.read_modes_over_time_figure, "read-modes"),
           "free_gates": (F.free_gates_figure, "free-gates")}
LRU_NOTE = ("The sparse DNC keeps no usage: it allocates the least recently used slot (the grey bars count the "
            "steps since each slot was last read or written), so its allocation weighting is one-hot.")


def chart(fig, name: str, teacher: bool, key: str) -> None:
    st.plotly_chart(F.enlarge(fig) if teacher else fig, config=F.plotly_config(name), key=key)


def explain(stage, teacher: bool) -> None:
    """One stage-table row beside a picture: its title, equation, note, and (not in teacher mode) code."""
    st.markdown(f"**{stage.title}** {stage.symbol}")
    st.latex(r"\small " + stage.equation)
    if stage.note:
        st.caption(stage.note)
    if not teacher:
        st.code(stage.code, language="python", wrap_lines=True)


def memory_management(trace, t: int, teacher: bool, base: str) -> None:
    """Each DNC panel the trace has: its figure, and the equations that make it (beside the square link
    matrix, under the others)."""
    for panel in sv.dnc_panels(trace):
        figure, name = FIGURES[panel]
        st.subheader(f"{sv.DNC_PANELS[panel][0]} (t = {t})")
        stages = sv.panel_stages(trace, panel)
        if panel == "link":
            left, right = st.columns([1.6, 1], gap="medium")
            with left:
                chart(figure(trace, t), f"{name}-{base}", teacher, f"{K}fig_dnc_{panel}")
            with right:
                st.markdown("**Temporal link matrix** L")
                st.latex(r"\small " + LINK_EQUATION)
                st.caption("Row i, column j: how much slot i was written right after slot j. The dotted arrows "
                           "follow the slots written so far; each marks the cell its write sets.")
                for stage in stages:
                    explain(stage, teacher)
            continue
        chart(figure(trace, t), f"{name}-{base}", teacher, f"{K}fig_dnc_{panel}")
        cols = st.columns(max(len(stages) + (trace.model_type == "sdnc"), 2), gap="medium")
        if panel == "allocation" and trace.model_type == "sdnc":
            cols[-1].caption(LRU_NOTE)
        for col, stage in zip(cols, stages):
            with col:
                explain(stage, teacher)


def dnc_view(trace, t: int, teacher: bool, base: str) -> None:
    """The DNC's part of the step view: its memory-management panels, then every head's stage table."""
    memory_management(trace, t, teacher, base)
    for index in range(len(trace.heads)):
        head_stages(trace, index, t, teacher, base)


def head_stages(trace, index: int, t: int, teacher: bool, base: str) -> None:
    """One DNC head's stage table at t: a column per row (equation, parameter, note, code) above the
    figure of the weighting each row produced."""
    head = trace.heads[index]
    st.subheader(f"{head.name.capitalize()} head of the {sv.model_name(trace)}: its weightings at t = {t}")
    params, widths, stages = F.dnc_stage_parameters(trace, head, t), F.stage_widths(head), head.stages()
    per_row = len(stages) if head.kind == "read" else 3      # the write head's equations need wider columns
    cols = [c for r in range(0, len(stages), per_row)
            for c in st.columns(widths[r:r + per_row] if per_row == len(stages) else per_row, gap="small")]
    for j, (col, stage) in enumerate(zip(cols, stages)):
        with col:
            st.markdown(f"**{j + 1}. {stage.title}**")
            st.latex(r"\small " + stage.equation)
            param = params.get(stage.key)
            if param is not None and isinstance(param["value"], dict):
                st.markdown(f"{param['label']}: " + " · ".join(f"{k} **{v:.2f}**" for k, v in param["value"].items()))
            elif param is not None:
                st.metric(param["label"], f"{param['value']:.4g}")
            if stage.note:
                st.caption(stage.note)
            if not teacher:
                st.code(stage.code, language="python", wrap_lines=True)
    chart(F.dnc_stage_figure(trace, head, t, widths=widths), f"stages-{head.name}-{base}", teacher,
          f"{K}fig_addr_{index}")
