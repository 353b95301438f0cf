"""What every page of the app shares: the page list, teacher mode and flash messages.

Pages import this module (``from pages._shared import ...``); ``app.py`` builds the navigation
from ``PAGES`` and the home page links to the same objects, so the page list is written once.
The library (``ntm/``) never imports Streamlit; this module is the app's only common code.

    PAGES["step_through"]     the st.Page of a page, by the name of its file
    teacher_mode()            True while the sidebar's teacher-mode toggle is on
    flash("Saved.")           a message shown at the top of the next run (it survives st.rerun)
    show_flashes()            draws and forgets the pending messages (app.py calls it)
    plain(value)              a user's value made safe to put inside Markdown: shown as typed, capped
    run_page(page)            runs the chosen page; an unexpected error is logged, and the user sees
                              a short message without internals (``NTM_EXPLORER_RAISE=1`` re-raises)
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent
RAISE_ENV = "NTM_EXPLORER_RAISE"  # set (the app tests do) to let unexpected errors propagate
_log = logging.getLogger("ntm_explorer")
TEACHER_KEY = "teacher"          # session-state key of the toggle, and the URL parameter ?teacher=1
_FLASH_KEY = "_flash_messages"
_FLASH_KINDS = ("success", "info", "warning", "error")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:])")


@dataclass(frozen=True)
class PageInfo:
    file: str                    # under pages/
    title: str
    url_path: str                # "" for the default (home) page
    icon: str
    blurb: str                   # one line for the home page

    @property
    def name(self) -> str:
        return self.file.removesuffix(".py")


PAGE_INFO: tuple[PageInfo, ...] = (
    PageInfo("home.py", "Home", "", ":material/home:", "What an NTM is, and where each page leads."),
    PageInfo("step_through.py", "Step through", "step-through", ":material/step:",
             "Run a trained NTM on a sequence and step through it timestep by timestep: the memory, "
             "every head's four addressing stages with their equations, and the read and write weightings "
             "over time. Links reproduce the exact view."),
    PageInfo("addressing_lab.py", "Addressing lab", "addressing-lab", ":material/science:",
             "Set a small memory, a key and every addressing parameter by hand, and watch each stage "
             "recompute with the library's own functions."),
    PageInfo("memory_lab.py", "Memory lab", "memory-lab", ":material/memory:",
             "Set a DNC's usage, previous writes and reads, and its gates by hand, and watch retention, "
             "allocation, the write weighting, the temporal links and the read modes recompute."),
    PageInfo("train.py", "Train", "train", ":material/model_training:",
             "Train your own NTM on one of the paper's tasks, in the background, and save it as a preset."),
    PageInfo("observatory.py", "Observatory", "observatory", ":material/monitoring:",
             "Overlay runs' learning curves (NTM vs LSTM, several seeds), cost by sequence length, the "
             "outputs on a fixed input over training, and a look inside a running job."),
    PageInfo("generalisation.py", "Generalisation", "generalisation", ":material/trending_up:",
             "How trained models cope with sequences longer than those they were trained on."),
    PageInfo("long_term_memory.py", "Long-term memory", "long-term-memory", ":material/hub:",
             "Keep what the machine learned beyond one sequence, in a graph store."),
    PageInfo("nli_demo.py", "NLI demo", "nli-demo", ":material/psychology:",
             "A dual-memory NTM judges premises against a hypothesis: its prediction, the propositions its "
             "long-term read retrieved on the graph, and its short-term memory step by step."),
)


def _make_pages() -> dict[str, st.Page]:
    pages = {}
    for info in PAGE_INFO:
        default = info.url_path == ""
        pages[info.name] = st.Page(PAGES_DIR / info.file, title=info.title, icon=info.icon, default=default,
                                   url_path=None if default else info.url_path)
    return pages


# st.Page objects are cheap and hold no session state; one set serves navigation and links.
PAGES: dict[str, st.Page] = _make_pages()


def page_link(name: str, label: str | None = None, query_params: dict[str, str] | None = None) -> None:
    """A link to page ``name`` (its file name without .py), opened with ``query_params`` if given;
    nothing when it is not registered (a page run on its own, as AppTest does, has no navigation)."""
    info = next(i for i in PAGE_INFO if i.name == name)
    try:
        st.page_link(PAGES[name], label=label or info.title, icon=info.icon, query_params=query_params)
    except st.errors.StreamlitAPIException:
        pass


def teacher_mode() -> bool:
    """Whether teacher mode (large text and figures, fewer controls) is on for this session."""
    return bool(st.session_state.get(TEACHER_KEY, False))


def flash(message: str, kind: str = "success") -> None:
    """Queue ``message`` to be shown at the top of the next script run, so a message written in
    an ``on_click`` callback (or just before ``st.rerun()``) is seen. ``message`` is shown as text."""
    if kind not in _FLASH_KINDS:
        raise ValueError(f"flash kind must be one of {_FLASH_KINDS}; got {kind!r}")
    st.session_state.setdefault(_FLASH_KEY, []).append((kind, message))


def show_flashes() -> None:
    """Draw the queued messages once, then forget them. They go into a container drawn on every run,
    messages or not, so a message never shifts the page's other elements (Streamlit keys elements
    without a key by position: a shift would reset their state, e.g. the open tab)."""
    box = st.container()
    for kind, message in st.session_state.pop(_FLASH_KEY, []):
        getattr(box, kind)(message)


def plain(value: object, limit: int = 80) -> str:
    """``value`` as literal text inside Markdown: every Markdown and HTML character escaped, line
    breaks folded, and at most ``limit`` characters (with an ellipsis), so a value from a link, a
    file or a form can be echoed in a message without becoming a link, an image or markup."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def run_page(page: st.Page) -> None:
    """Run ``page``; the last resort for an error no check foresaw. The traceback goes to the server
    log, the user gets a message that says what to do, and the rest of the app stays usable."""
    try:
        page.run()
    except Exception:               # noqa: BLE001 - st.stop/st.rerun are BaseExceptions and pass through
        if os.environ.get(RAISE_ENV):
            raise
        _log.exception("page %r failed", page.title)
        st.error("This page stopped because of an unexpected error; nothing you saved was changed. "
                 "Try another input or reload the page. The server's log has the details for a developer.")
