"""Stepping in the browser: how long a Next click takes until every Step-through view shows the new t,
and how steadily Play plays. Printed as JSON.

    python bench/bench_stepping.py [--clicks 20] [--length 20] [--rates 4 8]

Run from the project folder after ``pip install -e .``; needs Debian's Chromium and Playwright (the
browser tests' setup). It serves the app with ``streamlit run`` on a free port of 127.0.0.1 (the copy
preset — presets/copy if it is the paper's configuration, else an untrained stand-in of the same
size saved to a temporary folder), opens the Step-through page in Chromium at 1280 x 720 and measures:

  - next_click_on_screen_ms / next_click_every_view_ms: for each of --clicks real clicks on Next, the
    time from the click event to the first animation frame that paints the new t in the heading and
    every view on the screen, and in every view of the page (``[data-ntm-view]``: the sequences,
    memory, memory change, weightings, each head's stages and parameters, the vectors; the stepper
    draws them all in one animation frame, so the two are equal unless a view lags). Between
    clicks the page is left to report t to the server and settle, as between a lecturer's clicks, so
    that round trip is not inside the figure;
  - main_thread_cpu_ms: the CPU time the page's main thread spent from the click until the screen,
    and every view, shows t (from a Chromium trace): what a step costs whatever else the machine runs;
  - play: Play at each --rates (steps per second) for about 12 steps: the steps per second shown,
    the longest gap between two steps, and whether Pause stops on the step shown.

Before this component a Next click took a median of 1.9 s (1.4-3.2 s) until every figure was
updated (issue 11, measured the same way): the server re-sent and Plotly re-drew nine figures.
The target is <= 150 ms. CPU load is reported: other processes on the machine slow the browser.

    python bench/bench_stepping.py --first-view [--presets copy dnc-copy] [--seeds 5] [--length 20] [--teacher]

measures instead, without a browser, the server part of the first view of a new input: what the page's
cached ``trace_of`` and ``views_of`` do for a (preset, seed, length) not seen before, for --seeds seeds
of each preset (each a new input), torch at 1 thread:

  - trace_ms: ``record_view`` (loading the preset once is not counted);
  - views_ms: ``client.step_views`` (every view once, and what changes with t), as shipped: figures
    drawn without Plotly's validation (``common.unvalidated``), checked at t = 0;
  - views_validated_ms: the same with every t drawn validated (``fast_drawings`` off: the method
    before, with this version's other changes), measured right after views_ms on the same trace;
  - captions_story_ms: the page's step captions and teacher lines; json_ms: ``json.dumps`` of the views;
  - first_view_ms: trace + views + captions_story + json, the server's part of the first view;
  - same_json: whether both ways give the same views (keys and values; key order may differ).

Each as a median (p90, min, max) over the seeds. With ``PYTHONPATH`` at an older tree of ``ntm`` (no
``fast_drawings``), only the installed way is measured (``views_ms``), e.g. for a before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch
from playwright.sync_api import sync_playwright

from ntm.figures import client
from ntm.io import ROOT
from ntm.model import NTM, NTMConfig
from ntm.presets import BundleError, builtin_presets_dir, load_preset, save_preset
from ntm.step_view import View, record_view
from ntm.tasks import make_task

COPY_CONFIG = dict(controller_size=100, memory_slots=128, memory_width=20, heads="rw")
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000

# Resolves with the ms from the next click to the first frame that paints t in every view on the screen
# (the heading included), and in every view of the page (those far below it are redrawn once the
# page is idle).
WATCH = """t => { window.__benchWatch = new Promise(resolve => {
  let clicked = null, near = null, all = null;
  document.addEventListener('click', e => { clicked = e.timeStamp; console.timeStamp('bench-click'); },
                            {capture: true, once: true});
  const at = v => v.dataset.t === String(t);
  const onScreen = v => { const r = v.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
  const frame = now => {
    if (all !== null) { console.timeStamp('bench-shown'); resolve({near: near - clicked, all: all - clicked}); return; }
    if (clicked !== null) {
      const views = [...document.querySelectorAll('[data-ntm-view]')];
      const heading = document.querySelector('.ntm-heading');
      if (near === null && heading?.dataset.t === String(t) && views.filter(onScreen).every(at)) {
        near = now;
        console.timeStamp('bench-near');
      }
      if (near !== null && views.length > 0 && views.every(at)) all = now;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}); }"""

# Records the time of every t the heading shows while playing.
RECORD_PLAY = """() => { window.__benchShown = [];
  const heading = document.querySelector('.ntm-heading');
  new MutationObserver(() => window.__benchShown.push([performance.now(), Number(heading.dataset.t)]))
    .observe(heading, {attributes: true, attributeFilter: ['data-t']}); }"""


def copy_preset(tmp: Path) -> tuple[Path, str]:
    """presets/copy when it is the paper's copy configuration, else an untrained stand-in."""
    try:
        preset = load_preset(builtin_presets_dir() / "copy")
        cfg = preset.config.get("model", {})
        if preset.model_type == "ntm" and all(cfg.get(k) == v for k, v in COPY_CONFIG.items()):
            return builtin_presets_dir(), "presets/copy (trained)"
    except BundleError:
        pass
    task = make_task("copy")
    torch.manual_seed(0)
    save_preset(tmp / "copy", NTM(NTMConfig(task.input_size, task.output_size, **COPY_CONFIG)), task, {},
                "bench/bench_stepping.py stand-in")
    return tmp, "untrained copy configuration (presets/copy absent)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(presets: Path, data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "NTM_EXPLORER_PRESETS": str(presets), "NTM_EXPLORER_DATA": str(data)}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                    "--server.headless", "true"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"streamlit did not answer on {url}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 1), "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1), "n": len(ordered)}


def settle(page, t: int) -> None:
    """Wait until the stepper has reported t to the server, and the rerun that causes is over."""
    page.wait_for_function("t => window.__ntmStepper && window.__ntmStepper.known === t", arg=t, timeout=WAIT_MS)
    page.wait_for_timeout(1500)


def main_thread_cpu(trace_json: bytes) -> tuple[list[float], list[float]]:
    """CPU time (ms) the page's main thread spent from each 'bench-click' mark to the next 'bench-near'
    and 'bench-shown': what a step costs the browser, whatever else runs on the machine (its wall time
    grows with the load)."""
    events = json.loads(trace_json)
    events = events["traceEvents"] if isinstance(events, dict) else events
    marks = sorted((e["ts"], e["args"]["data"]["message"], e["tid"]) for e in events
                   if e.get("name") == "TimeStamp" and "bench-" in str(e.get("args", {}).get("data", {}).get("message")))
    tasks = [e for e in events if e.get("ph") == "X" and e.get("name") == "RunTask"]

    def cpu(tid: int, start: float, end: float) -> float:
        return sum(e.get("tdur", 0) for e in tasks if e.get("tid") == tid and start <= e["ts"] + e.get("dur", 0)
                   and e["ts"] <= end) / 1000

    near, shown = [], []
    for i, (start, name, tid) in enumerate(marks):
        if name != "bench-click":
            continue
        following = {n: ts for ts, n, _ in marks[i + 1:i + 3]}
        if "bench-near" in following and "bench-shown" in following:
            near.append(cpu(tid, start, following["bench-near"]))
            shown.append(cpu(tid, start, following["bench-shown"]))
    return near, shown


def measure_clicks(page, start: int, clicks: int) -> list[dict]:
    times = []
    next_button = page.get_by_role("button", name="Next")
    for t in range(start + 1, start + 1 + clicks):
        page.evaluate(WATCH, t)
        next_button.click()
        times.append(page.evaluate("() => window.__benchWatch"))
        settle(page, t)
    return times


def measure_play(page, rate: float, steps: int = 12) -> dict:
    page.get_by_role("button", name="First").click()
    page.wait_for_function("() => document.querySelector('.ntm-heading').dataset.t === '0'", timeout=WAIT_MS)
    settle(page, 0)
    page.get_by_role("combobox", name="Play speed").select_option(str(rate).removesuffix(".0"))
    page.evaluate(RECORD_PLAY)
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"() => new Set(window.__benchShown.map(s => s[1])).size > {steps}", timeout=WAIT_MS)
    page.get_by_role("button", name="Pause").click()
    paused = page.evaluate("() => Number(document.querySelector('.ntm-heading').dataset.t)")
    settle(page, paused)
    page.wait_for_timeout(1000)
    shown = page.evaluate("() => window.__benchShown")
    still = page.evaluate("() => Number(document.querySelector('.ntm-heading').dataset.t)")
    views_still = page.evaluate("t => [...document.querySelectorAll('[data-ntm-view]')].every(v => v.dataset.t === String(t))",
                                still)
    playing = []
    for ms, t in shown:                   # the first time each t is shown
        if t > 0 and (not playing or t != playing[-1][1]):
            playing.append((ms, t))
    playing = playing[:steps]
    gaps = [b[0] - a[0] for a, b in zip(playing, playing[1:])]
    return {"rate": rate, "steps_per_s": round(1000 * len(gaps) / (playing[-1][0] - playing[0][0]), 2),
            "max_gap_ms": round(max(gaps), 1), "every_step_shown": all(b[1] - a[1] == 1 for a, b in zip(playing, playing[1:])),
            "pause_stops_on_the_step_shown": still == paused and views_still}


def first_view(names: list[str], seeds: int, length: int, teacher: bool) -> dict:
    """The server part of the first view of a new input (see the module docstring), per preset."""
    from ntm.step_view import dnc_panels, step_caption
    from ntm.story import what_to_look_at

    torch.set_num_threads(1)
    validated_too = hasattr(client, "fast_drawings")
    fast_drawings = getattr(client, "fast_drawings", None)
    out = {}
    for name in names:
        preset = load_preset(builtin_presets_dir() / name)
        warm = record_view(preset, View(name, 10_000, length))               # warm-up (imports, caches), not timed
        client.step_views(warm, enlarge=teacher, panels=dnc_panels(warm))
        rows: dict[str, list[float]] = {}
        same = []

        def timed(key: str, fn):
            t0 = time.perf_counter()
            value = fn()
            rows.setdefault(key, []).append((time.perf_counter() - t0) * 1000)
            return value

        for seed in range(1, seeds + 1):
            view = View(name, seed, length)
            trace = timed("trace_ms", lambda: record_view(preset, view))
            draw = lambda: client.step_views(trace, enlarge=teacher, name=f"{name}-seed{seed}", panels=dnc_panels(trace))
            views = timed("views_ms", draw)
            timed("captions_story_ms", lambda: ([step_caption(trace, t) for t in range(trace.steps)],
                                                what_to_look_at(trace)))
            payload = timed("json_ms", lambda: json.dumps(views))
            rows.setdefault("first_view_ms", []).append(sum(rows[k][-1] for k in
                                                             ("trace_ms", "views_ms", "captions_story_ms", "json_ms")))
            if validated_too:
                client.fast_drawings = lambda *args: None
                try:
                    validated = timed("views_validated_ms", draw)
                finally:
                    client.fast_drawings = fast_drawings
                same.append(_same_views(json.loads(payload), json.loads(json.dumps(validated))))
        out[name] = {"model": preset.model_type, "timesteps": trace.steps, "payload_bytes": len(payload),
                     **{k: summary(v) for k, v in rows.items()}}
        if validated_too:
            out[name]["validated_over_fast"] = round(statistics.median(
                v / f for v, f in zip(rows["views_validated_ms"], rows["views_ms"])), 2)
            out[name]["same_json"] = all(same)
    return out


def _same_views(a, b) -> bool:
    """Equal JSON values, whatever the order of keys."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_views(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same_views(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20, help="Next clicks to time")
    parser.add_argument("--length", type=int, default=20, help="copy sequence length (T = 2L + 1)")
    parser.add_argument("--rates", type=float, nargs="*", default=[4, 8], help="Play speeds to try, steps/s")
    parser.add_argument("--first-view", action="store_true",
                        help="only the server part of the first view of a new input (no browser)")
    parser.add_argument("--presets", nargs="*", default=["copy", "dnc-copy"], help="with --first-view")
    parser.add_argument("--seeds", type=int, default=5, help="with --first-view: new inputs per preset")
    parser.add_argument("--teacher", action="store_true", help="with --first-view: the enlarged (teacher) views")
    args = parser.parse_args()
    if args.first_view:
        load_before = os.getloadavg()
        results = first_view(args.presets, args.seeds, args.length, args.teacher)
        print(json.dumps({"first_view_server": {
            "sequence_length": args.length, "teacher": args.teacher, "seeds": args.seeds, "torch_threads": 1,
            "presets": results, "ntm": str(Path(client.__file__).parents[1]),
            "load_average_1_5_min": {"start": [round(x, 2) for x in load_before[:2]],
                                     "end": [round(x, 2) for x in os.getloadavg()[:2]]},
            "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}}, indent=2))
        return
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        presets, which = copy_preset(tmp / "presets")
        trace = record_view(load_preset(presets / "copy"), View("copy", 0, args.length))
        clicks = min(args.clicks, trace.steps - 2)
        payload = len(json.dumps(client.step_views(trace)))
        load_before = os.getloadavg()[0]
        server, url = serve(presets, tmp / "data", tmp / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport=VIEWPORT).new_page()
                outside = []
                page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)
                page.goto(url)                     # the home page first, as `streamlit run` opens it
                page.get_by_role("heading", name="NTM Explorer").wait_for(timeout=WAIT_MS)
                t0 = time.perf_counter()
                page.goto(f"{url}/step-through?preset=copy&seed=0&length={args.length}&t=0")
                page.wait_for_function("() => [...document.querySelectorAll('[data-ntm-view]')].length >= 9 && "
                                       "[...document.querySelectorAll('[data-ntm-view]')].every(v => v.dataset.t === '0')",
                                       timeout=WAIT_MS)
                first_ms = (time.perf_counter() - t0) * 1000
                settle(page, 0)
                measure_clicks(page, 0, 1)         # warm-up
                browser.start_tracing(page=page, categories=["toplevel", "devtools.timeline",
                                                             "disabled-by-default-devtools.timeline"])
                times = measure_clicks(page, 1, clicks)
                cpu_near, cpu = main_thread_cpu(browser.stop_tracing())
                near = [x["near"] for x in times]
                times = [x["all"] for x in times]
                play = [measure_play(page, rate) for rate in args.rates]
                version = browser.version
                browser.close()
        finally:
            stop(server)

    print(json.dumps({
        "preset": which, "sequence_length": args.length, "timesteps": trace.steps,
        "viewport": f"{VIEWPORT['width']}x{VIEWPORT['height']}",
        "next_click_on_screen_ms": summary(near), "next_click_every_view_ms": summary(times),
        "main_thread_cpu_ms": {"on_screen": summary(cpu_near), "every_view": summary(cpu)},
        "target_ms": 150, "before_ms": 1900,
        "play": play,
        "first_view_ms": round(first_ms),
        "views_payload_bytes": payload,
        "outside_requests": outside,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(), "chromium": version, "python": platform.python_version(),
    }, indent=2))


if __name__ == "__main__":
    main()
