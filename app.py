"""NTM Explorer: the Streamlit entry point.

    streamlit run app.py

Registers the pages (``pages/_shared.PAGES``) and draws what every page shares: the teacher-mode
toggle in the sidebar, kept in the URL as ``?teacher=1`` so a shared link opens in the same mode
(with the sidebar collapsed, larger text and metric values, untruncated button labels), and the
messages queued with ``flash`` by the previous run.
"""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st
from PIL import Image

from ntm import threads
from pages._shared import PAGES, TEACHER_KEY, flash, plain, run_page, show_flashes

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def favicon() -> Image.Image:
    """A 4 x 4 memory grid with one slot in focus, drawn here: a Material icon as page icon
    would be fetched from fonts.gstatic.com, and the app makes no outside request."""
    img = np.full((32, 32, 3), 255, dtype=np.uint8)
    for i in range(4):
        for j in range(4):
            img[1 + 8 * i:7 + 8 * i, 1 + 8 * j:7 + 8 * j] = (194, 65, 12) if (i, j) == (1, 2) else (31, 41, 55)
    return Image.fromarray(img)


# Teacher mode for a projector; plain CSS, nothing fetched. Each rule names what it enlarges (or
# un-truncates) precisely enough to beat Streamlit's own rules and the others here: the text rule
# is for Markdown and alerts only, so it never reaches a metric's value, a button or a widget label.
TEACHER_CSS = """<style>
.stMainBlockContainer [data-testid='stMarkdown'] p, .stMainBlockContainer [data-testid='stMarkdown'] li,
.stMainBlockContainer [data-testid='stAlert'] p {font-size: 1.2rem;}
.stMainBlockContainer [data-testid='stCaptionContainer'], .stMainBlockContainer [data-testid='stCaptionContainer'] p
  {font-size: 1.0rem;}
.stMainBlockContainer {padding-top: 3rem;}
.stMainBlockContainer h1 {font-size: 2.6rem;}
.stMainBlockContainer [data-testid='stMetricValue'],
.stMainBlockContainer [data-testid='stMetricValue'] [data-testid='stMarkdownContainer'] p {font-size: 2.75rem;}
.stMainBlockContainer [data-testid='stMetricLabel'] [data-testid='stMarkdownContainer'] p {font-size: 1.1rem;}
.stMainBlockContainer [data-testid='stMetricValue'] [data-testid='stMarkdownContainer'],
.stMainBlockContainer [data-testid='stMetricValue'] p {overflow: visible; text-overflow: clip; white-space: normal;}
</style>"""
# Always: button labels wrap instead of being cut to "F…", and an equation wider than its column
# scrolls inside it instead of being clipped at the column's edge.
BASE_CSS = """<style>
.stMainBlockContainer button [data-testid='stMarkdownContainer'],
.stMainBlockContainer button [data-testid='stMarkdownContainer'] p {overflow: visible; text-overflow: clip;
  white-space: normal; overflow-wrap: normal; word-break: keep-all;}
.stMainBlockContainer .katex-display {overflow-x: auto; overflow-y: hidden; padding: 2px 0;}
</style>"""


def teacher_from_url() -> bool:
    """Start the toggle's state from ``?teacher=`` on a session's first run (warning if not understood)."""
    if TEACHER_KEY not in st.session_state:
        raw = str(st.query_params.get(TEACHER_KEY, "")).strip().lower()
        if raw not in _TRUE | _FALSE:
            flash(f"The link's teacher={plain(raw, 20)} is not understood (use teacher=1); teacher mode is off.",
                  "warning")
        st.session_state[TEACHER_KEY] = raw in _TRUE
    return bool(st.session_state[TEACHER_KEY])


def teacher_toggle() -> None:
    """Sidebar toggle; its state is written back to the URL. Teacher mode enlarges text and metric
    values; in both modes button labels wrap rather than truncate and wide equations scroll."""
    st.sidebar.toggle("Teacher mode", key=TEACHER_KEY,
                      help="Hides advanced controls and enlarges figures for projecting in class. "
                           "The sidebar starts collapsed; its arrow at the top left opens it again.")
    st.html(BASE_CSS + (TEACHER_CSS if st.session_state[TEACHER_KEY] else ""))
    if st.session_state[TEACHER_KEY]:
        st.query_params[TEACHER_KEY] = "1"
    elif TEACHER_KEY in st.query_params:
        del st.query_params[TEACHER_KEY]


@st.cache_resource(show_spinner=False)
def torch_threads() -> int:
    """Once per server process: torch's threads (``ntm.threads``; 1 unless NTM_EXPLORER_THREADS says)."""
    count, problem = threads.configure()
    if problem:
        logging.getLogger("ntm_explorer").warning(problem)    # the server's operator set it; the log says so
    return count


torch_threads()
# The sidebar starts collapsed in teacher mode (the browser remembers it once a user opens or closes it).
st.set_page_config(page_title="NTM Explorer", page_icon=favicon(), layout="wide",
                   initial_sidebar_state="collapsed" if teacher_from_url() else "auto")
page = st.navigation(list(PAGES.values()))
teacher_toggle()
st.sidebar.caption("Neural Turing Machines (Graves, Wayne & Danihelka 2014), step by step.")
show_flashes()
run_page(page)
