"""Step through, laid out: the stepper components and the equations beside them, for an NTM or a DNC.

Used by ``pages/step_through.py``. Every view comes from ``ntm.figures.client`` (a figure function's
figure once, and what in it changes with t); the stepper component (``pages/components/stepper``)
draws them and moves them all to t in the browser. Each stepper call below is one block of the page;
its ``rows`` are rows of cells, each cell a view, a value that changes with t, or empty. Equations,
notes and code come from the stage tables the trace's heads carry, laid out here with ``st.latex``.

Teacher mode is the lecture layout (made for a 1280 x 720 projector): the controls in a bar that stays
in view, then on one screen the input/target/output strip, the memory and the weightings over time,
and the chosen head's stages with their equations above their own pictures. Layout only.
"""

from __future__ import annotations

import streamlit as st

from ntm import step_view as sv
from ntm.figures.dnc import LINK_EQUATION

K = "st_"                              # the Step-through page's session-state prefix
LECTURE = {"main": 214, "stages": 184}  # teacher mode: figure heights (px) that fit one 720 px screen
SELECTOR = 0.12                        # teacher mode: the head chooser's share of the stages' width
LRU_NOTE = ("The sparse DNC keeps no usage: it allocates the least recently used slot (the grey bars count the "
            "steps since each slot was last read or written), so its allocation weighting is one-hot.")
KEYS_NOTE = "Keys: ← → or PageUp/PageDown step, Home/End jump, Space plays and pauses."


def cells(*named, height: int | None = None) -> dict:
    """One row of the stepper: (name, view, width) cells side by side, as wide as their ``width``."""
    row = {"widths": [w for _, _, w in named], "cells": [{"name": n, "view": v} for n, v, _ in named]}
    return {**row, "height": height} if height else row


def explain(stage, teacher: bool, numbered: str = "", titled: bool = True) -> None:
    """One stage-table row: its title (unless the picture below names it) and equation, then (not in
    teacher mode) its note and code."""
    if titled:
        st.markdown(f"**{numbered}{stage.title}**" + ("" if numbered else f" {stage.symbol}"))
    st.latex(r"\small " + stage.equation)
    if not teacher:
        if stage.note:
            st.caption(stage.note)
        st.code(stage.code, language="python", wrap_lines=True)


def head_block(mount, common: dict, trace, views: dict, index: int, teacher: bool, selector=None) -> None:
    """One head: its stages' equations in columns as wide as the pictures below them, the parameter each
    stage uses at t (not in teacher mode: the figure's panel titles give it), the stage pictures. A
    ``selector`` (the lecture layout's head chooser) gets a column of its own on the left."""
    head, hv = trace.heads[index], views["heads"][index]
    stages = head.stages()
    if not teacher:
        st.subheader(f"{head.name.capitalize()} head of the {sv.model_name(trace)}: how it addresses memory")
    side = [SELECTOR * sum(hv["widths"])] if selector else []
    cols = st.container(key=f"{K}equations_{index}").columns(side + hv["widths"], gap="small")
    if selector:
        with cols[0]:
            selector()
    for j, (col, stage) in enumerate(zip(cols[len(side):], stages)):
        with col:
            explain(stage, True, f"{j + 1}. ", titled=not teacher)   # the lecture's pictures name their stage
    rows = [] if teacher else [{"widths": hv["widths"], "cells": [
        dict(c, name=(f"{head.name}:shifted" if "view" in c else f"{head.name}:{stage.key}")) if c else None
        for c, stage in zip(hv["parameters"], stages)]}]
    rows.append(cells((f"addressing:{head.name}", hv["addressing"], 1), height=LECTURE["stages"] if teacher else None))
    if side:                                          # an empty cell under the selector
        rows[-1] = {**rows[-1], "widths": side + [sum(hv["widths"])], "cells": [None, *rows[-1]["cells"]]}
    mount(key=f"{K}head_{index}", data={**common, "rows": rows})
    if not teacher:
        for col, stage in zip(st.columns(hv["widths"], gap="small"), stages):
            if stage.note:
                col.caption(stage.note)
            col.code(stage.code, language="python", wrap_lines=True)


def dnc_panels(mount, common: dict, trace, views: dict, teacher: bool) -> None:
    """Each DNC panel the trace has: its figure, and the equations that make it (beside the square link
    matrix, under the others)."""
    for panel, view in views["panels"].items():
        st.subheader(sv.DNC_PANELS[panel][0])
        stages = sv.panel_stages(trace, panel)
        data = {**common, "rows": [cells((f"dnc:{panel}", view, 1))]}
        if panel == "link":
            left, right = st.columns([1.6, 1], gap="medium")
            with left:
                mount(key=f"{K}panel_{panel}", data=data)
            with right:
                st.markdown("**Temporal link matrix** L")
                st.latex(r"\small " + LINK_EQUATION)
                st.caption("Row i, column j: how much slot i was written right after slot j. The dotted arrows "
                           "follow the slots written so far; each marks the cell its write sets.")
                for stage in stages:
                    explain(stage, teacher)
            continue
        mount(key=f"{K}panel_{panel}", data=data)
        cols = st.columns(max(len(stages) + (trace.model_type == "sdnc"), 2), gap="medium")
        if panel == "allocation" and trace.model_type == "sdnc":
            cols[-1].caption(LRU_NOTE)
        for col, stage in zip(cols, stages):
            with col:
                explain(stage, teacher)


def lay_out(mount, common: dict, trace, payload: dict, teacher: bool, on_t_change) -> None:
    """The whole step view: the controls, the views every model has, each head's stages (in teacher
    mode the chosen head's only), the DNC's own panels, the vectors."""
    views = payload["views"]
    main = views["main"]
    mount(key=K + "stepper", on_t_change=on_t_change, data={
        **common, "controls": True, "captions": payload["captions"], "story": payload["story"] if teacher else None,
        "rows": []})
    if teacher:
        mount(key=K + "main", data={**common, "rows": [cells(
            ("sequence", main["sequence"], 1.05), ("memory", main["memory"], 0.85), ("weights", main["weights"], 1.35),
            height=LECTURE["main"])]})
        names = [h.name for h in trace.heads]
        if st.session_state.get(K + "head") not in names:
            st.session_state[K + "head"] = next((n for n in names if n.startswith("write")), names[0])
        head_block(mount, common, trace, views, names.index(st.session_state[K + "head"]), teacher,
                   lambda: st.radio("Head", names, key=K + "head", help="Whose addressing stages are shown, "
                                    "with their equations above their pictures."))
        mount(key=K + "change", data={**common, "rows": [cells(("memory_change", main["memory_change"], 1))]})
    else:
        mount(key=K + "main", data={**common, "rows": [cells(("sequence", main["sequence"], 1)), cells(
            ("memory", main["memory"], 1), ("memory_change", main["memory_change"], 1), ("weights", main["weights"], 2))]})
        st.caption("Memory colours are fixed for the whole run (blue < 0 < red); weights use a fixed 0–1 scale, "
                   f"so a flat, unfocused weighting looks flat. Hover for exact values; the camera icon saves a PNG. "
                   f"{KEYS_NOTE}")
        for i in range(len(trace.heads)):
            head_block(mount, common, trace, views, i, teacher)
    dnc_panels(mount, common, trace, views, teacher)
    st.subheader("The vectors each head emits and reads at t")
    mount(key=K + "vectors", data={**common, "rows": [cells(("vectors", views["vectors"], 1))]})
