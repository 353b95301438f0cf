"""Home: what a Neural Turing Machine is, the machine drawn (the paper's Figure 1), a suggested
lecture path through the pages, and where each page leads."""

import streamlit as st

from ntm import figures as F
from ntm.figures.machine import machine_figure
from pages._shared import PAGE_INFO, page_link, teacher_mode

# (page, link label, query parameters, what to show there): the lecture path, in teaching order.
LECTURE_PATH = (
    ("addressing_lab", "Addressing lab: content lookup", {"scenario": "content-lookup"},
     "A head finds a slot by what it holds: the key, the similarity, and β focusing the softmax."),
    ("addressing_lab", "Addressing lab: location-only iteration", {"scenario": "location-iteration"},
     "g = 0 keeps the last focus and the shift moves it one slot: how a head walks through memory."),
    ("addressing_lab", "Addressing lab: fractional shift, then sharpen", {"scenario": "fractional-shift-sharpen"},
     "A blurred shift and γ pulling the focus back onto one slot (and, in the exact-tie scenario, when it cannot)."),
    ("step_through", "Step through a trained copy NTM", {"preset": "copy", "length": "10"},
     "The write head moves one slot a step while the input comes in; the read head replays from the first "
     "slot. Step with ←/→ or a clicker."),
    ("generalisation", "Generalisation", None,
     "Longer sequences than it was trained on: the NTM keeps copying, the LSTM does not."),
    ("train", "Train a lecture demo", None,
     "Train a copy model live, in the background, while the class watches its error fall."),
)

st.title("NTM Explorer")
left, right = st.columns([1, 1.25], gap="large")
with left:
    st.markdown(
        "A **Neural Turing Machine** (Graves, Wayne & Danihelka, 2014) is a neural network with a "
        "memory it can read and write. A **controller** network reads the input and, at every timestep, "
        "emits instructions for its **heads**: where to look in the memory matrix and what to erase and "
        "add there. Where to look is a soft weighting over the memory slots, built in four "
        "differentiable stages: find slots whose content matches a key, mix that with last step's "
        "focus, shift the focus, and sharpen it. Because every stage is differentiable, the whole machine "
        "learns algorithms such as copying a sequence from examples alone."
    )
    st.latex(r"k_t, \beta_t \to w^c_t \xrightarrow{g_t} w^g_t \xrightarrow{s_t} \tilde w_t "
             r"\xrightarrow{\gamma_t} w_t \to r_t = \textstyle\sum_i w_t(i) M_t(i)")
with right:
    fig = machine_figure()
    if teacher_mode():
        F.enlarge(fig, 1.15)
    st.plotly_chart(fig, key="home_machine", config=F.plotly_config("ntm-machine"))

st.subheader("A lecture path")
st.caption("An order for teaching the paper with this app; each link opens the page ready to show.")
for number, (name, label, params, what) in enumerate(LECTURE_PATH, start=1):
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    with c1:
        page_link(name, f"{number}. {label}", params)
    c2.markdown(what)

st.subheader("All pages")
for info in PAGE_INFO[1:]:
    page_link(info.name)
    st.caption(info.blurb)
