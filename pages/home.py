"""Home: what a Neural Turing Machine is, in a few lines, and where each page leads."""

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent

st.title("NTM Explorer")
st.markdown(
    "A **Neural Turing Machine** (Graves, Wayne & Danihelka, 2014) is a neural network with a "
    "memory it can read and write. A controller network reads the input and, at every timestep, "
    "emits instructions for its **heads**: where to look in the memory matrix and what to erase and "
    "add there. Where to look is a soft weighting over the memory slots, built in four "
    "differentiable stages: find slots whose content matches a key, mix that with last step's "
    "focus, shift the focus, and sharpen it. Because every stage is differentiable, the whole machine "
    "learns algorithms such as copying a sequence from examples alone."
)
st.latex(r"\text{key } k_t,\ \beta_t \;\to\; w^c_t \;\xrightarrow{\;g_t\;}\; w^g_t "
         r"\;\xrightarrow{\;s_t\;}\; \tilde w_t \;\xrightarrow{\;\gamma_t\;}\; w_t "
         r"\;\to\; \text{read } r_t = \textstyle\sum_i w_t(i) M_t(i)")

LINKS = [
    ("pages/step_through.py", "Step through", ":material/step:",
     "Run a trained NTM on a sequence and step through it timestep by timestep: the memory, "
     "every head's four addressing stages with their equations, and the read and write weightings "
     "over time. Links reproduce the exact view."),
    ("pages/addressing_lab.py", "Addressing lab", ":material/science:",
     "Set a small memory, a key and every addressing parameter by hand, and watch each stage "
     "recompute with the library's own functions."),
    ("pages/train.py", "Train", ":material/model_training:",
     "Train your own NTM on one of the paper's tasks, in the background, and save it as a preset."),
    ("pages/generalisation.py", "Generalisation", ":material/trending_up:",
     "How trained models cope with sequences longer than those they were trained on."),
    ("pages/long_term_memory.py", "Long-term memory", ":material/hub:",
     "Keep what the machine learned beyond one sequence, in a graph store."),
]

st.subheader("Pages")
for file, label, icon, text in LINKS:
    if (ROOT / file).is_file():
        st.page_link(file, label=label, icon=icon)
        st.caption(text)
