"""The Step-through stepper: a Streamlit v2 component (``stepper.js``, ``stepper.css`` beside this file)
that draws the views built by ``ntm.figures.client`` and moves them to any timestep in the browser.

    mount, plotly_url = stepper()
    mount(key=..., data={...}, on_t_change=...)     # see stepper.js for the data it reads

Plotly.js is the installed ``plotly`` package's own ``package_data/plotly.min.js``, served by the app's
server (as a v1 component's static folder): nothing is fetched from outside. Both are registered on
every call, because each runtime (the server's, each AppTest's) keeps its own registry; registering
the same definition again is a no-op.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import plotly
import streamlit as st
import streamlit.components.v1 as components_v1

HERE = Path(__file__).resolve().parent
PLOTLY_FILES = Path(plotly.__file__).resolve().parent / "package_data"


def stepper() -> tuple[Callable, str]:
    """The component's mounting command, and the URL path of Plotly.js on this server."""
    plotly_files = components_v1.declare_component("plotly", path=str(PLOTLY_FILES))
    mount = st.components.v2.component("ntm_stepper", js=(HERE / "stepper.js").read_text(encoding="utf-8"),
                                       css=(HERE / "stepper.css").read_text(encoding="utf-8"), isolate_styles=False)
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return mount, "/".join(["", *([base] if base else []), "component", plotly_files.name, "plotly.min.js"])
