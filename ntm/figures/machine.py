"""The machine itself: the paper's Figure 1 (Graves, Wayne & Danihelka 2014), drawn by the app.

    fig = machine_figure()          # a Plotly figure; no data, no trace

A dashed box (the Neural Turing Machine) holds the controller, its read and write heads and the
memory matrix; the external input comes in and the external output goes out at the top. Arrows
carry what flows each step: the controller emits each head's addressing parameters (k, β, g, s, γ;
and e, a for a write head), a read head returns r_t = Σ_i w_t(i) M_t(i) (eq. 2), a write head
erases and adds (eqs. 3-4). Every box has a hover text that says what it is.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ntm.figures.common import figure

# (name, label, (x0, y0, x1, y1), fill, hover) on a 0..10 x 0..10 canvas
BOXES: tuple[tuple[str, str, tuple[float, float, float, float], str, str], ...] = (
    ("input", "External input", (0.9, 8.6, 4.1, 9.7), "#e5e7eb",
     "x_t: the input at timestep t (a bit vector for the copy task)"),
    ("output", "External output", (5.9, 8.6, 9.1, 9.7), "#e5e7eb",
     "y_t: the machine's output at timestep t"),
    ("controller", "Controller", (3.0, 5.7, 7.0, 7.1), "#fde68a",
     "A neural network (LSTM or feed-forward): reads x_t and the last read vectors, emits y_t and "
     "every head's parameters"),
    ("read", "Read heads", (0.9, 3.2, 4.1, 4.4), "#bfdbfe",
     "Each read head addresses the memory (eqs. 5-9) and reads r_t = Σ_i w_t(i) M_t(i) (eq. 2)"),
    ("write", "Write heads", (5.9, 3.2, 9.1, 4.4), "#fecaca",
     "Each write head addresses the memory (eqs. 5-9), then erases with e_t and adds a_t (eqs. 3-4)"),
)
MEMORY = (1.6, 1.0, 8.4, 2.2)        # the memory matrix, drawn as N slots
SLOTS = 12
INK = "#111827"                    # text colour: dark on the pale boxes, for a projector
MACHINE = (0.4, 0.3, 9.6, 8.0)       # the dashed box around the machine

# (from (x, y), to (x, y), label, label position (x, y)): what flows along each arrow
ARROWS: tuple[tuple[tuple[float, float], tuple[float, float], str, tuple[float, float]], ...] = (
    ((2.5, 8.6), (4.0, 7.1), "x<sub>t</sub>", (2.75, 7.6)),
    ((6.0, 7.1), (7.5, 8.6), "y<sub>t</sub>", (7.25, 7.6)),
    ((3.6, 5.7), (3.0, 4.4), "k, β, g, s, γ", (4.4, 5.05)),
    ((2.4, 4.4), (3.0, 5.7), "r<sub>t</sub>", (2.35, 5.1)),
    ((6.4, 5.7), (7.5, 4.4), "k, β, g, s, γ, e, a", (8.2, 5.1)),
    ((2.5, 2.2), (2.5, 3.2), "read: w<sub>t</sub> · M<sub>t</sub>", (3.55, 2.7)),
    ((7.5, 3.2), (7.5, 2.2), "erase, add", (8.5, 2.7)),
)


def machine_figure(height: int = 430) -> go.Figure:
    """The paper's Figure 1 as a Plotly figure: boxes with hover texts, arrows labelled with what
    they carry, and the memory as a row of ``SLOTS`` slots. Axes are fixed to the 0..10 canvas and
    hidden; the figure does not zoom or pan (``fixedrange``)."""
    shapes = [dict(type="rect", x0=MACHINE[0], y0=MACHINE[1], x1=MACHINE[2], y1=MACHINE[3],
                   line=dict(color="#374151", width=2, dash="dash"), fillcolor="rgba(0,0,0,0)", layer="below")]
    annotations = [dict(x=MACHINE[0] + 0.15, y=MACHINE[1] + 0.1, text="<b>Neural Turing Machine</b>",
                        xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=13, color=INK))]
    data = []
    for name, label, (x0, y0, x1, y1), fill, hover in BOXES:
        shapes.append(dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color="#374151", width=1.5),
                           fillcolor=fill, layer="below"))
        annotations.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"<b>{label}</b>", showarrow=False,
                                font=dict(size=15, color=INK)))
        data.append(_hover_point(name, (x0 + x1) / 2, (y0 + y1) / 2, hover))
    x0, y0, x1, y1 = MEMORY
    width = (x1 - x0) / SLOTS
    for i in range(SLOTS):
        shapes.append(dict(type="rect", x0=x0 + i * width, y0=y0, x1=x0 + (i + 1) * width, y1=y1,
                           line=dict(color="#374151", width=1), fillcolor="#c2410c" if i == 4 else "#d1fae5",
                           layer="below"))
    annotations.append(dict(x=(x0 + x1) / 2, y=y0 - 0.05, text="<b>Memory</b> M<sub>t</sub> (N slots)",
                            yanchor="top", showarrow=False, font=dict(size=14, color=INK)))
    data.append(_hover_point("memory", (x0 + x1) / 2, (y0 + y1) / 2,
                             "M_t, an N × M matrix: each row is a slot. Heads read and write it through soft "
                             "weightings w_t over the slots (one slot in focus here)"))
    for (xa, ya), (xb, yb), label, (xl, yl) in ARROWS:
        annotations.append(dict(x=xb, y=yb, ax=xa, ay=ya, xref="x", yref="y", axref="x", ayref="y", text="",
                                showarrow=True, arrowhead=3, arrowsize=1.3, arrowwidth=2, arrowcolor="#374151"))
        annotations.append(dict(x=xl, y=yl, text=f"<i>{label}</i>", showarrow=False, font=dict(size=13, color=INK),
                                bgcolor="rgba(255,255,255,0.85)"))
    hidden = dict(range=[0, 10], visible=False, fixedrange=True)
    layout = dict(xaxis=hidden, yaxis=dict(hidden, scaleanchor=None), shapes=shapes, annotations=annotations,
                  margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", hovermode="closest")
    return figure(data, layout, height=height, title="The machine (the paper's Figure 1)")


def _hover_point(name: str, x: float, y: float, text: str) -> dict:
    """An invisible marker at a box's centre that carries its hover text."""
    return dict(type="scatter", x=[x], y=[y], mode="markers", name=name, marker=dict(size=40, opacity=0),
                hovertemplate=f"{text}<extra></extra>")


__all__ = ["machine_figure", "BOXES", "ARROWS"]
