"""Helpers for the Step-through page's AppTests (tests/app/test_step_through_*.py)."""

import json

from streamlit.testing.v1 import AppTest

from ntm.io import ROOT


def open_page(**params) -> AppTest:
    """The page as a browser opening ``/step-through?<params>`` shows it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    at.switch_page("pages/step_through.py")
    at.run()
    assert not at.exception, at.exception
    return at


def components(at) -> dict[str, dict]:
    """The data of every stepper on the page, by key (st_stepper, st_main, st_head_0, st_panel_link, ...)."""
    return {e.proto.id.split("-")[-1]: json.loads(e.proto.json) for e in at.get("bidi_component")}
