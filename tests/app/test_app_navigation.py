"""The app shell (AppTest): every page registered in order under its URL path, the home page's
links (with the machine drawn and a lecture path whose links open their pages without a warning),
and the shared teacher-mode toggle with its URL flag."""

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT

pytestmark = pytest.mark.timeout(120)

# The navigation contract: (file, title, url_path), in this order; Home is the default page.
PAGES = [
    ("pages/home.py", "Home", ""),
    ("pages/step_through.py", "Step through", "step-through"),
    ("pages/addressing_lab.py", "Addressing lab", "addressing-lab"),
    ("pages/memory_lab.py", "Memory lab", "memory-lab"),
    ("pages/train.py", "Train", "train"),
    ("pages/observatory.py", "Observatory", "observatory"),
    ("pages/generalisation.py", "Generalisation", "generalisation"),
    ("pages/long_term_memory.py", "Long-term memory", "long-term-memory"),
    ("pages/nli_demo.py", "NLI demo", "nli-demo"),
]


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NTM_EXPLORER_PRESETS", str(tmp_path / "presets"))


def app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(params)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def registry(at) -> list[tuple[str, str, str]]:
    """(file, title, url_path) of the pages st.navigation registered, in order (AppTest's record)."""
    return [(str(Path(info["script_path"]).resolve().relative_to(ROOT)), info["page_name"], info["url_pathname"])
            for info in at._registered_pages.values()]


def test_all_pages_exist_and_are_registered_in_order():
    """Fails until every page of the contract is written: that is intended."""
    missing = [file for file, _, _ in PAGES if not (ROOT / file).is_file()]
    assert not missing, f"pages not written yet: {missing}"
    at = app()
    assert registry(at) == PAGES
    for file, _, _ in PAGES:
        at.switch_page(file)        # raises if the file is not a registered page


def test_the_pages_that_exist_are_registered_in_contract_order():
    at = app()
    expected = [p for p in PAGES if (ROOT / p[0]).is_file()]
    assert registry(at) == expected
    assert at.title[0].value == "NTM Explorer"          # Home is the default page


def test_home_says_what_an_ntm_is_and_links_every_page():
    at = app()
    text = " ".join(m.value for m in at.markdown)
    assert "Neural Turing Machine" in text and "memory" in text
    links = {link.proto.page for link in at.get("page_link")}
    assert links == {url for file, _, url in PAGES[1:] if (ROOT / file).is_file()}


def test_home_draws_the_machine_and_a_lecture_path_whose_links_open_cleanly():
    at = app()
    (machine,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    texts = " ".join(a["text"] for a in machine["layout"]["annotations"])
    assert all(part in texts for part in ("Controller", "Read heads", "Write heads", "Memory", "External input"))
    path = [link.proto for link in at.get("page_link") if link.proto.label[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(path) >= 5 and [p.label[0] for p in path] == [str(i) for i in range(1, len(path) + 1)]
    assert {p.page for p in path} >= {"addressing-lab", "step-through", "generalisation", "train"}
    files = {url: file for file, _, url in PAGES}
    for link in path:
        if link.page == "addressing-lab":              # each scenario link opens its scenario, no warning
            params = dict(parse_qsl(link.query_string))
            opened = app(files[link.page], **params)
            assert not opened.warning and opened.selectbox(key="lab_scenario").value == params["scenario"]


def test_teacher_mode_from_the_url_and_back():
    # On a page other than the default one: AppTest (1.67) drops the sidebar of the default page
    # after an interaction, which a real browser does not (the browser test covers Home).
    at = app("pages/addressing_lab.py", teacher="1")
    assert at.toggle(key="teacher").value and at.query_params["teacher"] == "1"
    at.toggle(key="teacher").set_value(False).run()
    assert "teacher" not in at.query_params
    at.toggle(key="teacher").set_value(True).run()
    assert at.query_params["teacher"] == "1"


def test_a_bad_teacher_flag_warns_and_leaves_teacher_mode_off():
    at = app(teacher="maybe")
    assert any("teacher=maybe" in w.value for w in at.warning)
    assert not at.toggle(key="teacher").value


def test_an_unexpected_error_is_a_short_message_without_internals(monkeypatch):
    import ntm.presets
    monkeypatch.delenv("NTM_EXPLORER_RAISE", raising=False)

    def broken():
        raise RuntimeError(f"internal detail at {ROOT}/secret.py")

    monkeypatch.setattr(ntm.presets, "catalogue", broken)
    at = app("pages/step_through.py")
    assert not at.exception
    (error,) = at.error
    assert "unexpected error" in error.value and "internal detail" not in error.value and str(ROOT) not in error.value
    at.switch_page("pages/home.py").run()                       # the rest of the app stays usable
    assert not at.error and not at.exception and at.title[0].value == "NTM Explorer"


def test_with_raise_set_the_error_propagates(monkeypatch):
    import ntm.presets
    monkeypatch.setenv("NTM_EXPLORER_RAISE", "1")
    monkeypatch.setattr(ntm.presets, "catalogue", lambda: 1 / 0)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/step_through.py").run()
    assert at.exception and not at.error
