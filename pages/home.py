"""Home: what a Neural Turing Machine is, in a few lines, and where each page leads."""

import streamlit as st

from pages._shared import PAGE_INFO, page_link

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

st.subheader("Pages")
for info in PAGE_INFO[1:]:
    page_link(info.name)
    st.caption(info.blurb)
