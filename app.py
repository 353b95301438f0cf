"""NTM Explorer: the Streamlit entry point.

    streamlit run app.py

Registers the pages (``pages/_shared.PAGES``) and draws what every page shares: the teacher-mode
toggle in the sidebar, kept in the URL as ``?teacher=1`` so a shared link opens in the same mode,
and the messages queued with ``flash`` by the previous run.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from pages._shared import PAGES, TEACHER_KEY, plain, run_page, show_flashes

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def favicon() -> Image.Image:
    """A 4 x 4 memory grid with one slot in focus, drawn here: a Material icon as page icon
    would be fetched from fonts.gstatic.com, and the app makes no outside request."""
    img = np.full((32, 32, 3), 255, dtype=np.uint8)
    for i in range(4):
        for j in range(4):
            img[1 + 8 * i:7 + 8 * i, 1 + 8 * j:7 + 8 * j] = (194, 65, 12) if (i, j) == (1, 2) else (31, 41, 55)
    return Image.fromarray(img)


def teacher_toggle() -> None:
    """Sidebar toggle; its state starts from ``?teacher=`` and is written back to the URL."""
    if TEACHER_KEY not in st.session_state:
        raw = str(st.query_params.get(TEACHER_KEY, "")).strip().lower()
        if raw not in _TRUE | _FALSE:
            st.warning(f"The link's teacher={plain(raw, 20)} is not understood (use teacher=1); "
                       "teacher mode is off.")
        st.session_state[TEACHER_KEY] = raw in _TRUE
    st.sidebar.toggle("Teacher mode", key=TEACHER_KEY,
                      help="Hides advanced controls and enlarges figures for projecting in class.")
    if st.session_state[TEACHER_KEY]:
        st.query_params[TEACHER_KEY] = "1"
        # Larger text everywhere for a projector; plain CSS, nothing fetched.
        st.html("<style>.stMainBlockContainer [data-testid='stMarkdownContainer'] p,"
                ".stMainBlockContainer li {font-size: 1.2rem;}"
                ".stMainBlockContainer h1 {font-size: 2.6rem;}"
                ".stMainBlockContainer [data-testid='stMetricValue'] * {font-size: 2.4rem;}</style>")
    elif TEACHER_KEY in st.query_params:
        del st.query_params[TEACHER_KEY]


st.set_page_config(page_title="NTM Explorer", page_icon=favicon(), layout="wide")
page = st.navigation(list(PAGES.values()))
teacher_toggle()
st.sidebar.caption("Neural Turing Machines (Graves, Wayne & Danihelka 2014), step by step.")
show_flashes()
run_page(page)
