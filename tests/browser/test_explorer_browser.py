"""In a real browser (Debian's Chromium through Playwright): step through a run with the buttons and
the keys (every view follows t, in the browser), play and pause, see the heatmaps drawn, reopen the
shared link, use the addressing lab, and never leave 127.0.0.1."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from ntm import step_view as sv
from ntm.model import NTM, NTMConfig
from ntm.presets import load_preset, save_preset
from ntm.tasks import make_task
from ntm.trace import Trace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

PRESET = "explorer-test-copy"
WAIT = 120_000        # ms; a cold first run records the trace and draws every view at every t, on a busy machine


@pytest.fixture(scope="module")
def server(app_server):
    """The app server, with a small NTM preset of our own among the user's presets."""
    task = make_task("copy", seq_width=6, max_len=8)
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=32, memory_slots=24,
                          memory_width=8, heads="rw"))
    save_preset(app_server.data_dir / "presets" / PRESET, model, task, {}, "browser test preset")
    return app_server


def only_local(page, server) -> None:
    outside = [u for u in page.requests_seen if not u.startswith((server.url, "data:", "blob:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert page.requests_seen


def shown_t(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^t = \d+")).inner_text()
    return int(heading.split()[2])


def wait_for_t(page, t: int, views: int = 9) -> None:
    """The heading and the slider say t, and every view (data-ntm-view; at least ``views`` of them:
    9 in the full layout of a one-read one-write NTM, 7 in teacher mode's lecture layout, which
    shows one head's stages) has been drawn at t."""
    page.get_by_role("heading", name=re.compile(rf"^t = {t}\b")).wait_for(timeout=WAIT)
    expect(page.get_by_role("slider", name="Timestep t")).to_have_value(str(t), timeout=WAIT)
    page.wait_for_function("""([t, n]) => { const views = [...document.querySelectorAll('[data-ntm-view]')];
        return views.length >= n && views.every(v => v.dataset.t === String(t)); }""", arg=[t, views],
        timeout=WAIT)


def drawn(page, name: str) -> dict:
    """What the view's Plotly graph holds and shows: its title (in the layout and on screen), panel
    titles, cursor(s) (in the layout, and the drawn rectangle's left edge in pixels), its first
    trace's values, and the t it shows."""
    return page.evaluate("""name => {
        const gd = document.querySelector(`.ntm-plot[data-ntm-view="${name}"]`);
        const cursors = (gd.layout.shapes || []).map((s, i) => [s, i]).filter(([s]) => s.name === 'cursor');
        const first = gd.data[0];
        const values = first.z ? Array.from(first.z, row => Array.from(row)) : Array.from(first.y);
        return {
          t: Number(gd.dataset.t), title: gd.layout.title.text, shownTitle: gd.querySelector('.gtitle').textContent,
          annotations: [...gd.querySelectorAll('.annotation-text')].map(a => a.textContent),
          cursors: cursors.map(([s]) => (s.x0 + s.x1) / 2),
          cursorPx: cursors.map(([, i]) => Number(/^M([-\\d.e]+)/.exec(
              gd.querySelector(`.shapelayer path[data-index="${i}"]`).getAttribute('d'))[1])),
          values };
    }""", name)


def url_t(page) -> str | None:
    found = re.search(r"[?&]t=(\d+)", page.url)
    return found[1] if found else None


def not_blank(png: bytes) -> bool:
    """A drawn heatmap has many colours and few white pixels; a blank box has neither."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours = len(np.unique(img, axis=0))
    coloured = float((img.min(axis=1) < 200).mean())
    return colours > 20 and coloured > 0.05


def charts(page):
    """Figures drawn by st.plotly_chart (the Addressing lab)."""
    return page.locator("[data-testid='stPlotlyChart']")


def stepper_plots(page):
    """Figures drawn by the Step-through stepper (Plotly.js in the page)."""
    return page.locator(".ntm-plot")


def test_step_through_next_three_times_then_reopen_the_shared_link(server, page, browser):
    page.goto(server.url)
    page.get_by_role("heading", name="NTM Explorer").wait_for(timeout=WAIT)
    page.get_by_role("link", name="Step through").first.click()
    page.get_by_role("heading", name="Step through an NTM").wait_for(timeout=WAIT)
    wait_for_t(page, 0)

    preset = page.get_by_role("combobox", name="Preset", exact=True)
    preset.click()
    page.get_by_role("option", name=re.compile(rf"^{PRESET} — ")).click()
    expect(preset).to_have_value(re.compile(rf"^{PRESET} — copy · NTM, 24×8 memory"), timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"preset={PRESET}"), timeout=WAIT)
    # The new preset's trace has reached the browser: until then the old one is shown (its run has as many
    # steps, 21), and a step taken on it is undone when the new trace arrives at its own t = 0. The new
    # memory is 24 x 8 (the shipped copy preset's is 128 x 20).
    page.wait_for_function("""() => { const gd = document.querySelector('.ntm-plot[data-ntm-view="memory"]');
        return gd && gd.data && gd.data[0].z.length * gd.data[0].z[0].length === 24 * 8; }""", timeout=WAIT)
    wait_for_t(page, 0)

    for t in (1, 2, 3):
        page.get_by_role("button", name="Next").click()
        wait_for_t(page, t)
    assert shown_t(page) == 3
    expect(page).to_have_url(re.compile(r"[?&]t=3(&|$)"), timeout=WAIT)

    # Heatmaps drawn, not blank: the sequences, the memory, its change, the weightings over time.
    page.locator(".heatmaplayer image").first.wait_for(timeout=WAIT)
    assert page.locator(".heatmaplayer").count() >= 4
    sequences = stepper_plots(page).filter(has_text="Input, target and output")
    assert not_blank(sequences.screenshot())
    assert not_blank(stepper_plots(page).filter(has_text="Weightings w over time").screenshot())
    assert stepper_plots(page).filter(has_text="Memory M after step 3").count() == 1

    # The trace downloads as JSON that the library reads back.
    with page.expect_download(timeout=WAIT) as download:
        page.get_by_role("button", name="Download the trace (JSON)").click()
    trace = Trace.from_json(open(download.value.path(), encoding="utf-8").read())
    assert trace.steps == 21 and trace.meta["preset"] == PRESET and trace.memory.shape == (22, 24, 8)
    only_local(page, server)

    # The link reproduces the view in a fresh browser session.
    shared = page.url
    other = browser.new_context(viewport=page.viewport_size).new_page()
    requests = []
    other.on("request", lambda r: requests.append(r.url))
    other.goto(shared)
    wait_for_t(other, 3)
    expect(other.get_by_role("combobox", name="Preset", exact=True)).to_have_value(
        re.compile(rf"^{PRESET} — "), timeout=WAIT)
    assert other.get_by_role("spinbutton", name="Seed").input_value() == "0"
    other.get_by_text("Memory M after step 3").wait_for(timeout=WAIT)
    assert not [u for u in requests if not u.startswith((server.url, "data:", "blob:"))]
    other.context.close()


@pytest.mark.timeout(600)
def test_buttons_and_keys_move_every_view_in_the_browser_and_space_plays(server, page):
    trace = sv.record_view(load_preset(server.data_dir / "presets" / PRESET), sv.View(PRESET, 3, 6))
    last = trace.steps - 1
    page.goto(f"{server.url}/step-through?preset={PRESET}&seed=3&length=6&t=2")
    wait_for_t(page, 2)
    before = {name: drawn(page, name) for name in ("sequence", "weights")}

    page.get_by_role("button", name="Next").click()
    wait_for_t(page, 3)
    write = trace.head("write 1")
    memory, addressing = drawn(page, "memory"), drawn(page, "addressing:write 1")
    np.testing.assert_array_equal(np.asarray(memory["values"], dtype=np.float32), trace.memory[4])
    assert memory["title"] == memory["shownTitle"] == "Memory M after step 3"
    np.testing.assert_array_equal(np.asarray(addressing["values"], dtype=np.float32), write.content[3])
    assert addressing["shownTitle"] == "write 1: addressing at t = 3"
    assert addressing["annotations"][0] == f"wᶜ  content · β = {write.beta[3]:.4g}"
    for name in ("sequence", "weights"):                 # the cursors moved, in the layout and on screen
        now = drawn(page, name)
        assert now["cursors"] == [3] * len(now["cursors"]) and before[name]["cursors"] == [2] * len(now["cursors"])
        assert all(a > b for a, b in zip(now["cursorPx"], before[name]["cursorPx"]))
    assert page.locator('[data-ntm-view="write 1:content"]').inner_text() == f"{write.beta[3]:.4g}"
    np.testing.assert_array_equal(np.asarray(drawn(page, "vectors")["values"], dtype=np.float32),
                                  trace.head("read 1").read[3])

    page.mouse.click(5, 5)                               # the page has the focus, no field does
    for key, t in (("ArrowRight", 4), ("PageDown", 5), ("PageUp", 4), ("ArrowLeft", 3), ("End", last),
                   ("Home", 0)):
        page.keyboard.press(key)
        wait_for_t(page, t)
    expect(page).to_have_url(re.compile(r"[?&]t=0(&|$)"), timeout=WAIT)
    page.get_by_role("spinbutton", name="Seed").focus()  # keys typed into a field are the field's
    page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    page.mouse.click(5, 5)
    page.keyboard.press("ArrowRight")
    wait_for_t(page, 1)                                  # one step from 0, not from the end

    page.get_by_role("combobox", name="Play speed").select_option("8")
    page.mouse.click(5, 5)
    page.keyboard.press(" ")                             # Space plays...
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=WAIT)
    page.wait_for_function("() => Number(document.querySelector('.ntm-heading').dataset.t) >= 4", timeout=WAIT)
    page.keyboard.press(" ")                             # ...and pauses on the step shown
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=WAIT)
    paused = shown_t(page)
    assert 4 <= paused < last
    wait_for_t(page, paused)
    # Once stepping stops the browser reports t and Python writes it into the URL (the stepper's
    # data comes back with it): the page still shows the t it paused on, and the URL reopens there.
    page.wait_for_function("t => window.__ntmStepper.known === t", arg=paused, timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"[?&]t={paused}(&|$)"), timeout=WAIT)
    assert shown_t(page) == paused and url_t(page) == str(paused)
    page.reload()
    wait_for_t(page, paused)
    only_local(page, server)
    assert any(u.startswith(server.url) and u.endswith("/plotly.min.js") for u in page.requests_seen)


def test_a_shared_link_with_teacher_mode_and_own_bits(server, page):
    page.goto(f"{server.url}/step-through?preset={PRESET}&seed=4&bits=101010.010101.111000&t=5&teacher=1")
    wait_for_t(page, 5, views=7)
    assert page.get_by_role("switch", name="Teacher mode").is_checked()
    page.get_by_text("Input: your own bits").wait_for(timeout=WAIT)
    assert page.get_by_role("button", name="Download the trace (JSON)").count() == 0
    expect(page).to_have_url(re.compile(r"bits=101010\.010101\.111000"), timeout=WAIT)
    only_local(page, server)


def test_a_bad_link_warns_and_the_page_still_works(server, page):
    page.goto(f"{server.url}/step-through?preset=no-such-preset&t=oops")
    page.get_by_text("is not an available NTM preset").wait_for(timeout=WAIT)
    page.get_by_text("is not a whole number").wait_for(timeout=WAIT)
    wait_for_t(page, 0)
    page.get_by_role("button", name="Next").click()
    wait_for_t(page, 1)
    only_local(page, server)


def test_addressing_lab_recomputes_live(server, page):
    page.goto(f"{server.url}/addressing-lab")
    page.get_by_role("heading", name="Addressing lab").wait_for(timeout=WAIT)
    page.get_by_text("sharpened weighting w").wait_for(timeout=WAIT)
    assert charts(page).count() == 6                                     # the memory and key, and five stages
    assert page.locator(".katex").count() >= 5                           # every stage's equation
    page.get_by_text("The code that computes it").first.click()          # folded away: open one
    page.get_by_text("ntm/addressing.py:").first.wait_for(timeout=WAIT)  # and its library lines
    before = charts(page).filter(has_text="sharpened weighting w").screenshot()
    gamma = page.get_by_role("slider", name="γ, sharpening")
    title = page.get_by_text(re.compile(r"sharpened weighting w · γ = ")).text_content()   # the picture's title
    start = float(re.search(r"γ = ([\d.]+)", title)[1])
    gamma.focus()
    # One step of 0.1 with the arrow key, then End (the top, 50). Not 30 quick presses: a rerun that lands
    # between presses can put the slider back to the value it ran with, so how many count depends on the load.
    for key, expected in (("ArrowRight", round(start + 0.1, 1)), ("End", 50.0)):
        page.keyboard.press(key)
        page.get_by_text(re.compile(rf"sharpened weighting w · γ = {re.escape(f'{expected:g}')}$")).wait_for(
            timeout=WAIT)
    page.wait_for_timeout(500)
    assert charts(page).filter(has_text="sharpened weighting w").screenshot() != before
    only_local(page, server)
